"""llmbook.peft_methods: each method's forward pass on one block."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook import peft, peft_methods
from llmbook.architecture import Shape

D, F = 8, 16
ONE_LAYER = Shape(layers=1, d_model=D, heads=1, ffn_dim=F, activation="gelu", linear_bias=True)


@pytest.fixture(scope="module")
def frozen():
    return peft_methods.init_block(D, F, seed=0)


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(5).standard_normal((5, D))


def test_trainable_counts_agree_with_the_peft_formulas(frozen):
    counts = {m: peft_methods.n_params(peft_methods.init_params(m, frozen)) for m in
              ("adapter", "p-tuning-v2", "prompt", "lora", "ia3", "bitfit")}  # fmt: skip
    assert counts["lora"] == peft.lora_params(ONE_LAYER, 2, ("q", "v"))
    assert counts["adapter"] == peft.adapter_params(ONE_LAYER, 2)
    assert counts["p-tuning-v2"] == peft.prefix_params(ONE_LAYER, 2)
    assert counts["prompt"] == peft.prompt_params(ONE_LAYER, 2)
    assert counts["ia3"] == peft.ia3_params(ONE_LAYER)
    assert counts["bitfit"] == peft.bitfit_params(ONE_LAYER)


@pytest.mark.parametrize("method", ["adapter", "lora", "ia3", "bitfit"])
def test_methods_that_start_as_the_identity(frozen, x, method):
    params = peft_methods.init_params(method, frozen)
    np.testing.assert_allclose(
        peft_methods.forward(x, frozen, method, params), peft_methods.forward(x, frozen)
    )


def test_prefix_reparameterisation_gives_the_same_function_as_plain_vectors(frozen, x):
    # After training, prefix tuning keeps only the MLP's output: P-tuning v2 with those vectors
    # computes exactly the same block.
    params = peft_methods.init_params("prefix", frozen)
    pk, pv = peft_methods.prefix_kv(params, "prefix")
    direct = {"prefix_k": pk, "prefix_v": pv}
    np.testing.assert_allclose(
        peft_methods.forward(x, frozen, "prefix", params),
        peft_methods.forward(x, frozen, "p-tuning-v2", direct),
    )


def test_causality_survives_prompts_and_prefixes(frozen, x):
    # Changing the last token must not change earlier outputs, with virtual tokens in front.
    y = x.copy()
    y[-1] += 1.0
    for method in ("prompt", "p-tuning-v2"):
        params = peft_methods.init_params(method, frozen)
        a = peft_methods.forward(x, frozen, method, params)
        b = peft_methods.forward(y, frozen, method, params)
        np.testing.assert_allclose(a[:-1], b[:-1])
        assert a.shape == x.shape


def test_finite_difference_gradient_of_a_quadratic():
    p = {"w": np.array([1.0, -2.0, 0.5])}
    grads = peft_methods.numeric_grads(lambda: float(np.sum(p["w"] ** 2)), p)
    np.testing.assert_allclose(grads["w"], 2 * p["w"], atol=1e-6)


@pytest.mark.parametrize("method", ["lora", "ia3", "p-tuning-v2"])
def test_training_lowers_the_loss_and_leaves_frozen_weights_alone(frozen, x, method):
    teacher = peft_methods.init_block(D, F, seed=9)
    target = peft_methods.forward(x, {k: frozen[k] + 0.3 * teacher[k] for k in frozen})
    result = peft_methods.train(method, frozen, x, target, steps=10)
    assert result["losses"][-1] < 0.7 * result["losses"][0]
    assert result["frozen_before"] == result["frozen_after"]


def test_unknown_method():
    with pytest.raises(ValueError, match="unknown method"):
        peft_methods.init_params("dora", peft_methods.init_block())


def test_published_counts(root):
    from llmbook import catalog

    gpt3 = Shape.from_row(catalog.lookup("architectures", "GPT-3 175B", root / "data"))
    mt0 = Shape(
        layers=24, encoder_layers=24, d_model=1024, heads=16, head_dim=64, ffn_dim=2816,
        vocab_size=250112, position_encoding="relative", norm="rmsnorm", activation="geglu",
        relative_attention_buckets=32,
    )  # fmt: skip
    rows = {(r["method"], r["setting"]): r for r in peft_methods.published_checks(gpt3, mt0)}
    agree = [k for k, r in rows.items() if r["agrees"]]
    assert len(agree) == 5
    # LoRA paper Table 4: 4.7M (r_q = r_v = 1) and 37.7M (r_q = r_v = 8); PreEmbed 3.2M
    assert rows[("lora", "r_q = r_v = 1")]["computed"] == 96 * 2 * 12288 * 2
    assert rows[("prompt", "l_p = 256 prefix + l_i = 8 infix tokens (PreEmbed)")]["agrees"]
    assert rows[("lora", "r = 8 on q and v")]["computed"] == 2_359_296  # PEFT README, exact
    # Two of the paper's figures disagree with its own formulas (documented in the chapter):
    # PreLayer L·d·(l_p + l_i) = 96·12288·16 = 18.9M, not 20.2M; rank 2 on four matrices is
    # 18.9M, not 37.7M.
    assert rows[("prefix-layer", "l_p = l_i = 8 (PreLayer)")]["computed"] == 96 * 12288 * 16
    assert rows[("lora", "r_q = r_k = r_v = r_o = 2")]["computed"] == 96 * 4 * 2 * 2 * 12288
    assert not rows[("prefix-layer", "l_p = l_i = 8 (PreLayer)")]["agrees"]
