"""Memory: formats, training states, activations, KV cache, fitting on GPUs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import catalog, memory, peft
from llmbook.architecture import Shape, active_params, param_counts


def test_bits_per_weight_of_quantised_formats():
    assert memory.bits_per_weight("bf16") == 16
    assert memory.bits_per_weight("int4") == 4
    assert memory.bits_per_weight("Q4_0") == 4.5  # 32 weights x 4 bits + fp16 scale
    assert memory.bits_per_weight("Q8_0") == 8.5
    assert memory.bits_per_weight("q4_k") == 4.5  # case-insensitive GGUF names
    assert memory.bits_per_weight("nf4") == 4.5  # + fp32 absmax per 64 (QLoRA §3)
    # QLoRA §3: double quantisation brings the constants from 0.5 to 0.127 bits per weight.
    assert memory.bits_per_weight("nf4-dq") - 4 == pytest.approx(0.127, abs=5e-4)
    with pytest.raises(ValueError, match="unknown weight format"):
        memory.bits_per_weight("fp5")


def test_glm130b_fp16_weights_and_int4_on_four_24gb_cards():
    # The article (and the GLM-130B paper): fp16 weights need 260 GB; INT4 runs on 4 x RTX 3090.
    assert memory.weight_bytes(130e9, "fp16") == pytest.approx(260e9)
    assert memory.fits(memory.weight_bytes(130e9, "int4"), memory_gb=24, chips=4)
    assert not memory.fits(memory.weight_bytes(130e9, "fp16"), memory_gb=24, chips=4)


def test_llama3_8b_kv_cache_is_128_kib_per_token():
    shape = Shape(layers=32, d_model=4096, heads=32, kv_heads=8, head_dim=128, vocab_size=128256)
    assert memory.kv_cache_bytes_per_token(shape, "fp16") == 128 * 1024


def test_qlora_fits_a_65b_model_in_48_gb(root):
    # QLoRA (Dettmers et al. 2023): a 65B model fine-tunes on one 48 GB GPU, with NF4 + double
    # quantisation and LoRA r=64 on all linear layers (Appendix B.2).
    row = catalog.lookup("architectures", "LLaMA-65B", root / "data")
    shape = Shape.from_row(row)
    trainable = peft.lora_params(shape, 64, ("q", "k", "v", "o", "gate", "up", "down"))
    plan = memory.finetune_bytes(65.2e9, "qlora", trainable=trainable)
    assert plan["total"] < 48e9
    # ... while 16-bit full fine-tuning needs more than 780 GB (QLoRA abstract).
    assert memory.finetune_bytes(65.2e9, "full")["total"] > 780e9


def test_zero_stages_partition_the_16_bytes():
    psi, n = 1e9, 8
    assert memory.training_state_bytes(psi) == 16e9
    assert memory.training_state_bytes(psi, 1, n) == pytest.approx((2 + 2 + 12 / n) * psi)
    assert memory.training_state_bytes(psi, 2, n) == pytest.approx((2 + 14 / n) * psi)
    assert memory.training_state_bytes(psi, 3, n) == pytest.approx(16 / n * psi)
    with pytest.raises(ValueError, match="zero_stage"):
        memory.training_state_bytes(psi, 4, n)


def test_activation_recomputation_orders():
    gpt3 = Shape(layers=96, d_model=12288, heads=96, vocab_size=50257)
    none = memory.activation_bytes(gpt3, 2048, 1, "none")
    selective = memory.activation_bytes(gpt3, 2048, 1, "selective")
    full = memory.activation_bytes(gpt3, 2048, 1, "full")
    # Korthikanti et al. 2022: per layer sbh(34 + 5as/h), 34sbh, 2sbh.
    assert none == pytest.approx(96 * 2048 * 12288 * (34 + 5 * 96 * 2048 / 12288))
    assert full < selective < none


def test_decode_bounds():
    # 16 GB of weights read per token at 2,039 GB/s: at most ~127 tokens/s.
    assert memory.decode_tokens_per_s_memory_bound(16e9, 2039) == pytest.approx(127.4, rel=1e-3)
    assert memory.decode_tokens_per_s_compute_bound(8e9, 312) == pytest.approx(19500)


@given(p=st.floats(1e6, 1e12), k=st.floats(1.01, 10))
def test_weight_bytes_grow_with_size_and_shrink_with_bits(p, k):
    assert memory.weight_bytes(p * k, "bf16") > memory.weight_bytes(p, "bf16")
    assert memory.weight_bytes(p, "int4") < memory.weight_bytes(p, "int8")
    assert memory.weight_bytes(p, "int8") < memory.weight_bytes(p, "bf16")


@given(layers=st.integers(1, 100), kv=st.sampled_from([1, 2, 4, 8]), t=st.integers(1, 10_000))
def test_kv_cache_is_linear_in_tokens_and_gqa_aware(layers, kv, t):
    mha = Shape(layers=layers, d_model=1024, heads=8, vocab_size=10)
    gqa = Shape(layers=layers, d_model=1024, heads=8, kv_heads=kv, vocab_size=10)
    assert memory.kv_cache_bytes(mha, 2 * t) == 2 * memory.kv_cache_bytes(mha, t)
    assert memory.kv_cache_bytes(gqa, t) * 8 == memory.kv_cache_bytes(mha, t) * kv


def test_kv_cache_follows_the_attention_kind():
    mha = Shape(layers=2, d_model=64, heads=8, vocab_size=100)
    gqa = Shape(**{**mha.__dict__, "kv_heads": 2, "attention": "gqa"})
    mqa = Shape(**{**mha.__dict__, "kv_heads": 1, "attention": "mqa"})
    mla = Shape(
        **{
            **mha.__dict__,
            "attention": "mla",
            "head_dim": 12,
            "kv_lora_rank": 16,
            "rope_head_dim": 4,
            "v_head_dim": 8,
        }
    )
    per = memory.kv_cache_bytes_per_token
    assert per(mha, "fp16") == 2 * 2 * 8 * 8 * 2
    assert per(gqa, "fp16") == per(mha, "fp16") / 4
    assert per(mqa, "fp16") == per(mha, "fp16") / 8
    assert per(mla, "fp16") == 2 * (16 + 4) * 2  # the latent and the shared RoPE key only


def test_deepseek_v3_mla_caches_576_values_per_layer():
    # config_671B.json: kv_lora_rank 512, qk_rope_head_dim 64, 61 layers
    v3 = Shape(
        layers=61,
        d_model=7168,
        heads=128,
        vocab_size=129280,
        head_dim=192,
        attention="mla",
        kv_lora_rank=512,
        q_lora_rank=1536,
        rope_head_dim=64,
        v_head_dim=128,
    )
    assert memory.kv_values_per_token_per_layer(v3) == 576
    assert memory.kv_cache_bytes_per_token(v3, "bf16") == 61 * 576 * 2


def test_sliding_window_layers_cap_the_cache_at_the_window():
    s = Shape(layers=6, d_model=64, heads=4, vocab_size=100, sliding_window=1024, sliding_layers=5)
    per_layer = memory.kv_values_per_token_per_layer(s) * 2
    assert memory.kv_cache_bytes(s, 512, fmt="fp16") == 6 * 512 * per_layer
    assert memory.kv_cache_bytes(s, 8192, fmt="fp16") == (8192 + 5 * 1024) * per_layer


def test_gemma3_27b_kv_cache_at_128k_by_hand():
    # gemma library preset Gemma3_27B: 62 layers, 16 KV heads of 128, 52 sliding layers of 1,024

    rows = catalog.load("architectures").set_index("model")
    g27 = Shape.from_row({**rows.loc["Gemma-3-27B"].to_dict(), "model": "Gemma-3-27B"})
    per_layer_token = 2 * 16 * 128 * 2  # key + value, 16 heads of 128, bf16
    tokens = 131072
    assert memory.kv_cache_bytes(g27, tokens, fmt="bf16") == per_layer_token * (
        10 * tokens + 52 * 1024
    )
    every_layer_global = replace(g27, sliding_layers=0)
    assert memory.kv_cache_bytes(every_layer_global, tokens, fmt="bf16") == (
        per_layer_token * 62 * tokens
    )


def test_uncompressed_mla_caches_full_keys_and_values():
    # DeepSeek-V3 inference/model.py, attn_impl "naive": k_cache (heads, qk_head_dim 192) and
    # v_cache (heads, v_head_dim 128) per token, against the latent 512 + rope key 64
    v3 = Shape(
        layers=61, d_model=7168, heads=128, vocab_size=129280, head_dim=192, attention="mla",
        kv_lora_rank=512, q_lora_rank=1536, rope_head_dim=64, v_head_dim=128,
    )  # fmt: skip
    mha = memory.uncompressed_attention(v3)
    gqa = memory.uncompressed_attention(v3, kv_heads=8)
    assert mha.attention == "mha" and gqa.attention == "gqa"
    assert memory.kv_values_per_token_per_layer(mha) == 128 * (192 + 128)
    assert memory.kv_values_per_token_per_layer(gqa) == 8 * (192 + 128)
    assert memory.kv_cache_bytes(mha, 1000) / memory.kv_cache_bytes(v3, 1000) == 40960 / 576
    with pytest.raises(ValueError, match="MLA"):
        memory.uncompressed_attention(mha)


def test_linear_attention_state_does_not_grow_with_context():
    # MiniMax-M1 lightning attention: a (heads, head_dim, head_dim) fp32 state per layer
    one = memory.linear_attention_state_bytes(64, 128, 1)
    assert one == 64 * 128 * 128 * 4
    assert memory.linear_attention_state_bytes(64, 128, 70, batch=2) == one * 70 * 2
    with pytest.raises(ValueError):
        memory.linear_attention_state_bytes(0, 128, 1)


def test_kv_cache_by_context_matches_kv_cache_bytes():
    s = Shape(layers=6, d_model=64, heads=4, vocab_size=100, sliding_window=1024, sliding_layers=5)
    table = memory.kv_cache_by_context({"s": s}, [512, 8192], fmt="fp16")
    assert list(table.columns) == [512, 8192]
    assert table.loc["s", 8192] == memory.kv_cache_bytes(s, 8192, fmt="fp16")


def test_moe_decoding_reads_only_active_weights():
    dense = Shape(layers=4, d_model=64, heads=4, vocab_size=1000, ffn_dim=256)
    moe = Shape(**{**dense.__dict__, "n_experts": 8, "experts_per_token": 2})
    # a dense model reads all but the unused embedding rows
    assert memory.decode_bytes_per_token(dense, "bf16") == 2 * (
        param_counts(dense)["total"] - 1000 * 64 + 64
    )
    moe_read = memory.decode_bytes_per_token(moe, "bf16")
    assert moe_read == 2 * (active_params(moe) - 1000 * 64 + 64)
    assert moe_read < memory.weight_bytes(param_counts(moe)["total"], "bf16") / 2


def test_sparse_models_table_counts_mixtral_and_explains_incomplete_rows():
    table = memory.sparse_models_table(catalog.load("architectures"))
    mixtral = table.loc["Mixtral-8x7B"]
    assert (mixtral["total params"], mixtral["active params"]) == ("46.7B", "12.9B")
    assert mixtral["KV cache per token"] == "128 KiB"  # 32 layers · 2 · 8 heads · 128 · 2 B
    for _, row in table.iterrows():  # every row is either counted or says why not
        assert bool(row["total params"]) != bool(row["note"])
    assert "nan" not in table.to_string().lower()


def test_gptq_checkpoints_carry_their_group_scales_and_zero_points():
    """AutoGPTQ's QuantLinear stores, per group of 128 input rows and per output column, one
    fp16 scale and one zero point as wide as the weights: 4 + (16 + 4)/128 bits for int4."""
    assert memory.bits_per_weight("gptq-int4") == 4 + 20 / 128
    assert memory.bits_per_weight("gptq-int8") == 8 + 24 / 128
    # between plain int4 and GGUF's Q4_0 (one fp16 scale per 32 weights)
    assert memory.bits_per_weight("int4") < memory.bits_per_weight("gptq-int4")
    assert memory.bits_per_weight("gptq-int4") < memory.bits_per_weight("Q4_0") == 4.5
    assert memory.weight_bytes(7e9, "gptq-int4") == pytest.approx(7e9 * 4.15625 / 8)


def test_blockwise_int4_counts_its_absmax_like_nf4():
    # the QLoRA chapter's int4 baseline: NF4's layout (fp32 absmax per 64) with int4 levels
    assert memory.bits_per_weight("int4-b64") == memory.bits_per_weight("nf4") == 4.5
