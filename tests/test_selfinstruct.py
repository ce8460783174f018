"""llmbook.selfinstruct: LCS and ROUGE-L against hand-computed cases and the textbook DP,
the heuristic filters against Alpaca's rules, and the filtering stage on the shipped pool."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmbook import catalog
from llmbook import selfinstruct as si

seqs = st.lists(st.sampled_from("abcde"), max_size=14)


def test_lcs_hand_computed():
    # ABCBDAB / BDCABA: the classic CLRS example, LCS "BCBA" of length 4.
    assert si.lcs_length("ABCBDAB", "BDCABA") == 4
    assert si.lcs_length_dp("ABCBDAB", "BDCABA") == 4
    assert si.lcs_length("", "abc") == 0
    assert si.lcs_length("abc", "abc") == 3
    assert si.lcs_length("abc", "def") == 0


@settings(max_examples=300, deadline=None)
@given(seqs, seqs)
def test_bit_parallel_lcs_equals_the_dynamic_programme(a, b):
    assert si.lcs_length(a, b) == si.lcs_length_dp(a, b)


@settings(max_examples=200, deadline=None)
@given(seqs, seqs)
def test_rouge_l_properties(a, b):
    f = si.rouge_l(a, b)
    assert 0.0 <= f <= 1.0
    assert f == pytest.approx(si.rouge_l(b, a))  # the F-measure is symmetric
    if a and a == b:
        assert f == pytest.approx(1.0)


def test_rouge_l_hand_computed():
    # "give three tips for staying healthy" vs "give me three tips for staying healthy":
    # LCS 6, P = 6/6, R = 6/7, F = 2·(6/7)/(1 + 6/7) = 12/13.
    a = si.rouge_tokens("Give three tips for staying healthy.")
    b = si.rouge_tokens("Give me three tips for staying healthy.")
    assert si.rouge_l(a, b) == pytest.approx(12 / 13)


def test_rouge_score_tokens_drop_chinese_and_bilingual_tokens_keep_it():
    text = "Explain 光合作用 to a 10-year-old!"
    assert si.rouge_tokens(text, "rouge_score") == ["explain", "to", "a", "10", "year", "old"]
    assert si.rouge_tokens(text) == [
        "explain",
        "光",
        "合",
        "作",
        "用",
        "to",
        "a",
        "10",
        "year",
        "old",
    ]
    assert si.rouge_tokens("请写一首诗", "rouge_score") == []
    with pytest.raises(ValueError, match="mode"):
        si.rouge_tokens("x", "nope")


def test_rouge_matrix_matches_pairwise_rouge_l():
    items = [si.rouge_tokens(t) for t in ["a b c d", "a c d e", "写一首诗", "写两首诗", ""]]
    m = si.rouge_matrix(items)
    for i in range(len(items)):
        for j in range(len(items)):
            expected = si.rouge_l(items[i], items[j])
            if i == j and items[i]:
                expected = 1.0
            assert m[i, j] == pytest.approx(expected)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Tell a joke.", "too short"),
        ("Describe the image below in detail.", "keyword"),
        ("Go to the website and find the number.", "keyword"),
        ("Summarize the plot of Hamlet in two lines.", "keyword"),  # whole-word match
        ("Write a program that adds two numbers.", "write a program"),
        ('"Explain" the word serendipity to me.', "punctuation"),
        ("Ünderstand the following text and summarise it.", "non-ascii start"),
        ("Explain why the sky appears blue.", ""),
        ("Explain the filesystem of Linux to me.", ""),  # "file" is not a whole word here
        (" ".join(["word"] * 151), "too long"),
        (" ".join(["word"] * 150), ""),
        ("One two three four", ""),
    ],
)
def test_alpaca_heuristics(text, reason):
    assert si.heuristic_reason(text, "original") == reason


def test_original_heuristics_drop_every_chinese_instruction_and_bilingual_ones_do_not():
    text = "请用三句话概括《西游记》的主要情节。"
    assert si.heuristic_reason(text, "original") == "too short"  # one whitespace "word"
    assert si.heuristic_reason(text, "bilingual") == ""
    assert si.heuristic_reason("请画一只戴帽子的小猫。", "bilingual") == "keyword"
    assert si.heuristic_reason("讲个笑话。", "bilingual") == "too short"


def test_filter_pool_is_sequential_and_keeps_the_first_of_a_pair():
    pool = [
        "Give three tips for staying healthy.",
        "Give me three tips for staying healthy.",
        "Explain how vaccines train the immune system.",
        "Tell a joke.",
    ]
    out = si.filter_pool(pool)
    assert out["removed_by"].tolist() == ["", "rouge-l", "", "too short"]
    assert out.loc[1, "most_similar"] == 0
    assert out.loc[1, "max_rouge"] == pytest.approx(12 / 13)
    seeded = si.filter_pool(pool, seeds=4)
    assert (seeded["removed_by"] == "").all()


def test_shipped_pool_gives_every_filter_something_to_remove():
    pool = catalog.load("instruction_pool")
    assert len(pool) >= 300
    assert set(pool["language"]) == {"en", "zh"}
    out = si.filter_pool(pool["instruction"].tolist(), "bilingual")
    removed = set(out["removed_by"]) - {""}
    assert removed >= {
        "rouge-l",
        "keyword",
        "write a program",
        "punctuation",
        "too short",
        "too long",
    }
    # every row written for a heuristic filter is removed by that filter
    for written, reason in zip(pool["written_as"], out["removed_by"], strict=True):
        if written in ("write a program", "punctuation", "too short", "too long", "keyword"):
            assert reason == written
    # every Chinese near-duplicate is caught at character level; none under rouge_score tokens
    zh_dups = (pool["language"] == "zh") & (pool["written_as"] == "near-duplicate")
    assert (out.loc[zh_dups, "removed_by"] == "rouge-l").all()
    original = si.filter_pool(pool["instruction"].tolist(), "original")
    assert (original.loc[pool["language"] == "zh", "removed_by"] != "rouge-l").all()


def test_first_word_and_diversity_measures():
    assert si.first_word("Explain why the sky is blue.") == "explain"
    assert si.first_word("请写一首关于秋天的诗。") == "请"
    assert si.distinct_share(["a", "a", "b", "c"]) == 0.75
    assert si.entropy_bits(["a", "b", "c", "d"]) == pytest.approx(2.0)
    assert si.entropy_bits(["a", "a"]) == pytest.approx(0.0)
    with pytest.raises(ValueError):
        si.distinct_share([])


def test_segment_zh_drops_punctuation():
    assert si.segment_zh("秋天，落叶。") == ["秋天", "落叶"]
