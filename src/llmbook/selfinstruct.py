"""Self-Instruct's filtering stage, executed: ROUGE-L near-duplicates, length and keyword filters.

Self-Instruct (Wang et al. 2022) and Stanford Alpaca (Taori et al. 2023) keep a generated
instruction only if it passes heuristic filters and its ROUGE-L similarity with every
instruction kept so far is at most 0.7. The filters below transcribe
``post_process_gpt3_response`` in Alpaca's ``generate_instruction.py`` (which extends
Self-Instruct's ``bootstrap_instructions.py`` keyword list with video, audio, music,
flowchart and diagram): an instruction is dropped if it has 3 words or fewer or more than
150 (words = whitespace-separated pieces); if it contains a blacklisted keyword as a whole
word (case-insensitive); if it starts with "Write a program"; if it starts with ASCII
punctuation; or if its first character is not ASCII.

ROUGE-L here is the longest-common-subsequence F-measure of ``rouge_score`` (the package both
projects call, ``_score_lcs``): P = LCS/len(candidate), R = LCS/len(reference),
F = 2PR/(P + R). ``rouge_score``'s tokenizer lower-cases and replaces every character outside
``[a-z0-9]`` by a space (google-research ``rouge/tokenize.py``), so a Chinese instruction has
no tokens at all and can never be a near-duplicate: :func:`rouge_tokens` keeps that behaviour
for ``mode="rouge_score"`` and, for ``mode="bilingual"``, also makes every CJK character a
token (character-level ROUGE for Chinese, word-level for English).

The LCS length uses the bit-parallel algorithm of Allison and Dix (1986) / Crochemore et al.
(2001): with one bit per position of ``a``, each symbol of ``b`` costs one addition and a few
bit operations, V' = (V + (V & M[c])) | (V & ~M[c]); the LCS length is the number of zero bits
of V. It equals the textbook dynamic programme, which :func:`lcs_length_dp` implements and the
tests compare against.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Sequence

import numpy as np
import pandas as pd

from llmbook.tokenizers import is_cjk

#: Self-Instruct/Alpaca near-duplicate threshold: an instruction is dropped if its ROUGE-L
#: F-measure with any kept instruction is above this (``if max(rouge_scores) > 0.7``).
ROUGE_THRESHOLD = 0.7
#: Word-count bounds: dropped if ``len(inst.split()) <= 3 or len(inst.split()) > 150``.
MIN_WORDS_EXCLUSIVE = 3
MAX_WORDS = 150
#: Alpaca's keyword blacklist (``generate_instruction.py``): tasks a text-only model cannot do.
BLACKLIST = (
    "image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map",
    "maps", "draw", "plot", "go to", "video", "audio", "music", "flowchart", "diagram",
)  # fmt: skip
#: The book's Chinese counterparts of the blacklist (its own choice, not from either project).
BLACKLIST_ZH = (
    "图片",
    "图像",
    "照片",
    "画",
    "绘制",
    "视频",
    "音频",
    "音乐",
    "地图",
    "文件",
    "流程图",
)

_ROUGE_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def rouge_tokens(text: str, mode: str = "bilingual") -> list[str]:
    """Tokens for ROUGE: ``rouge_score``'s (lower-case ``[a-z0-9]+`` runs) or, in
    ``"bilingual"`` mode, those plus every CJK ideograph as a token of its own, in text order."""
    text = text.lower()
    if mode == "rouge_score":
        return [t for t in _ROUGE_NON_ALNUM.split(text) if t]
    if mode != "bilingual":
        raise ValueError(f"mode must be 'rouge_score' or 'bilingual', got {mode!r}")
    tokens: list[str] = []
    word: list[str] = []
    for char in text:
        if "a" <= char <= "z" or "0" <= char <= "9":
            word.append(char)
            continue
        if word:
            tokens.append("".join(word))
            word = []
        if is_cjk(char):
            tokens.append(char)
    if word:
        tokens.append("".join(word))
    return tokens


def lcs_length_dp(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence by the O(len(a)·len(b)) dynamic programme."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _match_masks(a: Sequence) -> dict:
    masks: dict = {}
    for i, x in enumerate(a):
        masks[x] = masks.get(x, 0) | (1 << i)
    return masks


def _lcs_bits(masks: dict, m: int, b: Sequence) -> int:
    full = (1 << m) - 1
    v = full
    for y in b:
        u = v & masks.get(y, 0)
        v = ((v + u) | (v - u)) & full
    return m - bin(v).count("1")


def lcs_length(a: Sequence, b: Sequence) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (bit-parallel)."""
    if not a or not b:
        return 0
    return _lcs_bits(_match_masks(a), len(a), b)


def rouge_l(candidate: Sequence, reference: Sequence) -> float:
    """ROUGE-L F-measure of two token sequences, 2PR/(P+R); 0 if either is empty."""
    lcs = lcs_length(candidate, reference)
    if lcs == 0:
        return 0.0
    p, r = lcs / len(candidate), lcs / len(reference)
    return 2 * p * r / (p + r)


def rouge_matrix(token_lists: list[list[str]]) -> np.ndarray:
    """Symmetric matrix of pairwise ROUGE-L F-measures (diagonal 1 for non-empty items)."""
    n = len(token_lists)
    out = np.zeros((n, n))
    masks = [_match_masks(t) for t in token_lists]
    for i in range(n):
        a = token_lists[i]
        if not a:
            continue
        out[i, i] = 1.0
        for j in range(i + 1, n):
            b = token_lists[j]
            if not b:
                continue
            lcs = _lcs_bits(masks[i], len(a), b)
            if lcs:
                out[i, j] = out[j, i] = 2 * lcs / (len(a) + len(b))  # 2PR/(P+R) simplified
    return out


def _has_word(word: str, text: str) -> bool:
    return re.search(rf"\b({word})\b", text, flags=re.IGNORECASE) is not None


def heuristic_reason(instruction: str, mode: str = "original") -> str:
    """The first heuristic filter that drops ``instruction``, or "" if it passes.

    ``mode="original"`` applies Alpaca's rules exactly (after its whitespace normalisation);
    ``mode="bilingual"`` is the book's adaptation for Chinese: a Chinese instruction (one
    whose first character is a CJK ideograph) is measured in jieba words instead of
    whitespace pieces, checked against :data:`BLACKLIST_ZH`, and not dropped for starting
    with a non-ASCII character. Reasons: "too short", "too long", "keyword",
    "write a program", "punctuation", "non-ascii start".
    """
    inst = re.sub(r"\s+", " ", instruction).strip()
    if mode not in ("original", "bilingual"):
        raise ValueError(f"mode must be 'original' or 'bilingual', got {mode!r}")
    chinese = mode == "bilingual" and bool(inst) and is_cjk(inst[0])
    n_words = len(segment_zh(inst)) if chinese else len(inst.split())
    if n_words <= MIN_WORDS_EXCLUSIVE:
        return "too short"
    if n_words > MAX_WORDS:
        return "too long"
    if any(_has_word(w, inst) for w in BLACKLIST):
        return "keyword"
    if chinese and any(w in inst for w in BLACKLIST_ZH):
        return "keyword"
    if inst.startswith("Write a program"):
        return "write a program"
    if inst[0] in string.punctuation:
        return "punctuation"
    if not chinese and not inst[0].isascii():
        return "non-ascii start"
    return ""


def filter_pool(instructions: Sequence[str], mode: str = "original", seeds: int = 0):
    """Run the filtering stage over ``instructions`` in order, as Self-Instruct does.

    The first ``seeds`` items are kept unconditionally (the human-written seed tasks). Each
    later item is dropped by the first heuristic that fires; otherwise it is compared with
    every item kept so far and dropped if the highest ROUGE-L exceeds
    :data:`ROUGE_THRESHOLD`; otherwise kept. ``mode`` selects the heuristics (see
    :func:`heuristic_reason`) and the ROUGE tokens ("original" uses ``rouge_score``'s).

    Returns one row per instruction: ``removed_by`` ("" if kept, a heuristic reason, or
    "rouge-l"), ``max_rouge`` (highest ROUGE-L against the items kept before it) and
    ``most_similar`` (the position of that item, -1 if none).
    """
    token_mode = "rouge_score" if mode == "original" else "bilingual"
    tokens = [rouge_tokens(t, token_mode) for t in instructions]
    matrix = rouge_matrix(tokens)
    kept: list[int] = []
    rows = []
    for i, text in enumerate(instructions):
        best, where = 0.0, -1
        if kept:
            scores = matrix[i, kept]
            where = kept[int(np.argmax(scores))]
            best = float(scores.max())
        if i < seeds:
            reason = ""
        else:
            reason = heuristic_reason(text, mode)
            if not reason and best > ROUGE_THRESHOLD:
                reason = "rouge-l"
        if not reason:
            kept.append(i)
        rows.append({"removed_by": reason, "max_rouge": best, "most_similar": where})
    return pd.DataFrame(rows)


_JIEBA = None


def segment_zh(text: str) -> list[str]:
    """Chinese word segmentation with jieba's default dictionary (shipped in the package, so
    nothing is downloaded); whitespace and punctuation pieces are dropped."""
    global _JIEBA
    if _JIEBA is None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        _JIEBA = jieba.Tokenizer()
        _JIEBA.tmp_dir = None
    return [w for w in _JIEBA.lcut(text) if w.strip() and not all(c in _PUNCT for c in w.strip())]


_PUNCT = set(string.punctuation) | set("，。、；：？！“”‘’（）《》【】—…·「」")


def first_word(instruction: str) -> str:
    """The first word: lower-cased first whitespace word for English (punctuation stripped),
    the first jieba word for Chinese. Self-Instruct's Figure 2 uses the root verb, found with a
    parser; the first word is a parser-free stand-in (instructions are mostly
    imperative, so it is usually the verb, or a politeness word such as please / 请)."""
    text = instruction.strip()
    if text and is_cjk(text[0]):
        words = segment_zh(text)
        return words[0] if words else ""
    words = [w.strip(string.punctuation).lower() for w in text.split()]
    words = [w for w in words if w]
    return words[0] if words else ""


def distinct_share(items: Sequence[str]) -> float:
    """Distinct items divided by items: 1 when no two are alike."""
    if not items:
        raise ValueError("no items")
    return len(set(items)) / len(items)


def entropy_bits(items: Sequence[str]) -> float:
    """Shannon entropy, in bits, of the empirical distribution of ``items``."""
    counts = pd.Series(list(items)).value_counts().to_numpy(dtype=float)
    if counts.size == 0:
        raise ValueError("no items")
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())
