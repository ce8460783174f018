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
    shared_experts: int | None = None
    expert_ffn_dim: int | None = None
    dense_layers: int | None = None
    moe_layer_step: int | None = None
    kv_lora_rank: int | None = None
    q_lora_rank: int | None = None
    rope_head_dim: int | None = None
    v_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_layers: int | None = None

    def __post_init__(self) -> None:
        for name in ("layers", "d_model", "heads", "vocab_size"):
            value = getattr(self, name)
            if name == "vocab_size" and value is None:
                continue  # unknown vocabulary: per-layer counts still work, totals do not
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.attention == "mla" and not (self.kv_lora_rank and self.rope_head_dim):
            raise ValueError(
                "multi-head latent attention (DeepSeek-V2/V3) needs kv_lora_rank and "
                "rope_head_dim (and head_dim = nope + rope width) from the model's config.json"
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


def mla_attention_params(shape: Shape) -> int:
    """One multi-head latent attention block (DeepSeek-V2 §2.1; DeepSeek-V3 inference/model.py).

    With d = d_model, h = heads, k = head_dim (= nope + rope width), r = rope_head_dim,
    c = kv_lora_rank, c' = q_lora_rank, v = v_head_dim: queries d·c' + c' + c'·h·k (down,
    norm, up; d·h·k when q_lora_rank is 0), keys and values d·(c + r) + c + c·h·(k - r + v)
    (a shared compressed latent plus one shared RoPE key, its norm, the up-projection of the
    non-RoPE keys and the values), output h·v·d.
    """
    d, h, k = shape.d_model, shape.heads, shape.n_head_dim
    c, r = shape.kv_lora_rank, shape.rope_head_dim
    v = shape.v_head_dim or k - r
    cq = shape.q_lora_rank or 0
    query = d * cq + cq + cq * h * k if cq else d * h * k
    key_value = d * (c + r) + c + c * h * (k - r + v)
    return query + key_value + h * v * d


def attention_params(shape: Shape) -> int:
    """One attention block: query, key, value and output projections (and their biases)."""
    if shape.attention == "mla":
        return mla_attention_params(shape)
    d, k = shape.d_model, shape.n_head_dim
    q_width, kv_width = shape.heads * k, shape.n_kv_heads * k
    weights = d * q_width + 2 * d * kv_width + q_width * d
    biases = (q_width + 2 * kv_width + d) if shape.linear_bias else 0
    return weights + biases


def _mlp_params(shape: Shape, width: int) -> int:
    """One plain or gated MLP of hidden ``width`` (with biases if the model has them)."""
    d = shape.d_model
    matrices = 3 if shape.gated else 2
    return matrices * d * width + (((matrices - 1) * width + d) if shape.linear_bias else 0)


def moe_layers(shape: Shape, layers: int | None = None) -> int:
    """Decoder layers whose feed-forward block is a mixture of experts.

    The first ``dense_layers`` are dense (DeepSeek-V3: 3); after them every
    ``moe_layer_step``-th layer is a mixture (Llama 4 Maverick alternates, step 2)."""
    if not shape.n_experts:
        return 0
    layers = shape.layers if layers is None else layers
    candidates = layers - (shape.dense_layers or 0)
    step = shape.moe_layer_step or 1
    return -(-candidates // step)


def expert_params(shape: Shape) -> int:
    """One routed expert (width ``expert_ffn_dim``, else ``ffn_dim``)."""
    return _mlp_params(shape, shape.expert_ffn_dim or shape.n_ffn)


def moe_ffn_params(shape: Shape, experts: int | None = None) -> int:
    """One mixture-of-experts block: ``experts`` routed experts (all by default), the shared
    experts (always used) and the router (d_model × routed experts)."""
    experts = shape.n_experts if experts is None else experts
    shared = (shape.shared_experts or 0) * expert_params(shape)
    return experts * expert_params(shape) + shared + shape.d_model * shape.n_experts


def ffn_params(shape: Shape) -> int:
    """One dense feed-forward block (width ``ffn_dim``), or, for a model whose every layer is
    a mixture of experts, one mixture block with all its experts and router."""
    if shape.n_experts and moe_layers(shape) == shape.layers:
        return moe_ffn_params(shape)
    return _mlp_params(shape, shape.n_ffn)


def _ffn_total(shape: Shape, experts: int | None = None, layers: int | None = None) -> int:
    """Feed-forward parameters of a stack of ``layers`` (default: the decoder's), counting
    ``experts`` routed experts per mixture layer (default: all)."""
    layers = shape.layers if layers is None else layers
    moe = moe_layers(shape, layers)
    dense = (layers - moe) * _mlp_params(shape, shape.n_ffn)
    return dense + (moe * moe_ffn_params(shape, experts) if moe else 0)


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
        ffn += _ffn_total(shape, layers=layers)
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
    """Parameters used per token: in each mixture layer only experts_per_token routed experts
    (plus the shared experts and the router); attention, dense layers and embeddings in full.
    Like the published counts (Mixtral 12.9B, DeepSeek-V3 37B), the input embedding and the
    output head are included."""
    total = param_counts(shape)["total"]
    if not shape.n_experts:
        return total
    used = shape.experts_per_token or shape.n_experts
    stacks = [shape.layers] + ([shape.encoder_layers] if shape.encoder_layers else [])
    return total - sum(_ffn_total(shape, None, n) - _ffn_total(shape, used, n) for n in stacks)


def non_embedding_params(shape: Shape) -> int:
    """Kaplan et al.'s N: all parameters except token/position embeddings and the head."""
    counts = param_counts(shape)
    return counts["total"] - counts["embedding"] - counts["head"]
