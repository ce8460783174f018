import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import architecture, catalog, parallelism
from llmbook.memory import training_state_bytes


def test_bloom_layout_multiplies_to_its_stated_gpus():
    # bigscience tr11-176B-ml README: 'GPUs = 384 (48 nodes of 8)', TP=4, PP=12, DP=8.
    assert parallelism.gpus(4, 12, 8) == 384
    assert parallelism.layout_consistent(384, 4, 12, 8) is True
    assert parallelism.layout_consistent(416, 4, 12, 8) is False  # 416 GPUs available, 32 spare


def test_glm_global_batch_is_its_per_replica_batch_times_dp():
    # GLM-130B training log: 'BSZ=176 * 24=4224' with MP=4, PP=8 on 96 nodes.
    assert 176 * 24 == 4224
    assert parallelism.microbatches(4224, 176, 24) == 1


def test_bloom_microbatches_and_bubble():
    # GBS 2048, MBS 2, DP 8 -> 128 micro-batches per pipeline; p = 12.
    m = parallelism.microbatches(2048, 2, 8)
    assert m == 128
    assert parallelism.bubble_fraction(12, m) == pytest.approx(11 / 139)


def test_bubble_limits():
    assert parallelism.bubble_fraction(1, 4) == 0.0
    # one micro-batch through p stages: only 1 of p slots busy per GPU
    assert parallelism.bubble_fraction(8, 1) == pytest.approx(7 / 8)
    # interleaving v chunks divides the idle time by v
    assert parallelism.bubble_fraction(8, 8, interleave=7) == pytest.approx(1 / 9)


@given(st.integers(2, 64), st.integers(1, 512), st.integers(1, 8))
def test_bubble_falls_with_microbatches_and_interleaving(p, m, v):
    b = parallelism.bubble_fraction(p, m, v)
    assert 0 < b < 1
    assert parallelism.bubble_fraction(p, m + 1, v) < b
    assert parallelism.bubble_fraction(p, m, v + 1) < b
    # the ratio to useful time is the paper's (p - 1) / (v m)
    assert b / (1 - b) == pytest.approx((p - 1) / (v * m))


def test_microbatches_rejects_uneven_batches():
    with pytest.raises(ValueError, match="not a multiple"):
        parallelism.microbatches(2050, 2, 8)
    with pytest.raises(ValueError, match="positive integer"):
        parallelism.gpus(0, 1, 1)


def test_state_bytes_reuse_memory_module():
    params = 176e9
    per_gpu = parallelism.state_bytes_per_gpu(params, 4, 12, 8, zero_stage=1)
    assert per_gpu == training_state_bytes(params / 48, zero_stage=1, gpus=8)
    # no parallelism: 16 bytes per parameter on one GPU
    assert parallelism.state_bytes_per_gpu(1e9) == pytest.approx(16e9)
    # ZeRO-3 over the whole cluster: 16 bytes x params / GPUs
    assert parallelism.state_bytes_per_gpu(params, 4, 12, 8, 3) == pytest.approx(16 * params / 384)


def test_every_complete_row_of_the_table_is_consistent():
    table = catalog.load("parallelism")
    checked = 0
    for row in table.itertuples():
        ok = parallelism.layout_consistent(
            row.gpus,
            row.tensor_parallel,
            row.pipeline_parallel,
            row.data_parallel,
            row.context_parallel,
        )
        if ok is not None:
            assert ok, row.run
            checked += 1
    assert checked >= 5
    assert parallelism.layout_consistent(math.nan, 8, 16, 1) is None


def test_llama3_4d_layouts_multiply_to_their_gpus():
    # Llama 3 report, Table 4: TP 8, CP 1 or 16, PP 16, DP 64 / 128 / 8.
    assert parallelism.gpus(8, 16, 64) == 8192
    assert parallelism.gpus(8, 16, 128) == 16384
    assert parallelism.gpus(8, 16, 8, context=16) == 16384
    # the long-context row's DP as one transcription reads it (4) does not give 16,384
    assert parallelism.layout_consistent(16384, 8, 16, 4, 16) is False


def _deepseek_v3():
    arch = catalog.load("architectures").set_index("model")
    return architecture.Shape.from_row(arch.loc["DeepSeek-V3"].to_dict())


def test_moe_params_per_gpu_splits_only_the_routed_experts_by_ep():
    shape = _deepseek_v3()
    # config_671B.json: 58 MoE layers of 256 routed experts, each 3 x 7168 x 2048
    routed = 58 * 256 * 3 * 7168 * 2048
    total = architecture.param_counts(shape)["total"]
    one = parallelism.moe_params_per_gpu(shape, expert_parallel=1)
    assert one["routed_experts"] == routed
    assert one["total"] == pytest.approx(total)
    split = parallelism.moe_params_per_gpu(shape, expert_parallel=64, pipeline=16)
    assert split["experts_per_layer"] == 4
    assert split["routed_experts"] == pytest.approx(routed / (64 * 16))
    assert split["other"] == pytest.approx((total - routed) / 16)
    # DualPipe's two copies double everything a GPU holds
    dual = parallelism.moe_params_per_gpu(shape, expert_parallel=64, pipeline=16, copies=2)
    assert dual["total"] == pytest.approx(2 * split["total"])
    # the routed experts are most of the model, so EP cuts a GPU's share by an order of magnitude
    no_ep = parallelism.moe_params_per_gpu(shape, expert_parallel=1, pipeline=16)
    assert no_ep["total"] > 10 * split["total"]


def test_moe_params_per_gpu_rejects_uneven_or_dense_splits():
    shape = _deepseek_v3()
    with pytest.raises(ValueError, match="do not divide"):
        parallelism.moe_params_per_gpu(shape, expert_parallel=48)
    dense = architecture.Shape(layers=2, d_model=64, heads=4, vocab_size=100)
    with pytest.raises(ValueError, match="mixture-of-experts"):
        parallelism.moe_params_per_gpu(dense, expert_parallel=8)


def test_expert_copies_of_the_deepseek_v3_layout():
    table = catalog.load("parallelism").set_index("run")
    row = table.loc["DeepSeek-V3 pre-training"]
    assert (row.pipeline_parallel, row.expert_parallel, row.tensor_parallel) == (16, 64, 1)
    # 2,048 GPUs in 16 stages of 128 GPUs: two 64-GPU expert groups per stage
    assert parallelism.expert_copies(row.gpus, row.pipeline_parallel, row.expert_parallel) == 2
    with pytest.raises(ValueError, match="do not divide"):
        parallelism.expert_copies(2000, 16, 64)
    # every stated expert-parallel degree divides its model's routed experts
    arch = catalog.load("architectures").set_index("model")
    stated = table.dropna(subset=["expert_parallel"])
    assert len(stated) >= 1
    for run, r in stated.iterrows():
        assert arch.loc[r.model, "n_experts"] % r.expert_parallel == 0, run
