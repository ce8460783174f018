"""llmbook.deployment: serving plans, GPU-set fits and report comparisons on hand-made tables."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from llmbook import deployment, memory  # noqa: E402
from llmbook.architecture import Shape, param_counts  # noqa: E402


@pytest.fixture
def models() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["Tiny-1B", "Tiny-1B-Chat", "Shapeless-3B", "NoCount"],
            "params": pd.array([1_000_000_000, 1_000_000_000, 3_000_000_000, None], dtype="Int64"),
            "base_model": [None, "Tiny-1B", None, None],
        }
    )


@pytest.fixture
def shapes() -> pd.DataFrame:
    # Tiny-1B: 16 layers, 2048 wide, 16 heads of 128, 4 key/value heads (GQA).
    return pd.DataFrame(
        {
            "model": ["Tiny-1B", "NoCount"],
            "layers": pd.array([16, 4], dtype="Int64"),
            "d_model": pd.array([2048, 256], dtype="Int64"),
            "heads": pd.array([16, 4], dtype="Int64"),
            "kv_heads": pd.array([4, None], dtype="Int64"),
            "head_dim": pd.array([128, None], dtype="Int64"),
            "vocab_size": pd.array([32000, 1000], dtype="Int64"),
        }
    )


@pytest.fixture
def hardware() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "chip": ["Card 24GB", "Other 24GB", "Card 16GB", "Mystery"],
            "memory_gb": pd.array([24, 24, 16, None], dtype="Float64"),
        }
    )


def test_shape_falls_back_to_the_base_model(models, shapes):
    own = deployment.shape_of("Tiny-1B", models, shapes)
    assert own.n_kv_heads == 4 and own.layers == 16
    assert deployment.shape_of("Tiny-1B-Chat", models, shapes) == own
    assert deployment.shape_of("Shapeless-3B", models, shapes) is None


def test_params_prefer_the_reported_count_then_the_shape(models, shapes):
    assert deployment.params_of("Tiny-1B", models, shapes) == (1e9, "reported")
    exact = param_counts(deployment.shape_of("Tiny-1B", models, shapes))["total"]
    assert deployment.params_of("Tiny-1B", models, shapes, prefer="shape") == (exact, "from shape")
    no_count = deployment.params_of("NoCount", models, shapes)
    assert no_count[1] == "from shape" and no_count[0] > 0
    with pytest.raises(ValueError, match="prefer"):
        deployment.params_of("Tiny-1B", models, shapes, prefer="guess")


def test_params_without_count_or_shape_raise(models, shapes):
    frame = pd.concat(
        [models, pd.DataFrame({"model": ["Ghost"], "params": pd.array([None], dtype="Int64")})]
    )
    with pytest.raises(ValueError, match="Ghost"):
        deployment.params_of("Ghost", frame, shapes)


def test_serving_bytes_adds_weights_and_cache():
    shape = Shape(layers=16, d_model=2048, heads=16, kv_heads=4, head_dim=128)
    parts = deployment.serving_bytes(1e9, shape, "int8", tokens=1000, batch=2)
    assert parts["weights"] == 1e9
    # 2 (K, V) x 16 layers x 4 heads x 128 wide x 2 bytes = 32 KiB per token, x 2000 tokens.
    assert parts["kv_cache"] == 2 * 16 * 4 * 128 * 2 * 2000
    assert parts["total"] == parts["weights"] + parts["kv_cache"]


def test_serving_bytes_without_shape_counts_weights_only():
    parts = deployment.serving_bytes(2e9, None, "fp16", tokens=4096)
    assert math.isnan(parts["kv_cache"])
    assert parts["total"] == parts["weights"] == 4e9


def test_mixed_weight_bytes_keeps_part_in_fp16():
    # 100 params, 10 kept at 2 bytes, 90 at half a byte.
    assert deployment.mixed_weight_bytes(100, "int4", 10) == 90 * 0.5 + 10 * 2
    assert deployment.mixed_weight_bytes(100, "int4", 0) == memory.weight_bytes(100, "int4")
    assert deployment.mixed_weight_bytes(100, "int4", 100) == memory.weight_bytes(100, "fp16")
    with pytest.raises(ValueError):
        deployment.mixed_weight_bytes(100, "int4", 101)


def test_memory_plan_rows_and_units(models, shapes):
    plan = deployment.memory_plan(models, shapes, ["Tiny-1B", "Shapeless-3B"], tokens=1024)
    assert len(plan) == 2 * len(deployment.SERVING_FORMATS)
    tiny = plan[(plan["model"] == "Tiny-1B")].set_index("format")
    assert tiny.loc["fp16", "weights_gb"] == pytest.approx(2.0)
    assert tiny.loc["Q4_K", "weights_gb"] == pytest.approx(1e9 * 4.5 / 8 / 1e9)
    # GPTQ int4 with its group scales and zero points: 4 + 20/128 bits per weight
    assert tiny.loc["gptq-int4", "total_gb"] == pytest.approx(4.15625 / 8 + 32768 * 1024 / 1e9)
    shapeless = plan[plan["model"] == "Shapeless-3B"]
    assert not shapeless["kv_known"].any() and shapeless["kv_cache_gb"].isna().all()
    table = deployment.plan_table(plan)
    assert list(table.index) == ["Tiny-1B", "Shapeless-3B"]
    assert "GGUF Q4_K (GB)" in table.columns
    long = deployment.memory_plan(models, shapes, ["Tiny-1B", "Shapeless-3B"], tokens=32768)
    wide = deployment.plan_table(plan, long)
    tiny_long = long[(long["model"] == "Tiny-1B") & (long["format"] == "fp16")].iloc[0]
    # the cache is linear in tokens: 32 times the 1,024-token cache, on top of the same weights
    assert wide.loc["Tiny-1B", "KV cache, 32K tokens (GB)"] == pytest.approx(
        round(32 * tiny.loc["fp16", "kv_cache_gb"], 2)
    )
    assert wide.loc["Tiny-1B", "fp16/bf16, 32K tokens (GB)"] == round(tiny_long["total_gb"], 1)
    assert pd.isna(wide.loc["Shapeless-3B", "KV cache, 32K tokens (GB)"])
    assert deployment.tokens_label(32768) == "32K" and deployment.tokens_label(2000) == "2,000"


def test_gpu_set_memory_label_and_usable(hardware):
    pair = deployment.GpuSet("Card/Other", ("Card 24GB", "Other 24GB"), 2)
    assert deployment.chip_memory_gb(pair, hardware) == 24
    assert deployment.gpu_set_label(pair, hardware) == "2 × Card/Other (48 GB)"
    assert deployment.usable_gb(pair, hardware, 0.25) == pytest.approx(36)
    with pytest.raises(ValueError, match="different memory"):
        deployment.chip_memory_gb(deployment.GpuSet("mix", ("Card 24GB", "Card 16GB")), hardware)
    with pytest.raises(ValueError, match="no memory_gb"):
        deployment.chip_memory_gb(deployment.GpuSet("?", ("Mystery",)), hardware)
    with pytest.raises(ValueError, match="count"):
        deployment.GpuSet("none", ("Card 24GB",), 0)


def test_best_format_takes_the_most_precise_that_fits():
    totals = {"fp16": 30.0, "int8": 15.0, "Q4_K": 9.0, "int4": 8.0}
    assert deployment.best_format(totals, 24) == "int8"
    assert deployment.best_format(totals, 24, count=2) == "fp16"
    assert deployment.best_format(totals, 16, reserve=0.1) == "Q4_K"  # 14.4 usable
    assert deployment.best_format(totals, 8, reserve=0.1) == deployment.NO_FIT


def test_fit_table(models, shapes, hardware):
    plan = deployment.memory_plan(models, shapes, ["Tiny-1B", "Shapeless-3B"], tokens=2048)
    sets = [
        deployment.GpuSet("Card", ("Card 16GB",)),
        deployment.GpuSet("Card", ("Card 24GB",), 2),
    ]
    fits = deployment.fit_table(plan, hardware, sets, reserve=0.9)  # 1.6 GB and 4.8 GB usable
    assert list(fits.columns) == ["1 × Card (16 GB)", "2 × Card (48 GB)"]
    assert fits.loc["Tiny-1B"].tolist() == ["int8", "fp16"]
    assert fits.loc["Shapeless-3B"].tolist() == ["gptq-int4", "int8"]  # Q4_K: 1.69 GB > 1.6


def test_compare_reports(models, shapes):
    reports = pd.DataFrame(
        {
            "model": ["Tiny-1B", "Tiny-1B", "Tiny-1B-Chat", "Shapeless-3B"],
            "precision": ["bf16", "fp16", "gptq-int4", "int8"],
            "memory_gb": [2.0, 0.04, 1.0, 4.0],
            "tokens": pd.array([None, 1000, 1000, 1000], dtype="Int64"),
            "gpus": pd.array([None, None, 1, None], dtype="Int64"),
            "what": ["weights", "kv cache", "measured in use", "minimum for inference"],
        }
    )
    out = deployment.compare_reports(reports, models, shapes)
    assert out.loc[0, "computed_gb"] == pytest.approx(2.0)
    assert out.loc[0, "reported_over_computed"] == pytest.approx(1.0)
    assert out.loc[1, "computed_gb"] == pytest.approx(32768 * 1000 / 1e9)
    # a GPTQ report counts its group scales; the cache comes from the base model's shape
    assert out.loc[2, "computed_gb"] == pytest.approx(4.15625 / 8 + 32768 * 1000 / 1e9)
    assert out.loc[2, "covers"] == "weights + KV cache, 1,000 tokens"
    assert out.loc[3, "covers"] == "weights"  # no shape: the cache is not guessed
    assert out.loc[3, "computed_gb"] == pytest.approx(3.0)


def test_figures_draw(models, shapes, hardware):
    plan = deployment.memory_plan(models, shapes, ["Tiny-1B", "Shapeless-3B"], tokens=2048)
    sets = [deployment.GpuSet("Card", ("Card 24GB",))]
    fig = deployment.memory_figure(plan, {"one card": 21.6})
    assert fig.axes[0].get_xscale() == "log"
    fits = deployment.fit_table(plan, hardware, sets, reserve=0.1)
    assert len(deployment.fit_figure(fits).axes[0].texts) == fits.size
    reports = pd.DataFrame(
        {
            "model": ["Tiny-1B"],
            "precision": ["fp16"],
            "memory_gb": [2.1],
            "tokens": pd.array([None], dtype="Int64"),
            "gpus": pd.array([None], dtype="Int64"),
            "what": ["weights"],
        }
    )
    comparison = deployment.compare_reports(reports, models, shapes)
    assert deployment.comparison_figure(comparison).axes[0].get_yscale() == "log"
    table = pd.DataFrame({1024: {"a": 1e9, "b": 2e9}, 2048: {"a": 2e9, "b": 2e9}})
    ax = deployment.kv_context_figure(table).axes[0]
    assert len(ax.get_lines()) == 2 and ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1K", "2K"]
    assert list(ax.get_lines()[0].get_ydata()) == [1.0, 2.0]  # GB
    matplotlib.pyplot.close("all")


def test_a_mixture_of_experts_is_capacity_bound_but_bandwidth_cheap():
    dense = Shape(layers=8, d_model=512, heads=8, vocab_size=1000, ffn_dim=2048)
    moe = Shape(**{**dense.__dict__, "n_experts": 16, "experts_per_token": 1})
    args = dict(fmt="bf16", tokens=100, memory_gb=0.05, bandwidth_gb_s=1000)
    a = deployment.serving_profile(param_counts(dense)["total"], dense, **args)
    b = deployment.serving_profile(param_counts(moe)["total"], moe, **args)
    assert b["chips"] > 5 * a["chips"]  # all sixteen experts must be held
    assert b["read_share"] < a["read_share"] / 5  # one of them is read per token
    assert b["read_bytes_per_step"] < 2 * a["read_bytes_per_step"]
