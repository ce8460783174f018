"""Ranking chat models from pairwise battles: Elo, Bradley-Terry, and an LLM judge's position bias.

A *battle* shows two models' answers to one prompt and records which one a judge (a person or a
model) preferred. Chatbot Arena (Chiang et al. 2024, §4-5) turns such a log into ratings in two
ways, both implemented here with numpy only:

* **Online Elo.** Start every model at the same rating; after each battle move both ratings by
  ``K * (score - expected)``, with ``expected = 1 / (1 + 10**((r_b - r_a) / 400))``. The result
  depends on the order of the battles and on ``K``.
* **Bradley-Terry.** Assume ``P(a beats b) = 1 / (1 + exp(-(theta_a - theta_b)))`` and find the
  ``theta`` that maximise the likelihood of the whole log (order-free), by Newton's method,
  ties counting half a win each way. Reported on the Elo scale, ``400 / ln 10 * theta``,
  centred on :data:`INITIAL_RATING`.

Both are thin adapters (player names, ties, the Elo scale) over the book's one implementation
of each, :func:`llmbook.preference.elo_ratings` and :func:`llmbook.preference.fit_scores`, which
Part 5's reward models use too.

Bootstrap intervals resample the battles with replacement and refit. A judge's *position bias*
is measured by asking it about each pair twice, in both orders (Zheng et al. 2023, §3.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from llmbook import preference, stats

#: Rating every model starts from, and the centre of the Bradley-Terry ratings.
INITIAL_RATING = 1000.0
#: Elo's scale: a 400-point gap means 10:1 odds (one constant, :mod:`llmbook.preference`'s).
ELO_SCALE = preference.ELO_SCALE
#: Points of Elo scale per unit of Bradley-Terry log-strength: ``400 / ln 10``.
ELO_PER_LOGIT = ELO_SCALE / math.log(10.0)
#: Ridge of the Bradley-Terry fit: small enough to leave the ratings unchanged to < 1e-6 Elo.
BT_L2 = 1e-9


def expected_score(r_a: float | np.ndarray, r_b: float | np.ndarray) -> float | np.ndarray:
    """Elo's expected score of ``a`` against ``b``: ``1 / (1 + 10**((r_b - r_a) / 400))``."""
    return 1.0 / (1.0 + 10.0 ** ((np.asarray(r_b) - np.asarray(r_a)) / ELO_SCALE))


def _indices(players: Sequence[str], a: Sequence[str], b: Sequence[str]):
    index = {p: i for i, p in enumerate(players)}
    unknown = sorted(set(a) - index.keys() | set(b) - index.keys())
    if unknown:
        raise ValueError(f"battles name players not in the list: {unknown}")
    return np.array([index[x] for x in a]), np.array([index[x] for x in b])


def elo_online(
    players: Sequence[str],
    a: Sequence[str],
    b: Sequence[str],
    score_a: Sequence[float],
    k: float = 4.0,
    initial: float = INITIAL_RATING,
) -> pd.Series:
    """Online Elo ratings after the battles in the given order.

    ``score_a`` is 1 if ``a`` won, 0 if ``b`` won, 0.5 for a tie. Each battle moves ``a`` by
    ``k * (score_a - E_a)`` and ``b`` by the opposite amount (the sum of ratings is constant).
    """
    ia, ib = _indices(players, a, b)
    r = preference.elo_ratings(len(players), ia, ib, k=k, initial=initial, scores=score_a)
    return pd.Series(r, index=list(players), name="elo")


def bradley_terry(
    players: Sequence[str],
    a: Sequence[str],
    b: Sequence[str],
    score_a: Sequence[float],
    tolerance: float = 1e-10,
) -> pd.Series:
    """Maximum-likelihood Bradley-Terry ratings on the Elo scale (mean :data:`INITIAL_RATING`),
    fitted by :func:`llmbook.preference.fit_scores` (Newton's method; the book's one
    Bradley-Terry fit, shared with Part 5's reward models) with a negligible ridge
    :data:`BT_L2` that only fixes the additive constant.

    Raises ValueError if some player won or lost every battle (its maximum-likelihood strength
    is infinite).
    """
    ia, ib = _indices(players, a, b)
    s = np.asarray(score_a, dtype=np.float64)
    n = len(players)
    wins = np.bincount(ia, weights=s, minlength=n) + np.bincount(ib, weights=1 - s, minlength=n)
    games = np.bincount(ia, minlength=n) + np.bincount(ib, minlength=n)
    if np.any(wins <= 0) or np.any(wins >= games):
        names = [players[i] for i in np.flatnonzero((wins <= 0) | (wins >= games))]
        raise ValueError(f"no finite Bradley-Terry rating: {names} won all or none of its battles")
    # a battle is a comparison a ≻ b of weight s and b ≻ a of weight 1 − s (a tie: ½ each way)
    keep = np.concatenate([s, 1 - s]) > 0
    theta = preference.fit_scores(
        n, np.concatenate([ia, ib])[keep], np.concatenate([ib, ia])[keep],
        l2=BT_L2, steps=100, tol=tolerance, weights=np.concatenate([s, 1 - s])[keep],
    )  # fmt: skip
    return pd.Series(INITIAL_RATING + ELO_PER_LOGIT * theta, index=list(players), name="bt")


def log_likelihood(
    ratings: pd.Series, a: Sequence[str], b: Sequence[str], score_a: Sequence[float]
) -> float:
    """Log-likelihood of the outcomes under Bradley-Terry with ``ratings`` on the Elo scale."""
    ra, rb = ratings.loc[list(a)].to_numpy(), ratings.loc[list(b)].to_numpy()
    p = expected_score(ra, rb)
    s = np.asarray(score_a, dtype=np.float64)
    return float(np.sum(s * np.log(p) + (1 - s) * np.log(1 - p)))


def bootstrap(
    fit: Callable[..., pd.Series],
    players: Sequence[str],
    a: Sequence[str],
    b: Sequence[str],
    score_a: Sequence[float],
    n_resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """Refit ``fit`` on battle logs resampled with replacement; per player the point estimate
    (on the full log) and the percentile interval (``lower``, ``upper``)."""
    a, b = np.asarray(a), np.asarray(b)
    s = np.asarray(score_a, dtype=np.float64)
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        idx = rng.integers(0, len(s), size=len(s))
        draws.append(fit(players, a[idx], b[idx], s[idx], **kwargs).to_numpy())
    lower, upper = stats.percentile_interval(np.array(draws), level)
    return pd.DataFrame(
        {
            "rating": fit(players, a, b, s, **kwargs).to_numpy(),
            "lower": lower,
            "upper": upper,
        },
        index=list(players),
    )


def simulate_battles(true_ratings: pd.Series, n_battles: int, seed: int = 0) -> pd.DataFrame:
    """A battle log drawn from the Bradley-Terry model: uniformly random distinct pairs, and
    ``a`` wins with probability ``expected_score(r_a, r_b)``. Columns ``battle``, ``model_a``,
    ``model_b``, ``winner`` (``model_a`` or ``model_b``)."""
    rng = np.random.default_rng(seed)
    names = np.asarray(true_ratings.index)
    n = len(names)
    i = rng.integers(0, n, size=n_battles)
    j = (i + rng.integers(1, n, size=n_battles)) % n  # never i itself
    r = true_ratings.to_numpy(dtype=np.float64)
    a_wins = rng.random(n_battles) < expected_score(r[i], r[j])
    return pd.DataFrame(
        {
            "battle": np.arange(1, n_battles + 1),
            "model_a": names[i],
            "model_b": names[j],
            "winner": np.where(a_wins, "model_a", "model_b"),
        }
    )


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman rank correlation (no ties expected): Pearson correlation of the ranks."""
    rx = np.argsort(np.argsort(np.asarray(x)))
    ry = np.argsort(np.argsort(np.asarray(y)))
    return float(np.corrcoef(rx, ry)[0, 1])


def rmse_centred(estimate: Sequence[float], truth: Sequence[float]) -> float:
    """Root-mean-square error after removing each vector's mean (ratings are only defined up to
    a shift)."""
    e = np.asarray(estimate, dtype=np.float64)
    t = np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean(((e - e.mean()) - (t - t.mean())) ** 2)))


# ----------------------------------------------------------------------------------------------
# Position bias of a judge


def position_bias(first_order: Sequence[str], swapped_order: Sequence[str]) -> dict[str, float]:
    """Summaries of a judge asked about each pair twice, with the answers swapped.

    ``first_order[i]`` is the judge's verdict (``"first"`` or ``"second"``, the position it
    preferred) when answer X was shown first; ``swapped_order[i]`` when X was shown second. The
    verdicts are *consistent* when they name the same answer (``first`` then ``second`` or the
    reverse). Returns ``consistent`` (share of pairs), ``prefers_first`` (share of pairs where
    both verdicts said ``first``), ``prefers_second`` (both ``second``), and ``first_rate`` (share
    of all verdicts that chose the first position; 0.5 for an unbiased judge).
    """
    f = np.asarray(first_order)
    s = np.asarray(swapped_order)
    allowed = {"first", "second"}
    if not set(f) | set(s) <= allowed:
        raise ValueError(f"verdicts must be {sorted(allowed)}")
    if f.shape != s.shape or f.size == 0:
        raise ValueError("need the same non-zero number of verdicts in both orders")
    return {
        "consistent": float(np.mean(f != s)),
        "prefers_first": float(np.mean((f == "first") & (s == "first"))),
        "prefers_second": float(np.mean((f == "second") & (s == "second"))),
        "first_rate": float(np.mean(np.concatenate([f, s]) == "first")),
    }


#: The instruction a small model gets when it judges a pair of answers.
JUDGE_INSTRUCTION = "Which answer is correct? Reply with 1 or 2 only."


def judge_prompt(question: str, first: str, second: str) -> str:
    """A pairwise judging prompt (ChatML user turn, no system turn) that ends where the judge's
    verdict, ``1`` or ``2``, begins."""
    from llmbook.smollm import chat_prompt

    content = f"Question: {question}\nAnswer 1: {first}\nAnswer 2: {second}\n{JUDGE_INSTRUCTION}"
    return chat_prompt([{"role": "user", "content": content}], default_system=None)


def judge(model, questions: Sequence[str], firsts: Sequence[str], seconds: Sequence[str]):
    """Ask ``model`` about each pair; the verdict is whichever of the tokens ``1`` and ``2`` is
    more probable after the prompt. Returns a DataFrame with ``verdict`` (``first`` or
    ``second``) and ``p_first`` (probability of ``1`` renormalised over the two tokens)."""
    from llmbook import scoring

    one, two = (scoring.encode(model, d) for d in ("1", "2"))
    if len(one) != 1 or len(two) != 1:
        raise ValueError("the verdict digits must be single tokens")
    segments = [
        scoring.Segment(model.encode(judge_prompt(q, a, b)), [])
        for q, a, b in zip(questions, firsts, seconds, strict=True)
    ]
    scored = scoring.score_segments(model, segments)
    lp = np.array([[s.next_logprobs[one[0]], s.next_logprobs[two[0]]] for s in scored])
    p_first = 1.0 / (1.0 + np.exp(lp[:, 1] - lp[:, 0]))
    return pd.DataFrame(
        {"verdict": np.where(p_first >= 0.5, "first", "second"), "p_first": p_first}
    )


def swap_average(p_first_xy: Sequence[float], p_first_yx: Sequence[float]) -> np.ndarray:
    """Probability that X is better, averaged over both orders: X shown first (the judge's
    ``p_first``) and X shown second (``1 - p_first``). A pure position bias adds the same amount
    to ``p_first`` in both orders and cancels out of the average."""
    xy = np.asarray(p_first_xy, dtype=np.float64)
    yx = np.asarray(p_first_yx, dtype=np.float64)
    return (xy + (1.0 - yx)) / 2.0
