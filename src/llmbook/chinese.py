"""Chinese support, measured: tokenizer vocabularies and what they cost on Chinese text.

Functions take tokenizers from :mod:`llmbook.tokenizers` and texts from ``data/texts/``.
"""

from __future__ import annotations

import pandas as pd

from llmbook import inputs, paths, tokenizers

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
