"""Tests of llmbook.stats against hand-computed values, published values and simulation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import preference, rlhf, stats


def test_the_estimators_live_in_stats_only():
    """One implementation per estimator: the modules that used to hold them no longer do."""
    assert not hasattr(rlhf, "wilson_interval") and not hasattr(rlhf, "mcnemar_exact")
    assert not hasattr(preference, "cluster_bootstrap_ci")


def test_cluster_bootstrap_ci_by_hand():
    # two prompts, all right in one and all wrong in the other: the interval spans both
    correct = np.array([1, 1, 0, 0])
    lo, hi = stats.cluster_bootstrap_ci(correct, np.array(["a", "a", "b", "b"]))
    assert lo == 0.0 and hi == 1.0


def test_wilson_and_mcnemar_hand_computed():
    lo, hi = stats.wilson_interval(5, 10)
    assert lo == pytest.approx(0.2365896, abs=1e-6) and hi == pytest.approx(0.7634104, abs=1e-6)
    # 6 improve, 0 get worse: p = 2 / 2^6
    out = stats.mcnemar_exact([0] * 6 + [1, 0], [1] * 6 + [1, 0])
    assert (out["b"], out["c"]) == (0, 6)
    assert out["p_value"] == pytest.approx(2 / 64)
    # b = 1, c = 4: p = 2 * (C(5,0) + C(5,1)) / 2^5 = 12 / 32
    out = stats.mcnemar_exact([1, 0, 0, 0, 0, 1], [0, 1, 1, 1, 1, 1])
    assert out["p_value"] == pytest.approx(12 / 32)
    with pytest.raises(ValueError):
        stats.mcnemar_exact([1, 0], [1])


def test_bootstrap_interval_brackets_the_mean_and_shrinks_with_n():
    rng = np.random.default_rng(1)
    small = rng.random(100) < 0.6
    large = rng.random(10_000) < 0.6
    lo, hi = stats.bootstrap_ci(small, seed=0)
    assert lo < small.mean() < hi
    # The width is about 2 * 1.96 * sqrt(p(1-p)/n) (normal approximation).
    assert hi - lo == pytest.approx(2 * 1.96 * stats.binomial_sd(small.mean(), 100), rel=0.15)
    lo2, hi2 = stats.bootstrap_ci(large, seed=0, n_resamples=500)
    assert hi2 - lo2 < (hi - lo) / 5
    assert stats.bootstrap_ci([1, 1, 1]) == (1.0, 1.0)


def test_paired_bootstrap_is_tighter_than_separate_intervals_when_systems_agree():
    rng = np.random.default_rng(2)
    a = (rng.random(400) < 0.6).astype(float)
    b = a.copy()
    flip = rng.choice(400, size=20, replace=False)  # disagree on 5 % of items
    b[flip] = 1 - b[flip]
    out = stats.paired_bootstrap_diff(a, b, seed=0)
    assert out["diff"] == pytest.approx(a.mean() - b.mean())
    assert out["ci_low"] <= out["diff"] <= out["ci_high"] and out["n"] == 400
    # The paired difference's sd is sqrt((psi - delta^2) / n) with psi = 0.05.
    delta = a.mean() - b.mean()
    sd = math.sqrt((0.05 - delta**2) / 400)
    assert out["ci_high"] - out["ci_low"] == pytest.approx(2 * 1.96 * sd, rel=0.2)
    lo_a, hi_a = stats.bootstrap_ci(a, seed=0)
    assert out["ci_high"] - out["ci_low"] < (hi_a - lo_a) / 2
    with pytest.raises(ValueError):
        stats.paired_bootstrap_diff([1, 0], [1, 0, 1])


def test_items_for_half_width_hand_value():
    # (1.96 / 0.01)^2 * 0.25 = 9604; (1.96 / 0.02)^2 * 0.25 = 2401
    assert stats.items_for_half_width(0.01) == 9604
    assert stats.items_for_half_width(0.02) == 2401


def test_items_for_paired_difference_hand_value():
    # delta = 0.05, psi = 0.2, alpha = 0.05, power = 0.8:
    # (1.959964 * sqrt(0.2) + 0.841621 * sqrt(0.1975))^2 / 0.0025
    # = (0.876523 + 0.374025)^2 / 0.0025 = 1.563870 / 0.0025 = 625.5 -> 626
    assert stats.items_for_paired_difference(0.05, 0.2) == 626
    # Fewer disagreements, fewer items; more power, more items.
    assert stats.items_for_paired_difference(0.05, 0.1) < 626
    assert stats.items_for_paired_difference(0.05, 0.2, power=0.9) > 626
    with pytest.raises(ValueError):
        stats.items_for_paired_difference(0.1, 0.05)  # psi can't be below |delta|


def test_items_for_unpaired_difference_hand_value():
    # 0.50 vs 0.55: (1.959964 sqrt(2 * .525 * .475) + 0.841621 sqrt(.25 + .2475))^2 / .0025
    # = (1.384170 + 0.593627)^2 / 0.0025 = 3.911681 / 0.0025 = 1564.7 -> 1565
    assert stats.items_for_unpaired_difference(0.50, 0.55) == 1565
    # Paired on shared items with 20 % disagreement needs far fewer.
    assert stats.items_for_paired_difference(0.05, 0.2) < 1565 / 2


def test_paired_sample_size_reaches_its_power_by_simulation():
    delta, psi = 0.05, 0.2
    n = stats.items_for_paired_difference(delta, psi)
    rng = np.random.default_rng(3)
    p_plus, p_minus = (psi + delta) / 2, (psi - delta) / 2
    rejected = 0
    trials = 400
    for _ in range(trials):
        u = rng.random(n)
        a = u < p_plus  # a right, b wrong
        b = (u >= p_plus) & (u < p_plus + p_minus)  # b right, a wrong
        rejected += stats.mcnemar_exact(a, b)["p_value"] < 0.05
    # Nominal power 0.8; the exact test is a little conservative. 400 trials: sd 0.02.
    assert 0.72 < rejected / trials < 0.88


def test_pass_at_k_hand_and_published_properties():
    # k = 1 is the fraction correct.
    assert stats.pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(2,2)/C(4,2) = 1 - 1/6
    assert stats.pass_at_k(4, 2, 2) == pytest.approx(5 / 6)
    assert stats.pass_at_k(5, 0, 3) == 0.0
    assert stats.pass_at_k(5, 3, 3) == 1.0  # n - c < k: every draw of 3 has a correct one
    with pytest.raises(ValueError):
        stats.pass_at_k(5, 6, 1)


@given(
    n=st.integers(min_value=1, max_value=60),
    data=st.data(),
)
def test_pass_at_k_equals_the_combinatorial_formula(n, data):
    c = data.draw(st.integers(min_value=0, max_value=n))
    k = data.draw(st.integers(min_value=1, max_value=n))
    expected = 1 - math.comb(n - c, k) / math.comb(n, k)
    assert stats.pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-9)


def test_normal_quantile():
    assert stats.normal_quantile(0.975) == pytest.approx(1.959964, abs=1e-6)
    assert stats.normal_quantile(0.8) == pytest.approx(0.841621, abs=1e-6)


def test_auc_hand_values_and_interval():
    assert stats.auc([3, 4], [1, 2]) == 1.0
    assert stats.auc([1, 2], [3, 4]) == 0.0
    # pairs: (2 vs 1) win, (2 vs 3) loss, (2 vs 2) tie -> (1 + 0 + 0.5) / 3
    assert stats.auc([2], [1, 3, 2]) == pytest.approx(0.5)
    out = stats.auc_ci([3, 4, 5, 6], [1, 2, 3.5, 0], seed=0)
    assert out["ci_low"] <= out["auc"] <= out["ci_high"] <= 1.0
    assert (out["n_positive"], out["n_negative"]) == (4, 4)


def test_ratio_bootstrap_is_a_ratio_of_sums_within_strata():
    num = np.array([[1, 3, 2, 6], [2, 2, 4, 4]])
    den = np.array([1, 1, 2, 2])
    labels, point, draws = stats.ratio_bootstrap(num, den, ["x", "x", "y", "y"], 500, seed=1)
    assert labels == ["x", "y"]
    assert point.tolist() == [[2.0, 2.0], [2.0, 2.0]]  # (1+3)/2, (2+6)/4; (2+2)/2, (4+4)/4
    assert draws.shape == (500, 2, 2)
    # a stratum's replicates use only its own items: x's ratios lie between 1 and 3
    assert draws[:, 0, 0].min() >= 1 and draws[:, 0, 0].max() <= 3
    assert {1.0, 2.0, 3.0} == set(np.round(draws[:, 0, 0], 9))
    # the second row is constant per item ratio 2 in x: every replicate is 2
    assert np.allclose(draws[:, 1, 0], 2.0)


def test_ratio_bootstrap_weights_by_the_denominator_not_the_mean_of_ratios():
    # one long sentence (10 tokens, 10 chars) and one short one (3 tokens, 1 char)
    _, point, _ = stats.ratio_bootstrap([10, 3], [10, 1], n_resamples=10)
    assert point[0, 0] == pytest.approx(13 / 11)  # not (1 + 3) / 2


def test_ratio_bootstrap_replicates_are_paired():
    rng = np.random.default_rng(0)
    den = rng.integers(1, 20, 200)
    a = den * 1.5 + rng.normal(0, 3, 200)
    _, _, draws = stats.ratio_bootstrap([a, a + 0.1 * den], den, n_resamples=300)
    diff = draws[:, 1, 0] - draws[:, 0, 0]
    assert np.allclose(diff, 0.1)  # the same draw for both rows: the difference is exact
    lo, hi = stats.percentile_interval(draws[:, 0, 0])
    assert lo < 1.5 < hi


def test_ratio_bootstrap_rejects_bad_shapes():
    with pytest.raises(ValueError, match="numerators"):
        stats.ratio_bootstrap([[1, 2]], [1, 2, 3])
    with pytest.raises(ValueError, match="strata"):
        stats.ratio_bootstrap([1, 2], [1, 2], strata=["a"])
    with pytest.raises(ValueError, match="zero denominator"):
        stats.ratio_bootstrap([1, 2], [0, 0])


def test_percentile_interval_by_hand():
    lo, hi = stats.percentile_interval(np.arange(101.0), level=0.9)
    assert (lo, hi) == (pytest.approx(5.0), pytest.approx(95.0))
