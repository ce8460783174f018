"""Parameter counts from a model's shape.

A transformer's parameters are a sum of matrix and vector sizes fixed by a handful of numbers
(layers, widths, heads, vocabulary). :func:`param_counts` adds them up by component, for
decoder-only and encoder-decoder models, multi-head, grouped-query and multi-query attention,
plain (ReLU/GeLU) and gated (SwiGLU/GeGLU) feed-forward blocks, LayerNorm or RMSNorm, with or
without biases, tied or untied output head, learned or parameter-free positions, and
mixture-of-experts feed-forward layers.

Counts per layer, with d = d_model, h = heads, g = kv_heads, k = head_dim, f = ffn_dim:

- attention: d·h·k (query) + 2·d·g·k (key, value) + h·k·d (output); biases add h·k + 2·g·k + d;
- feed-forward: 2·d·f (plain) or 3·d·f (gated: gate, up, down); biases add f + d (plain) or
  2·f + d (gated); a mixture of E experts has E copies plus a d·E router;
- norms: 2 per decoder layer (3 with cross-attention), d each for RMSNorm, 2·d for LayerNorm
  with bias; one final norm per stack;
- embeddings: V·d for tokens, plus n_ctx·d for learned positions; an untied head adds V·d.

Checked against published exact counts (tests): GPT-2 small 124,439,808 (with biases; nanoGPT's
bias-free variant 124,337,664), BLOOM-176B 176,247,271,424, Baichuan-7B 7,000,559,616 and
mT0-large (mT5-large) 1,229,581,312.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import pandas as pd

GATED_ACTIVATIONS = ("swiglu", "geglu")


@dataclass(frozen=True)
class Shape:
    """The numbers that fix a transformer's parameter count (widths in units, counts in items).

    ``kv_heads`` defaults to ``heads`` (multi-head attention), ``head_dim`` to d_model / heads,
    ``ffn_dim`` to 4·d_model. ``norm_bias`` defaults to True for LayerNorm and False for RMSNorm.
    ``relative_attention_buckets`` is T5's learned relative-position bias (buckets × heads per
    stack); ``encoder_layers`` > 0 makes an encoder-decoder whose decoder layers also have
    cross-attention.
    """

    layers: int
    d_model: int
    heads: int
    vocab_size: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    ffn_dim: int | None = None
    encoder_layers: int = 0
    context_length: int | None = None
    position_encoding: str = "rope"
    norm: str = "rmsnorm"
    norm_bias: bool | None = None
    activation: str = "swiglu"
    attention: str = "mha"
    tied_embeddings: bool = False
    linear_bias: bool = False
    n_experts: int | None = None
    experts_per_token: int | None = None
    relative_attention_buckets: int = 0

    def __post_init__(self) -> None:
        for name in ("layers", "d_model", "heads", "vocab_size"):
            value = getattr(self, name)
            if name == "vocab_size" and value is None:
                continue  # unknown vocabulary: per-layer counts still work, totals do not
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.attention == "mla":
            raise NotImplementedError(
                "multi-head latent attention (DeepSeek-V2/V3) compresses keys and values through "
                "low-rank projections that architectures.csv does not describe; count it from "
                "the model's own configuration"
            )
        if self.kv_heads is not None and self.heads % self.kv_heads:
            raise ValueError(
                f"heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})"
            )
        if self.position_encoding == "learned" and not self.context_length:
            raise ValueError("learned positions need context_length (one vector per position)")

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads or self.heads

    @property
    def n_head_dim(self) -> int:
        return self.head_dim or self.d_model // self.heads

    @property
    def n_ffn(self) -> int:
        return self.ffn_dim or 4 * self.d_model

    @property
    def gated(self) -> bool:
        return self.activation in GATED_ACTIVATIONS

    @property
    def has_norm_bias(self) -> bool:
        return self.norm == "layernorm" if self.norm_bias is None else self.norm_bias

    @classmethod
    def from_row(cls, row: pd.Series | dict) -> Shape:
        """A Shape from a row of ``catalog.load("architectures")`` (missing cells -> defaults)."""
        row = dict(row)
        kwargs = {}
        for field in fields(cls):
            value = row.get(field.name)
            if value is None or (not isinstance(value, str) and pd.isna(value)):
                continue
            kwargs[field.name] = value.item() if hasattr(value, "item") else value
        for key in ("linear_bias", "tied_embeddings"):
            if key in kwargs:
                kwargs[key] = bool(kwargs[key])
        missing = [n for n in ("layers", "d_model", "heads") if n not in kwargs]
        if missing:
            name = row.get("model", "this row")
            raise ValueError(f"{name}: cannot count parameters without {', '.join(missing)}")
        return cls(**kwargs)


def attention_params(shape: Shape) -> int:
    """One attention block: query, key, value and output projections (and their biases)."""
    d, k = shape.d_model, shape.n_head_dim
    q_width, kv_width = shape.heads * k, shape.n_kv_heads * k
    weights = d * q_width + 2 * d * kv_width + q_width * d
    biases = (q_width + 2 * kv_width + d) if shape.linear_bias else 0
    return weights + biases


def ffn_params(shape: Shape) -> int:
    """One feed-forward block (all experts and the router for a mixture of experts)."""
    d, f = shape.d_model, shape.n_ffn
    matrices = 3 if shape.gated else 2
    one = matrices * d * f + (((matrices - 1) * f + d) if shape.linear_bias else 0)
    if shape.n_experts:
        return shape.n_experts * one + d * shape.n_experts
    return one


def norm_params(shape: Shape) -> int:
    """One normalisation layer: a gain vector, plus a bias vector for LayerNorm with bias."""
    return shape.d_model * (2 if shape.has_norm_bias else 1)


def param_counts(shape: Shape) -> dict[str, int]:
    """Parameters by component, and their ``total``.

    Keys: ``embedding`` (tokens and learned positions), ``attention``, ``ffn``, ``norm``,
    ``position_bias`` (T5 relative buckets), ``head`` (0 when tied), ``total``.
    """
    if shape.vocab_size is None:
        raise ValueError("cannot count the embeddings without vocab_size")
    cross = shape.encoder_layers > 0
    stacks = [(shape.layers, cross)] + ([(shape.encoder_layers, False)] if cross else [])
    attention = ffn = norms = 0
    for layers, with_cross in stacks:
        attention += layers * attention_params(shape) * (2 if with_cross else 1)
        ffn += layers * ffn_params(shape)
        norms += layers * norm_params(shape) * (3 if with_cross else 2) + norm_params(shape)
    embedding = shape.vocab_size * shape.d_model
    if shape.position_encoding == "learned":
        embedding += shape.context_length * shape.d_model
    position_bias = shape.relative_attention_buckets * shape.heads * len(stacks)
    head = 0 if shape.tied_embeddings else shape.vocab_size * shape.d_model
    counts = {
        "embedding": embedding,
        "attention": attention,
        "ffn": ffn,
        "norm": norms,
        "position_bias": position_bias,
        "head": head,
    }
    counts["total"] = sum(counts.values())
    return counts


def active_params(shape: Shape) -> int:
    """Parameters used per token: for a mixture of experts, only experts_per_token experts."""
    total = param_counts(shape)["total"]
    if not shape.n_experts:
        return total
    unused = shape.n_experts - (shape.experts_per_token or shape.n_experts)
    expert = ffn_params(Shape(**{**shape.__dict__, "n_experts": None}))
    all_layers = shape.layers + shape.encoder_layers
    return total - all_layers * unused * expert


def non_embedding_params(shape: Shape) -> int:
    """Kaplan et al.'s N: all parameters except token/position embeddings and the head."""
    counts = param_counts(shape)
    return counts["total"] - counts["embedding"] - counts["head"]
