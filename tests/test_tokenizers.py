"""Tests of llmbook.tokenizers against published ids, llama.cpp's test vectors, and hand counts.

llama.cpp's test vectors: ``ggml-vocab-gpt-2.gguf.inp`` holds 46 test strings, each followed by
a line ``__ggml_vocab_test__``; each ``ggml-vocab-<name>.gguf.out`` holds one line of expected
ids per string, written by ``convert_hf_to_gguf_update.py`` with the model's Hugging Face
tokenizer and ``encode(text, add_special_tokens=False)``. So the convention is: no BOS, and for
SentencePiece the dummy-prefix space is added ("Hello" -> "▁Hello", 15043) while a leading
space of the text stays an extra "▁" (" Hello" -> 29871 "▁", 15043). ``Tokenizer.encode`` with
its defaults (``add_bos=False``) follows it. For Baichuan and the SmolLM2 model file, which have
no published ``.out``, the expected ids in ``tests/data/tokenizers`` come from llama.cpp itself
(see ``make_reference.py`` there).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from llmbook import assets
from llmbook import tokenizers as tk

DATA = Path(__file__).parent / "data" / "tokenizers"
SEPARATOR = "\n__ggml_vocab_test__\n"


def vector_inputs() -> list[str]:
    text = assets.path("vocab-tests-input").read_text(encoding="utf-8")
    tests = text.split(SEPARATOR)
    assert tests[-1] == ""  # the file ends with a separator
    return tests[:-1]


def vector_outputs(path: Path) -> list[list[int]]:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    return [[int(i) for i in line.split()] for line in lines[:-1]]


def smollm2() -> tk.Tokenizer:
    return tk.from_gguf(assets.path("smollm2-135m-instruct"))


# --------------------------------------------------------------------------------------------
# llama.cpp's test vectors: every one must be reproduced exactly
# --------------------------------------------------------------------------------------------

PUBLISHED = {  # our tokenizer -> llama.cpp's vector file (made with Hugging Face tokenizers)
    "llama": "vocab-tests-llama-spm",
    "gpt2": "vocab-tests-gpt-2",
    "llama3": "vocab-tests-llama-bpe",  # tiktoken ranks checked against Meta-Llama-3-8B's ids
    "qwen2": "vocab-tests-qwen2",
    "deepseek-llm": "vocab-tests-deepseek-llm",
}


def check_vectors(tok: tk.Tokenizer, expected: list[list[int]]) -> None:
    tests = vector_inputs()
    assert len(tests) == len(expected) == 46
    failures = [
        (text, want, got)
        for text, want in zip(tests, expected, strict=True)
        if (got := tok.encode(text)) != want
    ]
    assert not failures, f"{len(failures)} of {len(tests)} vectors differ: {failures[:3]}"


@pytest.mark.parametrize("name", PUBLISHED)
def test_published_vectors(name):
    check_vectors(tk.load(name), vector_outputs(assets.path(PUBLISHED[name])))


def test_llama3_vectors_from_the_gguf_file_too():
    """The generic GGUF path (Llama 3 pre-tokenizer, ignore_merges) on Llama 3's own GGUF."""
    tok = tk.from_gguf(assets.path("vocab-llama-bpe"))
    check_vectors(tok, vector_outputs(assets.path("vocab-tests-llama-bpe")))


@pytest.mark.parametrize("name", ["baichuan", "smollm2"])
def test_llamacpp_vectors(name):
    tok = smollm2() if name == "smollm2" else tk.load(name)
    check_vectors(tok, vector_outputs(DATA / f"{name}.llamacpp.out"))


@pytest.mark.parametrize("name", [*(n for n in tk.ASSETS if n != "bert-base-chinese"), "smollm2"])
def test_round_trip_on_the_vectors(name):
    """Lossless round trips (BERT lower-cases and drops spaces: see test_bert_round_trip)."""
    tok = smollm2() if name == "smollm2" else tk.load(name)
    for text in vector_inputs():
        assert tok.decode(tok.encode(text)) == text


def test_vector_files_are_parsed_as_llama_cpp_does():
    tests = vector_inputs()
    assert tests[:4] == ["ied 4 ½ months", "Äpfel", "", " "]
    assert tests[7:10] == ["\n", "\n\n", "\n\n\n"]
    assert vector_outputs(assets.path("vocab-tests-llama-spm"))[2] == []  # "" -> no token


# --------------------------------------------------------------------------------------------
# BOS and special tokens
# --------------------------------------------------------------------------------------------


def test_llama_bos_and_dummy_prefix():
    tok = tk.load("llama")
    assert tok.encode("Hello world") == [15043, 3186]
    assert tok.encode(" Hello world") == [29871, 15043, 3186]
    assert tok.encode("Hello world", add_bos=True) == [1, 15043, 3186]
    assert tok.encode("<s>Hello", special=True) == [1, 15043]  # as llama.cpp: prefix after <s>
    assert 1 not in tok.encode("<s>Hello")
    assert tok.decode([1, 15043]) == "<s>Hello"
    text = "<s>[INST] 你好 [/INST]"  # ids as llama.cpp gives them
    ids = [1, 518, 25580, 29962, 29871, 30919, 31076, 518, 29914, 25580, 29962]
    assert tok.encode(text, special=True) == ids
    assert tok.decode(ids) == text


def test_special_tokens_only_when_asked():
    qwen = tk.load("qwen2")
    assert qwen.encode("<|im_start|>", special=True) == [151644]
    assert 151644 not in qwen.encode("<|im_start|>")
    llama3 = tk.load("llama3")
    assert llama3.encode("hi", add_bos=True)[0] == 128000
    assert llama3.encode("<|eot_id|>", special=True) == [128009]  # Meta's special-token list
    assert 128009 not in llama3.encode("<|eot_id|>")
    with pytest.raises(ValueError, match="no BOS"):
        tk.load("cl100k").encode("x", add_bos=True)


def test_smollm2_chat_markup():
    """ChatML control tokens are ids 1 and 2 of SmolLM2's GGUF; ids as llama.cpp gives them."""
    tok = smollm2()
    text = "<|im_start|>user\nHi there<|im_end|>\n"
    assert tok.encode(text, special=True) == [1, 4093, 198, 26843, 665, 2, 198]
    assert tok.decode([1, 4093, 198, 26843, 665, 2, 198]) == text
    assert tok.vocab_size == 49152
    assert tk.from_gguf(str(assets.path("smollm2-135m-instruct"))) is tok  # cached by path


# --------------------------------------------------------------------------------------------
# cl100k, BERT-base-chinese, Baichuan: published or derivable ids
# --------------------------------------------------------------------------------------------


def test_cl100k_against_tiktokens_own_tests():
    """Ids from openai/tiktoken, tests/test_encoding.py (test_simple, test_simple_regex,
    test_basic_encode, test_encode_surrogate_pairs)."""
    tok = tk.load("cl100k")
    assert tok.encode("hello world") == [15339, 1917]
    assert tok.decode([15339, 1917]) == "hello world"
    assert tok.encode("hello <|endoftext|>", special=True) == [15339, 220, 100257]
    assert 100257 not in tok.encode("hello <|endoftext|>")
    assert tok.encode("rer") == [38149]
    assert tok.encode("'rer") == [2351, 81]
    assert tok.encode("today\n \n") == [31213, 27907]
    assert tok.encode("today\n  \n") == [31213, 14211]
    assert tok.encode(" \x850") == [220, 126, 227, 15]
    assert tok.encode("👍") == [9468, 239, 235]
    assert tok.vocab_size == 100277
    for text in ["hello ", " hello  ", "请考试我的软件！12345"]:  # test_basic_roundtrip
        assert tok.decode(tok.encode(text)) == text


def test_gpt2_against_tiktokens_repeated_zeros():
    """GPT-2 ids from openai/tiktoken, tests/test_encoding.py, test_simple_repeated."""
    tok = tk.load("gpt2")
    assert tok.encode("hello world") == [31373, 995]
    expected = {1: [15], 2: [405], 3: [830], 4: [2388], 8: [8269], 9: [10535, 830]}
    for n, ids in expected.items():
        assert tok.encode("0" * n) == ids
    assert tok.encode("0" * 16) == [25645]


def bert_line_ids() -> dict[str, int]:
    """Each entry of vocab.txt and its id: the line number minus one (split on "\\n" only)."""
    lines = assets.path("bert-base-chinese-vocab").read_text(encoding="utf-8").split("\n")
    return {token: i for i, token in enumerate(lines[:-1])}


def test_bert_chinese_characters_are_single_tokens():
    tok = tk.load("bert-base-chinese")
    lines = bert_line_ids()
    assert len(lines) == tok.vocab_size == 21128
    text = "我爱北京天安门"
    ids = tok.encode(text)
    # the widely reproduced example: tokenizer("我爱北京天安门") in Hugging Face transformers
    assert ids == [2769, 4263, 1266, 776, 1921, 2128, 7305]
    assert ids == [lines[c] for c in text]  # one token per character, never a ## piece
    assert tok.encode("[CLS]我[SEP]", special=True) == [101, 2769, 102]
    assert (lines["[CLS]"], lines["[SEP]"], lines["[UNK]"]) == (101, 102, 100)
    assert tok.encode("中国人民") == [lines[c] for c in "中国人民"]


def test_bert_lower_cases_and_word_pieces():
    tok = tk.load("bert-base-chinese")
    lines = bert_line_ids()
    assert tok.encode("Hello World") == tok.encode("hello world")
    assert tok.encode("hello world") == [lines["hello"], lines["world"]]
    assert tok.encode("😀") == [100]  # not in the vocabulary: [UNK]


def test_bert_round_trip():
    tok = tk.load("bert-base-chinese")
    text = "我们在北京工作，Hello World！"
    decoded = tok.decode(tok.encode(text))
    assert decoded.replace(" ", "") == text.lower().replace(" ", "")


def test_baichuan_pieces():
    """Baichuan-7B splits 北京 as one piece and keeps the dummy-prefix space on the first."""
    tok = tk.load("baichuan")
    table = tok.vocabulary().set_index("id")
    ids = tok.encode("我爱北京天安门。")
    assert [table.at[i, "piece"] for i in ids] == ["▁我", "爱", "北京", "天", "安", "门", "。"]
    assert ids == [6323, 31463, 3659, 31239, 31291, 31435, 73]
    assert tok.decode(ids) == "我爱北京天安门。"
    assert tok.vocab_size == 64000


# --------------------------------------------------------------------------------------------
# Vocabulary tables
# --------------------------------------------------------------------------------------------


def test_vocabulary_llama():
    table = tk.load("llama").vocabulary()
    assert list(table.columns) == ["id", "token", "piece", "kind", "partial"]
    assert len(table) == 32000 and table["id"].tolist() == list(range(32000))
    assert table.loc[0, "kind"] == "unknown" and table.loc[1, "kind"] == "control"
    assert table.loc[3, ["token", "kind", "partial"]].tolist() == ["<0x00>", "byte", True]
    assert table.loc[259, ["piece", "token"]].tolist() == ["▁▁", "  "]
    assert table["kind"].value_counts().to_dict() == {
        "normal": 31741, "byte": 256, "control": 2, "unknown": 1,
    }  # fmt: skip


def test_vocabulary_byte_level_bpe_decodes_gpt2_bytes():
    table = tk.load("gpt2").vocabulary()
    assert table.loc[220, ["piece", "token"]].tolist() == ["Ġ", " "]
    assert table.loc[50256, ["token", "kind"]].tolist() == ["<|endoftext|>", "control"]
    # a partial UTF-8 token: GPT-2 spells bytes E4 B8 as "ä¸"
    partial = table[table["piece"] == "ä¸"].iloc[0]
    assert partial["token"] == "<0xE4><0xB8>" and bool(partial["partial"])


def test_llama3_ranks_match_the_llama_bpe_gguf():
    """Meta's tiktoken ranks and llama.cpp's Llama 3 GGUF hold the same 128,000 tokens."""
    ours = tk.load("llama3").vocabulary()
    gguf = tk.read_gguf_metadata(assets.path("vocab-llama-bpe"))["tokenizer.ggml.tokens"]
    assert ours["piece"].tolist()[:128000] == gguf[:128000]
    assert len(ours) == tk.load("llama3").vocab_size == 128256


def test_cl100k_vocabulary_skips_unassigned_ids():
    tok = tk.load("cl100k")
    table = tok.vocabulary()
    assert len(table) == 100256 + 5
    assert 100256 not in set(table["id"]) and table["id"].max() == tok.vocab_size - 1


# --------------------------------------------------------------------------------------------
# Metrics: hand-made inputs
# --------------------------------------------------------------------------------------------


class Toy(tk.Tokenizer):
    """A hand-made vocabulary whose counts are worked out by hand in the tests."""

    name = "toy"
    bos_id = 1
    ENTRIES = [
        (0, "<unk>", "unknown", None),
        (1, "<s>", "control", None),
        (2, "<0xE4>", "byte", b"\xe4"),
        (3, "<0xB8>", "byte", b"\xb8"),
        (4, "<0xAD>", "byte", b"\xad"),
        (5, "中", "normal", "中".encode()),  # U+4E2D, main block: single
        (6, "▁中", "normal", " 中".encode()),  # a space and 中: contains, not single
        (7, "中国", "normal", "中国".encode()),  # two ideographs: contains
        (8, "a", "normal", b"a"),
        (9, "\U00020000", "normal", "\U00020000".encode()),  # Extension B: single
        (10, "\uf900", "normal", "\uf900".encode()),  # compatibility ideograph: no
        (11, "\u3007", "normal", "\u3007".encode()),  # 〇, not a unified ideograph: no
        (12, "[unused1]", "unused", None),
        (13, "国", "user_defined", "国".encode()),  # single
        (14, "##国", "continuation", "国".encode()),  # WordPiece continuation: not counted
        (15, "ä¸", "normal", b"\xe4\xb8"),  # partial UTF-8 (two bytes of 中)
    ]
    ENCODINGS = {"中国中a": [7, 5, 8], "x中": [0, 2, 3, 4], "中x": [15, 4, 0]}

    def _encode(self, text: str, special: bool) -> list[int]:
        return list(self.ENCODINGS[text])

    def decode(self, ids: Iterable[int]) -> str:
        return ""

    @property
    def vocab_size(self) -> int:
        return len(self.ENTRIES)

    def _entries(self):
        return self.ENTRIES


def test_cjk_ranges():
    assert all(tk.is_cjk(c) for c in ["\u4e00", "\u9fff", "\u3400", "\u4dbf", "\U00020000"])
    assert all(tk.is_cjk(chr(first)) and tk.is_cjk(chr(last)) for first, last, _ in
               tk.CJK_UNIFIED_IDEOGRAPHS)  # fmt: skip
    assert not any(tk.is_cjk(c) for c in ["\u4dc0", "\uf900", "\u3007", "a", "中国", ""])
    assert tk.count_cjk("我爱apple天〇") == 3


def test_metrics_by_hand():
    toy = Toy()
    assert tk.cjk_single_char_entries(toy) == 3  # 中, U+20000, 国
    assert tk.cjk_entries(toy) == 5  # those three, ▁中, 中国
    assert tk.tokens_per_char(toy, "中国中a") == 3 / 3
    assert tk.byte_fallback_share(toy, "x中") == 3 / 4  # three byte pieces, one <unk>
    assert tk.byte_fallback_share(toy, "中x") == 2 / 3  # partial "ä¸", byte <0xAD>
    assert tk.byte_fallback_share(toy, "中国中a") == 0
    table = toy.vocabulary()
    assert table.loc[15, ["token", "partial"]].tolist() == ["<0xE4><0xB8>", True]
    assert table.loc[6, "token"] == " 中"
    with pytest.raises(ValueError, match="no CJK"):
        tk.tokens_per_char(toy, "a")


# --------------------------------------------------------------------------------------------
# Metrics: the real vocabularies (figures the book quotes; the assets are pinned by sha256)
# --------------------------------------------------------------------------------------------

CJK_FIGURES = {  # name: (entries that are one CJK ideograph, entries containing one)
    "llama": (700, 700),
    "gpt2": (36, 51),
    "cl100k": (549, 868),
    "llama3": (2314, 4424),
    "qwen2": (8809, 25865),
    "baichuan": (21053, 28391),
    "deepseek-llm": (3425, 18052),
    "bert-base-chinese": (7322, 7322),
}


@pytest.mark.parametrize("name", CJK_FIGURES)
def test_cjk_figures(name):
    tok = tk.load(name)
    assert (tk.cjk_single_char_entries(tok), tk.cjk_entries(tok)) == CJK_FIGURES[name]


def test_cjk_sanity():
    llama = tk.cjk_single_char_entries(tk.load("llama"))
    assert 500 <= llama <= 1000  # LLaMA's 32k SentencePiece vocabulary: a few hundred hanzi
    assert tk.cjk_single_char_entries(tk.load("gpt2")) < tk.cjk_single_char_entries(
        tk.load("qwen2")
    )


CHINESE = "我们在北京的一家小饭馆里吃了一顿非常好吃的晚饭，然后沿着长安街散步回家。"


def test_tokens_per_char_and_byte_fallback_on_real_text():
    per_char = {name: tk.tokens_per_char(tk.load(name), CHINESE) for name in CJK_FIGURES}
    assert per_char["qwen2"] < per_char["llama"] and per_char["llama3"] < per_char["cl100k"]
    assert per_char["gpt2"] == max(per_char.values())
    llama = tk.load("llama")
    ids = llama.encode(CHINESE)
    table = llama.vocabulary()
    n_bytes = sum(table.at[i, "kind"] == "byte" for i in ids)
    assert n_bytes > 0
    assert tk.byte_fallback_share(llama, CHINESE) == n_bytes / len(ids)
    assert tk.byte_fallback_share(tk.load("qwen2"), CHINESE) == 0


# --------------------------------------------------------------------------------------------
# GGUF reading, loading, errors
# --------------------------------------------------------------------------------------------


def test_read_gguf_metadata_round_trip(tmp_path):
    import gguf
    import numpy as np

    path = tmp_path / "tiny.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("tokenizer.ggml.model", "bert")
    writer.add_array("tokenizer.ggml.tokens", ["a", "中", "Ġx"])
    writer.add_array("tokenizer.ggml.scores", [0.5, -1.0, 2.0])
    writer.add_uint32("tokenizer.ggml.bos_token_id", 7)
    writer.add_bool("tokenizer.ggml.add_bos_token", True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    meta = tk.read_gguf_metadata(path)
    assert meta["general.architecture"] == "llama"
    assert meta["tokenizer.ggml.tokens"] == ["a", "中", "Ġx"]
    np.testing.assert_array_equal(meta["tokenizer.ggml.scores"], [0.5, -1.0, 2.0])
    assert meta["tokenizer.ggml.bos_token_id"] == 7 and meta["tokenizer.ggml.add_bos_token"]
    with pytest.raises(NotImplementedError, match="'bert'"):
        tk.from_gguf(path)
    (tmp_path / "bad.gguf").write_bytes(b"GGML" + bytes(20))
    with pytest.raises(ValueError, match="not a GGUF"):
        tk.read_gguf_metadata(tmp_path / "bad.gguf")


def test_load_is_cached_and_names_are_checked():
    assert tk.load("gpt2") is tk.load("gpt2")
    assert repr(tk.load("gpt2")) == "<Tokenizer 'gpt2': 50,257 ids>"
    with pytest.raises(KeyError, match="no tokenizer"):
        tk.load("gpt-5")
    for name in ["chatglm", "bloom"]:
        assert "package index" in tk.NOT_AVAILABLE_OFFLINE[name]
        with pytest.raises(LookupError, match="not available offline"):
            tk.load(name)


def test_extend_vocabulary_follows_chinese_llamas_merge_rule():
    from llmbook import chinese

    llama, donor = tk.load("llama"), tk.load("baichuan")
    zh, en = chinese.sample_text("zh-sample"), chinese.sample_text("en-sample")
    unchanged = tk.extend_vocabulary(llama, donor, 0)
    assert unchanged.vocab_size == llama.vocab_size
    assert unchanged.encode(zh) == llama.encode(zh)
    extended = tk.extend_vocabulary(llama, donor, 5_000)
    assert extended.vocab_size == llama.vocab_size + 5_000
    new = extended.vocabulary().iloc[llama.vocab_size :]
    assert new["piece"].map(lambda p: tk.count_cjk(p) > 0).all()
    assert not set(new["piece"]) & set(llama.vocabulary()["piece"])
    assert (new["kind"] == "normal").all()
    costs = [
        tk.tokens_per_char(tk.extend_vocabulary(llama, donor, n), zh)
        for n in (0, 1_000, 5_000, None)
    ]
    assert costs == sorted(costs, reverse=True) and costs[-1] < 0.7 * costs[0]
    for tok in (extended, tk.extend_vocabulary(llama, donor)):
        assert tok.decode(tok.encode(zh)) == zh
        assert tok.encode(en) == llama.encode(en)  # only Chinese pieces were added


def test_extend_vocabulary_needs_sentencepiece_on_both_sides():
    with pytest.raises(TypeError):
        tk.extend_vocabulary(tk.load("llama"), tk.load("qwen2"))
    with pytest.raises(ValueError):
        tk.extend_vocabulary(tk.load("llama"), tk.load("baichuan"), -1)
