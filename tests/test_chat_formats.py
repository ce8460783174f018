"""llmbook.chat_formats: the templates as their sources print them, and the loss mask."""

from __future__ import annotations

import pytest

from llmbook import chat_formats as cf
from llmbook import tokenizers

ONE = [("user", "Hello!"), ("assistant", "Hi.")]
TWO = [*ONE, ("user", "How are you?"), ("assistant", "I am good.")]


def test_alpaca_matches_train_py_prompt():
    text = cf.to_text(cf.render(ONE, "alpaca"))
    assert text == (
        "Below is an instruction that describes a task. Write a response that appropriately "
        "completes the request.\n\n### Instruction:\nHello!\n\n### Response:Hi.</s>"
    )
    with pytest.raises(ValueError, match="single-turn"):
        cf.render(TWO, "alpaca")


def test_vicuna_matches_fastchat_layout():
    # FastChat docs/weights_version.md: "USER: Hello!\nASSISTANT: Hello!</s>" (shown with line
    # breaks there; the v1.1 template's sep is a space).
    text = cf.to_text(cf.render(TWO, "vicuna"))
    assert text == (
        cf.VICUNA_SYSTEM
        + " USER: Hello! ASSISTANT: Hi.</s>USER: How are you? ASSISTANT: I am good.</s>"
    )


def test_chatml_chatglm_moss_layouts():
    assert cf.to_text(cf.render(ONE, "chatml")) == (
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\nHi.<|im_end|>\n"
    )
    assert cf.to_text(cf.render(ONE, "chatglm")) == "Hello![gMASK]<sop>Hi.<eop>"
    assert cf.to_text(cf.render(TWO, "chatglm")) == (
        "[Round 0]\n问：Hello!\n答：Hi.\n"
        "[Round 1]\n问：How are you?\n答：[gMASK]<sop>I am good.<eop>"
    )
    assert cf.to_text(cf.render(ONE, "moss")).endswith(
        "<|Human|>: Hello!<eoh>\n<|MOSS|>: Hi.<eom>\n"
    )


@pytest.mark.parametrize(
    "bad",
    [
        [],
        [("assistant", "x")],
        [("user", "x")],
        [("user", "x"), ("user", "y")],
        [("user", ""), ("assistant", "y")],
    ],
)
def test_bad_conversations_are_refused(bad):
    with pytest.raises(ValueError):
        cf.render(bad, "chatml")


def test_unknown_format():
    with pytest.raises(ValueError, match="known"):
        cf.render(ONE, "nope")


@pytest.mark.parametrize("name", ["qwen2", "llama", "cl100k"])
@pytest.mark.parametrize("fmt", cf.FORMATS)
def test_mask_covers_exactly_the_reply_and_its_end_marker(fmt, name):
    tok = tokenizers.load(name)
    conv = [("user", "你好，请介绍一下自己。"), ("assistant", "我很好，谢谢。")]
    segments = cf.render(conv, fmt)
    ids, mask = cf.encode(segments, tok)
    assert len(ids) == len(mask)
    end_marker = [s for s in segments if s.trainable and s.kind == "template"][0].text
    trained = tok.decode(ids[mask].tolist()).strip()
    assert trained == "我很好，谢谢。" + end_marker
    assert "我很好" not in tok.decode(ids[~mask].tolist())


def test_chatglm_trains_only_the_last_reply_and_vicuna_every_reply():
    tok = tokenizers.load("qwen2")
    _, glm_mask = cf.encode(cf.render(TWO, "chatglm"), tok)
    ids, vic_mask = cf.encode(cf.render(TWO, "vicuna"), tok)
    trained = tok.decode(ids[vic_mask].tolist())
    assert "Hi." in trained and "I am good." in trained and "Hello" not in trained
    assert glm_mask.sum() < vic_mask.sum()


def test_chatml_markers_are_single_special_tokens_for_qwen2():
    tok = tokenizers.load("qwen2")
    ids, _ = cf.encode(cf.render(ONE, "chatml"), tok)
    im_start = tok.encode("<|im_start|>", special=True)
    assert len(im_start) == 1 and list(ids).count(im_start[0]) == 2


def test_token_counts_add_up():
    tok = tokenizers.load("llama")
    counts = cf.token_counts(ONE, "moss", tok)
    assert counts["total"] > counts["overhead"] > counts["trained"] > 0


def test_chatglm6b_special_ids_are_inside_the_released_vocabulary():
    """The released ChatGLM-6B vocabulary has 130,528 entries: the pre-release 150k ids
    (150001/150004/150005) would be out of range, the config's 130001/130004/130005 are not."""
    ids = cf.CHATGLM6B_SPECIAL_IDS
    assert ids == {"[gMASK]": 130001, "<sop>": 130004, "<eop>": 130005}
    assert all(0 <= i < cf.CHATGLM6B_VOCAB_SIZE for i in ids.values())
    assert cf.CHATGLM6B_VOCAB_SIZE == 130528
