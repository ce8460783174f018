"""Parameter counts from shape, against published exact counts."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import catalog
from llmbook.architecture import Shape, active_params, non_embedding_params, param_counts

#: GPT-2 small (Radford et al. 2019; HF config gpt2): 12 layers, 768 wide, 12 heads, vocab 50257,
#: 1024 learned positions, LayerNorm, GeLU, biases, tied head.
GPT2_SMALL = Shape(
    layers=12, d_model=768, heads=12, vocab_size=50257, context_length=1024,
    position_encoding="learned", norm="layernorm", activation="gelu",
    tied_embeddings=True, linear_bias=True,
)  # fmt: skip

#: mT5-large, the base of mt0-large (google/mt5-large config.json): 24+24 layers, d_model 1024,
#: 16 heads of 64, gated-GeLU d_ff 2816, vocab 250112, 32 relative buckets, untied head.
MT5_LARGE = Shape(
    layers=24, encoder_layers=24, d_model=1024, heads=16, head_dim=64, ffn_dim=2816,
    vocab_size=250112, position_encoding="relative", norm="rmsnorm", activation="geglu",
    relative_attention_buckets=32,
)  # fmt: skip


def test_gpt2_small_with_biases():
    # 124,439,808: the count of the Hugging Face GPT-2 checkpoint (nanoGPT README's "124M").
    assert param_counts(GPT2_SMALL)["total"] == 124_439_808


def test_gpt2_small_without_biases():
    # nanoGPT with bias=False drops linear and LayerNorm biases: 124,337,664.
    no_bias = Shape(**{**GPT2_SMALL.__dict__, "linear_bias": False, "norm_bias": False})
    assert param_counts(no_bias)["total"] == 124_337_664


def test_mt5_large_matches_the_peft_readme_total():
    # PEFT README: mt0-large with LoRA r=8 has 1,231,940,608 parameters *including* the
    # 2,359,296 trainable ones, so the frozen model has 1,229,581,312.
    assert param_counts(MT5_LARGE)["total"] == 1_231_940_608 - 2_359_296


def test_bloom_176b_with_embedding_layernorm():
    # BLOOM model card: 176,247,271,424 parameters, 3,596,615,680 of them embeddings. BLOOM adds
    # a LayerNorm after the embedding (2·d), which Shape does not model: add it by hand.
    bloom = Shape(
        layers=70, d_model=14336, heads=112, vocab_size=250880, position_encoding="alibi",
        norm="layernorm", activation="gelu", tied_embeddings=True, linear_bias=True,
    )  # fmt: skip
    counts = param_counts(bloom)
    assert counts["embedding"] == 3_596_615_680
    assert counts["total"] + 2 * 14336 == 176_247_271_424


@pytest.mark.parametrize(
    "model,exact,tolerance",
    [
        ("Baichuan-7B", 7_000_559_616, 0),  # README: exact count
        ("Baichuan-13B-Base", 13_264_901_120, 0),  # README table: exact count
        # Table 1 gives 540.35B. The CSV cannot say that PaLM's parallel layers share one
        # bias-free LayerNorm, so the count from shape carries ~13M (0.002%) of extra norm
        # parameters: tolerance 1e-4 relative.
        ("PaLM-540B", 540_350_000_000, 54e6),
    ],
)
def test_catalog_shapes_reproduce_reported_counts(root, model, exact, tolerance):
    row = catalog.lookup("architectures", model, root / "data")
    assert abs(param_counts(Shape.from_row(row))["total"] - exact) <= tolerance


def test_every_catalog_shape_counts_or_says_why(root):
    shapes = catalog.load("architectures", root / "data")
    for _, row in shapes.iterrows():
        try:
            total = param_counts(Shape.from_row(row))["total"]
        except ValueError as error:
            # a shape missing vocab or heads, or an MLA row without its low-rank widths
            assert "cannot count" in str(error) or "kv_lora_rank" in str(error), row["model"]
            continue
        assert total > 1e8, row["model"]


def test_moe_active_params_count_only_routed_experts():
    dense = Shape(layers=2, d_model=64, heads=4, vocab_size=100, ffn_dim=128)
    moe = Shape(**{**dense.__dict__, "n_experts": 8, "experts_per_token": 2})
    per_expert = 3 * 64 * 128
    assert param_counts(moe)["ffn"] == 2 * (8 * per_expert + 64 * 8)
    assert active_params(moe) == param_counts(moe)["total"] - 2 * 6 * per_expert


def test_gqa_and_mqa_shrink_key_value_projections():
    mha = Shape(layers=1, d_model=512, heads=8, vocab_size=10)
    gqa = Shape(layers=1, d_model=512, heads=8, kv_heads=2, vocab_size=10)
    mqa = Shape(layers=1, d_model=512, heads=8, kv_heads=1, vocab_size=10)
    assert param_counts(mha)["attention"] == 4 * 512 * 512
    assert param_counts(gqa)["attention"] == 2 * 512 * 512 + 2 * 512 * 128
    assert param_counts(mqa)["attention"] == 2 * 512 * 512 + 2 * 512 * 64


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="positive"):
        Shape(layers=0, d_model=8, heads=1, vocab_size=10)
    with pytest.raises(ValueError, match="multiple"):
        Shape(layers=1, d_model=8, heads=3, kv_heads=2, vocab_size=10)
    with pytest.raises(ValueError, match="latent attention needs kv_lora_rank"):
        Shape(layers=1, d_model=8, heads=1, vocab_size=10, attention="mla")
    with pytest.raises(ValueError, match="dense_layers"):
        Shape(layers=2, d_model=8, heads=1, vocab_size=10, n_experts=4, dense_layers=3)


def _catalog_shape(root, name: str) -> Shape:
    row = catalog.load("architectures", root / "data").set_index("model").loc[name]
    return Shape.from_row(row.to_dict() | {"model": name})


@pytest.mark.parametrize(
    "name, total, active, tolerance",
    [
        # Reported: 671B total, 37B activated per token (DeepSeek-V3 report, abstract; the
        # 14B multi-token-prediction module is extra); 236B / 21B (DeepSeek-V2 README);
        # 47B / 13B (Mixtral paper, abstract). The counts from the published shapes must agree
        # to the precision the authors round to; Mixtral's shape counts to 46.7B / 12.9B.
        ("DeepSeek-V3", 671e9, 37e9, 0.02),
        ("DeepSeek-V2", 236e9, 21e9, 0.02),
        ("Mixtral-8x7B", 47e9, 13e9, 0.01),
        ("Mixtral-8x7B", 46.7e9, 12.9e9, 0.002),
    ],
)
def test_mixture_of_experts_counts_match_the_published_totals(root, name, total, active, tolerance):
    shape = _catalog_shape(root, name)
    assert param_counts(shape)["total"] == pytest.approx(total, rel=tolerance)
    assert active_params(shape) == pytest.approx(active, rel=tolerance)


def test_latent_attention_caches_576_values_per_layer(root):
    from llmbook import memory

    shape = _catalog_shape(root, "DeepSeek-V3")
    per_layer_values = memory.kv_cache_bytes_per_token(shape, "bf16") / 2 / shape.layers
    assert per_layer_values == 512 + 64  # DeepSeek-V2 §2.1.3: (d_c + d_h^R) per layer
    grouped = Shape(layers=61, d_model=7168, heads=128, kv_heads=8, vocab_size=10)
    assert memory.kv_cache_bytes_per_token(grouped, "bf16") / 2 / 61 == 2 * 8 * 56


def test_a_sliding_window_caps_the_cache_of_its_layers():
    from llmbook import memory

    full = Shape(layers=4, d_model=64, heads=4, kv_heads=1, vocab_size=10)
    local = Shape(**{**full.__dict__, "sliding_window": 100, "sliding_layers": 3})
    per_layer = memory.kv_cache_bytes_per_token(full, "bf16") / 4
    assert memory.kv_cache_bytes(local, 1000, fmt="bf16") == per_layer * (1000 + 3 * 100)
    assert memory.kv_cache_bytes(local, 50, fmt="bf16") == memory.kv_cache_bytes(
        full, 50, fmt="bf16"
    )


shapes = st.builds(
    Shape,
    layers=st.integers(1, 48),
    d_model=st.sampled_from([64, 128, 256, 512, 1024]),
    heads=st.sampled_from([1, 2, 4, 8]),
    vocab_size=st.integers(100, 100_000),
    activation=st.sampled_from(["gelu", "swiglu"]),
    tied_embeddings=st.booleans(),
    linear_bias=st.booleans(),
)


@given(shapes)
def test_components_add_up_and_grow_with_depth(shape):
    counts = param_counts(shape)
    assert counts["total"] == sum(v for k, v in counts.items() if k != "total")
    deeper = Shape(**{**shape.__dict__, "layers": shape.layers + 1})
    assert param_counts(deeper)["total"] > counts["total"]
    assert non_embedding_params(shape) < counts["total"]


@given(shapes)
def test_gqa_with_kv_heads_equal_to_heads_is_mha(shape):
    explicit = Shape(**{**shape.__dict__, "kv_heads": shape.heads})
    assert param_counts(explicit) == param_counts(shape)


# Published totals, from each model's official configuration (widths in the test) and report.
DEEPSEEK_V3 = Shape(  # deepseek-ai/DeepSeek-V3 inference/configs/config_671B.json, n_layers 61
    layers=61,
    d_model=7168,
    heads=128,
    vocab_size=129280,
    head_dim=128 + 64,
    ffn_dim=18432,
    expert_ffn_dim=2048,
    n_experts=256,
    experts_per_token=8,
    shared_experts=1,
    dense_layers=3,
    attention="mla",
    kv_lora_rank=512,
    q_lora_rank=1536,
    rope_head_dim=64,
    v_head_dim=128,
)
MIXTRAL = Shape(  # mistralai/Mixtral-8x7B-v0.1 config.json; Jiang et al. 2024 §2
    layers=32,
    d_model=4096,
    heads=32,
    kv_heads=8,
    head_dim=128,
    ffn_dim=14336,
    vocab_size=32000,
    n_experts=8,
    experts_per_token=2,
)
QWEN3_30B_A3B = Shape(  # Qwen/Qwen3-30B-A3B config.json (decoder_sparse_step 1, no shared)
    layers=48,
    d_model=2048,
    heads=32,
    kv_heads=4,
    head_dim=128,
    ffn_dim=6144,
    expert_ffn_dim=768,
    vocab_size=151936,
    n_experts=128,
    experts_per_token=8,
)

QWEN3_235B_A22B = Shape(  # Qwen/Qwen3-235B-A22B config.json, read via copies (see report)
    layers=94, d_model=4096, heads=64, kv_heads=4, head_dim=128, ffn_dim=12288,
    expert_ffn_dim=1536, vocab_size=151936, n_experts=128, experts_per_token=8,
)  # fmt: skip


@pytest.mark.parametrize(
    "shape, total, active",
    [
        (DEEPSEEK_V3, 671e9, 37e9),  # DeepSeek-V3 report, Abstract: 671B total, 37B activated
        (MIXTRAL, 46.7e9, 12.9e9),  # Mixtral paper §2: 47B (46.7B) total, 13B (12.9B) active
        (QWEN3_30B_A3B, 30.5e9, 3.3e9),  # Qwen3 model card: 30.5B total, 3.3B activated
        (QWEN3_235B_A22B, 235e9, 22e9),  # Qwen3 model card: 235B total, 22B activated
    ],
)
def test_moe_counts_match_published_totals(shape, total, active):
    # the main model only: DeepSeek-V3's 14B multi-token-prediction module is outside the 671B
    assert param_counts(shape)["total"] == pytest.approx(total, rel=0.01)
    assert active_params(shape) == pytest.approx(active, rel=0.02)


def test_moe_dense_layers_and_step_change_only_expert_layers():
    base = Shape(
        layers=4,
        d_model=64,
        heads=4,
        vocab_size=100,
        ffn_dim=256,
        expert_ffn_dim=32,
        n_experts=4,
        experts_per_token=1,
        shared_experts=1,
    )
    mlp = 3 * 64 * 256
    expert = 3 * 64 * 32
    moe_block = 4 * expert + expert + 64 * 4
    assert param_counts(base)["ffn"] == 4 * moe_block
    first_dense = Shape(**{**base.__dict__, "dense_layers": 1})
    assert param_counts(first_dense)["ffn"] == mlp + 3 * moe_block
    alternate = Shape(**{**base.__dict__, "moe_layer_step": 2})
    assert param_counts(alternate)["ffn"] == 2 * mlp + 2 * moe_block
    # one routed expert of four, plus the shared one and the router, per mixture layer
    assert active_params(first_dense) == param_counts(first_dense)["total"] - 3 * 3 * expert


def test_mla_attention_counts_the_low_rank_projections():
    s = Shape(
        layers=1,
        d_model=16,
        heads=2,
        vocab_size=10,
        head_dim=6,
        attention="mla",
        kv_lora_rank=4,
        q_lora_rank=8,
        rope_head_dim=2,
        v_head_dim=5,
    )
    query = 16 * 8 + 8 + 8 * 2 * 6
    key_value = 16 * (4 + 2) + 4 + 4 * 2 * (4 + 5)
    assert param_counts(s)["attention"] == query + key_value + 2 * 5 * 16


def _active_without_lookup(shape: Shape) -> int:
    """Active parameters less the input-embedding table when it is not tied to the output head:
    a lookup reads one row per token and multiplies nothing, and some reports leave it out of
    their active count (gpt-oss: 5.7B counted with it, 5.1B reported)."""
    lookup = 0 if shape.tied_embeddings else param_counts(shape)["embedding"]
    return active_params(shape) - lookup


def test_catalog_moe_shapes_reproduce_their_reported_total_and_active_counts():
    """Every MoE row whose shape the library can count agrees with models.csv's params (2%)
    and active_params (5%: reports round, and some leave out a multi-token-prediction module
    or the input-embedding lookup; the closer of the two conventions is compared)."""
    models = catalog.load("models").set_index("model")
    if "active_params" not in models:
        pytest.skip("models.csv has no active_params column yet (moe-data branch)")
    checked = 0
    for _, row in catalog.load("architectures").iterrows():
        name = row["model"]
        if pd.isna(row["n_experts"]) or name not in models.index:
            continue
        reported = models.loc[name]
        if pd.isna(reported["active_params"]) or pd.isna(reported["params"]):
            continue
        try:
            shape = Shape.from_row(row)
        except ValueError:
            continue  # an MLA row without its latent widths
        assert param_counts(shape)["total"] == pytest.approx(reported["params"], rel=0.02), name
        conventions = (active_params(shape), _active_without_lookup(shape))
        closest = min(conventions, key=lambda n: abs(n - reported["active_params"]))
        assert closest == pytest.approx(reported["active_params"], rel=0.05), name
        checked += 1
    if not checked:
        pytest.skip("no MoE row has both a countable shape and a reported active count yet")


def test_gpt_oss_120b_reproduces_openais_117b_total_and_5_1b_active(root):
    """openai/gpt-oss README: 'gpt-oss-120b ... (117B parameters with 5.1B active parameters)'.
    The shape is the reference implementation's ModelConfig (36 layers, 128 experts, 4 per token,
    biases on every projection); 5.1B matches the count without the input-embedding lookup."""
    shape = _catalog_shape(root, "gpt-oss-120b")
    assert param_counts(shape)["total"] == pytest.approx(117e9, rel=0.005)
    assert _active_without_lookup(shape) == pytest.approx(5.1e9, rel=0.01)
    assert active_params(shape) > 5.5e9  # with the lookup: the gap the convention explains


def test_hunyuan_a13b_reproduces_tencents_80b_total_and_13b_active(root):
    """Hunyuan-A13B README and report: 80B total, 13B active (64 experts, 8 routed + 1 shared
    per token in all 32 layers, tied embeddings)."""
    shape = _catalog_shape(root, "Hunyuan-A13B")
    assert param_counts(shape)["total"] == pytest.approx(80e9, rel=0.01)
    assert active_params(shape) == pytest.approx(13e9, rel=0.03)


def test_deepseek_r1_has_deepseek_v3s_shape_and_counts(root):
    """DeepSeek-R1 README: 671B total, 37B activated, trained from DeepSeek-V3-Base."""
    r1, v3 = _catalog_shape(root, "DeepSeek-R1"), _catalog_shape(root, "DeepSeek-V3")
    assert r1 == v3
    assert param_counts(r1)["total"] == pytest.approx(671e9, rel=0.005)
    assert active_params(r1) == pytest.approx(37e9, rel=0.02)
