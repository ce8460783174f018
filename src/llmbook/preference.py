"""Pairwise preferences: the Bradley-Terry model, Elo ratings, and calibration.

A reward model in RLHF is a Bradley-Terry model (Bradley and Terry 1952; Ouyang et al. 2022,
§3.5, eq. 1): each response ``y`` has a scalar reward ``r(y)``, and a labeller prefers ``a`` to
``b`` with probability

    P(a ≻ b) = σ(r(a) − r(b)),    σ(z) = 1 / (1 + e^(−z)).

Only differences of rewards are identified, so fitted rewards are returned centred (mean zero).
Two fits are provided: one free score per item (:func:`fit_scores`) and a linear reward on
feature vectors, ``r(y) = w·φ(y)`` (:func:`fit_linear`), which is what a reward-model head on
top of a language model's hidden state is. Both maximise the log-likelihood with an L2 penalty
by Newton's method: the negative log-likelihood is convex, so a few steps converge.

Elo (:func:`elo_ratings`) is the same model on a base-10 scale of 400 points,
``P(a ≻ b) = 1 / (1 + 10^((R_b − R_a)/400))``, i.e. ``r = R · ln(10)/400``, fitted online by
stochastic gradient steps of size ``k`` instead of by maximum likelihood.
"""

from __future__ import annotations

import contextlib

import numpy as np

#: Elo's scale: a 400-point gap means odds of 10 to 1 (Elo 1978).
ELO_SCALE = 400.0
#: Logistic units per Elo point: r = R · ln(10) / 400.
ELO_TO_LOGIT = np.log(10.0) / ELO_SCALE


def one_blas_thread():
    """A context that runs numpy's BLAS on one thread. The matrices here are small (at most a
    few hundred rows), so a second thread gains little on an idle machine and, on a busy one,
    makes every product wait for a core: several times slower, not faster."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with the book's requirements
        return contextlib.nullcontext()
    return threadpool_limits(1)


def sigmoid(z):
    """The logistic function σ(z) = 1 / (1 + e^(−z)), stable for large |z|."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    pos = z >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-z[pos]))
    ez = np.exp(z[~pos])
    out[~pos] = ez / (1.0 + ez)
    return out if out.ndim else float(out)


def log_sigmoid(z):
    """log σ(z) = −log(1 + e^(−z)), stable for large |z|."""
    z = np.asarray(z, dtype=float)
    return -np.logaddexp(0.0, -z)


def _pairs(winners, losers) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(winners, dtype=np.int64).reshape(-1)
    ell = np.asarray(losers, dtype=np.int64).reshape(-1)
    if w.shape != ell.shape:
        raise ValueError(f"winners ({w.size}) and losers ({ell.size}) differ in length")
    if np.any(w == ell):
        raise ValueError("a comparison of an item with itself carries no information")
    return w, ell


def win_probability(scores, a, b):
    """P(a ≻ b) = σ(s_a − s_b) for item indices ``a`` and ``b`` (arrays broadcast)."""
    s = np.asarray(scores, dtype=float)
    return sigmoid(s[np.asarray(a)] - s[np.asarray(b)])


def log_likelihood(scores, winners, losers) -> float:
    """Σ log σ(s_winner − s_loser) over the comparisons."""
    w, ell = _pairs(winners, losers)
    s = np.asarray(scores, dtype=float)
    return float(np.sum(log_sigmoid(s[w] - s[ell])))


def fit_scores(
    n_items: int,
    winners,
    losers,
    l2: float = 1e-3,
    steps: int = 50,
    tol: float = 1e-10,
    weights=None,
) -> np.ndarray:
    """Maximum-likelihood Bradley-Terry scores (centred), one per item, by Newton's method.

    Maximises Σ c·log σ(s_w − s_l) − (l2/2)·|s|², with c the comparison's ``weights`` (default
    1; a tie enters as two comparisons of weight 1/2, one each way). The gradient is
    Σ c(1 − p)(e_w − e_l) − l2·s with p = σ(s_w − s_l); the Hessian is
    −Σ c·p(1 − p)(e_w − e_l)(e_w − e_l)ᵀ − l2·I. A small ``l2`` keeps the problem well posed
    when an item never loses (its MLE is +∞) and fixes the free additive constant.

    This is the book's one Bradley-Terry fit: reward models (Part 5) and the Chatbot-Arena
    ratings of :func:`llmbook.ratings.bradley_terry` (Part 6) both call it.
    """
    if l2 <= 0:
        raise ValueError("l2 must be positive: without it the scores are defined up to a constant")
    w, ell = _pairs(winners, losers)
    c = np.ones(w.size) if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if c.shape != w.shape or np.any(c < 0):
        raise ValueError("weights must be one non-negative number per comparison")
    if max(w.max(initial=-1), ell.max(initial=-1)) >= n_items or min(w.min(), ell.min()) < 0:
        raise ValueError(f"item indices must be in 0..{n_items - 1}")
    s = np.zeros(n_items)
    for _ in range(steps):
        p = sigmoid(s[w] - s[ell])
        grad = (
            np.bincount(w, c * (1 - p), n_items) - np.bincount(ell, c * (1 - p), n_items) - l2 * s
        )
        v = c * p * (1 - p)
        cells = np.concatenate([w * n_items + w, ell * n_items + ell, w * n_items + ell,
                                ell * n_items + w])  # fmt: skip
        hess = np.bincount(cells, np.concatenate([v, v, -v, -v]), n_items * n_items)
        hess = hess.reshape(n_items, n_items) + l2 * np.eye(n_items)  # −Hessian: pos. definite
        step = np.linalg.solve(hess, grad)
        s = s + step
        # converged when the differences stop moving (the constant is free and only centred)
        if np.max(np.abs(step - step.mean())) < tol:
            break
    return s - s.mean()


def fit_linear(
    feat_chosen, feat_rejected, l2: float = 1.0, steps: int = 50, tol: float = 1e-10
) -> np.ndarray:
    """Weights ``w`` of a linear reward r(y) = w·φ(y) fitted to pairs (chosen ≻ rejected).

    ``feat_chosen`` and ``feat_rejected`` are ``(pairs, features)``. This is logistic
    regression without intercept on the differences d = φ(chosen) − φ(rejected), all labelled 1:
    maximise Σ log σ(w·d) − (l2/2)|w|², by Newton's method.
    """
    d = np.asarray(feat_chosen, dtype=float) - np.asarray(feat_rejected, dtype=float)
    if d.ndim != 2:
        raise ValueError("features must be 2-D arrays (pairs, features)")
    if l2 <= 0:
        raise ValueError("l2 must be positive")
    with one_blas_thread():
        if d.shape[0] < d.shape[1]:
            return d.T @ _fit_linear_dual(d, l2, steps, tol)
        return _fit_linear_primal(d, l2, steps, tol)


def _fit_linear_primal(d: np.ndarray, l2: float, steps: int, tol: float) -> np.ndarray:
    w = np.zeros(d.shape[1])
    for _ in range(steps):
        z = d @ w
        p = sigmoid(z)
        grad = d.T @ (1 - p) - l2 * w
        hess = (d * (p * (1 - p))[:, None]).T @ d + l2 * np.eye(d.shape[1])
        step = np.linalg.solve(hess, grad)
        w = w + step
        if np.max(np.abs(step)) < tol:
            break
    return w


def _fit_linear_dual(d: np.ndarray, l2: float, steps: int, tol: float) -> np.ndarray:
    """The same fit with fewer pairs than features: the optimum lies in the span of the
    differences, w = dᵀα, so Newton runs on α (pairs × pairs) with the Gram matrix K = d dᵀ.
    The stationarity condition K[(1 − p) − l2·α] = 0 holds when (1 − p) = l2·α, whose Newton
    step solves (diag(p(1 − p))·K + l2·I)·Δ = (1 − p) − l2·α."""
    gram = d @ d.T
    alpha = np.zeros(d.shape[0])
    for _ in range(steps):
        p = sigmoid(gram @ alpha)
        rhs = (1 - p) - l2 * alpha
        step = np.linalg.solve((p * (1 - p))[:, None] * gram + l2 * np.eye(len(alpha)), rhs)
        alpha = alpha + step
        if np.max(np.abs(step)) < tol:
            break
    return alpha


def accuracy(scores, winners, losers) -> float:
    """Share of comparisons whose winner has the higher score (ties count one half)."""
    w, ell = _pairs(winners, losers)
    s = np.asarray(scores, dtype=float)
    diff = s[w] - s[ell]
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def elo_ratings(
    n_items: int,
    winners,
    losers,
    k: float = 16.0,
    initial: float = 1000.0,
    passes: int = 1,
    scores=None,
) -> np.ndarray:
    """Elo ratings after playing the comparisons in order (``passes`` times).

    Game i is ``winners[i]`` (a) against ``losers[i]`` (b), and a scores ``scores[i]`` (1 a win,
    0 a loss, 0.5 a tie; default 1: a won). After each game a moves by k·(score − E) and b by the
    opposite amount, where E = 1 / (1 + 10^((R_b − R_a)/400)) is a's expected score. Each update
    is a stochastic gradient step on the Bradley-Terry log-likelihood in Elo units. This is the
    book's one Elo: :func:`llmbook.ratings.elo_online` (Part 6) calls it.
    """
    w, ell = _pairs(winners, losers)
    result = np.ones(w.size) if scores is None else np.asarray(scores, dtype=float).reshape(-1)
    if result.shape != w.shape:
        raise ValueError("scores must give one result per game")
    r = np.full(n_items, float(initial))
    for _ in range(passes):
        for a, b, score in zip(w, ell, result, strict=True):
            expected = 1.0 / (1.0 + 10.0 ** ((r[b] - r[a]) / ELO_SCALE))
            r[a] += k * (score - expected)
            r[b] -= k * (score - expected)
    return r


def calibration(prob, outcome, bins: int = 10) -> dict[str, np.ndarray]:
    """Reliability table of predicted probabilities against observed frequencies.

    ``prob`` are predicted P(event); ``outcome`` 1 if it happened. Equal-width bins on [0, 1];
    returns per non-empty bin the mean prediction ``predicted``, the observed frequency
    ``observed`` and the ``count``.
    """
    p = np.asarray(prob, dtype=float).reshape(-1)
    y = np.asarray(outcome, dtype=float).reshape(-1)
    if p.shape != y.shape:
        raise ValueError("prob and outcome differ in length")
    idx = np.minimum((p * bins).astype(int), bins - 1)
    count = np.bincount(idx, minlength=bins)
    keep = count > 0
    predicted = np.bincount(idx, p, bins)[keep] / count[keep]
    observed = np.bincount(idx, y, bins)[keep] / count[keep]
    return {"predicted": predicted, "observed": observed, "count": count[keep]}


def expected_calibration_error(prob, outcome, bins: int = 10) -> float:
    """ECE: Σ_bins (n_b / n)·|observed_b − predicted_b| (Guo et al. 2017, §2)."""
    table = calibration(prob, outcome, bins)
    n = table["count"].sum()
    return float(np.sum(table["count"] / n * np.abs(table["observed"] - table["predicted"])))


def simulate_comparisons(
    rewards, n_pairs: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n_pairs`` comparisons of distinct random items labelled by Bradley-Terry with the
    given true ``rewards``. Returns (winners, losers) index arrays."""
    r = np.asarray(rewards, dtype=float)
    a = rng.integers(0, r.size, n_pairs)
    b = (a + rng.integers(1, r.size, n_pairs)) % r.size  # distinct from a
    a_wins = rng.random(n_pairs) < sigmoid(r[a] - r[b])
    return np.where(a_wins, a, b), np.where(a_wins, b, a)


def pairs_from_grades(groups, grades) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (i, j) within a group with grade_i > grade_j, as (winners, losers)
    index arrays: a ranking of K responses gives up to K(K−1)/2 comparisons, as InstructGPT
    trains on all comparisons of a ranked prompt (Ouyang et al. 2022, §3.5). Ties give none."""
    g = np.asarray(groups)
    s = np.asarray(grades, dtype=float)
    same = g[:, None] == g[None, :]
    winners, losers = np.nonzero(same & (s[:, None] > s[None, :]))
    return winners, losers


def _standardise(x: np.ndarray, fit_rows: np.ndarray) -> np.ndarray:
    """Centre and scale every column by the mean and spread of the rows ``fit_rows`` only."""
    mean, sd = x[fit_rows].mean(axis=0), x[fit_rows].std(axis=0) + 1e-8
    return (x - mean) / sd


def _fit_score(x, w_idx, l_idx, g, train_groups, l2: float) -> np.ndarray:
    """Fit the linear head on the pairs of ``train_groups`` (features standardised on their
    items) and return the rewards of every item."""
    train_items = np.isin(g, train_groups)
    z = _standardise(x, train_items)
    train_pairs = np.isin(g[w_idx], train_groups)
    weights = fit_linear(z[w_idx[train_pairs]], z[l_idx[train_pairs]], l2=l2)
    return z @ weights


def held_out_linear_rewards(
    features, winners, losers, groups, l2: float
) -> tuple[np.ndarray, dict[object, float]]:
    """Leave-one-group-out linear reward model: for each group (prompt), fit
    :func:`fit_linear` on the pairs of all other groups (features standardised on those
    groups' items) and score that group's items. Returns the held-out reward of every item and
    the held-out pairwise accuracy per group."""
    x = np.asarray(features, dtype=float)
    g = np.asarray(groups)
    w_idx, l_idx = np.asarray(winners), np.asarray(losers)
    rewards = np.full(len(x), np.nan)
    acc: dict[object, float] = {}
    names = list(dict.fromkeys(g.tolist()))
    for group in names:
        scores = _fit_score(x, w_idx, l_idx, g, [n for n in names if n != group], l2)
        items = g == group
        rewards[items] = scores[items]
        test_pair = g[w_idx] == group
        acc[group] = accuracy(rewards, w_idx[test_pair], l_idx[test_pair])
    return rewards, acc


def nested_held_out_linear_rewards(
    features, winners, losers, groups, l2_grid
) -> tuple[np.ndarray, dict[object, float]]:
    """Leave-one-group-out evaluation with the L2 penalty chosen inside each fold: for each
    held-out group, every ``l2`` in ``l2_grid`` is scored by an inner leave-one-group-out
    accuracy (pairs pooled) over the *training* groups only, the best one (the larger on a
    tie) is refitted on all training groups, and the held-out group is scored. The held-out
    group never influences its own model, its penalty or its standardisation.

    Returns the held-out reward of every item and the penalty chosen for each group."""
    x = np.asarray(features, dtype=float)
    g = np.asarray(groups)
    w_idx, l_idx = np.asarray(winners), np.asarray(losers)
    names = list(dict.fromkeys(g.tolist()))
    rewards = np.full(len(x), np.nan)
    chosen: dict[object, float] = {}
    for group in names:
        train = [n for n in names if n != group]
        best_l2, best_acc = None, -1.0
        for l2 in sorted(l2_grid):
            inner = np.full(len(x), np.nan)
            for val in train:
                scores = _fit_score(x, w_idx, l_idx, g, [n for n in train if n != val], l2)
                inner[g == val] = scores[g == val]
            pairs = np.isin(g[w_idx], train)
            acc = accuracy(inner, w_idx[pairs], l_idx[pairs])
            if acc >= best_acc:
                best_l2, best_acc = l2, acc
        scores = _fit_score(x, w_idx, l_idx, g, train, best_l2)
        rewards[g == group] = scores[g == group]
        chosen[group] = best_l2
    return rewards, chosen
