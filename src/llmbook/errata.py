"""The errata: the source article's claims, checked (``data/claims.csv``).

Functions take the DataFrame from ``llmbook.catalog.load("claims")``.
"""

from __future__ import annotations

import pandas as pd

#: Verdicts in the order a reader meets them.
VERDICTS = ("correct", "wrong", "ambiguous", "unsourced")
#: Prefix of the HTML id of a claim's row in the errata table: ``claim-C01``.
ANCHOR_PREFIX = "claim-"


def anchor(claim_id: str) -> str:
    """The HTML id of a claim's row, for links such as ``errata.html#claim-C01``."""
    return f"{ANCHOR_PREFIX}{claim_id}"


def verdict_counts(claims: pd.DataFrame) -> pd.Series:
    """Number of claims per verdict, every verdict listed (zero included), in VERDICTS order."""
    return claims["verdict"].value_counts().reindex(list(VERDICTS), fill_value=0).astype(int)


def display_table(claims: pd.DataFrame) -> pd.DataFrame:
    """The reader-facing columns of the errata, in claim order; sources named as a reader reads
    them (:func:`llmbook.tables.source_text`)."""
    from llmbook import tables

    shown = claims[
        ["claim", "location", "article_value", "verdict", "corrected_value", "source", "notes"]
    ].rename(columns={"article_value": "the article says", "corrected_value": "the source says"})
    return shown.assign(source=shown["source"].map(tables.source_text))
