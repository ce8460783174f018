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
  2·f + d (gated); a mixture-of-experts layer has E routed and S shared experts of width f_e
  (``expert_ffn_dim``, default f) plus a d·E router; the first ``dense_layers`` layers (and,
  with ``moe_layer_step`` s > 1, all but every s-th of the others) keep a dense block of width f;
- multi-head latent attention (DeepSeek-V2/V3, c = kv_lora_rank, c' = q_lora_rank, r =
  rope_head_dim, k = head_dim = nope + r, v = v_head_dim): queries d·c' + c' + c'·h·k (or d·h·k
  without c'); keys and values d·(c + r) + c + c·h·(k − r + v); output h·v·d;
- norms: 2 per decoder layer (3 with cross-attention), d each for RMSNorm, 2·d for LayerNorm
  with bias; one final norm per stack;
- embeddings: V·d for tokens, plus n_ctx·d for learned positions; an untied head adds V·d.

Checked against published exact counts (tests): GPT-2 small 124,439,808 (with biases; nanoGPT's
bias-free variant 124,337,664), BLOOM-176B 176,247,271,424, Baichuan-7B 7,000,559,616 and
mT0-large (mT5-large) 1,229,581,312; and the totals and active counts that DeepSeek-V3 and
Mixtral report (671B with 37B active, 46.7B with 12.9B active).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

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
    shared_experts: int = 0
    expert_ffn_dim: int | None = None
    dense_layers: int = 0
    moe_layer_step: int = 1
    q_lora_rank: int | None = None
    kv_lora_rank: int | None = None
    rope_head_dim: int | None = None
    v_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_layers: int = 0
    relative_attention_buckets: int = 0

    def __post_init__(self) -> None:
        for name in ("layers", "d_model", "heads", "vocab_size"):
            value = getattr(self, name)
            if name == "vocab_size" and value is None:
                continue  # unknown vocabulary: per-layer counts still work, totals do not
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.attention == "mla":
            needed = ("kv_lora_rank", "rope_head_dim", "v_head_dim", "head_dim")
            missing = [n for n in needed if not getattr(self, n)]
            if missing:
                raise ValueError(
                    "multi-head latent attention needs " + ", ".join(missing) + " (from the "
                    "model's config.json: kv_lora_rank, qk_rope_head_dim, v_head_dim, "
                    "qk_nope_head_dim + qk_rope_head_dim)"
                )
        if self.moe_layer_step < 1 or self.dense_layers < 0 or self.dense_layers > self.layers:
            raise ValueError("moe_layer_step must be >= 1 and dense_layers within the layers")
        if self.sliding_layers > self.layers:
            raise ValueError("sliding_layers cannot exceed layers")
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
    def n_expert_ffn(self) -> int:
        return self.expert_ffn_dim or self.n_ffn

    @property
    def moe_layers(self) -> int:
        """Layers (of one stack) whose feed-forward block is a mixture of experts."""
        if not self.n_experts:
            return 0
        return (self.layers - self.dense_layers) // self.moe_layer_step

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
    if shape.attention == "mla":
        h, r, c, v = shape.heads, shape.rope_head_dim, shape.kv_lora_rank, shape.v_head_dim
        cq = shape.q_lora_rank
        query = d * cq + cq + cq * h * k if cq else d * h * k
        keys_values = d * (c + r) + c + c * h * (k - r + v)
        return query + keys_values + h * v * d
    q_width, kv_width = shape.heads * k, shape.n_kv_heads * k
    weights = d * q_width + 2 * d * kv_width + q_width * d
    biases = (q_width + 2 * kv_width + d) if shape.linear_bias else 0
    return weights + biases


def _one_ffn(shape: Shape, width: int) -> int:
    d = shape.d_model
    matrices = 3 if shape.gated else 2
    return matrices * d * width + (((matrices - 1) * width + d) if shape.linear_bias else 0)


def expert_params(shape: Shape) -> int:
    """One expert of a mixture-of-experts layer (a feed-forward block of ``expert_ffn_dim``)."""
    return _one_ffn(shape, shape.n_expert_ffn)


def ffn_params(shape: Shape) -> int:
    """One feed-forward block: of a mixture-of-experts layer (routed and shared experts, router)
    when the model has experts, else the dense block."""
    if shape.n_experts:
        experts = (shape.n_experts + shape.shared_experts) * expert_params(shape)
        return experts + shape.d_model * shape.n_experts
    return _one_ffn(shape, shape.n_ffn)


def ffn_stack_params(shape: Shape) -> int:
    """The feed-forward blocks of one stack: mixture-of-experts layers and dense layers."""
    dense = shape.layers - shape.moe_layers
    return shape.moe_layers * ffn_params(shape) + dense * _one_ffn(shape, shape.n_ffn)


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
        ffn += ffn_stack_params(replace(shape, layers=layers))
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
    """Parameters used per token: in each mixture-of-experts layer only ``experts_per_token``
    routed experts (and the shared ones) work on a token."""
    total = param_counts(shape)["total"]
    if not shape.n_experts:
        return total
    unused = shape.n_experts - (shape.experts_per_token or shape.n_experts)
    return total - shape.moe_layers * unused * expert_params(shape)


def non_embedding_params(shape: Shape) -> int:
    """Kaplan et al.'s N: all parameters except token/position embeddings and the head."""
    counts = param_counts(shape)
    return counts["total"] - counts["embedding"] - counts["head"]
