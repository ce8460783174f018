"""llmbook.chinese: the tokenizer report and the language shares."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbook import catalog, chinese, tokenizers


def test_sample_text_is_chinese():
    text = chinese.sample_text()
    assert tokenizers.count_cjk(text) > 150


def test_unknown_sample_lists_the_known_ones():
    with pytest.raises(FileNotFoundError, match="zh-sample"):
        chinese.sample_text("nope")


def test_report_on_a_text_whose_counts_we_know():
    # Three CJK characters: BERT-base-chinese splits Chinese into single characters, one token
    # each (1.0 token per character); GPT-2's byte-level vocabulary needs more than one.
    report = chinese.tokenizer_report(["bert-base-chinese", "gpt2"], "北京大")
    assert report.loc["bert-base-chinese", "tokens"] == 3
    assert report.loc["bert-base-chinese", "tokens_per_char"] == 1.0
    assert report.loc["gpt2", "tokens_per_char"] > 1.0
    assert report["cost_vs_best"].min() == 1.0
    assert report.loc["bert-base-chinese", "chars_per_context"] == chinese.REFERENCE_CONTEXT_TOKENS


def test_language_shares_from_the_catalog(root):
    shares = chinese.language_shares(catalog.load("pretraining_languages", root / "data"))
    glm = shares[shares["model"] == "GLM-130B"].iloc[0]
    assert glm["zh_share"] == pytest.approx(0.5)  # 200B of 400B (GLM-130B README)


def test_language_shares_of_a_hand_made_frame():
    frame = pd.DataFrame(
        {"model": ["m", "m"], "scope": ["s", "s"], "language": ["zh", "en"], "tokens": [1, 3]}
    )
    assert chinese.language_shares(frame).loc[0, "zh_share"] == 0.25


def test_language_shares_leaves_out_rows_with_only_a_published_share(root):
    shares = chinese.language_shares(catalog.load("pretraining_languages", root / "data"))
    assert "BLOOM-176B" not in set(shares["model"])  # no token counts: no invented 0/0 split
    assert shares["zh_share"].notna().all()
