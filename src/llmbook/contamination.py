"""Benchmark contamination: does a test item appear in the training text?

The check GPT-3's authors ran (Brown et al. 2020, Appendix C) and many since: cut every test item
and the training corpus into n-grams and flag an item whose n-grams occur in the corpus. Words
are the unit for English (GPT-3 used 13-grams of words); Chinese has no spaces, so its unit is the
character. An item's *overlap* is the share of its n-grams found in the corpus; an item is
flagged when its overlap reaches a threshold (GPT-3: any shared 13-gram).

Exact n-gram matching finds copies, not paraphrases or translations: a rewritten item keeps few
long n-grams and slips through. The chapter shows both cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import pandas as pd

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")


def units(text: str) -> list[str]:
    """The units n-grams are made of: CJK characters one by one, other text as lower-cased
    words (letters and digits); punctuation and spacing are dropped."""
    out: list[str] = []
    for piece in re.split(r"(" + _CJK.pattern + r")", text.lower()):
        if _CJK.fullmatch(piece):
            out.append(piece)
        else:
            out.extend(_WORD.findall(piece))
    return out


def ngrams(text: str, n: int) -> set[tuple[str, ...]]:
    """The set of ``n``-grams of :func:`units` of ``text`` (empty if it has fewer than ``n``)."""
    u = units(text)
    return {tuple(u[i : i + n]) for i in range(len(u) - n + 1)}


def corpus_ngrams(texts: Iterable[str], n: int) -> set[tuple[str, ...]]:
    """All ``n``-grams of a corpus given as separate documents."""
    out: set[tuple[str, ...]] = set()
    for text in texts:
        out |= ngrams(text, n)
    return out


def overlap(item: str, corpus: set[tuple[str, ...]], n: int) -> float:
    """Share of the item's ``n``-grams present in ``corpus``; NaN if the item is shorter than
    ``n`` units (it cannot be checked at this ``n``)."""
    grams = ngrams(item, n)
    if not grams:
        return float("nan")
    return len(grams & corpus) / len(grams)


def check(
    items: Sequence[str], corpus_texts: Iterable[str], n: int, threshold: float = 0.5
) -> pd.DataFrame:
    """Per item: ``overlap`` with the corpus at ``n`` and ``flagged`` (overlap >= threshold)."""
    corpus = corpus_ngrams(corpus_texts, n)
    scores = [overlap(item, corpus, n) for item in items]
    frame = pd.DataFrame({"item": list(items), "overlap": scores})
    frame["flagged"] = frame["overlap"] >= threshold
    return frame
