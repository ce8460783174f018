"""Scoring arithmetic on hand-made cases and identities; one small run of the real model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import scoring


def test_log_softmax_normalises_and_matches_hand_case():
    lp = scoring.log_softmax(np.array([[0.0, math.log(3.0)]]))
    assert np.allclose(lp, [[math.log(0.25), math.log(0.75)]])
    big = scoring.log_softmax(np.array([1000.0, 1000.0]))
    assert np.allclose(big, [math.log(0.5)] * 2)


def test_target_logprobs_picks_the_targets():
    logits = np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]))
    assert np.allclose(scoring.target_logprobs(logits, [0, 2]), np.log([0.5, 0.8]))
    with pytest.raises(ValueError):
        scoring.target_logprobs(logits, [0])


def test_normalisation_can_change_the_winner():
    # A long right answer (-6 over 3 tokens, 12 chars) against a short wrong one (-4, 1 token).
    sums, tokens, chars = [-6.0, -4.0], [3, 1], [12, 3]
    assert np.argmax(scoring.choice_scores(sums, tokens, chars, "sum")) == 1
    assert np.argmax(scoring.choice_scores(sums, tokens, chars, "per_token")) == 0
    assert np.argmax(scoring.choice_scores(sums, tokens, chars, "per_char")) == 0
    with pytest.raises(ValueError):
        scoring.choice_scores(sums, tokens, chars, "per_byte")


def test_accuracy_and_random_baseline():
    assert scoring.accuracy([0, 1, 2, 3], [0, 1, 0, 0]) == 0.5
    assert scoring.random_baseline([4, 4, 2]) == pytest.approx((0.25 + 0.25 + 0.5) / 3)


@given(
    nll=st.floats(min_value=1.0, max_value=1e4),
    tokens=st.integers(min_value=100, max_value=10_000),
    chars=st.integers(min_value=1, max_value=10_000),
)
def test_bits_per_char_is_log2_perplexity_times_tokens_per_char(nll, tokens, chars):
    ppl = scoring.perplexity(nll, tokens)
    assert scoring.bits_per_char(nll, chars) == pytest.approx(math.log2(ppl) * tokens / chars)


def test_hand_made_perplexity_and_bits():
    # Four tokens each with probability 1/2: perplexity 2, 4 bits; over 8 characters 0.5 bit/char.
    nll = 4 * math.log(2)
    assert scoring.perplexity(nll, 4) == pytest.approx(2.0)
    assert scoring.bits_per_char(nll, 8) == pytest.approx(0.5)
    assert scoring.bits_per_byte(nll, 16) == pytest.approx(0.25)
    # The same information cut into twice as many tokens: perplexity sqrt(2).
    assert scoring.perplexity_if_tokenized(nll, 8) == pytest.approx(math.sqrt(2))


def test_letter_prompt_layout():
    text = scoring.letter_prompt("Q?", ["x", "y", "z", "w"], "en")
    assert text == "Q?\nA. x\nB. y\nC. z\nD. w\nAnswer:"
    assert scoring.letter_prompt("问？", ["甲", "乙"], "zh").endswith("B. 乙\n答案：")


def test_letter_result_generated():
    r = scoring.LetterResult(np.array([-1.0, -0.5, -3.0, -4.0]), " B")
    assert r.predict() == 1 and r.generated() == 1
    assert scoring.LetterResult(np.zeros(4), "Paris").generated() is None


@pytest.fixture(scope="module")
def model():
    from llmbook import smollm

    return smollm.Model.load()


def test_cloze_with_shared_prompt_equals_one_full_pass(model):
    prompt, choice = "The capital of France is", " Paris, a large city"
    result = scoring.cloze(model, prompt, [choice])
    p_ids, c_ids = scoring.encode(model, prompt), scoring.encode(model, choice)
    logits = model.logits(p_ids + c_ids)[len(p_ids) - 1 : -1]
    expected = scoring.target_logprobs(logits, c_ids).sum()
    assert result.logprob_sums[0] == pytest.approx(expected, abs=1e-3)
    assert result.n_tokens[0] == len(c_ids) and result.n_chars[0] == len(choice.strip())


def test_real_model_prefers_the_true_answer(model):
    result = scoring.cloze(model, "The capital of France is", [" Paris", " a banana"])
    assert result.predict("per_char") == 0


def test_text_nll_matches_token_by_token(model):
    nll, n = scoring.text_nll(model, "One two three.")
    ids = [model.config.bos_id] + scoring.encode(model, "One two three.")
    total = 0.0
    for t in range(1, len(ids)):
        total -= scoring.log_softmax(model.logits(ids[:t])[-1])[ids[t]]
    assert n == len(ids) - 1 and nll == pytest.approx(total, abs=1e-3)


def test_pack_mask_by_hand():
    ids, positions, mask, layout = scoring.pack(
        [scoring.Segment([1, 2], [[3], [4, 5]]), scoring.Segment([6], [])]
    )
    assert ids.tolist() == [1, 2, 3, 4, 5, 6]
    assert positions.tolist() == [0, 1, 2, 2, 3, 0]
    # token 4 (row 3) sees the prefix and itself, not its sibling continuation [3]
    assert mask[3].tolist() == [True, True, False, True, False, False]
    assert mask[4].tolist() == [True, True, False, True, True, False]
    assert mask[5].tolist() == [False] * 5 + [True]
    assert layout[0][0] == 1 and layout[1][0] == 5


def test_packed_scores_equal_separate_passes(model):
    prompt = scoring.encode(model, "Question: What is the capital of Japan?\nAnswer:")
    choices = [scoring.encode(model, c) for c in [" Tokyo", " Beijing city", " Seoul"]]
    other = scoring.encode(model, "法国的首都是")
    segs = [scoring.Segment(prompt, choices), scoring.Segment(other, [])]
    packed = scoring.score_segments(model, segs, max_row_tokens=1000)
    for cont, got in zip(choices, packed[0].continuation_logprobs, strict=True):
        full = model.logits(prompt + cont)[len(prompt) - 1 : -1]
        assert np.allclose(got, scoring.target_logprobs(full, cont), atol=2e-3)
    alone = scoring.log_softmax(model.logits(other)[-1])
    assert np.allclose(packed[1].next_logprobs, alone, atol=2e-3)


def test_accuracy_summary_counts():
    import pandas as pd

    scored = pd.DataFrame(
        {"language": ["en", "en", "zh", "zh"], "answer": [0, 1, 2, 3], "pred_x": [0, 0, 2, 3]}
    )
    table = scoring.accuracy_summary(scored, ["pred_x"], n_resamples=100).set_index("language")
    assert table.loc["all", "accuracy"] == 0.75 and table.loc["en", "accuracy"] == 0.5
    assert table.loc["zh", "items"] == 2 and table.loc["zh", "random"] == 0.25


def test_rotate_choices_moves_the_answer_with_its_text():
    choices, answer = scoring.rotate_choices(["a", "b", "c", "d"], 2, 1)
    assert choices == ["b", "c", "d", "a"] and choices[answer] == "c"
    assert scoring.rotate_choices(["a", "b", "c", "d"], 0, 4) == (["a", "b", "c", "d"], 0)


def test_few_shot_and_chat_letter_prompts():
    text = scoring.few_shot_letter_prompt(
        "Q2?", ["w", "x", "y", "z"], [("Q1?", ["p", "q", "r", "s"], 1)]
    )
    assert text == "Q1?\nA. p\nB. q\nC. r\nD. s\nAnswer: B\n\nQ2?\nA. w\nB. x\nC. y\nD. z\nAnswer:"
    chat = scoring.chat_letter_prompt("Q?", ["w", "x", "y", "z"])
    assert chat.endswith("<|im_start|>assistant\n") and "D. z\nAnswer with the letter" in chat


def test_gsm8k_strict_and_flexible_extraction():
    out = "She pays 3 * 4 = 12 dollars.\n#### 12"
    assert scoring.extract_strict(out) == "12" and scoring.extract_flexible(out) == "12"
    loose = "3 + 4 = 7, so the answer is 7."
    assert scoring.extract_strict(loose) is None
    assert scoring.extract_flexible(loose) == "7."
    assert scoring.answer_matches(scoring.extract_flexible(loose), 7)
    assert scoring.answer_matches("$1,200", 1200)
    assert not scoring.answer_matches(None, 7)
    assert not scoring.answer_matches("71", 7)


def test_next_letter_shared_prefix_matches_packed_scoring(model):
    shots = [("What is the capital of France?", ["Paris", "Rome", "Oslo", "Bern"], 0)]
    items = [
        ("What is 2 + 2?", ["3", "4", "5", "6"]),
        ("Which is a fruit?", ["car", "apple", "rock", "pen"]),
    ]
    full = [scoring.few_shot_letter_prompt(q, c, shots) for q, c in items]
    prefix = full[0][: full[0].index("\n\nWhat is 2")]
    lp_shared, greedy_shared = scoring.next_letter_shared(
        model, prefix, [t[len(prefix) :] for t in full]
    )
    lp_packed, greedy_packed = scoring.next_letter(model, full)
    assert np.allclose(lp_shared, lp_packed, atol=2e-3)
    assert greedy_shared == greedy_packed


def test_score_segments_after_a_shared_cache_equal_full_passes(model):
    # Segments that continue a cached beginning score as the whole text does in one pass, and
    # the cache is left as it was (several calls may share it).
    head = scoring.encode(model, "Question: What is the capital of Japan?")
    tails = [scoring.encode(model, t) for t in ["\nAnswer: Tokyo", "\nAnswer: the city of Kyoto"]]
    cache = model.new_cache()
    model.hidden(head, cache)
    length = cache.length
    segs = [scoring.Segment(tails[0][:2], [tails[0][2:]]), scoring.Segment(tails[1], [])]
    got = scoring.score_segments(model, segs, max_row_tokens=1000, past=cache)
    assert cache.length == length
    full = model.logits(head + tails[0])
    want = scoring.target_logprobs(full[len(head) + 1 : -1], tails[0][2:])
    assert np.allclose(got[0].continuation_logprobs[0], want, atol=2e-3)
    alone = scoring.log_softmax(model.logits(head + tails[1])[-1])
    assert np.allclose(got[1].next_logprobs, alone, atol=2e-3)


def test_shared_prefix_cuts_before_a_blank_line_or_after_the_user_tag():
    shots = "Q1?\nA. p\nAnswer: A\n\nQ2?\nA. q\nAnswer: B"
    texts = [f"{shots}\n\nWhat is 2?\nAnswer:", f"{shots}\n\nWhich one?\nAnswer:"]
    assert scoring.shared_prefix(texts) == shots
    chat = [scoring.chat_letter_prompt(q, ["w", "x", "y", "z"]) for q in ["Q?", "R?"]]
    assert scoring.shared_prefix(chat).endswith("<|im_start|>user")
    assert scoring.shared_prefix(["abc", "abd"]) == ""
    assert scoring.shared_prefix(["same\n\ntext", "same\n\ntext"]) == "same"
