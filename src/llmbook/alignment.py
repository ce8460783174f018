"""What chat-model projects disclosed about their alignment stages (``alignment_disclosures``).

Helpers that turn the table into the views of the recipe chapter; the facts live in the data.
"""

from __future__ import annotations

import pandas as pd

STAGES = ("sft", "reward model", "rl")
#: The quantities a replication needs per stage, in the table's column names.
FIELDS = ("data_count", "rm_params", "algorithm", "kl_coef")


def comparisons_per_ranking(k: int) -> int:
    """Pairwise comparisons in a ranking of ``k`` responses: k(k−1)/2 (InstructGPT trains on
    all of them, Ouyang et al. 2022, §3.5)."""
    if k < 2:
        raise ValueError("a ranking needs at least two responses")
    return k * (k - 1) // 2


def disclosure_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per project, one column per (stage, field) that matters for that stage:
    True where the project disclosed the value. The fields per stage: the data size for SFT;
    the data size and reward-model size for the reward model; the algorithm and KL coefficient
    for RL."""
    wanted = {
        "sft": ("data_count",),
        "reward model": ("data_count", "rm_params"),
        "rl": ("algorithm", "kl_coef"),
    }
    rows = {}
    for project, group in frame.groupby("project", sort=False):
        by_stage = group.set_index("stage")
        row = {}
        for stage, fields in wanted.items():
            for field in fields:
                value = by_stage[field].get(stage) if stage in by_stage.index else None
                row[(stage, field)] = value is not None and not pd.isna(value)
        rows[project] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.columns = pd.MultiIndex.from_tuples(out.columns, names=["stage", "field"])
    return out
