"""n-gram contamination check on hand-made texts."""

from __future__ import annotations

import math

from llmbook import contamination


def test_units_split_words_and_chinese_characters():
    assert contamination.units("The cat, 小猫！ sat.") == ["the", "cat", "小", "猫", "sat"]


def test_ngrams_counts():
    assert contamination.ngrams("a b c d", 2) == {("a", "b"), ("b", "c"), ("c", "d")}
    assert contamination.ngrams("a b", 3) == set()
    assert len(contamination.ngrams("中国的首都", 3)) == 3


def test_overlap_verbatim_partial_and_none():
    corpus = contamination.corpus_ngrams(["the quick brown fox jumps over the lazy dog"], 3)
    assert contamination.overlap("The quick brown fox jumps!", corpus, 3) == 1.0
    assert contamination.overlap("a quick brown fox runs", corpus, 3) == 1 / 3
    assert contamination.overlap("nothing in common here", corpus, 3) == 0.0
    assert math.isnan(contamination.overlap("too short", corpus, 3))


def test_check_flags_by_threshold():
    table = contamination.check(["x y z w", "p q r s"], ["x y z w v"], n=2, threshold=0.5)
    assert table["flagged"].tolist() == [True, False]


def test_gpt3_n_is_the_5th_percentile_length_clipped_to_8_and_13():
    twenty = " ".join(f"w{i}" for i in range(20))
    assert contamination.gpt3_n([twenty] * 10) == 13  # capped
    assert contamination.gpt3_n(["a b c"] * 10) == 8  # floored
    ten = " ".join(f"w{i}" for i in range(10))
    # 5th percentile of 19 ten-word items and one of 30 words is 10.
    assert contamination.gpt3_n([ten] * 19 + [twenty + " " + ten]) == 10


def test_gpt3_check_flags_any_single_collision():
    item = " ".join(f"w{i}" for i in range(20))
    corpus = ["unrelated text " + " ".join(f"w{i}" for i in range(5, 18)) + " more text"]
    table = contamination.gpt3_check([item, "x " * 20], corpus)
    assert table["n"].iloc[0] == 13
    # One shared 13-gram out of eight is enough for GPT-3's rule, not for a 0.5 threshold.
    assert table["overlap"].iloc[0] == 1 / 8
    assert table["flagged"].tolist() == [True, False]
    assert not contamination.check([item], corpus, n=13, threshold=0.5)["flagged"].iloc[0]


def test_min_k_prob_averages_the_least_likely_tokens():
    lp = [-0.1, -5.0, -0.2, -3.0, -0.3, -0.1, -0.2, -0.1, -0.4, -0.5]
    # k = 20 % of 10 tokens: the two lowest, -5 and -3.
    assert contamination.min_k_prob(lp) == -4.0
    assert contamination.min_k_prob(lp, k=1.0) == sum(lp) / 10
    assert contamination.min_k_prob([-2.0, -1.0], k=0.2) == -2.0  # at least one token
