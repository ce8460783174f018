"""Published benchmark scores, joined with what the catalog knows about each model.

A score is only comparable with another of the same *setting*: benchmark, split, number of
in-context examples (shots), chain-of-thought or not, and who ran the evaluation (prompts and
answer extraction differ between reporters). These helpers keep the setting attached to every
number and make mixing settings an explicit act.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from llmbook import compute

#: Columns that together define a setting.
SETTING = ("benchmark", "split", "shots", "cot", "reported_by")


def with_model_facts(scores: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """``scores`` with the model's ``params``, ``train_tokens``, ``released``, ``stage`` and the
    training compute ``training_flops = 6 N D`` (:func:`llmbook.compute.training_flops`) where
    both parameters and tokens are known."""
    facts = models.set_index("model")[["params", "train_tokens", "released", "stage"]]
    out = scores.join(facts, on="model")
    flops = []
    for n, d in zip(out["params"], out["train_tokens"], strict=True):
        known = not (pd.isna(n) or pd.isna(d))
        flops.append(compute.training_flops(float(n), float(d)) if known else np.nan)
    out["training_flops"] = pd.array(flops, dtype="Float64")
    return out


def settings(scores: pd.DataFrame) -> pd.DataFrame:
    """How many scores each setting has (split ``None`` shown as ``not stated``)."""
    frame = scores.assign(split=scores["split"].fillna("not stated"))
    return frame.groupby(list(SETTING), dropna=False).size().rename("scores").reset_index()


def one_setting(
    scores: pd.DataFrame,
    benchmark: str,
    shots: int,
    cot: bool = False,
    reported_by: str | None = None,
) -> pd.DataFrame:
    """The scores of one setting; raises ValueError if a model then has more than one score
    (the setting was not specific enough, for example two reporters)."""
    mask = (scores["benchmark"] == benchmark) & (scores["shots"] == shots) & (scores["cot"] == cot)
    if reported_by is not None:
        mask &= scores["reported_by"] == reported_by
    chosen = scores[mask]
    repeated = chosen["model"][chosen["model"].duplicated()].unique().tolist()
    if repeated:
        raise ValueError(
            f"{benchmark} {shots}-shot: several scores for {repeated}; choose a reported_by"
        )
    return chosen


def spread_across_settings(scores: pd.DataFrame) -> pd.DataFrame:
    """Per model and benchmark with more than one score: the lowest and highest score, their
    difference in points, and how many scores (settings or reporters) there are."""
    grouped = scores.groupby(["model", "benchmark"])["score"]
    table = pd.DataFrame(
        {"scores": grouped.size(), "lowest": grouped.min(), "highest": grouped.max()}
    )
    table["spread_points"] = table["highest"] - table["lowest"]
    return table[table["scores"] > 1].sort_values("spread_points", ascending=False).reset_index()


def points_per_decade(x: pd.Series, score: pd.Series) -> float:
    """Least-squares slope of ``score`` against ``log10(x)``: points gained per tenfold ``x``."""
    lx = np.log10(np.asarray(x, dtype=np.float64))
    y = np.asarray(score, dtype=np.float64)
    if len(lx) < 2 or np.ptp(lx) == 0:
        raise ValueError("need at least two different x values")
    return float(np.polyfit(lx, y, 1)[0])
