"""SmolLM2-135M-Instruct in plain numpy: a LLaMA forward pass you can read in one sitting.

In the spirit of nanoGPT, one module holds the whole model: loading a GGUF file, the
transformer (token embedding, RMSNorm, rotary position embedding, grouped-query attention with a
KV cache, SwiGLU MLP, final norm, output head tied to the embedding), the chat prompt and greedy
decoding. Weights, activations and the KV cache are float32 numpy (only the small attention
softmax is accumulated in float64, see :func:`attention`); the heavy lifting is a handful of
matrix products per layer, which numpy hands to its BLAS.

>>> model = Model.load()                                   # doctest: +SKIP
>>> model.generate("What is the capital of France?")["text"]   # doctest: +SKIP
'The capital of France is Paris.'

Two details of the file format matter for getting the right numbers:

* **Quantised weights.** The GGUF file stores the matrices as Q4_1 blocks (32 weights share a
  float16 scale and minimum) and the embedding as Q8_0. :func:`dequantise_gguf` dequantises every
  tensor once, with ``gguf.quants.dequantize``, into float32 and keeps the result per path.
* **The rotary layout.** Hugging Face's LLaMA rotates the two *halves* of each head
  (dimension ``i`` with ``i + head_dim/2``). llama.cpp rotates *adjacent pairs* (``2i`` with
  ``2i+1``), so its converter (``convert_hf_to_gguf.py``, ``LlamaModel.permute``) reorders the
  rows of ``q_proj`` and ``k_proj`` inside each head, interleaving the two halves. With GGUF
  weights the matching rotation is therefore the interleaved one, ``ROPE_INTERLEAVED``; the
  test suite checks this against an independent implementation (Hugging Face ``transformers``
  reading the same file, which undoes the permutation and rotates halves).
"""

from __future__ import annotations

import json
import os
import time
import zlib
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path

import numpy as np

ASSET = "smollm2-135m-instruct"
ROPE_INTERLEAVED = "interleaved"  # llama.cpp / GGUF: rotate (x[2i], x[2i+1])
ROPE_HALVES = "halves"  # Hugging Face: rotate (x[i], x[i + d/2])


# ----------------------------------------------------------------------------------------------
# Hyper-parameters and weights, from the GGUF file


@dataclass(frozen=True)
class Config:
    """The hyper-parameters of a LLaMA-architecture model, as its GGUF metadata states them."""

    n_layer: int
    d_model: int
    n_head: int
    n_kv_head: int
    d_ff: int
    vocab_size: int
    context_length: int
    rope_base: float
    rope_dim: int
    rms_eps: float
    bos_id: int
    eos_id: int
    chat_template: str

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_head


def _field(reader, key: str, default=None):
    field = reader.fields.get(key)
    if field is None:
        if default is None:
            raise KeyError(f"GGUF metadata lacks {key}")
        return default
    return field.contents()


def read_config(reader) -> Config:
    """The :class:`Config` of an open ``gguf.GGUFReader`` (``llama.*`` and tokenizer keys)."""
    arch = _field(reader, "general.architecture")
    if arch != "llama":
        raise ValueError(f"expected a llama-architecture GGUF, found {arch!r}")
    d_model = int(_field(reader, "llama.embedding_length"))
    n_head = int(_field(reader, "llama.attention.head_count"))
    tokens = reader.fields["tokenizer.ggml.tokens"]
    return Config(
        n_layer=int(_field(reader, "llama.block_count")),
        d_model=d_model,
        n_head=n_head,
        n_kv_head=int(_field(reader, "llama.attention.head_count_kv", n_head)),
        d_ff=int(_field(reader, "llama.feed_forward_length")),
        vocab_size=int(_field(reader, "llama.vocab_size", len(tokens.data))),
        context_length=int(_field(reader, "llama.context_length")),
        rope_base=float(_field(reader, "llama.rope.freq_base", 10000.0)),
        rope_dim=int(_field(reader, "llama.rope.dimension_count", d_model // n_head)),
        rms_eps=float(_field(reader, "llama.attention.layer_norm_rms_epsilon")),
        bos_id=int(_field(reader, "tokenizer.ggml.bos_token_id")),
        eos_id=int(_field(reader, "tokenizer.ggml.eos_token_id")),
        chat_template=str(_field(reader, "tokenizer.chat_template", "")),
    )


@dataclass(frozen=True)
class Layer:
    """One transformer block. Matrices are stored ``(in, out)``, so a layer is ``x @ w``."""

    attn_norm: np.ndarray  # (d,)
    wqkv: np.ndarray  # (d, (n_head + 2 n_kv_head) head_dim): q, k, v side by side
    wo: np.ndarray  # (d, d)
    ffn_norm: np.ndarray  # (d,)
    w_gate_up: np.ndarray  # (d, 2 d_ff): gate, up side by side
    w_down: np.ndarray  # (d_ff, d)


@dataclass(frozen=True)
class Weights:
    config: Config
    tok_emb: np.ndarray  # (vocab, d); also the output head (tied)
    layers: tuple[Layer, ...]
    norm: np.ndarray  # (d,)
    control_ids: dict[str, int]  # control tokens ("<|im_end|>", ...) by text

    @property
    def nbytes(self) -> int:
        arrays = [self.tok_emb, self.norm]
        for layer in self.layers:
            arrays += [layer.attn_norm, layer.wqkv, layer.wo, layer.ffn_norm]
            arrays += [layer.w_gate_up, layer.w_down]
        return sum(a.nbytes for a in arrays)


def dequantise_gguf(path: Path) -> Weights:
    """Read a LLaMA GGUF file and dequantise every tensor to float32 (about 3.5 s for SmolLM2)."""
    import gguf

    reader = gguf.GGUFReader(path)
    config = read_config(reader)
    raw = {t.name: t for t in reader.tensors}

    def tensor(name: str) -> np.ndarray:
        t = raw[name]
        # numpy shape is (rows, cols) = (out, in): GGUF lists ne0 (the row length) first.
        return np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32)

    def stacked(*names: str) -> np.ndarray:
        # (out, in) matrices -> one contiguous (in, sum of outs) matrix.
        return np.ascontiguousarray(np.concatenate([tensor(n) for n in names], axis=0).T)

    layers = []
    for i in range(config.n_layer):
        p = f"blk.{i}."
        layers.append(
            Layer(
                attn_norm=tensor(p + "attn_norm.weight"),
                wqkv=stacked(p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"),
                wo=stacked(p + "attn_output.weight"),
                ffn_norm=tensor(p + "ffn_norm.weight"),
                w_gate_up=stacked(p + "ffn_gate.weight", p + "ffn_up.weight"),
                w_down=stacked(p + "ffn_down.weight"),
            )
        )
    if "output.weight" in raw:  # SmolLM2 ties the head to the embedding; others may not
        raise ValueError("this module implements a tied output head; the file has output.weight")
    tok_emb = tensor("token_embd.weight")
    # The metadata must agree with the tensors it describes.
    d, hd, d_ff = config.d_model, config.head_dim, config.d_ff
    expected = {
        "token_embd": (tok_emb.shape, (config.vocab_size, d)),
        "attn_q+k+v": (layers[0].wqkv.shape, (d, (config.n_head + 2 * config.n_kv_head) * hd)),
        "ffn_gate+up": (layers[0].w_gate_up.shape, (d, 2 * d_ff)),
        "ffn_down": (layers[0].w_down.shape, (d_ff, d)),
    }
    for name, (found, want) in expected.items():
        if found != want:
            raise ValueError(f"{name} has shape {found}; the metadata implies {want}")
    if config.rope_dim != hd:
        raise ValueError(f"partial rotary embedding ({config.rope_dim} of {hd}) not implemented")
    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    control = {tokens[i]: i for i, kind in enumerate(types) if kind == 3}  # 3 = CONTROL
    return Weights(config, tok_emb, tuple(layers), tensor("output_norm.weight"), control)


# The dequantised weights, cached on disk next to the GGUF file and memory-mapped: eight chapters
# load the model, and dequantising costs each of them seconds that reading a float32 copy does
# not. The cache is keyed by the GGUF file's sha256 and checked (size, format, CRC-32 of every
# byte) on each load; a missing, stale or corrupted cache is rebuilt.

#: Bump when the layout of the cache files changes.
WEIGHT_CACHE_FORMAT = 1
#: Arrays start on 64-byte boundaries inside the cache file (aligned loads for BLAS).
_ALIGN_FLOATS = 16


def weight_cache_paths(path: Path) -> tuple[Path, Path]:
    """(data file, manifest) of the float32 cache of the GGUF file ``path``."""
    return path.with_name(path.name + ".float32.npy"), path.with_name(path.name + ".float32.json")


def _named_arrays(weights: Weights) -> list[tuple[str, np.ndarray]]:
    arrays = [("tok_emb", weights.tok_emb), ("norm", weights.norm)]
    for i, layer in enumerate(weights.layers):
        for field in ("attn_norm", "wqkv", "wo", "ffn_norm", "w_gate_up", "w_down"):
            arrays.append((f"{i}.{field}", getattr(layer, field)))
    return arrays


def write_weight_cache(path: Path, digest: str, weights: Weights) -> None:
    """Write the float32 cache of ``weights`` (read from the GGUF file ``path``).

    Both files are written under temporary names and renamed into place, the manifest last, so
    a reader sees a complete cache or none; two processes writing at once write the same bytes.
    """
    data_path, manifest_path = weight_cache_paths(path)
    entries, offset = [], 0
    for name, array in _named_arrays(weights):
        entries.append([name, offset, list(array.shape)])
        offset += -(-array.size // _ALIGN_FLOATS) * _ALIGN_FLOATS
    blob = np.zeros(offset, dtype=np.float32)
    for (_, start, _shape), (_, array) in zip(entries, _named_arrays(weights), strict=True):
        blob[start : start + array.size] = array.ravel()
    suffix = f".{os.getpid()}.tmp"
    data_tmp = data_path.with_name(data_path.name + suffix)
    manifest_tmp = manifest_path.with_name(manifest_path.name + suffix)
    with open(data_tmp, "wb") as handle:
        np.save(handle, blob)
    manifest = {
        "format": WEIGHT_CACHE_FORMAT,
        "source_sha256": digest,
        "bytes": data_tmp.stat().st_size,
        "crc32": zlib.crc32(blob.data),
        "config": asdict(weights.config),
        "control_ids": weights.control_ids,
        "arrays": entries,
    }
    manifest_tmp.write_text(json.dumps(manifest), encoding="utf-8")
    os.replace(data_tmp, data_path)
    os.replace(manifest_tmp, manifest_path)


def read_weight_cache(path: Path, digest: str) -> Weights | None:
    """The cached weights of the GGUF file ``path`` (sha256 ``digest``), memory-mapped
    copy-on-write; None if the cache is missing, of another file or format, or corrupted."""
    data_path, manifest_path = weight_cache_paths(path)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        if manifest.get("format") != WEIGHT_CACHE_FORMAT or manifest.get("source_sha256") != digest:
            return None
        if data_path.stat().st_size != manifest["bytes"]:
            return None
        blob = np.load(data_path, mmap_mode="c")
        if blob.dtype != np.float32 or blob.ndim != 1 or zlib.crc32(blob.data) != manifest["crc32"]:
            return None
        arrays = {}
        for name, start, shape in manifest["arrays"]:
            size = int(np.prod(shape))
            arrays[name] = blob[start : start + size].reshape(shape)
        config = Config(**manifest["config"])
        layers = tuple(
            Layer(**{f: arrays[f"{i}.{f}"] for f in Layer.__dataclass_fields__})
            for i in range(config.n_layer)
        )
        control = {str(k): int(v) for k, v in manifest["control_ids"].items()}
        return Weights(config, arrays["tok_emb"], layers, arrays["norm"], control)
    except (OSError, ValueError, KeyError, TypeError):
        return None


@cache
def load_gguf(path: Path) -> Weights:
    """The float32 weights of a LLaMA GGUF file: from the on-disk cache next to it when that
    is valid (a fraction of a second), else dequantised and cached (once per path and process).
    If the folder is not writable, the weights are dequantised in memory every time."""
    path = Path(path)
    from llmbook import assets

    digest = assets.file_sha256(path)
    weights = read_weight_cache(path, digest)
    if weights is not None:
        return weights
    weights = dequantise_gguf(path)
    try:
        write_weight_cache(path, digest, weights)
    except OSError:
        return weights
    return read_weight_cache(path, digest) or weights


# ----------------------------------------------------------------------------------------------
# The building blocks


def rms_norm(x: np.ndarray, weight: np.ndarray, eps: float) -> np.ndarray:
    """``x / sqrt(mean(x**2) + eps) * weight`` over the last axis."""
    ms = np.mean(x * x, axis=-1, keepdims=True)
    return x / np.sqrt(ms + np.float32(eps)) * weight


def rope_angles(positions: np.ndarray, dim: int, base: float) -> tuple[np.ndarray, np.ndarray]:
    """``cos`` and ``sin`` of ``position * base**(-2i/dim)``, each ``(len(positions), dim/2)``."""
    inv_freq = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    angles = np.asarray(positions, dtype=np.float64)[:, None] * inv_freq[None, :]
    return np.cos(angles).astype(np.float32), np.sin(angles).astype(np.float32)


def apply_rope(
    x: np.ndarray, cos: np.ndarray, sin: np.ndarray, layout: str = ROPE_INTERLEAVED
) -> np.ndarray:
    """Rotate ``x`` of shape ``(T, heads, head_dim)`` by the angles of its ``T`` positions.

    Each pair of dimensions is turned by its own angle, ``(a, b) -> (a cos - b sin,
    a sin + b cos)``. ``layout`` says which dimensions form a pair: ``"interleaved"``
    (``2i, 2i+1``, llama.cpp and GGUF) or ``"halves"`` (``i, i + head_dim/2``, Hugging Face).
    """
    half = x.shape[-1] // 2
    if layout == ROPE_INTERLEAVED:
        first, second = slice(0, None, 2), slice(1, None, 2)
    elif layout == ROPE_HALVES:
        first, second = slice(0, half), slice(half, None)
    else:
        raise ValueError(f"unknown RoPE layout {layout!r}")
    a, b = x[..., first], x[..., second]
    c, s = cos[:, None, :], sin[:, None, :]  # the same angles for every head
    out = np.empty_like(x)
    out[..., first] = a * c - b * s
    out[..., second] = a * s + b * c
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def silu(x: np.ndarray) -> np.ndarray:
    return x / (np.float32(1) + np.exp(-x))


class KVCache:
    """Keys and values of the positions seen so far, per layer: ``(n_kv_head, length, head_dim)``.

    The buffers grow by doubling, so one-token steps append without copying the whole past.
    """

    def __init__(self, config: Config, capacity: int = 64):
        self.config = config
        self.length = 0
        shape = (config.n_kv_head, capacity, config.head_dim)
        self.k = [np.empty(shape, np.float32) for _ in range(config.n_layer)]
        self.v = [np.empty(shape, np.float32) for _ in range(config.n_layer)]

    def update(self, layer: int, k: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Store ``k``, ``v`` ``(n_kv_head, T, head_dim)`` after the cached positions of
        ``layer``; return all keys and values so far. Call :meth:`advance` after the last layer."""
        end = self.length + k.shape[1]
        if end > self.k[layer].shape[1]:
            capacity = max(end, 2 * self.k[layer].shape[1])
            for buffers in (self.k, self.v):
                grown = np.empty((k.shape[0], capacity, k.shape[2]), np.float32)
                grown[:, : self.length] = buffers[layer][:, : self.length]
                buffers[layer] = grown
        self.k[layer][:, self.length : end] = k
        self.v[layer][:, self.length : end] = v
        return self.k[layer][:, :end], self.v[layer][:, :end]

    def advance(self, n: int) -> None:
        self.length += n


def attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, start: int) -> np.ndarray:
    """Causal grouped-query attention.

    ``q`` is ``(T, n_head, hd)`` for positions ``start .. start+T-1``; ``k``, ``v`` are
    ``(n_kv_head, S, hd)`` for positions ``0 .. S-1``. Query head ``h`` reads key/value head
    ``h // (n_head / n_kv_head)``. Returns ``(T, n_head * hd)``.
    """
    T, n_head, hd = q.shape
    n_kv, S, _ = k.shape
    group = n_head // n_kv
    # Scores, softmax and the weighted sum run in float64. Next to the weight matrices they cost
    # little, and the result no longer depends on how a sequence is cut into steps: in float32
    # the rounding of a softmax sum depends on its length (masked zeros included), which moves
    # the logits by ~1e-4 between a full pass and a cached one.
    k, v = k.astype(np.float64), v.astype(np.float64)
    # (T, n_kv, group, hd) -> (n_kv, group * T, hd): every group shares one K and V matrix.
    qg = q.reshape(T, n_kv, group, hd).transpose(1, 2, 0, 3).reshape(n_kv, group * T, hd)
    scores = (qg.astype(np.float64) @ k.transpose(0, 2, 1)) / np.sqrt(hd)  # (n_kv, g*T, S)
    scores = scores.reshape(n_kv, group, T, S)
    future = np.arange(S)[None, :] > (start + np.arange(T))[:, None]  # (T, S)
    scores[..., future] = -np.inf
    out = softmax(scores).reshape(n_kv, group * T, S) @ v  # (n_kv, g*T, hd)
    out = out.reshape(n_kv, group, T, hd).transpose(2, 0, 1, 3).reshape(T, n_head * hd)
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# The model


class Model:
    """A LLaMA-architecture language model running in numpy.

    ``logits(ids)`` runs a whole prompt; ``step(ids, cache)`` continues from a
    :class:`KVCache` (a prefill of many tokens, or one token at a time); ``generate`` decodes
    greedily from a text prompt.
    """

    def __init__(self, weights: Weights, path: Path, rope: str = ROPE_INTERLEAVED):
        self.weights = weights
        self.config = weights.config
        self.path = path
        self.rope = rope

    @classmethod
    def load(cls, path: str | Path | None = None) -> Model:
        """The model in GGUF file ``path`` (default: the book's SmolLM2-135M-Instruct asset)."""
        if path is None:
            from llmbook import assets

            path = assets.path(ASSET)
        path = Path(path).resolve()
        return cls(load_gguf(path), path)

    # -- the forward pass ----------------------------------------------------------------------

    def new_cache(self) -> KVCache:
        return KVCache(self.config)

    def hidden(self, token_ids, cache: KVCache) -> np.ndarray:
        """Final-norm hidden states ``(T, d)`` of ``token_ids``, which follow ``cache``."""
        cfg, w = self.config, self.weights
        ids = np.asarray(token_ids, dtype=np.int64).reshape(-1)
        T, start, hd = len(ids), cache.length, cfg.head_dim
        if start + T > cfg.context_length:
            raise ValueError(f"{start + T} positions exceed the context of {cfg.context_length}")
        cos, sin = rope_angles(np.arange(start, start + T), cfg.rope_dim, cfg.rope_base)
        n_q, n_kv = cfg.n_head * hd, cfg.n_kv_head * hd

        x = w.tok_emb[ids]  # (T, d)
        for i, layer in enumerate(w.layers):
            # attention
            h = rms_norm(x, layer.attn_norm, cfg.rms_eps)
            qkv = h @ layer.wqkv
            q = qkv[:, :n_q].reshape(T, cfg.n_head, hd)
            k = qkv[:, n_q : n_q + n_kv].reshape(T, cfg.n_kv_head, hd)
            v = qkv[:, n_q + n_kv :].reshape(T, cfg.n_kv_head, hd)
            q = apply_rope(q, cos, sin, self.rope)
            k = apply_rope(k, cos, sin, self.rope)
            keys, values = cache.update(i, k.transpose(1, 0, 2), v.transpose(1, 0, 2))
            x = x + attention(q, keys, values, start) @ layer.wo
            # SwiGLU MLP
            h = rms_norm(x, layer.ffn_norm, cfg.rms_eps)
            gate, up = np.split(h @ layer.w_gate_up, 2, axis=-1)
            x = x + (silu(gate) * up) @ layer.w_down
        cache.advance(T)
        return rms_norm(x, w.norm, cfg.rms_eps)

    def head(self, h: np.ndarray) -> np.ndarray:
        """Logits from hidden states: the output head is the token embedding (tied)."""
        return h @ self.weights.tok_emb.T

    def step(self, token_ids, cache: KVCache) -> np.ndarray:
        """Logits ``(T, vocab)`` of ``token_ids`` continuing the sequence held in ``cache``."""
        return self.head(self.hidden(token_ids, cache))

    def logits(self, token_ids) -> np.ndarray:
        """Logits ``(T, vocab)`` of a whole sequence (a fresh cache)."""
        return self.step(token_ids, self.new_cache())

    # -- text in, text out ---------------------------------------------------------------------

    @property
    def tokenizer(self):
        """The GGUF file's own tokenizer (:func:`llmbook.tokenizers.from_gguf`, cached there)."""
        from llmbook import tokenizers

        return tokenizers.from_gguf(self.path)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``; control tokens written in it (``<|im_start|>``) become one id."""
        return self.tokenizer.encode(text, special=True)

    def decode(self, ids) -> str:
        return self.tokenizer.decode([int(i) for i in ids])

    @property
    def stop_ids(self) -> frozenset[int]:
        """End of turn (``<|im_end|>``) and end of text: greedy decoding stops at either."""
        control = self.weights.control_ids
        names = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>")
        return frozenset({self.config.eos_id} | {control[n] for n in names if n in control})

    def generate(self, prompt: str, max_tokens: int = 32, chat: bool = True, progress=None) -> dict:
        """Greedy continuation of ``prompt`` (as a user turn if ``chat``), at most
        ``max_tokens`` tokens, stopping at end of turn. Returns ``text`` (the completion only),
        ``tokens`` (its ids), ``prompt_tokens``, ``prefill_seconds`` (the prompt's forward pass,
        which fills the KV cache) and ``seconds`` (wall time, prefill included).

        ``progress``, if given, is called as ``progress(stage, done, total)``: once with
        ``("prefill", 0, prompt_tokens)`` before the prompt's pass, then with
        ``("decode", n, max_tokens)`` after each generated token."""
        start = time.perf_counter()
        text = chat_prompt([{"role": "user", "content": prompt}]) if chat else prompt
        ids = self.encode(text)
        cache = self.new_cache()
        out: list[int] = []
        next_input = ids
        prefill_seconds = None
        if progress:
            progress("prefill", 0, len(ids))
        for _ in range(max_tokens):
            logits = self.head(self.hidden(next_input, cache)[-1])
            if prefill_seconds is None:
                prefill_seconds = time.perf_counter() - start
            token = int(np.argmax(logits))
            if token in self.stop_ids:
                break
            out.append(token)
            next_input = [token]
            if progress:
                progress("decode", len(out), max_tokens)
        return {
            "text": self.decode(out),
            "tokens": out,
            "prompt_tokens": len(ids),
            "prefill_seconds": prefill_seconds or 0.0,
            "seconds": time.perf_counter() - start,
        }


# ----------------------------------------------------------------------------------------------
# Tokenizer and chat prompt

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chat_prompt(
    messages: list[dict[str, str]],
    add_generation_prompt: bool = True,
    default_system: str | None = DEFAULT_SYSTEM,
) -> str:
    """The ChatML text of ``messages``, as SmolLM2's ``tokenizer.chat_template`` writes it
    (the tests render that Jinja template from the GGUF file and compare).

    Each message becomes ``<|im_start|>role\\ncontent<|im_end|>\\n``; a conversation that does
    not open with a system message gets the template's default one; the generation prompt
    ``<|im_start|>assistant\\n`` ends the text.
    """
    parts = []
    if messages and messages[0]["role"] != "system" and default_system is not None:
        parts.append(f"<|im_start|>system\n{default_system}<|im_end|>\n")
    for message in messages:
        parts.append(f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n")
    if add_generation_prompt:
        parts.append("<|im_start|>assistant\n")
    return "".join(parts)


def generate(prompt: str, max_tokens: int = 32, chat: bool = True, progress=None) -> dict:
    """:meth:`Model.generate` with the default model (loaded once)."""
    return Model.load().generate(prompt, max_tokens=max_tokens, chat=chat, progress=progress)
