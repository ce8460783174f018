"""KL-regularised optimum, PPO-clip, best-of-n and DPO on categorical policies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import preference as pf
from llmbook import rlhf


def _problem(seed=0, k=12, prompts=None):
    rng = np.random.default_rng(seed)
    shape = (k,) if prompts is None else (prompts, k)
    return rlhf.softmax(1.5 * rng.normal(size=shape)), rng.normal(size=shape)


def test_kl_by_hand():
    assert rlhf.kl_divergence([0.5, 0.5], [0.25, 0.75]) == pytest.approx(
        0.5 * np.log(2) + 0.5 * np.log(2 / 3)
    )
    assert rlhf.kl_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(np.log(2))
    assert np.isinf(rlhf.kl_divergence([0.5, 0.5], [1.0, 0.0]))


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.05, 5.0))
def test_optimum_beats_random_policies_and_has_value_beta_log_z(seed, beta):
    pi_ref, r = _problem(seed, k=6)
    best = rlhf.optimal_policy(pi_ref, r, beta)
    value = rlhf.kl_objective(best, pi_ref, r, beta)
    assert value == pytest.approx(rlhf.optimal_value(pi_ref, r, beta), rel=1e-9, abs=1e-9)
    rng = np.random.default_rng(seed)
    for _ in range(20):
        other = rng.dirichlet(np.ones(6))
        assert rlhf.kl_objective(other, pi_ref, r, beta) <= value + 1e-12
    # Gibbs: J(pi*) - J(pi) = beta KL(pi || pi*) for any pi
    other = rng.dirichlet(np.ones(6))
    gap = value - rlhf.kl_objective(other, pi_ref, r, beta)
    assert gap == pytest.approx(beta * rlhf.kl_divergence(other, best), rel=1e-7, abs=1e-12)


def test_optimum_limits():
    pi_ref, r = _problem(1)
    np.testing.assert_allclose(rlhf.optimal_policy(pi_ref, r, 1e6), pi_ref, atol=1e-5)
    assert rlhf.optimal_policy(pi_ref, r, 1e-3)[np.argmax(r)] == pytest.approx(1.0)


def test_frontier_trades_reward_for_kl():
    pi_ref, r = _problem(2)
    f = rlhf.frontier(pi_ref, r, [4.0, 1.0, 0.25])
    assert np.all(np.diff(f["kl"]) > 0) and np.all(np.diff(f["reward"]) > 0)


def test_surrogate_gradient_finite_differences():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(2, 5))
    old = rlhf.softmax(logits + 0.3 * rng.normal(size=(2, 5)))
    counts = rng.integers(1, 20, size=(2, 5))
    adv = rng.normal(size=(2, 5))
    analytic = rlhf.ppo_surrogate_grad(logits, old, counts, adv, clip=0.2)
    numeric = np.zeros_like(logits)
    h = 1e-6
    for idx in np.ndindex(logits.shape):
        e = np.zeros_like(logits)
        e[idx] = h
        up = rlhf.ppo_surrogate(logits + e, old, counts, adv, 0.2)[idx[0]]
        down = rlhf.ppo_surrogate(logits - e, old, counts, adv, 0.2)[idx[0]]
        numeric[idx] = (up - down) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, atol=1e-7)


def test_ppo_reaches_the_closed_form():
    pi_ref, r = _problem(4, k=16, prompts=3)
    out = rlhf.ppo(pi_ref, r, beta=0.5, iterations=300, batch=512, seed=0)
    target = rlhf.optimal_policy(pi_ref, r, 0.5)
    assert out["history"]["kl_to_optimum"][0] > 0.1  # it started far away
    assert np.max(rlhf.kl_divergence(target, out["probs"])) < 2e-3
    assert np.max(np.abs(out["probs"] - target).sum(axis=-1) / 2) < 0.03


def test_best_of_one_is_the_reference_and_bound_holds():
    pi_ref, r = _problem(5)
    np.testing.assert_allclose(rlhf.best_of_n_policy(pi_ref, r, 1), pi_ref)
    for n in (2, 4, 16, 64):
        kl = rlhf.kl_divergence(rlhf.best_of_n_policy(pi_ref, r, n), pi_ref)
        assert kl <= rlhf.best_of_n_kl_bound(n) + 1e-12


def test_best_of_n_meets_the_bound_on_many_equal_responses():
    # With K equally likely distinct responses the KL tends to log n - (n-1)/n as K grows.
    k = 200_000
    pi_ref, r = np.full(k, 1 / k), np.arange(k, dtype=float)
    for n in (2, 8, 32):
        kl = rlhf.kl_divergence(rlhf.best_of_n_policy(pi_ref, r, n), pi_ref)
        assert kl == pytest.approx(rlhf.best_of_n_kl_bound(n), abs=1e-3)


def test_best_of_n_monte_carlo_matches_exact_with_ties():
    pi_ref = np.array([0.4, 0.3, 0.2, 0.1])
    r = np.array([0.0, 1.0, 1.0, 2.0])  # responses 1 and 2 tie
    exact = rlhf.best_of_n_policy(pi_ref, r, 3)
    # by hand: P(best has reward 2) = 1 - 0.9^3; reward 1: 0.9^3 - 0.4^3, split 3:2
    np.testing.assert_allclose(exact[3], 1 - 0.9**3)
    np.testing.assert_allclose(exact[1] + exact[2], 0.9**3 - 0.4**3)
    np.testing.assert_allclose(exact[1] / exact[2], 1.5)
    counts = rlhf.best_of_n_sample(pi_ref, r, 3, 200_000, np.random.default_rng(6))
    np.testing.assert_allclose(counts / counts.sum(), exact, atol=4e-3)


def test_dpo_gradient_finite_differences():
    rng = np.random.default_rng(7)
    logits = rng.normal(size=(2, 4))
    log_ref = rlhf.log_softmax(rng.normal(size=(2, 4)))
    prompt, chosen, rejected = [0, 0, 1, 1], [0, 1, 2, 3], [2, 3, 0, 1]
    analytic = rlhf.dpo_grad(logits, log_ref, chosen, rejected, 0.3, prompt)
    numeric = np.zeros_like(logits)
    h = 1e-6
    for idx in np.ndindex(logits.shape):
        e = np.zeros_like(logits)
        e[idx] = h
        numeric[idx] = (
            rlhf.dpo_loss(logits + e, log_ref, chosen, rejected, 0.3, prompt)
            - rlhf.dpo_loss(logits - e, log_ref, chosen, rejected, 0.3, prompt)
        ) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, atol=1e-8)


def test_dpo_implied_reward_is_the_bradley_terry_fit():
    pi_ref, r = _problem(8, k=10)
    rng = np.random.default_rng(8)
    w, ell = pf.simulate_comparisons(r, 3000, rng)
    beta = 0.5
    fit = rlhf.dpo_fit(pi_ref, w, ell, beta, steps=3000)
    scores = pf.fit_scores(10, w, ell, l2=1e-8)
    np.testing.assert_allclose(rlhf.implied_reward(fit["probs"], pi_ref, beta), scores, atol=1e-4)
    # and so the DPO policy is the closed-form optimum for the fitted reward
    np.testing.assert_allclose(fit["probs"], rlhf.optimal_policy(pi_ref, scores, beta), atol=1e-5)
    assert fit["loss"][-1] < fit["loss"][0]


def test_implied_reward_inverts_the_optimum():
    pi_ref, r = _problem(9)
    pi = rlhf.optimal_policy(pi_ref, r, 0.7)
    np.testing.assert_allclose(rlhf.implied_reward(pi, pi_ref, 0.7), r - r.mean(), atol=1e-10)


def test_bad_inputs():
    with pytest.raises(ValueError, match="beta"):
        rlhf.optimal_policy([0.5, 0.5], [0, 1], 0.0)
    with pytest.raises(ValueError, match="probabilities"):
        rlhf.optimal_policy([0.5, 0.6], [0, 1], 1.0)
    with pytest.raises(ValueError, match="at least 1"):
        rlhf.best_of_n_policy([0.5, 0.5], [0, 1], 0)


def test_score_responses_equals_a_full_forward_pass():
    from llmbook import smollm

    model = smollm.Model.load()
    prompt, responses = "What is the capital of France?", ["Paris.", "It is Lyon, I think."]
    scored = rlhf.score_responses(model, prompt, responses)
    end = model.weights.control_ids["<|im_end|>"]
    head = model.encode(smollm.chat_prompt([{"role": "user", "content": prompt}]))
    for text, logprob, tokens in zip(responses, scored["logprob"], scored["tokens"], strict=True):
        resp = model.encode(text) + [end]
        assert tokens == len(resp)
        lp = rlhf.log_softmax(model.logits(head + resp).astype(np.float64))
        positions = np.arange(len(head) - 1, len(head) + len(resp) - 1)
        assert logprob == pytest.approx(lp[positions, resp].sum(), abs=1e-3)
    assert scored["features"].shape == (2, model.config.d_model)
    assert scored["logprob"][0] > scored["logprob"][1]  # the model knows its capitals


def test_ppo_reaches_the_closed_form_from_a_peaked_reference():
    # Like a real model's answer distribution: most mass on one or two answers, some answers
    # with probability 1e-20, and tied rewards.
    logp = np.array([[-0.1, -2.5, -9.0, -45.0, -3.0, -20.0], [-1.5, -0.4, -30.0, -2.0, -6.0, -8.0]])
    pi_ref = rlhf.softmax(logp)
    reward = np.array([[3.0, 3.0, 2.0, 2.0, 0.0, 1.0], [3.0, 0.0, 2.0, 0.0, 1.0, 3.0]])
    # Between tied answers only the KL term sets the ratio, a weak signal: a smaller step
    # keeps sampling noise from moving it.
    out = rlhf.ppo(pi_ref, reward, beta=0.5, iterations=300, batch=512, lr=0.02, seed=1)
    assert np.max(np.abs(out["probs"] - out["target"]).sum(axis=-1) / 2) < 0.01
