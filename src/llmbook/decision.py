"""Choosing a base model as a weighted decision matrix, with its sensitivity to the weights.

A decision matrix scores each candidate on several criteria, rescales every criterion to
[0, 1] over the candidates (1 = best among them), and ranks candidates by the weighted sum
S_m = Σ_c w_c x_{m,c} / Σ_c w_c. Three choices change the answer and are parameters here,
never hidden: the weights w_c, how a missing value is treated, and how each raw criterion is
rescaled (log scale for sizes, which span orders of magnitude).

Missing data is the rule, not the exception, for the 2023 candidates: a tokenizer that cannot
be loaded offline, a share of Chinese that no source states, a model no benchmark reported.
:data:`MISSING_POLICIES` lists the three treatments :func:`scores` offers:

- ``"worst"``: a missing value counts as the worst value among the candidates (0): a
  candidate is penalised for what its authors did not publish;
- ``"skip"``: the criterion is dropped for that candidate and its other weights renormalised:
  the candidate is judged on what is known;
- ``"mean"``: a missing value counts as the mean of the known values (0.5 on average): neither
  penalised nor rewarded.

The raw criteria are built from the book's tables by :func:`criteria`; the chapter
``book/part1-base-models/decision.md`` states the weights.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmbook import deployment

#: Which offline tokenizer (:data:`llmbook.tokenizers.ASSETS`) each catalog model uses.
#: LLaMA-1 and Llama 2 share one 32k SentencePiece model (Llama 2 paper §2.2, "the same
#: tokenizer as Llama 1"); Qwen2 and Qwen2.5 use Qwen's byte-level BPE vocabulary (Qwen2
#: report §2.1); Llama 3 and 3.1 use the 128k tiktoken vocabulary (model card). Qwen1.5 states
#: no tokenizer in a source the book read, Baichuan2 has its own 125,696-entry vocabulary (not
#: Baichuan-7B's 64,000), and the GLM, MOSS, BLOOM, CPM and Wenzhong tokenizers are not
#: available offline: their tokenizer criterion is missing.
TOKENIZER_OF: dict[str, str] = {
    **{m: "llama" for m in ("LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B")},
    **{m: "llama" for m in ("Llama-2-7B", "Llama-2-13B", "Llama-2-70B")},
    **{m: "llama3" for m in ("Meta-Llama-3-8B", "Meta-Llama-3-70B", "Llama-3.1-8B")},
    **{m: "qwen2" for m in ("Qwen-7B", "Qwen-14B", "Qwen2-7B", "Qwen2.5-7B")},
    # Qwen3 report §2: "Qwen's tokenizer (Bai et al., 2023)", byte-level BPE, 151,669 entries.
    **{m: "qwen2" for m in ("Qwen3-8B", "Qwen3-14B", "Qwen3-32B")},
    **{m: "qwen2" for m in ("Qwen3-30B-A3B", "Qwen3-235B-A22B")},
    "Baichuan-7B": "baichuan",
    "DeepSeek-LLM-7B-Base": "deepseek-llm",
    "DeepSeek-LLM-67B-Base": "deepseek-llm",
}

#: How a licence's commercial-use terms are scored (1 = no restriction). The order is the
#: book's judgement and is shown in the chapter; weights and policy are varied, this is not.
COMMERCIAL_USE_SCORE: dict[str, float] = {
    "allowed": 1.0,
    "conditional": 0.75,
    "application": 0.5,
    "prohibited": 0.25,
}

#: The licence score of a model whose weights are not published: below every open licence.
CLOSED_WEIGHTS_SCORE = 0.0

MISSING_POLICIES = ("worst", "skip", "mean")
#: Scores equal to this many decimals are a tie (sums in a different order differ in the last
#: bits); a tie goes to the first name in alphabetical order.
TIE_DECIMALS = 12
#: Sensitivity analyses report a change of winner only when the new leader's score exceeds the
#: incumbent's by more than this (scores run from 0 to 1 and the chapter prints them to three
#: decimals): a lead below it is tie-breaking noise, not a different answer.
TIE_MARGIN = 1e-3


@dataclass(frozen=True)
class Criterion:
    """One column of the matrix: ``better`` is "higher" or "lower"; ``log`` rescales on log10."""

    name: str
    label: str
    better: str
    log: bool = False
    unit: str = ""
    #: Fixed (worst, best) values for an absolute scale; None: rescale over the candidates.
    bounds: tuple[float, float] | None = None


CRITERIA: tuple[Criterion, ...] = (
    Criterion("zh_tokens_per_char", "Chinese tokenizer cost", "lower", unit="tokens per character"),
    # Chinese tokens seen in pre-training (share × training tokens), not the share alone: a share
    # rewards a small monolingual corpus over a large bilingual one (a model trained on little
    # Chinese text only would beat GLM-130B's 200B Chinese tokens). Unknown if either is unknown.
    Criterion("zh_tokens", "Chinese tokens in pre-training", "higher", log=True, unit="tokens"),
    Criterion("params", "Size", "higher", log=True, unit="parameters"),
    Criterion("serve_share", "GPU sets that can serve it", "higher", unit="share", bounds=(0, 1)),
    Criterion("licence", "Licence and open weights", "higher", unit="score", bounds=(0.0, 1.0)),
    # From chance (one in four options) to a perfect score.
    Criterion("benchmark", "Chinese benchmark", "higher", unit="accuracy, %", bounds=(25.0, 100.0)),
)
CRITERION = {c.name: c for c in CRITERIA}


def zh_share(model: str, models: pd.DataFrame, languages: pd.DataFrame) -> tuple[float, str]:
    """Share of Chinese in ``model``'s pre-training data, and how it was obtained.

    From the ``pretraining_languages`` table: the Chinese share the source publishes (``share``
    column, e.g. BLOOM's model card), or the Chinese fraction of the token counts it splits by
    language (the listed scope, e.g. MOSS's further pre-training only). Otherwise 1.0 when the
    catalog's only language is ``zh``, and NaN in every other case: a list of supported languages
    without Chinese is not a statement that the corpus holds none (Llama 3's card puts over 5%
    of its data in 30 other languages without splitting it). Unknown stays unknown, never 0.
    """
    rows = languages[languages["model"] == model]
    if "share" in rows.columns and rows["share"].notna().any():
        zh = rows.loc[rows["language"] == "zh", "share"]
        if zh.notna().any():
            return float(zh.sum()), f"published share ({rows['scope'].iloc[0]})"
    counted = rows[rows["tokens"].notna()] if len(rows) else rows
    if len(counted):
        total = counted["tokens"].astype(float).sum()
        share = counted.loc[counted["language"] == "zh", "tokens"].astype(float).sum() / total
        return float(share), f"token split ({counted['scope'].iloc[0]})"
    row = models.set_index("model").loc[model]
    listed = row["languages"]
    if isinstance(listed, str) and listed.split(";") == ["zh"]:
        return 1.0, "Chinese only"
    return math.nan, "no split stated"


def zh_tokens(model: str, models: pd.DataFrame, languages: pd.DataFrame) -> tuple[float, str]:
    """Chinese tokens in ``model``'s pre-training, and how they were obtained.

    The Chinese token count the ``pretraining_languages`` table splits out (its listed scope,
    e.g. GLM-130B's 200B); else :func:`zh_share` times the model's ``train_tokens`` (a published
    share or a Chinese-only corpus); NaN when either is unknown. A share of text applied to a
    token count is an approximation the basis says so."""
    rows = languages[(languages["model"] == model) & (languages["language"] == "zh")]
    if len(rows) and rows["tokens"].notna().any():
        return float(rows["tokens"].astype(float).sum()), f"token split ({rows['scope'].iloc[0]})"
    share, basis = zh_share(model, models, languages)
    tokens = models.set_index("model").loc[model, "train_tokens"]
    if math.isnan(share) or pd.isna(tokens):
        return math.nan, "share or training tokens not stated"
    return share * float(tokens), f"{basis} × training tokens"


def licence_score(model: str, licences: pd.DataFrame) -> float:
    """0 for closed weights, else :data:`COMMERCIAL_USE_SCORE` of the terms (open weights whose
    licence forbids commercial use still score above closed ones); NaN if unknown."""
    rows = licences[licences["model"] == model]
    if not len(rows):
        return math.nan
    row = rows.iloc[0]
    if row["open_weights"] is False or row["open_weights"] == "false":
        return CLOSED_WEIGHTS_SCORE
    terms = row["commercial_use"]
    if not isinstance(terms, str) or terms not in COMMERCIAL_USE_SCORE:
        return math.nan
    return COMMERCIAL_USE_SCORE[terms]


def benchmark_score(
    model: str,
    scores: pd.DataFrame,
    benchmark: str,
    shots: int,
    reporters: list[str] | None = None,
) -> tuple[float, str]:
    """The score of ``model`` on ``benchmark`` at ``shots`` (no chain of thought).

    ``reporters`` is an order of preference among the ``reported_by`` keys (None: any, the
    first row in the table); returns (NaN, "") when no row matches.
    """
    rows = scores[
        (scores["model"] == model)
        & (scores["benchmark"] == benchmark)
        & (scores["shots"] == shots)
        & (~scores["cot"].astype(bool))
    ]
    if reporters is not None:
        rows = rows[rows["reported_by"].isin(reporters)]
        rank = {r: i for i, r in enumerate(reporters)}
        rows = rows.assign(_rank=rows["reported_by"].map(rank)).sort_values("_rank", kind="stable")
    if not len(rows):
        return math.nan, ""
    return float(rows["score"].iloc[0]), str(rows["reported_by"].iloc[0])


def self_reported(model: str, reporter: str, models: pd.DataFrame) -> bool:
    """Whether ``reporter`` (a bibliography key) is one of ``model``'s own sources in the
    catalog (its authors' report or card): a score the model's makers published about it."""
    if not reporter:
        return False
    source = models.set_index("model").loc[model, "source"]
    keys = {item.split(":")[0].strip() for item in str(source).split(";")}
    return reporter in keys


def criteria(
    candidates: list[str],
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    languages: pd.DataFrame,
    licences: pd.DataFrame,
    scores: pd.DataFrame,
    tokenizer_cost: Mapping[str, float],
    benchmark: str = "C-Eval",
    shots: int = 5,
    reporters: list[str] | None = None,
    score_as: dict[str, str] | None = None,
    hardware: pd.DataFrame | None = None,
    gpu_sets: tuple = deployment.COMMON_GPU_SETS,
    reserve: float = 0.10,
    context_tokens: int = 2048,
    fmt: str = "bf16",
) -> pd.DataFrame:
    """Raw criteria for each candidate (NaN where no data), plus provenance columns.

    ``zh_tokens_per_char`` is ``tokenizer_cost`` of the model's real tokenizer
    (:data:`TOKENIZER_OF`): tokens per Chinese character by tokenizer name, as
    ``llmbook.chinese.corpus_cost(...).overall`` measures them on the book's Chinese corpus
    (a tokenizer missing from it leaves the cell blank); ``serve_gb`` is the weights in
    ``fmt`` plus the KV cache of one sequence of ``context_tokens`` tokens (weights alone
    when the shape is unknown); ``benchmark`` is the model's score from
    :func:`benchmark_score`, or that of the catalog row ``score_as[model]`` names (a
    fine-tuned sibling that was evaluated instead; the ``benchmark_model`` column shows which
    row was used).
    """
    rows = []
    for model in candidates:
        name = TOKENIZER_OF.get(model)
        share, share_basis = zh_share(model, models, languages)
        zh_tok, zh_tok_basis = zh_tokens(model, models, languages)
        params, params_basis = deployment.params_of(model, models, shapes)
        shape = deployment.shape_of(model, models, shapes)
        serve = deployment.serving_bytes(params, shape, fmt, context_tokens)["total"] / 1e9
        if hardware is None:
            serve_share = math.nan
        else:
            usable = [deployment.usable_gb(g, hardware, reserve) for g in gpu_sets]
            serve_share = sum(serve <= u for u in usable) / len(usable)
        scored = (score_as or {}).get(model, model)
        score, reporter = benchmark_score(scored, scores, benchmark, shots, reporters)
        rows.append(
            {
                "model": model,
                "zh_tokens_per_char": float(tokenizer_cost.get(name, math.nan))
                if name
                else math.nan,
                "zh_tokens": zh_tok,
                "zh_share": share,
                "params": params,
                "serve_gb": serve,
                "serve_share": serve_share,
                "licence": licence_score(model, licences),
                "benchmark": score,
                "tokenizer": name or "",
                "zh_share_basis": share_basis,
                "zh_tokens_basis": zh_tok_basis,
                "params_basis": params_basis,
                "benchmark_model": scored if reporter else "",
                "benchmark_reporter": reporter,
                "benchmark_self_reported": self_reported(scored, reporter, models),
            }
        )
    return pd.DataFrame(rows).set_index("model")


def normalise(
    raw: pd.DataFrame,
    criteria: tuple[Criterion, ...] = CRITERIA,
    bounds: dict[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Rescale each criterion to [0, 1], 1 = best; NaN stays NaN.

    x' = (x − worst) / (best − worst), on log10(x) when the criterion is logarithmic, clipped
    to [0, 1]. ``worst`` and ``best`` are the criterion's fixed bounds when it has them (an
    absolute scale: a share, a licence score, accuracy from chance to perfect), or those given
    in ``bounds`` (e.g. the range of every tokenizer the book measured), and otherwise the
    worst and best candidate. In that last case a criterion with a single known value, or all
    values equal, gives 1 to every known value: it cannot tell the candidates apart.
    """
    out = pd.DataFrame(index=raw.index)
    for c in criteria:
        values = raw[c.name].astype(float)
        fixed = (bounds or {}).get(c.name, c.bounds)
        if fixed is not None:
            worst, best = fixed
        else:
            worst = values.min() if c.better == "higher" else values.max()
            best = values.max() if c.better == "higher" else values.min()
        if c.log:
            values, worst, best = np.log10(values), np.log10(worst), np.log10(best)
        span = best - worst
        if fixed is None and (values.notna().sum() < 2 or span == 0):
            out[c.name] = values.where(values.isna(), 1.0)
        else:
            out[c.name] = ((values - worst) / span).clip(0.0, 1.0)
    return out


def tokenizer_bounds(tokenizer_cost: Mapping[str, float]) -> tuple[float, float]:
    """(worst, best) tokens per Chinese character over every tokenizer in ``tokenizer_cost``
    (by name, e.g. ``llmbook.chinese.corpus_cost(...).overall`` over every tokenizer the book
    can load): the scale on which the tokenizer criterion is rescaled when most candidates'
    tokenizers are missing."""
    values = [float(v) for v in dict(tokenizer_cost).values()]  # a dict or a pandas Series
    if not values:
        raise ValueError("no tokenizer cost to take bounds from")
    return max(values), min(values)


def scores(
    normalised: pd.DataFrame, weights: dict[str, float], missing: str = "worst"
) -> pd.Series:
    """Weighted score of each candidate in [0, 1] under a missing-data policy.

    ``weights`` maps criterion names to non-negative weights (criteria left out weigh 0).
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    unknown = set(weights) - set(normalised.columns)
    if unknown:
        raise KeyError(f"weights name unknown criteria {sorted(unknown)}")
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ValueError("weights must be non-negative with a positive sum")
    names = [n for n, w in weights.items() if w > 0]
    row = np.array([[float(weights[n]) for n in names]])
    values = _score_rows(_filled(normalised, names, missing), row)[0]
    return pd.Series(values, index=normalised.index, name="score")


def ranking(normalised: pd.DataFrame, weights: dict[str, float], missing: str = "worst"):
    """Candidates sorted by score, best first (ties broken by name)."""
    s = scores(normalised, weights, missing)
    frame = pd.DataFrame(
        {
            "score": s.to_numpy(),
            "key": s.round(TIE_DECIMALS).to_numpy(),
            "name": s.index.astype(str),
        },
        index=s.index,
    )
    return frame.sort_values(["key", "name"], ascending=[False, True], kind="stable")["score"]


def winner(normalised: pd.DataFrame, weights: dict[str, float], missing: str = "worst") -> str:
    """The best-ranked candidate."""
    return str(ranking(normalised, weights, missing).index[0])


def leaders(ranked: pd.Series, margin: float = TIE_MARGIN) -> list[str]:
    """The candidates of a :func:`ranking` that tie for first: every one whose score is within
    ``margin`` of the best (a lead no larger than the precision of the scores is no lead)."""
    if ranked.empty:
        return []
    return [str(m) for m, v in ranked.items() if ranked.iloc[0] - v <= margin + 1e-12]


def _filled(normalised: pd.DataFrame, names: list[str], missing: str) -> np.ndarray:
    """The candidates × criteria matrix with gaps treated per ``missing`` (NaN kept for skip)."""
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got {missing!r}")
    x = normalised[names].astype(float)
    if missing == "worst":
        x = x.fillna(0.0)
    elif missing == "mean":
        x = x.fillna(x.mean()).fillna(0.0)
    return x.to_numpy()


def _score_rows(values: np.ndarray, weight_rows: np.ndarray) -> np.ndarray:
    """Scores for many weightings at once: (weightings × criteria) → (weightings × candidates).

    Equals :func:`scores` row by row: a NaN value drops out with its weight (policy "skip")."""
    known = ~np.isnan(values)
    totals = weight_rows @ np.nan_to_num(values).T
    weight_known = weight_rows @ known.T
    with np.errstate(invalid="ignore", divide="ignore"):
        return totals / np.where(weight_known > 0, weight_known, np.nan)


def _winners(index: pd.Index, s: np.ndarray) -> np.ndarray:
    """Index of the best candidate per row of ``s``; ties go to the first name alphabetically,
    as in :func:`ranking`."""
    order = np.argsort(index.astype(str).to_numpy(), kind="stable")
    s = np.round(np.nan_to_num(s, nan=-np.inf), TIE_DECIMALS)
    return order[np.argmax(s[:, order], axis=1)]


def _share_grid(weights: dict[str, float], criterion: str, shares: np.ndarray) -> np.ndarray:
    """Weight rows in which ``criterion`` takes each share and the others keep proportions."""
    names = list(weights)
    others = np.array([0.0 if n == criterion else float(weights[n]) for n in names])
    rest = others.sum()
    rows = np.outer(1 - shares, others / rest) if rest else np.zeros((len(shares), len(names)))
    rows[:, names.index(criterion)] = shares
    return rows


def vary_weight(
    normalised: pd.DataFrame,
    weights: dict[str, float],
    criterion: str,
    shares: np.ndarray,
    missing: str = "worst",
) -> pd.DataFrame:
    """Scores as ``criterion``'s share of the total weight runs over ``shares`` (0..1).

    The other weights keep their proportions and share the rest. One row per share, one column
    per candidate, plus the ``winner``.
    """
    names = list(weights)
    shares = np.asarray(shares, dtype=float)
    s = _score_rows(_filled(normalised, names, missing), _share_grid(weights, criterion, shares))
    table = pd.DataFrame(s, index=pd.Index(shares, name="share"), columns=normalised.index)
    table["winner"] = normalised.index.to_numpy()[_winners(normalised.index, s)]
    return table


def _sticky_winners(table: pd.DataFrame, margin: float) -> np.ndarray:
    """Winners along a weight grid, the incumbent kept until another candidate leads it by more
    than ``margin`` (a lead within the margin is a tie, not a switch)."""
    scores_ = table.drop(columns="winner")
    out = []
    current = table["winner"].iloc[0]
    for i in range(len(table)):
        best = table["winner"].iloc[i]
        row = scores_.iloc[i]
        if best != current and not (row[best] - row[current] > margin):
            best = current
        out.append(best)
        current = best
    return np.array(out, dtype=object)


def switch_points(
    normalised: pd.DataFrame,
    weights: dict[str, float],
    missing: str = "worst",
    steps: int = 101,
    margin: float = TIE_MARGIN,
) -> pd.DataFrame:
    """For each criterion: the stated share, and the shares at which the winner changes.

    The share of one criterion runs from 0 to 1 on a grid of ``steps`` (others keep their
    proportions); a switch is reported at the first grid share where another candidate leads
    the current winner by more than ``margin`` (:data:`TIE_MARGIN`; 0 reports every change of
    the exact winner). ``stable_from``/``stable_to`` bound the interval, containing the stated
    share, over which the stated winner stays the winner.
    """
    total = sum(weights.values())
    grid = np.linspace(0.0, 1.0, steps)
    base = winner(normalised, weights, missing)
    rows = []
    for c in weights:
        stated = weights[c] / total
        table = vary_weight(normalised, weights, c, grid, missing)
        at = int(np.argmin(np.abs(grid - stated)))
        # Walk outwards from the stated share, so that its winner is the incumbent both ways.
        up = _sticky_winners(table.iloc[at:], margin)
        down = _sticky_winners(table.iloc[: at + 1].iloc[::-1], margin)[::-1]
        winners = np.concatenate([down[:-1], up])
        lo = at
        while lo > 0 and winners[lo - 1] == base:
            lo -= 1
        hi = at
        while hi < steps - 1 and winners[hi + 1] == base:
            hi += 1
        switches = [
            f"{grid[i]:.2f}: {winners[i - 1]} → {winners[i]}"
            for i in range(1, steps)
            if winners[i] != winners[i - 1]
        ]
        rows.append(
            {
                "criterion": c,
                "stated_share": stated,
                "stable_from": grid[lo] if winners[at] == base else math.nan,
                "stable_to": grid[hi] if winners[at] == base else math.nan,
                "switches": "; ".join(switches),
            }
        )
    return pd.DataFrame(rows).set_index("criterion")


def random_weights(
    normalised: pd.DataFrame,
    names: list[str],
    draws: int,
    rng: np.random.Generator,
    missing: str = "worst",
) -> pd.Series:
    """Share of ``draws`` uniformly random weightings (flat Dirichlet over ``names``) that each
    candidate wins: how much of the space of weightings each candidate owns."""
    w = rng.dirichlet(np.ones(len(names)), size=draws)
    best = _winners(normalised.index, _score_rows(_filled(normalised, names, missing), w))
    counts = np.bincount(best, minlength=len(normalised))
    return pd.Series(counts / draws, index=normalised.index, name="share_of_wins").sort_values(
        ascending=False, kind="stable"
    )


#: A candidate is ranked only when at least this many of the :data:`CRITERIA` are measured.
#: Size, servable GPU sets and licence are known for every catalog model, so 4 of 6 means at
#: least one of the three criteria that bear on Chinese (tokenizer cost, Chinese tokens in the
#: data, Chinese benchmark): a model with none of them measured cannot be ranked for Chinese.
MIN_MEASURED = 4
INSUFFICIENT = "insufficient data"


def measured_counts(normalised: pd.DataFrame, names: list[str] | None = None) -> pd.Series:
    """How many of the criteria ``names`` (default: all of :data:`CRITERIA`) each candidate has."""
    names = [c.name for c in CRITERIA] if names is None else list(names)
    return normalised[names].notna().sum(axis=1).astype(int)


def rankable(
    normalised: pd.DataFrame, minimum: int = MIN_MEASURED, names: list[str] | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Split candidates into those with at least ``minimum`` measured criteria (returned as the
    rows to rank) and the others, whose place would rest on missing data: the caller reports
    them as :data:`INSUFFICIENT` instead of ranking them."""
    if minimum < 1:
        raise ValueError(f"minimum must be at least 1, got {minimum!r}")
    counts = measured_counts(normalised, names)
    keep = counts >= minimum
    return normalised[keep], [str(m) for m in normalised.index[~keep]]


def policy_table(normalised: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """Scores under each missing-data policy, one column per policy, sorted by ``worst``."""
    table = pd.DataFrame({p: scores(normalised, weights, p) for p in MISSING_POLICIES})
    return table.sort_values("worst", ascending=False)


def corner_winners(normalised: pd.DataFrame, names: list[str], missing: str = "worst") -> dict:
    """The winner when all weight sits on one criterion (each corner of the weight simplex)."""
    return {n: winner(normalised, {n: 1.0}, missing) for n in names}


__all__ = [
    "CRITERIA",
    "CRITERION",
    "INSUFFICIENT",
    "MIN_MEASURED",
    "measured_counts",
    "rankable",
    "self_reported",
    "COMMERCIAL_USE_SCORE",
    "MISSING_POLICIES",
    "TOKENIZER_OF",
    "Criterion",
    "benchmark_score",
    "corner_winners",
    "criteria",
    "tokenizer_bounds",
    "licence_score",
    "normalise",
    "policy_table",
    "random_weights",
    "ranking",
    "scores",
    "switch_points",
    "vary_weight",
    "winner",
    "zh_share",
    "zh_tokens",
]
