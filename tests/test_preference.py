"""Bradley-Terry, Elo and calibration: recovery of known rewards, identities, hand cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import preference as pf
from llmbook import stats


def test_sigmoid_is_stable_and_symmetric():
    z = np.array([-800.0, -3.0, 0.0, 3.0, 800.0])
    s = pf.sigmoid(z)
    assert np.all(np.isfinite(s))
    assert s[2] == 0.5
    np.testing.assert_allclose(s + s[::-1], 1.0)
    np.testing.assert_allclose(pf.log_sigmoid(z[1:]), np.log(s[1:]), atol=1e-12)
    assert pf.log_sigmoid(-800.0) == pytest.approx(-800.0)


def test_two_items_mle_is_log_odds():
    # a beats b 3 times, b beats a once: the MLE of s_a - s_b is log(3/1) (hand computed).
    s = pf.fit_scores(2, [0, 0, 0, 1], [1, 1, 1, 0], l2=1e-9)
    assert s[0] - s[1] == pytest.approx(np.log(3), rel=1e-6)
    assert s.sum() == pytest.approx(0, abs=1e-12)


def test_recovers_known_rewards():
    rng = np.random.default_rng(1)
    truth = rng.normal(0, 1, 20)
    w, ell = pf.simulate_comparisons(truth, 20_000, rng)
    s = pf.fit_scores(20, w, ell, l2=1e-6)
    assert np.max(np.abs(s - (truth - truth.mean()))) < 0.15
    assert np.corrcoef(s, truth)[0, 1] > 0.99


def test_fit_scores_is_a_stationary_point():
    rng = np.random.default_rng(2)
    w, ell = pf.simulate_comparisons(rng.normal(size=6), 300, rng)
    l2 = 0.1
    s = pf.fit_scores(6, w, ell, l2=l2)
    p = pf.sigmoid(s[w] - s[ell])
    grad = np.bincount(w, 1 - p, 6) - np.bincount(ell, 1 - p, 6) - l2 * s
    np.testing.assert_allclose(grad, 0, atol=1e-9)


def test_linear_fit_gradient_is_zero_and_matches_scores_on_one_hot_features():
    rng = np.random.default_rng(3)
    truth = rng.normal(size=5)
    w, ell = pf.simulate_comparisons(truth, 2000, rng)
    eye = np.eye(5)
    weights = pf.fit_linear(eye[w], eye[ell], l2=1e-3)
    # one-hot features: the linear reward is the per-item score of the same penalised problem
    s = pf.fit_scores(5, w, ell, l2=1e-3)
    np.testing.assert_allclose(weights - weights.mean(), s, atol=1e-6)


def test_log_likelihood_finite_difference():
    rng = np.random.default_rng(4)
    w, ell = pf.simulate_comparisons(rng.normal(size=4), 50, rng)
    s = rng.normal(size=4)
    p = pf.sigmoid(s[w] - s[ell])
    analytic = np.bincount(w, 1 - p, 4) - np.bincount(ell, 1 - p, 4)
    h = 1e-6
    numeric = [
        (pf.log_likelihood(s + h * e, w, ell) - pf.log_likelihood(s - h * e, w, ell)) / (2 * h)
        for e in np.eye(4)
    ]
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6)


def test_elo_update_by_hand_and_scale():
    # Two equal players: the winner's expected score is 1/2, so it gains k/2.
    r = pf.elo_ratings(2, [0], [1], k=32, initial=1500)
    np.testing.assert_allclose(r, [1516, 1484])
    # A 400-point gap means odds of 10:1, i.e. sigma(400 * ELO_TO_LOGIT) = 10/11.
    assert pf.sigmoid(400 * pf.ELO_TO_LOGIT) == pytest.approx(10 / 11)


def test_elo_approaches_bradley_terry_with_small_steps():
    rng = np.random.default_rng(5)
    truth = np.array([-1.0, 0.0, 0.5, 1.5])
    w, ell = pf.simulate_comparisons(truth, 20_000, rng)
    elo = pf.elo_ratings(4, w, ell, k=2)
    s = pf.fit_scores(4, w, ell, l2=1e-6)
    np.testing.assert_allclose((elo - elo.mean()) * pf.ELO_TO_LOGIT, s, atol=0.15)


def test_accuracy_and_calibration():
    assert pf.accuracy([0.0, 1.0], [1, 0], [0, 1]) == 0.5
    assert pf.accuracy([0.0, 0.0], [1], [0]) == 0.5
    table = pf.calibration([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1], bins=10)
    np.testing.assert_allclose(table["observed"], [0.5, 1.0])
    np.testing.assert_allclose(table["count"], [2, 2])
    assert pf.expected_calibration_error([0.05, 0.05, 0.95, 0.95], [0, 1, 1, 1]) == pytest.approx(
        0.5 * 0.45 + 0.5 * 0.05
    )


def test_true_probabilities_are_calibrated():
    rng = np.random.default_rng(6)
    truth = rng.normal(0, 1.5, 30)
    w, ell = pf.simulate_comparisons(truth, 50_000, rng)
    a_first = rng.random(w.size) < 0.5  # present the pair in random order
    a, b = np.where(a_first, w, ell), np.where(a_first, ell, w)
    assert pf.expected_calibration_error(pf.win_probability(truth, a, b), a_first) < 0.02


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=2, max_size=6), st.floats(-5, 5))
def test_fit_is_shift_invariant(rewards, shift):
    rng = np.random.default_rng(7)
    w, ell = pf.simulate_comparisons(np.array(rewards), 200, rng)
    s = pf.fit_scores(len(rewards), w, ell, l2=0.1)
    assert s.sum() == pytest.approx(0, abs=1e-9)
    # P(a beats b) depends only on differences of scores
    np.testing.assert_allclose(pf.win_probability(s + shift, w, ell), pf.win_probability(s, w, ell))


def test_bad_inputs():
    with pytest.raises(ValueError, match="itself"):
        pf.fit_scores(3, [0], [0])
    with pytest.raises(ValueError, match="differ"):
        pf.fit_scores(3, [0, 1], [2])
    with pytest.raises(ValueError, match="0..2"):
        pf.fit_scores(3, [0], [5])


def test_pairs_from_grades_by_hand():
    w, ell = pf.pairs_from_grades(["a", "a", "a", "b", "b"], [2, 0, 2, 1, 0])
    assert sorted(zip(w.tolist(), ell.tolist(), strict=True)) == [(0, 1), (2, 1), (3, 4)]


def test_held_out_linear_rewards_recovers_a_linear_truth():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(60, 5))
    truth = x @ np.array([1.0, -2.0, 0.5, 0.0, 0.0])
    groups = np.repeat(np.arange(6), 10)
    w, ell = pf.pairs_from_grades(groups, truth)
    rewards, acc = pf.held_out_linear_rewards(x, w, ell, groups, l2=1e-2)
    assert min(acc.values()) > 0.9
    assert np.isfinite(rewards).all()


def test_linear_fit_dual_equals_primal():
    # fewer pairs than features takes the dual path; it must reach the primal optimum
    rng = np.random.default_rng(10)
    chosen, rejected = rng.normal(size=(12, 30)), rng.normal(size=(12, 30))
    dual = pf.fit_linear(chosen, rejected, l2=0.5)
    d = chosen - rejected
    p = pf.sigmoid(d @ dual)
    np.testing.assert_allclose(d.T @ (1 - p) - 0.5 * dual, 0, atol=1e-8)  # primal gradient


def test_one_bradley_terry_and_one_elo_serve_part6():
    from llmbook import ratings

    # two players, a wins 2, loses 1, ties 1: wins 2.5 of 4, so θ_a − θ_b = ln(2.5/1.5)
    fit = ratings.bradley_terry(["a", "b"], ["a"] * 4, ["b"] * 4, [1, 1, 0, 0.5])
    gap = (fit["a"] - fit["b"]) / ratings.ELO_PER_LOGIT
    assert gap == pytest.approx(np.log(2.5 / 1.5), abs=1e-6)
    # the same numbers straight from the core fit, with the tie as half a win each way
    core = pf.fit_scores(2, [0, 0, 1, 0, 1], [1, 1, 0, 1, 0], l2=1e-9, steps=100,
                                 weights=[1, 1, 1, 0.5, 0.5])  # fmt: skip
    assert core[0] - core[1] == pytest.approx(gap, abs=1e-6)
    # Elo: a tie between equals moves nobody; a win moves k/2 at equal ratings
    elo = ratings.elo_online(["a", "b"], ["a", "a"], ["b", "b"], [0.5, 1.0], k=32)
    np.testing.assert_allclose(
        elo.to_numpy(), pf.elo_ratings(2, [0, 0], [1, 1], k=32, scores=[0.5, 1.0])
    )
    assert elo["a"] == pytest.approx(1016.0)


def test_nested_selection_never_looks_at_the_held_out_group():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(6), 8)
    x = rng.normal(size=(48, 5))
    grades = x @ np.array([1.0, -1.0, 0.5, 0.0, 0.0]) + rng.normal(scale=0.3, size=48)
    w, ell = pf.pairs_from_grades(groups, grades)
    rewards, chosen = pf.nested_held_out_linear_rewards(x, w, ell, groups, l2_grid=(0.1, 1e4))
    assert set(chosen) == set(range(6)) and set(chosen.values()) <= {0.1, 1e4}
    assert np.mean(rewards[w] > rewards[ell]) > 0.8
    # Changing group 0's features cannot change the penalty chosen in group 0's fold: the
    # held-out group enters neither the inner loop nor the feature scaling of its own fold.
    x2 = x.copy()
    x2[groups == 0] = rng.normal(size=(8, 5))
    rewards2, chosen2 = pf.nested_held_out_linear_rewards(x2, w, ell, groups, l2_grid=(0.1, 1e4))
    assert chosen2[0] == chosen[0]


def test_cluster_bootstrap_ci_by_hand():
    # Two groups: one all right (4/4), one all wrong (0/4). Resampled pooled accuracy can only
    # be 0, 0.5 or 1, and the interval must span both extremes.
    correct = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    groups = np.array(["a"] * 4 + ["b"] * 4)
    lo, hi = stats.cluster_bootstrap_ci(correct, groups, n_resamples=4000)
    assert lo == 0.0 and hi == 1.0
    # Identical groups give no spread at all.
    lo, hi = stats.cluster_bootstrap_ci(np.array([1, 0, 1, 0]), np.array(["a", "a", "b", "b"]))
    assert lo == hi == 0.5
    with pytest.raises(ValueError):
        stats.cluster_bootstrap_ci(np.array([]), np.array([]))
