"""Real tokenizers of the book's models, rebuilt offline from registry-shipped vocabularies.

Every vocabulary is an asset of :mod:`llmbook.assets` (a pinned package on the Python package
index, never a model hub). Each one is rebuilt with the library its model family uses:

- **SentencePiece** (LLaMA-1/2, Baichuan-7B): llama.cpp's vocab-only GGUF files carry the pieces,
  scores and piece types of the original ``tokenizer.model``; :func:`from_gguf` writes them back
  into a SentencePiece ``ModelProto`` (BPE, byte fallback, no normalisation, dummy-prefix space),
  the same reading llama.cpp's own SPM tokenizer makes of such a file.
- **Byte-level BPE** (GPT-2, Qwen2, DeepSeek-LLM, SmolLM2, any GGUF whose ``tokenizer.ggml.model``
  is ``gpt2``): Hugging Face ``tokenizers`` with the vocabulary, the merges and the pre-tokenizer
  named by ``tokenizer.ggml.pre`` (regexes from the models' ``tokenizer.json`` files, as listed in
  llama.cpp's ``src/llama-vocab.cpp``).
- **tiktoken** (cl100k_base, Llama 3): the BPE ranks file with its published split pattern and
  special tokens.
- **WordPiece** (BERT-base-chinese): ``tokenizers``' BERT normaliser, which isolates every CJK
  character as BERT's ``BasicTokenizer`` does, and lower-cases (the vocabulary has no capitals).

The tests (``tests/test_tokenizers.py``) check the encoders against llama.cpp's published test
vectors (made with the models' own Hugging Face tokenizers), against llama.cpp itself where no
vectors are published (Baichuan, SmolLM2), and against ids tiktoken's own tests publish.

The metrics (:func:`cjk_single_char_entries`, :func:`cjk_entries`, :func:`tokens_per_char`,
:func:`byte_fallback_share`) are pure functions of a :class:`Tokenizer` and a text.
"""

from __future__ import annotations

import base64
import mmap
import re
import struct
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmbook import assets, inputs

#: Tokenizers :func:`load` knows, with the asset each one is built from.
ASSETS: dict[str, str] = {
    "llama": "vocab-llama-spm",
    "gpt2": "vocab-gpt-2",
    "cl100k": "cl100k-base",
    "llama3": "llama3-tokenizer",
    "qwen2": "vocab-qwen2",
    "baichuan": "vocab-baichuan",
    "deepseek-llm": "vocab-deepseek-llm",
    "bert-base-chinese": "bert-base-chinese-vocab",
}

#: Tokenizers of the article series that the book cannot run, and why.
NOT_AVAILABLE_OFFLINE: dict[str, str] = {
    "chatglm": (
        "ChatGLM-6B's SentencePiece model (ice_text.model, 130k entries) is published only on "
        "the Hugging Face hub; no package on the Python package index was found that carries it "
        "(llama.cpp's vocabulary test files, vendored in llama-cpp-python 0.3.36, have no "
        "ChatGLM vocabulary), and the book's build may reach only the package index."
    ),
    "bloom": (
        "BLOOM's byte-level BPE vocabulary (tokenizer.json, 250,680 entries) is published only "
        "on the Hugging Face hub; no package on the Python package index was found that carries "
        "it (llama.cpp names bigscience/bloom in convert_hf_to_gguf_update.py but ships no "
        "ggml-vocab-bloom.gguf), and the book's build may reach only the package index."
    ),
}

#: The Unicode blocks named "CJK Unified Ideographs" (the main block and Extensions A to J), as
#: (first, last, block name). Source: the Unicode Character Database, Blocks.txt, Unicode 17.0
#: (Extension J, U+323B0..U+3347F, is new in 17.0; Extension I came in 15.1).
#: CJK Compatibility Ideographs (U+F900..U+FAFF, U+2F800..U+2FA1F) and radicals are not included.
CJK_UNIFIED_IDEOGRAPHS: tuple[tuple[int, int, str], ...] = (
    (0x4E00, 0x9FFF, "CJK Unified Ideographs"),
    (0x3400, 0x4DBF, "CJK Unified Ideographs Extension A"),
    (0x20000, 0x2A6DF, "CJK Unified Ideographs Extension B"),
    (0x2A700, 0x2B73F, "CJK Unified Ideographs Extension C"),
    (0x2B740, 0x2B81F, "CJK Unified Ideographs Extension D"),
    (0x2B820, 0x2CEAF, "CJK Unified Ideographs Extension E"),
    (0x2CEB0, 0x2EBEF, "CJK Unified Ideographs Extension F"),
    (0x2EBF0, 0x2EE5F, "CJK Unified Ideographs Extension I"),
    (0x30000, 0x3134F, "CJK Unified Ideographs Extension G"),
    (0x31350, 0x323AF, "CJK Unified Ideographs Extension H"),
    (0x323B0, 0x3347F, "CJK Unified Ideographs Extension J"),
)

_CJK_CLASS = "".join(f"\\U{first:08X}-\\U{last:08X}" for first, last, _ in CJK_UNIFIED_IDEOGRAPHS)
_CJK_CHAR = re.compile(f"[{_CJK_CLASS}]")

#: Kinds of vocabulary entries (the ``kind`` column of :meth:`Tokenizer.vocabulary`). The first
#: six are GGUF's and SentencePiece's piece types (gguf ``TokenType`` 1 to 6).
KINDS = ("normal", "unknown", "control", "user_defined", "unused", "byte", "continuation")
_GGUF_KINDS = {1: "normal", 2: "unknown", 3: "control", 4: "user_defined", 5: "unused", 6: "byte"}
#: Kinds whose entries are ordinary text pieces, the ones the CJK metrics count.
TEXT_KINDS = frozenset({"normal", "user_defined"})


# --------------------------------------------------------------------------------------------
# Reading GGUF metadata
# --------------------------------------------------------------------------------------------


def read_gguf_metadata(path: str | Path) -> dict[str, Any]:
    """The key-value metadata of a GGUF file (tensors are not read).

    The format (magic ``GGUF``, version, tensor count, key-value count, then typed key-value
    pairs) is specified in ggml's ``docs/gguf.md``; value types are ``gguf.GGUFValueType``.
    ``gguf.GGUFReader`` would do, but it builds a numpy view for every element of every array,
    which takes 10 s for Llama 3's 128,256 tokens and 280,147 merges; this reader takes well
    under a second and touches only the metadata at the head of the file (a memory map, so a
    100 MB model file is not read). Strings are decoded as UTF-8 with ``surrogateescape`` (a
    GGUF token may be partial UTF-8). Numeric arrays come back as numpy arrays.
    """
    import numpy as np
    from gguf import GGUFValueType as T  # noqa: N814

    scalar = {
        T.UINT8: "<B", T.INT8: "<b", T.UINT16: "<H", T.INT16: "<h", T.UINT32: "<I",
        T.INT32: "<i", T.FLOAT32: "<f", T.BOOL: "<?", T.UINT64: "<Q", T.INT64: "<q",
        T.FLOAT64: "<d",
    }  # fmt: skip
    dtypes = {t: np.dtype(fmt) for t, fmt in scalar.items()}
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        magic, version, _n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
        if magic != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (magic {magic!r})")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported (2 or later)")
        pos = 24

        def string() -> str:
            nonlocal pos
            (size,) = struct.unpack_from("<Q", buf, pos)
            text = buf[pos + 8 : pos + 8 + size].decode("utf-8", "surrogateescape")
            pos += 8 + size
            return text

        def value(kind: T) -> Any:
            nonlocal pos
            if kind == T.STRING:
                return string()
            if kind == T.ARRAY:
                item, count = struct.unpack_from("<IQ", buf, pos)
                pos += 12
                item = T(item)
                if item in dtypes:
                    array = np.frombuffer(buf, dtype=dtypes[item], count=count, offset=pos).copy()
                    pos += array.nbytes
                    return array
                return [value(item) for _ in range(count)]
            (result,) = struct.unpack_from(scalar[kind], buf, pos)
            pos += struct.calcsize(scalar[kind])
            return result

        metadata: dict[str, Any] = {}
        for _ in range(n_kv):
            key = string()
            (kind,) = struct.unpack_from("<I", buf, pos)
            pos += 4
            metadata[key] = value(T(kind))
    inputs.note(path)
    return metadata


# --------------------------------------------------------------------------------------------
# The Tokenizer interface
# --------------------------------------------------------------------------------------------


def _display(raw: bytes) -> str:
    """``raw`` decoded as UTF-8, each byte that is not part of a valid character shown <0xAB>."""
    text = raw.decode("utf-8", "surrogateescape")
    return re.sub("[\udc80-\udcff]", lambda m: f"<0x{ord(m.group()) - 0xDC00:02X}>", text)


class Tokenizer(ABC):
    """A tokenizer: text to ids and back, plus its vocabulary as a table.

    ``encode`` never adds a BOS token unless ``add_bos=True``, and by default treats the text
    of special tokens (``<|endoftext|>``, ``<s>``, ``[CLS]``) as plain text; ``special=True``
    turns such strings into their special ids (what a chat template needs).
    """

    name: str
    bos_id: int | None

    @abstractmethod
    def _encode(self, text: str, special: bool) -> list[int]: ...

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (special tokens are written out as their strings)."""

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """The number of token ids (one more than the largest id)."""

    @abstractmethod
    def _entries(self) -> Iterable[tuple[int, str, str, bytes | None]]:
        """Each entry as (id, the vocabulary's own spelling, kind, its bytes or None)."""

    def encode(self, text: str, *, add_bos: bool = False, special: bool = False) -> list[int]:
        """The token ids of ``text``; ``add_bos`` prepends the BOS id."""
        ids = self._encode(text, special)
        if add_bos:
            if self.bos_id is None:
                raise ValueError(f"tokenizer {self.name!r} has no BOS token")
            ids = [self.bos_id, *ids]
        return ids

    @cached_property
    def _table(self) -> pd.DataFrame:
        rows = []
        for token_id, piece, kind, raw in self._entries():
            partial = kind == "byte"
            if raw is None or partial:
                token = piece
            else:
                try:
                    token = raw.decode("utf-8")
                except UnicodeDecodeError:
                    token, partial = _display(raw), True
            rows.append((token_id, token, piece, kind, partial))
        table = pd.DataFrame(rows, columns=["id", "token", "piece", "kind", "partial"])
        return table.sort_values("id", ignore_index=True)

    def vocabulary(self) -> pd.DataFrame:
        """The vocabulary, one row per entry, sorted by id. Columns:

        - ``id``;
        - ``token``: the text the entry stands for, its bytes decoded as UTF-8 (SentencePiece's
          ``▁`` becomes a space, GPT-2's byte encoding is undone); a byte that is not part of
          a whole character is shown ``<0xAB>``; byte-fallback pieces, control and unused
          tokens are shown as spelled (``<0xE4>``, ``<s>``); a WordPiece ``##`` is kept;
        - ``piece``: the vocabulary's own spelling (GPT-2 byte-encoded for byte-level BPE, and
          for tiktoken's ranks, so that they compare with Hugging Face and GGUF files);
        - ``kind``: one of :data:`KINDS`;
        - ``partial``: true for byte-fallback pieces and for entries whose bytes are not valid
          UTF-8 on their own.
        """
        return self._table.copy()

    @cached_property
    def _partial_ids(self) -> frozenset[int]:
        table = self._table
        return frozenset(table.loc[table["partial"], "id"].tolist())

    def __repr__(self) -> str:
        return f"<Tokenizer {self.name!r}: {self.vocab_size:,} ids>"


# --------------------------------------------------------------------------------------------
# SentencePiece
# --------------------------------------------------------------------------------------------


class _SentencePiece(Tokenizer):
    def __init__(self, name: str, metadata: dict[str, Any]) -> None:
        from sentencepiece import SentencePieceProcessor
        from sentencepiece import sentencepiece_model_pb2 as pb

        tokens: list[str] = metadata["tokenizer.ggml.tokens"]
        scores = metadata.get("tokenizer.ggml.scores")
        types = metadata["tokenizer.ggml.token_type"].tolist()
        proto = pb.ModelProto()
        for i, piece in enumerate(tokens):
            entry = proto.pieces.add()
            entry.piece = piece
            entry.score = float(scores[i]) if scores is not None else 0.0
            entry.type = types[i]  # GGUF's token types are SentencePiece's piece types
        trainer = proto.trainer_spec
        trainer.model_type = pb.TrainerSpec.BPE
        trainer.vocab_size = len(tokens)
        trainer.byte_fallback = 6 in types
        trainer.unk_id = int(metadata.get("tokenizer.ggml.unknown_token_id", 0))
        trainer.bos_id = int(metadata.get("tokenizer.ggml.bos_token_id", -1))
        trainer.eos_id = int(metadata.get("tokenizer.ggml.eos_token_id", -1))
        trainer.pad_id = int(metadata.get("tokenizer.ggml.padding_token_id", -1))
        trainer.unk_piece = tokens[trainer.unk_id]
        normalizer = proto.normalizer_spec
        normalizer.name = "identity"
        normalizer.add_dummy_prefix = bool(metadata.get("tokenizer.ggml.add_space_prefix", True))
        normalizer.remove_extra_whitespaces = bool(
            metadata.get("tokenizer.ggml.remove_extra_whitespaces", False)
        )
        normalizer.escape_whitespaces = True
        self.name = name
        self._metadata = metadata
        self._tokens = tokens
        self._types = types
        self._sp = SentencePieceProcessor(model_proto=proto.SerializeToString())
        self.bos_id = trainer.bos_id if trainer.bos_id >= 0 else None
        controls = sorted((t for t, k in zip(tokens, types, strict=True) if k == 3), key=len)
        self._special = re.compile("|".join(re.escape(t) for t in reversed(controls)))
        self._has_special = bool(controls)

    def _encode(self, text: str, special: bool) -> list[int]:
        if not (special and self._has_special):
            return self._sp.encode(text)
        # As llama.cpp: every text fragment between two special tokens gets the dummy prefix.
        ids: list[int] = []
        pos = 0
        for match in self._special.finditer(text):
            if match.start() > pos:
                ids += self._sp.encode(text[pos : match.start()])
            ids.append(self._sp.piece_to_id(match.group()))
            pos = match.end()
        if pos < len(text):
            ids += self._sp.encode(text[pos:])
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        # SentencePiece drops control tokens; write them out, as the other tokenizers do.
        parts: list[str] = []
        run: list[int] = []
        for i in ids:
            if self._types[i] == 3:
                if run:
                    parts.append(self._sp.decode(run))
                    run = []
                parts.append(self._tokens[i])
            else:
                run.append(int(i))
        if run:
            parts.append(self._sp.decode(run))
        return "".join(parts)

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def _entries(self) -> Iterable[tuple[int, str, str, bytes | None]]:
        for i, (piece, kind_id) in enumerate(zip(self._tokens, self._types, strict=True)):
            kind = _GGUF_KINDS.get(kind_id, "normal")
            if kind == "byte":
                raw: bytes | None = bytes([int(piece[3:5], 16)])
            elif kind in TEXT_KINDS:
                raw = piece.replace("\u2581", " ").encode("utf-8", "surrogateescape")
            else:
                raw = None
            yield i, piece, kind, raw


# --------------------------------------------------------------------------------------------
# Byte-level BPE (Hugging Face tokenizers)
# --------------------------------------------------------------------------------------------


@cache
def gpt2_byte_decoder() -> dict[str, int]:
    """GPT-2's map from the printable stand-in characters of byte-level BPE back to bytes.

    Source: openai/gpt-2, ``src/encoder.py``, ``bytes_to_unicode``: printable Latin-1 bytes
    stand for themselves, the other 68 bytes for U+0100 onwards, in byte order.
    """
    keep = [*range(ord("!"), ord("~") + 1), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    chars = list(keep)
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return {chr(c): b for b, c in zip(keep, chars, strict=True)}


def _gpt2_bytes(piece: str) -> bytes | None:
    decoder = gpt2_byte_decoder()
    try:
        return bytes(decoder[c] for c in piece)
    except KeyError:
        return None


#: Llama 3's split pattern. Source: llama-models 0.3.0, ``llama_models/llama3/tokenizer.py``.
LLAMA3_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: Qwen2's split pattern (Llama 3's, with single digits). Source: Qwen's ``tokenizer.json``, as
#: quoted in llama.cpp's ``src/llama-vocab.cpp``.
_QWEN2_PATTERN = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
    r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)
#: DeepSeek-LLM's six split patterns, applied in turn. Source: deepseek-llm-7b-base's
#: ``tokenizer.json``, as transcribed in llama.cpp's ``src/llama-vocab.cpp``.
_DEEPSEEK_LLM_PATTERNS = (
    "[\r\n]",
    "\\s?[A-Za-z\xb5\xc0-\xd6\xd8-\xf6\xf8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1"
    "\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5"
    "\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a"
    "\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d"
    "\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3"
    "\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115"
    "\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f"
    "\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3"
    "\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
    "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f"
    "\U000104b0-\U000104d3\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2"
    "\U000118a0-\U000118df\U0001e900-\U0001e943]+",
    "\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+",
    "\\s+$",
    "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+",
    "\\p{N}+",
)


def _pre_tokenizer(pre: str) -> tuple[Any, Any, bool]:
    """(normalizer, pre-tokenizer, ignore_merges) for a GGUF ``tokenizer.ggml.pre`` name."""
    from tokenizers import Regex, normalizers, pre_tokenizers

    def splits(*patterns: str) -> list[Any]:
        return [pre_tokenizers.Split(Regex(p), behavior="isolated") for p in patterns]

    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    if pre in ("gpt-2", "gpt2"):
        return None, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True), False
    if pre in ("llama-bpe", "llama3", "llama-v3"):
        return None, pre_tokenizers.Sequence([*splits(LLAMA3_PATTERN), byte_level]), True
    if pre == "qwen2":
        sequence = pre_tokenizers.Sequence([*splits(_QWEN2_PATTERN), byte_level])
        return normalizers.NFC(), sequence, False
    if pre == "deepseek-llm":
        return None, pre_tokenizers.Sequence([*splits(*_DEEPSEEK_LLM_PATTERNS), byte_level]), False
    if pre == "smollm":  # SmolLM's tokenizer.json: single digits, then GPT-2's ByteLevel
        digits = pre_tokenizers.Digits(individual_digits=True)
        level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        return None, pre_tokenizers.Sequence([digits, level]), False
    raise NotImplementedError(
        f"pre-tokenizer {pre!r} is not supported; supported: gpt-2, llama-bpe, qwen2, "
        "deepseek-llm, smollm"
    )


class _ByteLevelBPE(Tokenizer):
    def __init__(self, name: str, metadata: dict[str, Any]) -> None:
        from tokenizers import AddedToken, decoders, models
        from tokenizers import Tokenizer as HFTokenizer

        tokens: list[str] = metadata["tokenizer.ggml.tokens"]
        types = metadata["tokenizer.ggml.token_type"].tolist()
        merges = [tuple(m.split(" ", 1)) for m in metadata["tokenizer.ggml.merges"]]
        pre = metadata.get("tokenizer.ggml.pre", "gpt-2")
        normalizer, pre_tokenizer, ignore_merges = _pre_tokenizer(pre)
        vocab: dict[str, int] = {}
        for i, token in enumerate(tokens):
            vocab.setdefault(token, i)
        model = models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges)
        hf = HFTokenizer(model)
        if normalizer is not None:
            hf.normalizer = normalizer
        hf.pre_tokenizer = pre_tokenizer
        hf.decoder = decoders.ByteLevel()
        # Control tokens are special (matched in the text only when asked); user-defined ones
        # are always matched, as in Hugging Face tokenizers and llama.cpp.
        added = [
            AddedToken(t, special=k == 3, normalized=False)
            for t, k in zip(tokens, types, strict=True)
            if k in (3, 4)
        ]
        hf.add_tokens([a for a in added if not a.special])
        hf.add_special_tokens([a for a in added if a.special])
        self.name = name
        self._tokens = tokens
        self._types = types
        self._hf = hf
        bos = metadata.get("tokenizer.ggml.bos_token_id")
        self.bos_id = None if bos is None else int(bos)

    def _encode(self, text: str, special: bool) -> list[int]:
        # A flag of the shared tokenizer, set before each call (not safe across threads).
        self._hf.encode_special_tokens = not special
        return self._hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode(list(ids), skip_special_tokens=False)

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def _entries(self) -> Iterable[tuple[int, str, str, bytes | None]]:
        for i, (piece, kind_id) in enumerate(zip(self._tokens, self._types, strict=True)):
            kind = _GGUF_KINDS.get(kind_id, "normal")
            if kind == "normal":
                raw = _gpt2_bytes(piece)
            elif kind == "user_defined":  # matched and written out as literal text
                raw = piece.encode("utf-8", "surrogateescape")
            else:
                raw = None
            yield i, piece, kind, raw


# --------------------------------------------------------------------------------------------
# tiktoken
# --------------------------------------------------------------------------------------------


def _read_tiktoken_ranks(path: Path) -> dict[bytes, int]:
    """A tiktoken ranks file: one ``base64-token rank`` pair a line."""
    ranks = {}
    for line in path.read_bytes().splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


#: cl100k_base's split pattern and special tokens. Source: openai/tiktoken,
#: ``tiktoken_ext/openai_public.py``, ``cl100k_base()`` (whose expected sha256 of the ranks
#: file, 223921b7..., is the asset's).
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


def llama3_special_tokens(n_base: int = 128_000) -> dict[str, int]:
    """Llama 3's 256 special tokens, numbered after the ``n_base`` ranks.

    Source: meta-llama/llama-models 0.3.0, ``llama_models/llama3/tokenizer.py`` (the package
    whose ``tokenizer.model`` is the asset): 12 named tokens, then reserved ones numbered from 2.
    """
    named = [
        "<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
        "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>", "<|step_id|>",
        "<|start_header_id|>", "<|end_header_id|>", "<|eom_id|>", "<|eot_id|>",
        "<|python_tag|>", "<|image|>",
    ]  # fmt: skip
    reserved = [f"<|reserved_special_token_{2 + i}|>" for i in range(256 - len(named))]
    return {token: n_base + i for i, token in enumerate(named + reserved)}


class _Tiktoken(Tokenizer):
    def __init__(
        self, name: str, path: Path, pattern: str, special: dict[str, int], bos: str | None
    ) -> None:
        import tiktoken

        ranks = _read_tiktoken_ranks(path)
        self.name = name
        self._enc = tiktoken.Encoding(
            name=name, pat_str=pattern, mergeable_ranks=ranks, special_tokens=special
        )
        self._ranks = ranks
        self._special = special
        self.bos_id = None if bos is None else special[bos]

    def _encode(self, text: str, special: bool) -> list[int]:
        if special:
            return self._enc.encode(text, allowed_special="all")
        return self._enc.encode_ordinary(text)

    def decode(self, ids: Iterable[int]) -> str:
        return self._enc.decode(list(ids))

    @property
    def vocab_size(self) -> int:
        return self._enc.n_vocab

    def _entries(self) -> Iterable[tuple[int, str, str, bytes | None]]:
        encoder = {b: c for c, b in gpt2_byte_decoder().items()}
        for raw, rank in self._ranks.items():
            yield rank, "".join(encoder[b] for b in raw), "normal", raw
        for token, token_id in self._special.items():
            yield token_id, token, "control", None


# --------------------------------------------------------------------------------------------
# WordPiece (BERT)
# --------------------------------------------------------------------------------------------


class _WordPiece(Tokenizer):
    """BERT-base-chinese: Google's ``BasicTokenizer`` then WordPiece, via ``tokenizers``.

    ``BertNormalizer`` cleans control characters, puts spaces around every CJK character (the
    ranges of BERT's ``_is_chinese_char``), lower-cases and strips accents; Google's release
    of the Chinese model is uncased (``do_lower_case=True``): its vocabulary has no capital
    letter, so a cased reading would turn every capital into ``[UNK]`` (huggingface/transformers
    issue 9286). ``BertPreTokenizer`` splits on whitespace and punctuation; WordPiece uses
    ``##`` continuations and ``[UNK]`` for words longer than 100 characters or not coverable.
    """

    def __init__(self, name: str, path: Path) -> None:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, normalizers, pre_tokenizers

        # One token a line, split on "\n" only (as BERT's load_vocab): some entries are
        # characters that str.splitlines() would take for line breaks.
        tokens = path.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        vocab = {token: i for i, token in enumerate(tokens)}
        hf = HFTokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]"))
        hf.normalizer = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
        )
        hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        hf.decoder = decoders.WordPiece(prefix="##")
        hf.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        self.name = name
        self._tokens = tokens
        self._hf = hf
        self.bos_id = vocab["[CLS]"]

    def _encode(self, text: str, special: bool) -> list[int]:
        self._hf.encode_special_tokens = not special
        return self._hf.encode(text, add_special_tokens=False).ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode(list(ids), skip_special_tokens=False)

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    def _entries(self) -> Iterable[tuple[int, str, str, bytes | None]]:
        for i, token in enumerate(self._tokens):
            if token in ("[PAD]", "[CLS]", "[SEP]", "[MASK]"):
                yield i, token, "control", None
            elif token == "[UNK]":
                yield i, token, "unknown", None
            elif re.fullmatch(r"\[unused\d+\]", token):
                yield i, token, "unused", None
            elif token.startswith("##") and len(token) > 2:
                yield i, token, "continuation", token[2:].encode("utf-8")
            else:
                yield i, token, "normal", token.encode("utf-8")


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


@cache
def _from_gguf(path: Path, name: str) -> Tokenizer:
    metadata = read_gguf_metadata(path)
    model = metadata.get("tokenizer.ggml.model")
    if model == "llama":
        return _SentencePiece(name, metadata)
    if model == "gpt2":
        return _ByteLevelBPE(name, metadata)
    raise NotImplementedError(
        f"{path.name}: tokenizer.ggml.model {model!r} is not supported (only 'llama', "
        "SentencePiece, and 'gpt2', byte-level BPE)"
    )


def extend_vocabulary(
    base: Tokenizer, donor: Tokenizer, count: int | None = None, name: str | None = None
) -> Tokenizer:
    """``base`` with Chinese pieces of ``donor`` appended, as Chinese-LLaMA extended LLaMA's
    vocabulary (``scripts/merge_tokenizer/merge_tokenizers.py`` of ymcui/Chinese-LLaMA-Alpaca):
    every donor piece not already in the base is appended as a normal piece with score 0.

    Both must be SentencePiece tokenizers. Only donor pieces holding at least one CJK ideograph
    are taken (Chinese-LLaMA's donor was a model trained on Chinese text alone; a bilingual
    donor also holds English pieces), in the donor's order of score, best first (for a BPE
    model, the order in which its merges were learned); ``count`` keeps the first that many,
    ``None`` all. Score 0 is above every score of LLaMA's BPE model, so the new pieces merge
    before the old ones, as in the merged Chinese-LLaMA tokenizer. The new pieces have no
    trained embedding: a model using them must learn one row per piece (Chinese-LLaMA's
    continued pre-training)."""
    if not (isinstance(base, _SentencePiece) and isinstance(donor, _SentencePiece)):
        raise TypeError("extend_vocabulary needs two SentencePiece tokenizers")
    if count is not None and count < 0:
        raise ValueError(f"count must be at least 0, got {count}")
    known = set(base._tokens)
    donor_scores = donor._metadata.get("tokenizer.ggml.scores")
    order = range(len(donor._tokens))
    if donor_scores is not None:
        order = sorted(order, key=lambda i: -float(donor_scores[i]))
    new = [
        donor._tokens[i]
        for i in order
        if donor._types[i] == 1 and donor._tokens[i] not in known
        and _CJK_CHAR.search(donor._tokens[i].replace("\u2581", " "))
    ]  # fmt: skip
    new = new if count is None else new[:count]
    metadata = dict(base._metadata)
    scores = base._metadata.get("tokenizer.ggml.scores")
    base_scores = [0.0] * len(base._tokens) if scores is None else [float(x) for x in scores]
    metadata["tokenizer.ggml.tokens"] = [*base._tokens, *new]
    metadata["tokenizer.ggml.scores"] = np.array(base_scores + [0.0] * len(new))
    metadata["tokenizer.ggml.token_type"] = np.array([*base._types, *([1] * len(new))])
    return _SentencePiece(name or f"{base.name}+{len(new)} {donor.name}", metadata)


def from_gguf(path: str | Path, name: str | None = None) -> Tokenizer:
    """The tokenizer stored in a GGUF file (a vocab-only file or a whole model).

    ``tokenizer.ggml.model`` ``"llama"`` gives a SentencePiece tokenizer, ``"gpt2"`` a byte-level
    BPE one whose pre-tokenizer follows ``tokenizer.ggml.pre``: ``gpt-2``, ``llama-bpe``,
    ``qwen2``, ``deepseek-llm`` or ``smollm`` (another name raises ``NotImplementedError``).
    Only the metadata at the head of the file is read, and the result is cached by path and
    name. ``name`` defaults to the file's stem.
    """
    resolved = Path(path).resolve()
    return _from_gguf(resolved, name or resolved.stem)


@cache
def load(name: str) -> Tokenizer:
    """The tokenizer called ``name`` (a key of :data:`ASSETS`), built once and cached."""
    if name not in ASSETS:
        why = NOT_AVAILABLE_OFFLINE.get(name)
        if why:
            raise LookupError(f"tokenizer {name!r} is not available offline: {why}")
        raise KeyError(f"no tokenizer {name!r}; known: {', '.join(ASSETS)}")
    path = assets.path(ASSETS[name])
    if name == "cl100k":
        return _Tiktoken(name, path, CL100K_PATTERN, CL100K_SPECIAL, bos=None)
    if name == "llama3":
        return _Tiktoken(name, path, LLAMA3_PATTERN, llama3_special_tokens(), "<|begin_of_text|>")
    if name == "bert-base-chinese":
        return _WordPiece(name, path)
    return from_gguf(path, name)


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def is_cjk(char: str) -> bool:
    """Whether ``char`` is one character of :data:`CJK_UNIFIED_IDEOGRAPHS`."""
    return len(char) == 1 and _CJK_CHAR.fullmatch(char) is not None


def count_cjk(text: str) -> int:
    """The number of CJK Unified Ideographs in ``text``."""
    return len(_CJK_CHAR.findall(text))


def _text_entries(tok: Tokenizer) -> pd.Series:
    table = tok.vocabulary()
    return table.loc[table["kind"].isin(TEXT_KINDS), "token"]


def cjk_single_char_entries(tok: Tokenizer) -> int:
    """How many entries stand for exactly one CJK ideograph and nothing else.

    Counted over ordinary entries (kind ``normal`` or ``user_defined``) after decoding
    (GPT-2 byte encoding undone), so ``中`` counts, but not ``▁中`` (a space and 中), a
    WordPiece ``##中`` continuation, or a byte piece.
    """
    return int(sum(is_cjk(token) for token in _text_entries(tok)))


def cjk_entries(tok: Tokenizer) -> int:
    """How many ordinary entries contain at least one whole CJK ideograph, after decoding."""
    return int(sum(_CJK_CHAR.search(token) is not None for token in _text_entries(tok)))


def tokens_per_char(tok: Tokenizer, text: str) -> float:
    """Tokens of ``text`` (no BOS) per CJK ideograph in ``text``; lower is more compact."""
    n_chars = count_cjk(text)
    if n_chars == 0:
        raise ValueError("the text has no CJK ideograph")
    return len(tok.encode(text)) / n_chars


def byte_fallback_share(tok: Tokenizer, text: str) -> float:
    """The share of ``text``'s tokens that are byte pieces or not whole UTF-8 characters.

    SentencePiece's byte-fallback pieces (``<0xE4>``) and byte-level BPE tokens whose bytes
    do not decode as UTF-8 on their own both count: the model sees a fragment of a character.
    """
    ids = tok.encode(text)
    if not ids:
        raise ValueError("the text encodes to no token")
    partial = tok._partial_ids
    return sum(i in partial for i in ids) / len(ids)
