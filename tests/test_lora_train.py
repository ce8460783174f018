"""llmbook.lora_train: the hand-written backward against finite differences, the forward against
llmbook.smollm, and merging against the unmerged adapters."""

from __future__ import annotations

import numpy as np
import pytest

from llmbook import lora_train, smollm


def randomised_lora(weights, layers, targets, seed=1):
    lora = lora_train.init_lora(weights, layers, rank=2, alpha=4.0, targets=targets, seed=seed)
    rng = np.random.default_rng(seed)
    for key in lora.b:  # non-zero B, so that every gradient is non-trivial
        lora.b[key][:] = rng.standard_normal(lora.b[key].shape) * 0.3
    return lora


def test_gradients_match_central_differences():
    w = lora_train.tiny_weights()
    lora = randomised_lora(w, [1, 2], lora_train.TARGETS)
    examples = [
        lora_train.Example(np.array([2, 5, 7, 9, 11, 3, 4]), 3),
        lora_train.Example(np.array([6, 8, 10, 12, 1]), 2),
    ]
    states = [lora_train.prefix_states(w, ex.ids, 1) for ex in examples]
    _, grads, _ = lora_train.loss_and_grads(w, states, examples, 1, lora)
    rng = np.random.default_rng(2)
    eps = 1e-6
    checked = 0
    for name, p in lora.params().items():
        for flat in rng.choice(p.size, size=3, replace=False):
            idx = np.unravel_index(flat, p.shape)
            old = p[idx]
            p[idx] = old + eps
            up, _, _ = lora_train.loss_and_grads(w, states, examples, 1, lora, need_grads=False)
            p[idx] = old - eps
            down, _, _ = lora_train.loss_and_grads(w, states, examples, 1, lora, need_grads=False)
            p[idx] = old
            numeric = (up - down) / (2 * eps)
            assert grads[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name
            checked += 1
    assert checked == 3 * 2 * 2 * len(lora_train.TARGETS)


def test_zero_b_leaves_the_model_unchanged_and_merge_equals_unmerged():
    w = lora_train.tiny_weights()
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    base = lora_train.logits_with_lora(w, ids, None)
    fresh = lora_train.init_lora(w, [0, 2], rank=3, alpha=6.0, targets=("q", "v", "down"))
    np.testing.assert_array_equal(lora_train.logits_with_lora(w, ids, fresh), base)
    lora = randomised_lora(w, [0, 2], lora_train.TARGETS)
    unmerged = lora_train.logits_with_lora(w, ids, lora)
    merged = lora_train.logits_with_lora(lora_train.merge(w, lora), ids, None)
    assert np.abs(unmerged - base).max() > 0.1  # the adapters do change the output ...
    np.testing.assert_allclose(merged, unmerged, atol=1e-10)  # ... and merging changes nothing
    # merging leaves the original weights untouched
    np.testing.assert_array_equal(lora_train.logits_with_lora(w, ids, None), base)


def test_lora_parameter_count():
    w = lora_train.tiny_weights()
    lora = lora_train.init_lora(w, [2], rank=2, alpha=2.0, targets=("q", "v"))
    # q: 16 -> 16, v: 16 -> 8 (2 kv heads of 4): r (d_in + d_out) each
    assert lora.n_params == 2 * (16 + 16) + 2 * (16 + 8)
    with pytest.raises(ValueError, match="unknown"):
        lora_train.init_lora(w, [2], rank=2, alpha=2.0, targets=("qkv",))


def test_adam_first_step_moves_each_parameter_by_lr():
    # With bias correction, m_hat = g and v_hat = g² at step 1: the step is lr · sign(g).
    p = {"x": np.array([1.0, -2.0, 3.0])}
    opt = lora_train.Adam(lr=0.1, eps=0.0)
    opt.step(p, {"x": np.array([0.5, -4.0, 1e-3])})
    np.testing.assert_allclose(p["x"], [0.9, -1.9, 2.9])


def test_instruction_set_is_well_formed():
    rows = lora_train.instruction_set()
    assert {r["split"] for r in rows} == {"train", "heldout"}
    numerals = "零一二三四五六七八九十"
    for r in rows:
        if r["category"] == "addition":  # the answers of the arithmetic items are right
            a, b, c = r["response"][0], r["response"][2], r["response"][5]
            assert numerals.index(a) + numerals.index(b) == numerals.index(c), r["id"]
        assert r["response"].endswith("。")


@pytest.fixture(scope="module")
def model() -> smollm.Model:
    return smollm.Model.load()


def test_forward_matches_smollm_and_merge_on_the_real_model(model):
    ids = model.encode("<|im_start|>user\n中国的首都是哪里？<|im_end|>\n<|im_start|>assistant\n")
    w = model.weights
    reference = model.logits(ids)
    np.testing.assert_allclose(lora_train.logits_with_lora(w, ids, None), reference, atol=2e-3)
    # the cached prefix plus the top blocks gives the same hidden states as the full pass
    lora = randomised_lora(w, [28, 29], ("q", "v"))
    for key in lora.b:
        lora.b[key] *= 0.1
    unmerged = lora_train.logits_with_lora(w, ids, lora)
    merged_model = smollm.Model(lora_train.merge(w, lora), model.path)
    assert np.abs(unmerged - reference).max() > 0.05
    np.testing.assert_allclose(merged_model.logits(ids), unmerged, atol=2e-3)


def test_cached_prefix_loss_equals_the_full_pass_loss():
    w = lora_train.tiny_weights()
    lora = randomised_lora(w, [2], ("q", "v", "o"))
    ex = lora_train.Example(np.array([2, 5, 7, 9, 11, 3, 4]), 4)
    logits = lora_train.logits_with_lora(w, ex.ids, lora)
    logp = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
    pos = np.arange(ex.start - 1, len(ex.ids) - 1)
    expected = -logp[pos, ex.ids[pos + 1]].mean()
    state = lora_train.prefix_states(w, ex.ids, 2)
    loss, _, stats = lora_train.loss_and_grads(w, [state], [ex], 2, lora, need_grads=False)
    assert loss == pytest.approx(expected, rel=1e-12)
    assert stats["n_tokens"] == 3


def test_model_parameter_count():
    w = lora_train.tiny_weights()
    per_layer = 16 + 16 * 32 + 16 * 16 + 16 + 16 * 48 + 24 * 16
    assert lora_train.n_model_params(w) == 40 * 16 + 16 + 3 * per_layer


def test_packed_sequences_equal_separate_ones():
    w = lora_train.tiny_weights()
    seqs = [np.array([2, 5, 7, 9, 11]), np.array([6, 8, 10]), np.array([1, 2, 3, 4, 5, 6, 7])]
    packed = lora_train.prefix_states_many(w, seqs, 2)
    for ids, state in zip(seqs, packed, strict=True):
        np.testing.assert_allclose(state, lora_train.prefix_states(w, ids, 2), atol=1e-12)
    lora = randomised_lora(w, [2], ("q", "v", "up"))
    exs = [lora_train.Example(ids, 2) for ids in seqs]
    both, g_both, _ = lora_train.loss_and_grads(w, packed, exs, 2, lora)
    parts = [
        lora_train.loss_and_grads(w, [st], [ex], 2, lora)
        for st, ex in zip(packed, exs, strict=True)
    ]
    n = [len(ex.ids) - ex.start for ex in exs]
    assert both == pytest.approx(
        sum(p[0] * k for p, k in zip(parts, n, strict=True)) / sum(n), rel=1e-12
    )
    for name, g in g_both.items():
        expected = sum(p[1][name] * k for p, k in zip(parts, n, strict=True)) / sum(n)
        np.testing.assert_allclose(g, expected, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Variants: DoRA, PiSSA, rsLoRA, LoRA+ against their papers' definitions


def _examples():
    return [
        lora_train.Example(np.array([2, 5, 7, 9, 11, 3, 4]), 3),
        lora_train.Example(np.array([6, 8, 10, 12, 1]), 2),
    ]


def test_dora_gradients_match_central_differences():
    w = lora_train.tiny_weights()
    lora = lora_train.init_lora(w, [1, 2], 2, 4.0, lora_train.TARGETS, seed=1, dora=True)
    rng = np.random.default_rng(3)
    for key in lora.b:  # move away from the start so every gradient is non-trivial
        lora.b[key][:] = rng.standard_normal(lora.b[key].shape) * 0.3
        lora.magnitude[key] *= 1 + 0.2 * rng.standard_normal(lora.magnitude[key].shape)
    examples = _examples()
    states = [lora_train.prefix_states(w, ex.ids, 1) for ex in examples]
    _, grads, _ = lora_train.loss_and_grads(w, states, examples, 1, lora)
    assert any(name.startswith("M/") for name in grads)
    eps = 1e-6
    for name, p in lora.params().items():
        for flat in rng.choice(p.size, size=2, replace=False):
            idx = np.unravel_index(flat, p.shape)
            old = p[idx]
            p[idx] = old + eps
            up = lora_train.loss_and_grads(w, states, examples, 1, lora, need_grads=False)[0]
            p[idx] = old - eps
            down = lora_train.loss_and_grads(w, states, examples, 1, lora, need_grads=False)[0]
            p[idx] = old
            numeric = (up - down) / (2 * eps)
            assert grads[name][idx] == pytest.approx(numeric, rel=1e-5, abs=1e-9), name


def test_dora_magnitude_starts_at_the_column_norms_and_merges_exactly():
    w = lora_train.tiny_weights()
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    lora = lora_train.init_lora(w, [0, 2], 3, 6.0, ("q", "v", "down"), dora=True)
    slices = lora_train.target_slices(w.config)
    for (i, t), m in lora.magnitude.items():
        field, cols = slices[t]
        np.testing.assert_allclose(m, np.linalg.norm(getattr(w.layers[i], field)[:, cols], axis=0))
        assert m.shape == (lora.b[(i, t)].shape[1],)  # one magnitude per output column
    base = lora_train.logits_with_lora(w, ids, None)
    np.testing.assert_allclose(lora_train.logits_with_lora(w, ids, lora), base, atol=1e-12)
    rng = np.random.default_rng(0)
    for key in lora.b:
        lora.b[key][:] = rng.standard_normal(lora.b[key].shape) * 0.3
    unmerged = lora_train.logits_with_lora(w, ids, lora)
    assert np.abs(unmerged - base).max() > 0.1
    merged = lora_train.logits_with_lora(lora_train.merge(w, lora), ids, None)
    np.testing.assert_allclose(merged, unmerged, atol=1e-10)
    # DoRA's merged columns have exactly the magnitudes m, whatever A and B are
    merged_w = lora_train.merge(w, lora)
    np.testing.assert_allclose(
        np.linalg.norm(merged_w.layers[2].w_down, axis=0), lora.magnitude[(2, "down")]
    )
    # the magnitude is r·(d_in + d_out) + d_out parameters per target
    plain = lora_train.init_lora(w, [0, 2], 3, 6.0, ("q", "v", "down"))
    assert lora.n_params - plain.n_params == sum(m.size for m in lora.magnitude.values())


def test_pissa_starts_from_the_principal_part_and_reproduces_w():
    w = lora_train.tiny_weights()
    ids = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    for rslora in (False, True):
        lora = lora_train.init_lora(w, [1, 2], 3, 6.0, lora_train.TARGETS, init="pissa",
                                    rslora=rslora)  # fmt: skip
        residual = lora_train.pissa_residual(w, lora)
        slices = lora_train.target_slices(w.config)
        for (i, t), a in lora.a.items():
            field, cols = slices[t]
            full = getattr(w.layers[i], field)[:, cols]
            principal = lora.scale * (a @ lora.b[(i, t)])
            s = np.linalg.svd(full, compute_uv=False)
            # Eckart-Young: the residual holds exactly the singular values beyond r
            np.testing.assert_allclose(np.linalg.svd(principal, compute_uv=False)[:3], s[:3])
            res = getattr(residual.layers[i], field)[:, cols]
            np.testing.assert_allclose(np.linalg.norm(res) ** 2, np.sum(s[3:] ** 2))
            np.testing.assert_allclose(res + principal, full, atol=1e-12)  # W_res + AB = W
        # step 0: the residual model with the adapter computes the original model
        base = lora_train.logits_with_lora(w, ids, None)
        np.testing.assert_allclose(lora_train.logits_with_lora(residual, ids, lora), base,
                                   atol=1e-10)  # fmt: skip
        # and merging into the residual gives back W
        merged = lora_train.merge(residual, lora)
        np.testing.assert_allclose(merged.layers[2].wqkv, w.layers[2].wqkv, atol=1e-12)
    with pytest.raises(ValueError, match="exceeds"):
        lora_train.init_lora(w, [2], 17, 1.0, ("q",), init="pissa")
    with pytest.raises(ValueError, match="unknown init"):
        lora_train.init_lora(w, [2], 2, 1.0, ("q",), init="olora")


def test_rslora_scale_is_alpha_over_root_rank():
    w = lora_train.tiny_weights()
    for rank in (1, 4, 16):
        plain = lora_train.init_lora(w, [2], rank, 8.0, ("q",))
        stable = lora_train.init_lora(w, [2], rank, 8.0, ("q",), rslora=True)
        assert plain.scale == pytest.approx(8.0 / rank)
        assert stable.scale == pytest.approx(8.0 / np.sqrt(rank))


def test_lora_plus_gives_b_the_larger_learning_rate():
    w = lora_train.tiny_weights()
    examples = _examples()
    states = [lora_train.prefix_states(w, ex.ids, 1) for ex in examples]
    moved = {}
    for ratio in (1.0, 16.0):
        lora = randomised_lora(w, [2], ("q", "v"))
        start = {k: p.copy() for k, p in lora.params().items()}
        lora_train.train(w, states, examples, 1, lora, steps=1, batch=2, lr=1e-3,
                         lr_ratio_b=ratio)  # fmt: skip
        # Adam's first step moves every coordinate by lr (times its ratio) in sign(g)
        moved[ratio] = {k: np.abs(p - start[k]).max() for k, p in lora.params().items()}
    for name, step in moved[16.0].items():
        expected = 16e-3 if name.startswith("B/") else 1e-3
        assert step == pytest.approx(expected, rel=1e-6), name
        assert moved[1.0][name] == pytest.approx(1e-3, rel=1e-6), name
    with pytest.raises(ValueError, match="positive"):
        lora_train.train(w, states, examples, 1, lora, 1, 2, 1e-3, lr_ratio_b=0)


def test_evaluate_per_example_matches_one_example_at_a_time():
    w = lora_train.tiny_weights()
    lora = randomised_lora(w, [1, 2], ("q", "v"))
    examples = _examples()
    states = [lora_train.prefix_states(w, ex.ids, 1) for ex in examples]
    together = lora_train.evaluate(w, states, examples, 1, lora)
    for k, (st, ex) in enumerate(zip(states, examples, strict=True)):
        alone = lora_train.evaluate(w, [st], [ex], 1, lora)
        assert together["example_loss"][k] == pytest.approx(alone["loss"], rel=1e-10)
        assert together["example_accuracy"][k] == pytest.approx(alone["accuracy"])
    n = [len(ex.ids) - ex.start for ex in examples]
    pooled = np.dot(together["example_loss"], n) / sum(n)
    assert together["loss"] == pytest.approx(pooled, rel=1e-10)


def test_train_draws_exactly_the_batches_batch_indices_announces():
    w = lora_train.tiny_weights()
    examples = [lora_train.Example(np.array([2, 5, 7, 9, 11, 3, 4][: 5 + k % 3]), 3)
                for k in range(7)]  # fmt: skip
    steps, batch, seed = 5, 3, 4
    batches = lora_train.batch_indices(len(examples), steps, batch, seed)
    assert [len(b) for b in batches] == [batch] * steps
    # the first permutation is used up before a second one starts
    assert sorted(batches[0] + batches[1]) == sorted(set(batches[0] + batches[1]))
    used = {i for b in batches for i in b}
    states = [lora_train.prefix_states(w, ex.ids, 1) if i in used else None
              for i, ex in enumerate(examples)]  # fmt: skip
    lora = randomised_lora(w, [1, 2], ("q", "v"))
    curve = lora_train.train(w, states, examples, 1, lora, steps, batch, 1e-3, seed=seed)
    fresh = randomised_lora(w, [1, 2], ("q", "v"))
    first = lora_train.loss_and_grads(w, [states[i] for i in batches[0]],
                                      [examples[i] for i in batches[0]], 1, fresh)[0]  # fmt: skip
    assert curve[0] == pytest.approx(first, rel=1e-12)
