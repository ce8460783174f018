"""Benchmark contamination: does a test item appear in the training text?

The check GPT-3's authors ran (Brown et al. 2020, Appendix C, "Overlap methodology") and many
since: cut every test item and the training corpus into n-grams of words and look for items whose
n-grams occur in the corpus. GPT-3's rule, per benchmark:

* ``N`` is the 5th percentile of the benchmark's example lengths in words, ignoring punctuation,
  whitespace and casing, clipped to at least 8 (shorter n-grams collided spuriously; the paper
  applies this minimum to non-synthetic tasks) and at most 13 (for performance): :func:`gpt3_n`;
* an example is "dirty" if it has **any** ``N``-gram overlap with any training document, "clean"
  if it has none: :func:`gpt3_check`.

Words are the unit for English; Chinese has no spaces, so its unit here is the character (a choice
of this library, not GPT-3's). The more general :func:`check` reports each item's *overlap*, the
share of its n-grams found in the corpus, and flags it when the overlap reaches a ``threshold``
the caller chooses; GPT-3's "any collision" is :func:`gpt3_check`.

Exact n-gram matching finds copies, not paraphrases or translations: a rewritten item keeps few
long n-grams and slips through. The chapter shows both cases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[a-z0-9]+")

GPT3_MIN_N = 8
"""Smallest n-gram of GPT-3's overlap analysis, non-synthetic tasks (Brown et al. 2020, App. C)."""
GPT3_MAX_N = 13
"""Largest n-gram GPT-3's overlap analysis used, for performance (Brown et al. 2020, App. C)."""
GPT3_LENGTH_PERCENTILE = 5
"""GPT-3 set ``N`` to this percentile of a benchmark's example lengths in words (App. C)."""


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


def gpt3_n(items: Sequence[str]) -> int:
    """GPT-3's per-benchmark ``N``: the 5th percentile of the items' lengths in :func:`units`,
    rounded down, clipped to ``[GPT3_MIN_N, GPT3_MAX_N]``."""
    if not items:
        raise ValueError("no items")
    lengths = [len(units(item)) for item in items]
    n = int(np.percentile(lengths, GPT3_LENGTH_PERCENTILE))
    return min(max(n, GPT3_MIN_N), GPT3_MAX_N)


def gpt3_check(items: Sequence[str], corpus_texts: Iterable[str]) -> pd.DataFrame:
    """GPT-3's rule: ``N`` from :func:`gpt3_n`, an item is flagged (dirty) if **any** of its
    ``N``-grams is in the corpus. Items shorter than ``N`` have no ``N``-gram, cannot collide and
    stay clean (their ``overlap`` is NaN). Columns as :func:`check`, plus ``n``."""
    n = gpt3_n(items)
    frame = check(items, corpus_texts, n=n, threshold=0.0)
    frame["flagged"] = frame["overlap"] > 0
    frame["n"] = n
    return frame


MIN_K_FRACTION = 0.2
"""Share of a text's tokens Min-K% Prob averages: k = 20 %, the value Shi et al. (2024, §4.3)
found best on held-out data and used for all their experiments."""


def min_k_prob(token_logprobs: Sequence[float] | np.ndarray, k: float = MIN_K_FRACTION) -> float:
    """Min-K% Prob (Shi et al. 2024, §3, eq. 1): the mean log-probability of the ``k`` share of
    the text's tokens the model found least likely (at least one token; ``int(k * N)`` of
    ``N``). A text seen in training tends to have fewer very unlikely tokens, so a *higher*
    score points to membership; the score is compared across texts, never read alone."""
    lp = np.sort(np.asarray(token_logprobs, dtype=np.float64))
    if lp.size == 0:
        raise ValueError("no tokens")
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    return float(lp[: max(1, int(k * lp.size))].mean())
