"""llmbook.chat_formats: the templates as their sources print them, and the loss mask."""

from __future__ import annotations

import numpy as np
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
    trained_text = "".join(s.text for s in segments if s.trainable)
    assert "我很好，谢谢。" in trained_text
    assert all(s.kind in ("assistant", "template") for s in segments if s.trainable)
    trained = tok.decode(ids[mask].tolist()).strip()
    assert trained == trained_text.strip()
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


# ---- Llama 3 --------------------------------------------------------------------------------
# Expected strings copied from meta-llama/llama-models, models/llama3_1/prompt_format.md
# (commit a9c89c471f793423afd4cc3ca8671d6e56fe64cb): "Input Prompt Format" + "Model Response
# Format" of "User and assistant conversation" and of "Built-in tools full interaction".


def test_llama3_matches_meta_prompt_format_conversation():
    conv = [
        ("system", "You are a helpful assistant"),
        ("user", "Answer who are you in the form of jeopardy?"),
        ("assistant", 'Here\'s my response\n\n"What is a helpful assistant?"'),
    ]
    assert cf.to_text(cf.render(conv, "llama3")) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "Answer who are you in the form of jeopardy?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        'Here\'s my response\n\n"What is a helpful assistant?"<|eot_id|>'
    )
    assert cf.prompt_text(conv[:2], "llama3") == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "You are a helpful assistant<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "Answer who are you in the form of jeopardy?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


WOLFRAM_RESULT = """{
    "queryresult": {
        "success": true,
        "inputstring": "100th decimal of pi",
        "pods": [
            {
                "title": "Input interpretation",
                "subpods": [
                    {
                        "title": "",
                        "plaintext": "100th digit | \u03c0"
                    }
                ]
            },
            {
                "title": "Nearby digits",
                "subpods": [
                    {
                        "title": "",
                        "plaintext": "...86208998628034825342117067982148086513282306647093..."
                    }
                ]
            },
            {
                "title": "Result",
                "primary": true,
                "subpods": [
                    {
                        "title": "",
                        "plaintext": "7"
                    }
                ]
            }
        ]
    }
}
"""


def test_llama3_builtin_tool_interaction_matches_meta_prompt_format():
    conv = [
        ("system", "Environment: ipython\nTools: brave_search, wolfram_alpha\n"),
        ("user", "What is the 100th decimal of pi?"),
        ("assistant", cf.ToolCall("wolfram_alpha", {"query": "100th decimal of pi"})),
        ("tool", "\n" + WOLFRAM_RESULT),  # the page prints a blank line after the header
        ("assistant", "The 100th decimal of pi is 7."),
    ]
    segments = cf.render(conv, "llama3")
    assert cf.to_text(segments) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Environment: ipython\nTools: brave_search, wolfram_alpha\n"
        "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
        "What is the 100th decimal of pi?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
        '<|python_tag|>wolfram_alpha.call(query="100th decimal of pi")<|eom_id|>'
        "<|start_header_id|>ipython<|end_header_id|>\n\n\n"
        + WOLFRAM_RESULT
        + "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        "The 100th decimal of pi is 7.<|eot_id|>"
    )
    tok = tokenizers.load("llama3")
    ids, mask = cf.encode(segments, tok)
    trained = tok.decode(ids[mask].tolist())
    assert trained == (
        '<|python_tag|>wolfram_alpha.call(query="100th decimal of pi")<|eom_id|>'
        "The 100th decimal of pi is 7.<|eot_id|>"
    )
    with pytest.raises(ValueError, match="query"):
        cf.render([conv[1], ("assistant", cf.ToolCall("x", {"a": 1}))], "llama3")


def test_llama3_markers_are_single_ids_in_llama3_vocabulary():
    tok = tokenizers.load("llama3")
    ids, _ = cf.encode(cf.render(ONE, "llama3"), tok)
    for marker in ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]:
        assert len(tok.encode(marker, special=True)) == 1
    # Meta's ChatFormat: [begin] + per message [start] role [end] "\n\n" content [eot]
    assert tok.decode(ids[:1].tolist()) == "<|begin_of_text|>"
    assert list(ids).count(tok.encode("<|eot_id|>", special=True)[0]) == 2


# ---- Qwen3 ----------------------------------------------------------------------------------
# Expected strings rendered from Qwen's own template, QwenLM/Qwen3
# docs/source/assets/qwen3_nonthinking.jinja (commit 7a2f61ffc7a20d47efcd2bf97f6f2bf52729042e),
# with the Jinja settings of Hugging Face's apply_chat_template (trim_blocks, lstrip_blocks, a
# tojson that is json.dumps with ensure_ascii=False), and checked against the layouts printed in
# docs/source/getting_started/concepts.md ("Tool Calling", "Thinking").

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current temperature in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


def test_qwen3_tool_call_matches_qwen_template():
    conv = [
        ("system", "You are a helpful assistant."),
        ("user", "How warm is it in Paris?"),
        ("assistant", cf.ToolCall("get_weather", {"city": "Paris"})),
        ("tool", '{"temperature_c": 18}'),
        ("assistant", "It is 18 °C in Paris."),
    ]
    segments = cf.render(conv, "qwen3", tools=[WEATHER_TOOL])
    assert cf.to_text(segments) == (
        "<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n\nYou may call one or more "
        "functions to assist with the user query.\n\nYou are provided with function signatures "
        'within <tools></tools> XML tags:\n<tools>\n{"type": "function", "function": {"name": '
        '"get_weather", "description": "Current temperature in a city", "parameters": {"type": '
        '"object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n</tools>'
        "\n\nFor each function call, return a json object with function name and arguments "
        'within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, '
        '"arguments": <args-json-object>}\n</tool_call><|im_end|>\n<|im_start|>user\nHow warm '
        'is it in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n{"name": '
        '"get_weather", "arguments": {"city": "Paris"}}\n</tool_call><|im_end|>\n<|im_start|>'
        'user\n<tool_response>\n{"temperature_c": 18}\n</tool_response><|im_end|>\n<|im_start|>'
        "assistant\n<think>\n\n</think>\n\nIt is 18 °C in Paris.<|im_end|>\n"
    )
    tok = tokenizers.load("qwen2")
    ids, mask = cf.encode(segments, tok)
    assert tok.decode(ids[mask].tolist()) == (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        "<|im_end|><think>\n\n</think>\n\nIt is 18 °C in Paris.<|im_end|>"
    )


def test_qwen3_thinking_keeps_only_the_last_rounds_reasoning():
    conv = [
        ("user", "Hello!"),
        ("assistant", cf.Thought("Greet back.", "Hi.")),
        ("user", "What is 2+2?"),
        ("assistant", cf.Thought("Two plus two.", "4.")),
    ]
    assert cf.to_text(cf.render(conv, "qwen3")) == (
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\nHi.<|im_end|>\n"
        "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n"
        "Two plus two.\n</think>\n\n4.<|im_end|>\n"
    )


def test_qwen3_non_thinking_reply_has_the_empty_think_block_and_it_is_trained():
    segments = cf.render(ONE, "qwen3")
    assert cf.to_text(segments) == (
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
        "Hi.<|im_end|>\n"
    )
    # Qwen3 technical report §4.3: the empty block is kept "in the assistant's response".
    assert [s.text for s in segments if s.trainable] == [cf.QWEN3_EMPTY_THINK, "Hi.", "<|im_end|>"]
    # add_generation_prompt: with enable_thinking=False the prompt carries the empty block
    # (qwen3_nonthinking.jinja); with thinking on, the model opens <think> itself.
    assert cf.prompt_text(ONE[:1], "qwen3", enable_thinking=False) == (
        "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
    )
    assert (
        cf.prompt_text(ONE[:1], "qwen3")
        == "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n"
    )


@pytest.mark.parametrize("fmt", ["alpaca", "vicuna", "chatml", "chatglm", "moss"])
def test_prompt_text_is_the_rendering_up_to_the_reply(fmt):
    full = cf.to_text(cf.render(ONE, fmt))
    prompt = cf.prompt_text(ONE[:1], fmt)
    assert full.startswith(prompt) and full[len(prompt) :].startswith("Hi.")


@pytest.mark.parametrize(
    "conv",
    [
        [("system", "s"), ("user", "x"), ("assistant", "y")],
        [("user", "x"), ("assistant", cf.ToolCall("f", {}))],
        [("user", "x"), ("tool", "y"), ("assistant", "z")],
    ],
)
def test_older_formats_refuse_system_and_tool_messages(conv):
    with pytest.raises(ValueError):
        cf.render(conv, "chatml")


def test_tool_message_must_follow_a_tool_call():
    with pytest.raises(ValueError, match="role 'tool'"):
        cf.render([("user", "x"), ("assistant", "y"), ("tool", "z"), ("assistant", "w")], "qwen3")
    with pytest.raises(ValueError, match="role 'tool'"):  # a tool result cannot open the chat
        cf.render([("tool", "z"), ("assistant", cf.ToolCall("f", {}))], "qwen3")
    with pytest.raises(ValueError, match="reasoning"):
        cf.render([("user", "x"), ("assistant", cf.Thought("a", "b"))], "llama3")


# ---- scoring a reference answer under a template ----------------------------------------------


@pytest.fixture(scope="module")
def model():
    from llmbook import smollm

    return smollm.Model.load()


def test_answer_logprobs_equal_one_full_pass_per_item(model, tmp_path, monkeypatch):
    from llmbook import scoring

    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path))
    prompts = [cf.prompt_text([("user", q)], "alpaca") for q in ("Name a colour.", "Say hi.")]
    answers = ["Blue.", "Hi there!"]
    got = cf.answer_logprobs(model, prompts, answers, max_row_tokens=64)
    for prompt, answer, lp in zip(prompts, answers, got, strict=True):
        p, a = model.encode(prompt), model.encode(answer)
        full = scoring.target_logprobs(model.logits(p + a)[:-1], (p + a)[1:])
        assert lp.shape == (len(a),)
        np.testing.assert_allclose(lp, full[-len(a) :], atol=2e-4)
    # cached: the second call reads the file back, bit for bit, without running the model
    assert len(list((tmp_path / "results").glob("*.npz"))) == 1

    def no_model_run(*args):
        raise AssertionError("the cached result should have been read")

    monkeypatch.setattr(scoring, "masked_hidden", no_model_run)
    again = cf.answer_logprobs(model, prompts, answers, max_row_tokens=64)
    assert all(np.array_equal(x, y) for x, y in zip(got, again, strict=True))
    with pytest.raises(ValueError, match="one answer per prompt"):
        cf.answer_logprobs(model, prompts, answers[:1])


def test_qwen3_think_token_lies_past_the_qwen2_vocabulary():
    """Qwen's quickstart finds </think> as id 151668 and the Qwen3 report gives 151,669 entries:
    the id is inside Qwen3's vocabulary and past the entries the book's Qwen2 file uses."""
    assert cf.QWEN3_VOCAB_SIZE == 151_669 and cf.QWEN3_END_THINK_ID == 151_668
    assert cf.QWEN3_END_THINK_ID < cf.QWEN3_VOCAB_SIZE
    vocab = tokenizers.load("qwen2").vocabulary()
    assert (vocab["kind"] == "normal").sum() == cf.QWEN_BPE_TOKENS  # Qwen's documented BPE count
    used = vocab[vocab["kind"].isin(["normal", "control"])]  # the rest are [PAD...] rows
    assert len(used) == 151_646 and vocab["id"][used.index].max() < cf.QWEN3_END_THINK_ID
    assert vocab.loc[vocab["id"] == cf.QWEN3_END_THINK_ID, "token"].item().startswith("[PAD")


def test_greedy_replies_are_cached(model, tmp_path, monkeypatch):
    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path))
    prompt = cf.prompt_text([("user", "What is the capital of France?")], "chatml")
    first = cf.greedy_replies(model, [prompt], max_tokens=3)
    assert first == [model.generate(prompt, max_tokens=3, chat=False)["text"]]
    monkeypatch.setattr(model, "generate", None)  # the second call must not run the model
    assert cf.greedy_replies(model, [prompt], max_tokens=3) == first


def test_a_change_to_the_code_that_computed_a_result_invalidates_it(model, tmp_path, monkeypatch):
    """A cached result is kept with the digests of the llmbook modules loaded when it was
    computed: an edit to one of them recomputes it (never a stale number on a rebuilt page);
    an edit to a module that was not loaded does not."""
    import json
    from pathlib import Path

    from llmbook import assets

    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path))
    prompt = cf.prompt_text([("user", "Say hi.")], "chatml")
    first = cf.greedy_replies(model, [prompt], max_tokens=3)
    (stored,) = (tmp_path / "results").glob("greedy-*.json")
    code = json.loads(stored.read_text(encoding="utf-8"))["code"]
    assert {"chat_formats.py", "smollm.py", "tokenizers.py"} <= set(code)

    def no_model_run(*args, **kwargs):
        raise AssertionError("the cached result should have been read")

    monkeypatch.setattr(model, "generate", no_model_run)
    real_sha256, edited = assets.file_sha256, set()
    monkeypatch.setattr(
        assets, "file_sha256", lambda p: "edited" if Path(p).name in edited else real_sha256(p)
    )
    package = sorted(p.name for p in Path(cf.__file__).resolve().parent.glob("*.py"))
    edited.update(n for n in package if n not in code)  # modules this process never loaded
    assert cf.greedy_replies(model, [prompt], max_tokens=3) == first
    edited.add("smollm.py")  # the model's code
    with pytest.raises(AssertionError, match="should have been read"):
        cf.greedy_replies(model, [prompt], max_tokens=3)
