"""Transformer components: masks, GLM layout, RoPE, ALiBi, norms, MLPs, DeepNorm, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import catalog, components
from llmbook.architecture import Shape, ffn_params
from llmbook.smollm import silu

# ---------------------------------------------------------------------------------------------
# Masks


def test_causal_mask_is_lower_triangular():
    mask = components.attention_mask("causal", 4)
    assert mask.dtype == bool
    assert (mask == np.tril(np.ones((4, 4), dtype=bool))).all()


def test_bidirectional_mask_is_full():
    assert components.attention_mask("bidirectional", 3).all()


def test_prefix_mask_blocks():
    mask = components.attention_mask("prefix", 5, prefix=2)
    assert mask[:2, :2].all()  # the prefix sees itself both ways
    assert not mask[:2, 2:].any()  # ...and nothing after it
    assert mask[2:, :2].all()  # later tokens see the whole prefix
    assert (mask[2:, 2:] == np.tril(np.ones((3, 3), dtype=bool))).all()  # causal remainder


def test_encoder_decoder_has_the_prefix_pattern():
    assert (
        components.attention_mask("encoder-decoder", 6, prefix=3)
        == components.attention_mask("prefix", 6, prefix=3)
    ).all()


def test_prefix_zero_is_causal_and_prefix_n_is_bidirectional():
    assert (
        components.attention_mask("prefix", 4, 0) == components.attention_mask("causal", 4)
    ).all()
    assert components.attention_mask("prefix", 4, 4).all()


@pytest.mark.parametrize("kind,n,prefix", [("sideways", 3, 0), ("causal", 0, 0), ("prefix", 3, 4)])
def test_mask_rejects_bad_arguments(kind, n, prefix):
    with pytest.raises(ValueError):
        components.attention_mask(kind, n, prefix)


# ---------------------------------------------------------------------------------------------
# GLM blank infilling


def test_glm_layout_matches_the_paper_example():
    # du2022glm Figure 2: x1..x6, spans [x3] and [x5, x6], Part B in the order x5x6, x3.
    example = components.glm_blank_infilling(
        ["x1", "x2", "x3", "x4", "x5", "x6"], [(2, 1), (4, 2)], order=[1, 0]
    )
    assert example.tokens == ("x1", "x2", "[M]", "x4", "[M]", "[S]", "x5", "x6", "[S]", "x3")
    assert example.targets[5:] == ("x5", "x6", "[E]", "x3", "[E]")
    assert all(t is None for t in example.targets[:5])
    assert example.position.tolist() == [0, 1, 2, 3, 4, 4, 4, 4, 2, 2]
    assert example.block_position.tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 1, 2]
    assert example.part_a == 5
    assert (example.mask == components.attention_mask("prefix", 10, prefix=5)).all()


def test_glm_rejects_overlapping_spans_and_bad_orders():
    with pytest.raises(ValueError):
        components.glm_blank_infilling(list("abcdef"), [(1, 3), (2, 1)])
    with pytest.raises(ValueError):
        components.glm_blank_infilling(list("abcdef"), [(1, 1), (3, 1)], order=[0, 0])
    with pytest.raises(ValueError):
        components.glm_blank_infilling(list("abc"), [(2, 2)])


@given(st.integers(4, 30), st.data())
@settings(max_examples=40, deadline=None)
def test_glm_recovers_every_masked_token(n, data):
    tokens = [f"t{i}" for i in range(n)]
    start = data.draw(st.integers(0, n - 1))
    length = data.draw(st.integers(1, n - start))
    example = components.glm_blank_infilling(tokens, [(start, length)])
    predicted = [t for t in example.targets if t not in (None, "[E]")]
    assert predicted == tokens[start : start + length]
    assert len(example.tokens) == n - length + 1 + length + 1


# ---------------------------------------------------------------------------------------------
# RoPE and ALiBi


@given(st.integers(0, 500), st.integers(0, 500), st.integers(0, 2000))
@settings(max_examples=50, deadline=None)
def test_rope_score_depends_only_on_the_offset(m, n, shift):
    rng = np.random.default_rng(1)
    q, k = rng.standard_normal((2, 32))
    a = components.rope_scores(q, k, [m], [n])[0, 0]
    b = components.rope_scores(q, k, [m + shift], [n + shift])[0, 0]
    assert abs(a - b) < 1e-4 * (1 + abs(a))


def test_rope_at_position_zero_is_the_plain_dot_product():
    rng = np.random.default_rng(2)
    q, k = rng.standard_normal((2, 16)).astype(np.float32)
    assert components.rope_scores(q, k, [0], [0])[0, 0] == pytest.approx(float(q @ k), rel=1e-6)


def test_alibi_slopes_for_eight_heads_are_powers_of_one_half():
    assert components.alibi_slopes(8).tolist() == [2.0**-i for i in range(1, 9)]


def test_alibi_slopes_for_bloom_112_heads_follow_the_reference_rule():
    slopes = components.alibi_slopes(112)
    assert len(slopes) == 112
    assert np.allclose(slopes[:64], 2.0 ** (-8 * np.arange(1, 65) / 64))
    assert np.allclose(slopes[64:], 2.0 ** (-8 * np.arange(1, 96, 2) / 128))
    assert len(set(slopes.tolist())) == 112


def test_alibi_bias_is_linear_in_distance_and_masks_the_future():
    bias = components.alibi_bias(4, 6)
    slopes = components.alibi_slopes(4)
    assert bias.shape == (4, 6, 6)
    assert np.isneginf(bias[:, 0, 1]).all()
    assert np.allclose(np.diagonal(bias, axis1=1, axis2=2), 0)
    assert np.allclose(bias[:, 5, 0], -5 * slopes)


# ---------------------------------------------------------------------------------------------
# Norms and MLPs


def test_rmsnorm_equals_layernorm_when_the_mean_is_zero():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 64))
    x -= x.mean(axis=-1, keepdims=True)
    w = rng.standard_normal(64)
    assert np.allclose(components.rms_norm64(x, w), components.layer_norm(x, w), atol=1e-9)


def test_layernorm_ignores_a_shift_and_rmsnorm_does_not():
    rng = np.random.default_rng(4)
    x, w = rng.standard_normal(32), np.ones(32)
    assert np.allclose(components.layer_norm(x + 3.0, w), components.layer_norm(x, w))
    assert not np.allclose(components.rms_norm64(x + 3.0, w), components.rms_norm64(x, w))
    assert np.allclose(components.rms_norm64(5.0 * x, w), components.rms_norm64(x, w), atol=1e-6)


def test_gelu_known_values():
    assert components.gelu(np.array([0.0]))[0] == 0.0
    assert components.gelu(np.array([1.0]))[0] == pytest.approx(0.8412, abs=1e-4)


def test_mlp_shapes_and_weight_counts_agree_with_the_library():
    d, f = 8, 12
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, d))
    plain = [rng.standard_normal(s) for s in ((d, f), (f, d))]
    gated = [rng.standard_normal(s) for s in ((d, f), (d, f), (f, d))]
    assert components.mlp(x, *plain).shape == (3, d)
    assert components.gated_mlp(x, *gated, act=silu).shape == (3, d)
    assert sum(w.size for w in plain) == ffn_params(
        Shape(layers=1, d_model=d, heads=1, ffn_dim=f, activation="gelu")
    )
    assert sum(w.size for w in gated) == ffn_params(
        Shape(layers=1, d_model=d, heads=1, ffn_dim=f, activation="swiglu")
    )


def test_glu_hidden_size_two_thirds_rule():
    assert components.glu_hidden_size(4096, 256) == 11008  # LLaMA-7B's ffn_dim
    assert components.glu_hidden_size(6) == 16
    d = 3 * 64
    f = components.glu_hidden_size(d)
    assert 3 * d * f == 2 * d * 4 * d


# ---------------------------------------------------------------------------------------------
# DeepNorm


def test_deepnorm_alphas():
    alpha = components.DEEPNORM_ALPHA
    assert alpha["DeepNet, decoder-only"](8) == pytest.approx(2.0)
    assert alpha["GLM-130B code"](8) == pytest.approx(4.0)
    assert alpha["DeepNet, encoder-decoder (decoder)"](27) == pytest.approx(3.0)


def test_a_larger_alpha_damps_the_sublayer_update():
    steps = [components.sublayer_step(a) for a in (1.0, 3.0, 10.0)]
    assert steps[0] > steps[1] > steps[2] > 0


def test_deepnorm_residual_is_normalised():
    rng = np.random.default_rng(6)
    out = components.deepnorm_residual(rng.standard_normal(64), rng.standard_normal(64), 3.0)
    assert out.mean() == pytest.approx(0.0, abs=1e-12)
    assert out.std() == pytest.approx(1.0, abs=1e-4)


# ---------------------------------------------------------------------------------------------
# Checkpoint counts


def _shape(root, model):
    return Shape.from_row(catalog.lookup("architectures", model, root / "data"))


def test_opt_125m_tied_with_offset_positions(root):
    d, v, f, layers = 768, 50272, 3072, 12
    expected = (
        v * d  # tokens (the head is tied to them)
        + (2048 + 2) * d  # learned positions with OPT's offset of 2
        + layers * (4 * d * d + 4 * d + 2 * d * f + f + d + 2 * 2 * d)  # attention, MLP, 2 LN
        + 2 * d  # final LayerNorm
    )
    counts = components.checkpoint_params(
        _shape(root, "OPT-125M"), tied=True, position_offset=components.OPT_POSITION_OFFSET
    )
    assert counts["total"] == expected


def test_opt_350m_projected_embeddings_and_no_final_norm(root):
    d, e, v, f, layers = 1024, 512, 50272, 4096, 24
    expected = (
        v * e
        + 2 * e * d
        + (2048 + 2) * d
        + layers * (4 * d * d + 4 * d + 2 * d * f + f + d + 2 * 2 * d)
    )
    counts = components.checkpoint_params(
        _shape(root, "OPT-350M"),
        tied=True,
        position_offset=2,
        word_embed_dim=e,
        final_norm=False,
    )
    assert counts["total"] == expected


def test_bloom_with_biases_and_embedding_layernorm_is_the_model_card_count(root):
    counts = components.checkpoint_params(
        _shape(root, "BLOOM-176B"), linear_bias=True, embedding_norm=True
    )
    assert counts["total"] == 176_247_271_424


# ---------------------------------------------------------------------------------------------
# Catalog features and figures


def test_feature_counts_count_each_family_once_per_year(root):
    features = components.architecture_features(
        catalog.load("architectures", root / "data"), catalog.load("models", root / "data")
    )
    counts = components.feature_counts(features, "position_encoding")
    opt_year = int(features.loc[features["family"] == "OPT", "year"].iloc[0])
    families = features[features["year"] == opt_year]["family"].nunique()
    assert counts.loc[opt_year].sum() >= families
    assert counts.loc[opt_year, "learned"] >= 1
    assert (counts.sum(axis=1) >= 1).all()
    with pytest.raises(ValueError):
        components.feature_counts(features, "colour")


def test_figures_draw(root):
    import matplotlib

    matplotlib.use("Agg")
    mask = components.attention_mask("prefix", 4, 2)
    fig = components.masks_figure([("a", mask, list("abcd"), 2), ("b", mask, list("abcd"), 0)])
    assert len(fig.axes) == 2
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((2, 8))
    assert components.rope_figure(components.rope_scores(q, k, range(5), range(5))).axes
    slopes = components.alibi_slopes(8)
    assert components.alibi_figure(components.alibi_bias(8, 6), slopes, 16, [0, 3]).axes
    features = components.architecture_features(
        catalog.load("architectures", root / "data"), catalog.load("models", root / "data")
    )
    counts = {f: components.feature_counts(features, f) for f in components.FEATURES}
    assert len(components.features_figure(counts).axes) == 4
