"""The instruction-data landscape: grouping the ``instruction_datasets`` table for comparison.

Pure functions of the catalog table (``catalog.load("instruction_datasets")``).
"""

from __future__ import annotations

import pandas as pd

#: Language groups, in display order.
LANGUAGE_GROUPS = (
    "English", "Chinese", "Chinese and English", "multilingual", "other", "not stated"
)  # fmt: skip


def language_group(languages: str | None, n_languages: int | None) -> str:
    """One of :data:`LANGUAGE_GROUPS` for a row's ``languages`` and ``n_languages`` cells.

    Three or more languages (by count or by codes) is "multilingual"; otherwise the codes
    decide; a row with neither is "not stated".
    """
    codes = set(languages.split(";")) if isinstance(languages, str) and languages else set()
    count = int(n_languages) if n_languages is not None and not pd.isna(n_languages) else None
    if len(codes) >= 3 or (count is not None and count >= 3):
        return "multilingual"
    if codes == {"en"}:
        return "English"
    if codes == {"zh"}:
        return "Chinese"
    if codes == {"en", "zh"}:
        return "Chinese and English"
    if codes:
        return "multilingual" if len(codes) > 1 else "other"
    return "not stated"


def with_groups(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with a ``language_group`` column (see :func:`language_group`)."""
    out = frame.copy()
    out["language_group"] = [
        language_group(lang, n)
        for lang, n in zip(out["languages"], out["n_languages"], strict=True)
    ]
    return out


def examples_by(frame: pd.DataFrame, rows: str, columns: str) -> pd.DataFrame:
    """Total ``examples`` by two columns (rows without an example count are left out), with
    every combination present (zero where none)."""
    known = frame[frame["examples"].notna()]
    table = known.pivot_table(
        index=rows, columns=columns, values="examples", aggfunc="sum", fill_value=0
    )
    return table.astype("int64")
