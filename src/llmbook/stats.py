"""The book's statistics of measurements: intervals, paired tests, sample sizes and pass@k.

One home for every estimator a chapter uses to say how sure a measurement is:

* one proportion: :func:`wilson_interval` (exact-ish, closed form) and :func:`bootstrap_ci`
  (percentile bootstrap of a mean of 0/1 outcomes);
* two systems on the **same** items: :func:`mcnemar_exact` (exact test on the discordant items)
  and :func:`paired_bootstrap_diff` (interval of the difference, items resampled in pairs);
* how many items to measure: :func:`items_for_half_width` (one accuracy to ``+- h``) and
  :func:`items_for_paired_difference` (a difference ``delta`` between two systems on the same
  items, at a given significance and power, which depends on how often the two disagree);
  :func:`items_for_unpaired_difference` is the same question on separate item sets, for contrast;
* telling two groups apart by a score: :func:`auc` (the Mann-Whitney probability that a
  random member of the first group scores higher) and :func:`auc_ci` (bootstrap interval);
* code generation: :func:`pass_at_k`, the unbiased estimator of Chen et al. (2021, §2.1);
* a ratio of sums over items (tokens per character of a corpus of sentences), with strata and
  paired replicates: :func:`ratio_bootstrap` and :func:`percentile_interval`.

All functions are pure, take plain numbers or 0/1 arrays, and are tested on hand-computed values
and by simulation in ``tests/test_stats.py``. ``z`` values are standard normal quantiles,
computed by :func:`normal_quantile` (no scipy needed).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

Z_95 = 1.96
"""Two-sided 95 % standard normal quantile, rounded as the textbooks print it."""


def normal_quantile(q: float) -> float:
    """The standard normal quantile ``Phi^-1(q)`` (``statistics.NormalDist``)."""
    if not 0.0 < q < 1.0:
        raise ValueError(f"quantile level must be in (0, 1), got {q}")
    return NormalDist().inv_cdf(q)


def binomial_sd(p: float, n: int) -> float:
    """Standard deviation of an accuracy measured on ``n`` items with true accuracy ``p``:
    ``sqrt(p (1 - p) / n)``."""
    return math.sqrt(p * (1.0 - p) / n)


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval (Wilson 1927) for a binomial proportion; 95% for z = 1.96."""
    if n <= 0:
        raise ValueError("n must be positive")
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / (1 + z**2 / n)
    return float(centre - half), float(centre + half)


def bootstrap_ci(
    correct: Sequence[bool] | np.ndarray,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``correct`` (0/1 per item).

    Resample the items with replacement ``n_resamples`` times, take each resample's accuracy, and
    return the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles.
    """
    x = np.asarray(correct, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no items")
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_resamples, x.size))].mean(axis=1)
    lo, hi = percentile_interval(means, level)
    return float(lo), float(hi)


def mcnemar_exact(before, after) -> dict[str, float]:
    """Exact McNemar test for paired 0/1 outcomes on the same items: under no change, the
    discordant items (b: right before, wrong after; c: wrong before, right after) split as
    Binomial(b + c, 1/2). Returns ``b``, ``c`` and the two-sided ``p_value``."""
    x, y = np.asarray(before, dtype=bool), np.asarray(after, dtype=bool)
    if x.shape != y.shape:
        raise ValueError(f"paired outcomes need equal shapes, got {x.shape} and {y.shape}")
    b, c = int(np.sum(x & ~y)), int(np.sum(~x & y))
    n = b + c
    if n == 0:
        return {"b": 0, "c": 0, "p_value": 1.0}
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return {"b": b, "c": c, "p_value": float(min(1.0, 2 * tail))}


def paired_bootstrap_diff(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """Paired bootstrap of ``mean(a) - mean(b)`` for two scores on the same items.

    The items are resampled with replacement and **both** systems keep their score on each drawn
    item, so the interval reflects how the two co-vary (a difference on shared items is much
    tighter than two separate intervals suggest). Returns ``diff`` (on all items), ``ci_low``,
    ``ci_high`` (percentile interval) and ``n`` (items)."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or x.size == 0:
        raise ValueError(f"paired scores need equal non-empty 1-D shapes, got {x.shape}, {y.shape}")
    d = x - y
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, d.size, size=(n_resamples, d.size))].mean(axis=1)
    lo, hi = percentile_interval(means, level)
    return {"diff": float(d.mean()), "ci_low": float(lo), "ci_high": float(hi), "n": int(d.size)}


def items_for_half_width(half_width: float, p: float = 0.5, z: float = Z_95) -> int:
    """Items needed for a normal-approximation 95 % interval of ``+- half_width`` around an
    accuracy ``p``: ``ceil((z / half_width)**2 p (1 - p))``."""
    return math.ceil((z / half_width) ** 2 * p * (1.0 - p))


def items_for_paired_difference(
    delta: float, discordance: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Items needed to detect a difference ``delta`` in accuracy between two systems scored on
    the **same** items, with a two-sided McNemar test at level ``alpha`` and the given ``power``.

    Per item the paired difference ``d = x_a - x_b`` is -1, 0 or +1; ``discordance`` is
    ``P(d != 0)`` (the share of items on which the two disagree, ``psi``), ``delta = E[d]``. So
    ``Var d = psi - delta**2`` under the alternative and ``psi`` under no difference, and the
    normal approximation of the test statistic ``mean(d) / sqrt(psi / n)`` gives::

        n = (z_{1-alpha/2} sqrt(psi) + z_{power} sqrt(psi - delta**2))**2 / delta**2

    The more the systems agree (small ``psi``), the fewer items a given ``delta`` needs; ``psi``
    can never be below ``|delta|``."""
    if not 0 < abs(delta) <= discordance <= 1:
        raise ValueError(f"need 0 < |delta| <= discordance <= 1, got {delta=} {discordance=}")
    z_a, z_b = normal_quantile(1 - alpha / 2), normal_quantile(power)
    root = z_a * math.sqrt(discordance) + z_b * math.sqrt(discordance - delta**2)
    return math.ceil(root**2 / delta**2)


def items_for_unpaired_difference(
    p_a: float, p_b: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Items **per system** to detect accuracies ``p_a`` vs ``p_b`` measured on separate,
    independent item sets (two-proportion z-test, normal approximation)::

        n = (z_{1-alpha/2} sqrt(2 pbar (1 - pbar)) + z_{power} sqrt(p_a q_a + p_b q_b))**2
            / (p_a - p_b)**2

    The worst case of :func:`items_for_paired_difference`: it ignores that shared items make the
    two scores co-vary."""
    if p_a == p_b:
        raise ValueError("p_a and p_b must differ")
    z_a, z_b = normal_quantile(1 - alpha / 2), normal_quantile(power)
    pbar = (p_a + p_b) / 2
    root = z_a * math.sqrt(2 * pbar * (1 - pbar)) + z_b * math.sqrt(
        p_a * (1 - p_a) + p_b * (1 - p_b)
    )
    return math.ceil(root**2 / (p_a - p_b) ** 2)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from ``n`` samples of which ``c`` pass (Chen et al. 2021,
    §2.1): ``1 - C(n - c, k) / C(n, k)``, the chance that ``k`` samples drawn without replacement
    from the ``n`` include a correct one. Computed as the paper's numerically stable product
    ``1 - prod_{i = n-c+1}^{n} (1 - k / i)``. Averaged over problems it gives the benchmark's
    pass@k; drawing only ``k`` samples and checking them has a high variance and the naive
    ``1 - (1 - c/n)**k`` is biased."""
    if not (0 <= c <= n and 1 <= k <= n):
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got {n=} {c=} {k=}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def auc(positive: Sequence[float] | np.ndarray, negative: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve of a score that should be higher for ``positive``: the share of
    (positive, negative) pairs in which the positive scores higher, ties counting one half (the
    Mann-Whitney U statistic divided by the number of pairs). 0.5 is chance."""
    pos, neg = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    if pos.size == 0 or neg.size == 0:
        raise ValueError("both groups need at least one score")
    diff = pos[:, None] - neg[None, :]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def auc_ci(
    positive: Sequence[float] | np.ndarray,
    negative: Sequence[float] | np.ndarray,
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, float]:
    """:func:`auc` with a percentile bootstrap interval (each group resampled with replacement
    on its own). Returns ``auc``, ``ci_low``, ``ci_high``, ``n_positive``, ``n_negative``."""
    pos, neg = np.asarray(positive, dtype=np.float64), np.asarray(negative, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = [
        auc(pos[rng.integers(0, pos.size, pos.size)], neg[rng.integers(0, neg.size, neg.size)])
        for _ in range(n_resamples)
    ]
    lo, hi = percentile_interval(draws, level)
    return {"auc": auc(pos, neg), "ci_low": float(lo), "ci_high": float(hi),
            "n_positive": int(pos.size), "n_negative": int(neg.size)}  # fmt: skip


def cluster_bootstrap_ci(
    correct, groups, n_resamples: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of a pooled accuracy when the items come in correlated
    groups (the comparisons of one prompt): resample whole groups with replacement, pool their
    items, take the accuracy. With few groups the interval is wider than one that treats every
    item as independent, as it should be."""
    c = np.asarray(correct, dtype=float)
    g = np.asarray(groups)
    names = list(dict.fromkeys(g.tolist()))
    if not names:
        raise ValueError("no items")
    hits = np.array([c[g == n].sum() for n in names])
    sizes = np.array([(g == n).sum() for n in names])
    rng = np.random.default_rng(seed)
    draw = rng.integers(0, len(names), size=(n_resamples, len(names)))
    means = hits[draw].sum(axis=1) / sizes[draw].sum(axis=1)
    lo, hi = percentile_interval(means, level)
    return float(lo), float(hi)


def ratio_bootstrap(
    numerators,
    denominators,
    strata=None,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[list, np.ndarray, np.ndarray]:
    """Bootstrap replicates of a ratio of sums, ``sum(numerator) / sum(denominator)``, within
    each stratum, for ``k`` quantities measured on the same ``n`` items.

    ``numerators`` is ``(k, n)`` (or ``(n,)`` for one quantity), ``denominators`` ``(n,)`` and
    ``strata`` ``(n,)`` labels (None: one stratum). A ratio of sums weights each item by its
    denominator (tokens per character of a text is its tokens over its characters, not the mean
    of its sentences' ratios, which would overweight short sentences). Items are resampled with
    replacement within their stratum, so each stratum keeps its size, and every draw is shared
    by the ``k`` rows: the difference of two rows in a replicate is a **paired** replicate, as
    in :func:`paired_bootstrap_diff`. Returns the stratum labels (in order of first
    appearance), the point estimates ``(k, S)`` and the replicates ``(n_resamples, k, S)``;
    :func:`percentile_interval` turns replicates (or any function of them) into an interval.
    """
    num = np.atleast_2d(np.asarray(numerators, dtype=np.float64))
    den = np.asarray(denominators, dtype=np.float64)
    if den.ndim != 1 or num.shape[1] != den.size or den.size == 0:
        raise ValueError(
            f"need numerators (k, n) and denominators (n,), got {num.shape}, {den.shape}"
        )
    groups = np.zeros(den.size, dtype=int) if strata is None else np.asarray(strata)
    if groups.shape != den.shape:
        raise ValueError(f"strata need shape {den.shape}, got {groups.shape}")
    labels = list(dict.fromkeys(groups.tolist()))
    rng = np.random.default_rng(seed)
    point = np.empty((num.shape[0], len(labels)))
    draws = np.empty((n_resamples, num.shape[0], len(labels)))
    for s, label in enumerate(labels):
        idx = np.flatnonzero(groups == label)
        if den[idx].sum() <= 0:
            raise ValueError(f"stratum {label!r} has a zero denominator")
        point[:, s] = num[:, idx].sum(axis=1) / den[idx].sum()
        pick = idx[rng.integers(0, idx.size, size=(n_resamples, idx.size))]
        draws[:, :, s] = (num[:, pick].sum(axis=2) / den[pick].sum(axis=1)).T
    return labels, point, draws


def percentile_interval(draws, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap replicates along their first axis:
    the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles."""
    alpha = (1.0 - level) / 2.0
    lo, hi = np.quantile(np.asarray(draws, dtype=np.float64), [alpha, 1.0 - alpha], axis=0)
    return lo, hi
