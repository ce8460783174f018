"""llmbook.chinese: the tokenizer report and the language shares."""

from __future__ import annotations

from itertools import pairwise

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


# --------------------------------------------------------------------------------------------
# The multi-genre corpus and its cost with intervals
# --------------------------------------------------------------------------------------------


def test_corpus_has_every_genre_with_enough_chinese():
    corpus = chinese.load_corpus()
    assert list(corpus) == list(chinese.GENRES)
    for genre, text in corpus.items():
        assert tokenizers.count_cjk(text) > 1000, genre
        assert len(chinese.sentence_spans(text)) >= 50, genre


def test_missing_corpus_file_names_it_and_the_script():
    with pytest.raises(FileNotFoundError, match=r"zh-nope\.txt.*extract_zh_corpus"):
        chinese.load_corpus(("expository", "nope"))


def test_sentence_spans_tile_the_text_by_hand():
    text = "你好。我很好！\n谢谢”\nabc\n再见"
    spans = chinese.sentence_spans(text)
    assert [text[a:b] for a, b in spans] == ["你好。", "我很好！\n", "谢谢”\nabc\n", "再见"]
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(b == c for (_, b), (c, _) in pairwise(spans))  # no gap, no overlap


def test_sentence_costs_by_hand_and_they_add_up_to_the_whole_text():
    # BERT-base-chinese: one token per CJK character and per full-width punctuation mark.
    bert = tokenizers.load("bert-base-chinese")
    costs = chinese.sentence_costs(bert, "你好。我很好！")
    assert costs[["tokens", "chars"]].values.tolist() == [[3, 2], [4, 3]]
    # A SentencePiece model pays its dummy-prefix space once for the text, not per sentence.
    llama = tokenizers.load("llama")
    text = chinese.load_corpus(("dialogue",))["dialogue"][:300]
    costs = chinese.sentence_costs(llama, text)
    assert costs["tokens"].sum() == len(llama.encode(text))
    assert costs["chars"].sum() == tokenizers.count_cjk(text)


@pytest.mark.parametrize("name", ["gpt2", "qwen2", "cl100k", "bert-base-chinese", "baichuan"])
def test_sentence_costs_line_by_line_equal_prefixes_of_the_whole_text(name):
    # Counting from the start of each line is a shortcut: it must give what differences of
    # prefixes of the whole text give.
    tok = tokenizers.load(name)
    text = chinese.load_corpus(("technical",))["technical"][:1200]
    ends = chinese.sentence_costs(tok, text)["end"]
    prefix = [len(tok.encode(text[:end])) for end in ends]
    expected = [b - a for a, b in zip([0, *prefix[:-1]], prefix, strict=True)]
    assert chinese.sentence_costs(tok, text)["tokens"].tolist() == expected


def test_corpus_cost_against_a_hand_count():
    corpus = {"a": "你好。我很好！", "b": "谢谢。\n再见。"}
    cost = chinese.corpus_cost(["bert-base-chinese", "gpt2"], corpus, n_resamples=200)
    bert = cost.by_genre.loc["bert-base-chinese"]
    assert bert.loc["a", "tokens_per_char"] == pytest.approx(7 / 5)
    assert bert.loc["a", ["tokens", "chars", "sentences"]].tolist() == [7, 5, 2]
    # genre b: 谢 谢 。 再 见 。 and the line break, which BERT drops: 6 tokens, 4 characters
    assert bert.loc["b", "tokens_per_char"] == pytest.approx(6 / 4)
    assert bert.loc["overall", "tokens_per_char"] == pytest.approx((7 / 5 + 6 / 4) / 2)
    assert cost.overall["bert-base-chinese"] == pytest.approx((7 / 5 + 6 / 4) / 2)
    for _, row in cost.by_genre.iterrows():
        assert row["ci_low"] <= row["tokens_per_char"] + 1e-12
        assert row["tokens_per_char"] <= row["ci_high"] + 1e-12
    gpt2 = len(tokenizers.load("gpt2").encode(corpus["a"])) / 5
    assert cost.by_genre.loc[("gpt2", "a"), "tokens_per_char"] == pytest.approx(gpt2)
    pair = cost.pair("gpt2", "bert-base-chinese")
    assert pair["diff"] == pytest.approx(cost.overall["gpt2"] - cost.overall["bert-base-chinese"])
    assert pair["ci_low"] > 0 and not pair["tied"]  # GPT-2 spends bytes on every character
    assert cost.wide().columns.tolist() == ["a", "b", "overall"]


def test_a_tokenizer_is_tied_with_itself():
    corpus = chinese.load_corpus(("poetry",))
    cost = chinese.corpus_cost(["qwen2", "qwen2"], corpus, n_resamples=200)
    pair = cost.pairs[cost.pairs["genre"] == "overall"].iloc[0]
    assert pair["diff"] == 0 and pair["ci_low"] == 0 and pair["ci_high"] == 0 and pair["tied"]
