"""Memory: weights in any precision or quantised format, training states, activations, KV cache.

All results are in bytes. GPU memory sizes in ``hardware.csv`` are the vendor's decimal GB
(1 GB = 1e9 bytes); :func:`fits` compares in those units.
"""

from __future__ import annotations

from dataclasses import replace

from llmbook.architecture import Shape, active_params, param_counts
from llmbook.compute import _floats, _positive

#: Bytes per value of plain number formats.
DTYPE_BYTES = {
    "fp32": 4.0,
    "tf32": 4.0,
    "bf16": 2.0,
    "fp16": 2.0,
    "fp8": 1.0,
    "int8": 1.0,
    "int4": 0.5,
}

#: QLoRA's 4-bit NormalFloat (Dettmers et al. 2023, §3): 4-bit codes plus one fp32 absmax
#: constant per block of 64 weights (32/64 = 0.5 bits per weight) ...
NF4_BLOCK = 64
#: ... or, with double quantisation, 8-bit constants plus one fp32 constant per 256 of them:
#: 8/64 + 32/(64·256) = 0.127 bits per weight (Dettmers et al. 2023, §3 "Double Quantization").
NF4_DQ_BLOCK2 = 256

#: GPTQ checkpoints as AutoGPTQ stores them (auto_gptq/nn_modules/qlinear/qlinear_cuda.py,
#: QuantLinear): the weights packed at ``bits`` each (``qweight``), and per group of
#: ``group_size`` input rows and per output column one fp16 scale (``scales``) and one
#: ``bits``-wide zero point (``qzeros``); the group size most checkpoints use is 128 (AutoGPTQ's
#: and AutoAWQ's default). Not counted: ``g_idx``, one int32 per input row, i.e. 32/d_out bits per
#: weight (under 0.01 for d_out >= 4,096).
GPTQ_GROUP = 128
GPTQ_FORMATS = {"gptq-int4": 4, "gptq-int8": 8}
#: Evenly spaced int4 levels with one fp32 absmax constant per block of 64, the block layout of
#: NF4 (:data:`NF4_BLOCK`) with int4 codes: what the QLoRA chapter compares NF4 against.
INT4_BLOCK_FORMAT = "int4-b64"


def bits_per_weight(fmt: str) -> float:
    """Storage bits per weight, block scales included.

    ``fmt`` is a plain format (fp32, bf16, fp16, fp8, int8, int4: no scales counted), ``nf4`` or
    ``nf4-dq`` (QLoRA), ``int4-b64`` (int4 levels, absmax per 64), ``gptq-int4``/``gptq-int8``
    (group-wise scales and zero points, :data:`GPTQ_GROUP`: 4 + 20/128 = 4.16 bits), or a
    GGUF/GGML type name (Q4_0, Q4_1, Q8_0, Q4_K, Q6_K, ...), whose block size and bytes per
    block come from the ``gguf`` package's GGML_QUANT_SIZES (the llama.cpp block layouts: Q4_0
    stores 32 4-bit weights and one fp16 scale, 4.5 bits each).
    """
    key = fmt.strip()
    if key.lower() in DTYPE_BYTES:
        return DTYPE_BYTES[key.lower()] * 8
    if key.lower() == "nf4":
        return 4 + 32 / NF4_BLOCK
    if key.lower() == "nf4-dq":
        return 4 + 8 / NF4_BLOCK + 32 / (NF4_BLOCK * NF4_DQ_BLOCK2)
    if key.lower() == INT4_BLOCK_FORMAT:
        return 4 + 32 / NF4_BLOCK
    if key.lower() in GPTQ_FORMATS:
        bits = GPTQ_FORMATS[key.lower()]
        return bits + (16 + bits) / GPTQ_GROUP
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    try:
        block, type_bytes = GGML_QUANT_SIZES[GGMLQuantizationType[key.upper()]]
    except KeyError:
        known = sorted(
            [*DTYPE_BYTES, "nf4", "nf4-dq", INT4_BLOCK_FORMAT, *GPTQ_FORMATS]
            + ["Q4_0", "Q4_1", "Q8_0", "Q4_K", "Q6_K"]
        )
        raise ValueError(f"unknown weight format {fmt!r}; known: {', '.join(known)}") from None
    return type_bytes * 8 / block


def weight_bytes(params: float, fmt: str = "bf16") -> float:
    """Bytes to hold ``params`` weights in format ``fmt`` (see :func:`bits_per_weight`)."""
    _positive(params=params)
    return float(params) * bits_per_weight(fmt) / 8


#: Mixed-precision Adam (Rajbhandari et al. 2020, ZeRO, §3.1): fp16 weights (2 bytes) and
#: gradients (2 bytes), plus K = 12 bytes of optimizer state (fp32 master weights, momentum and
#: variance): 16 bytes per parameter in all.
ADAM_WEIGHT_BYTES = 2
ADAM_GRAD_BYTES = 2
ADAM_STATE_BYTES = 12


def training_state_bytes(params: float, zero_stage: int = 0, gpus: int = 1) -> float:
    """Per-GPU bytes of weights, gradients and Adam states under ZeRO stage 0-3 (ZeRO Fig. 1).

    Stage 1 partitions the optimizer states over ``gpus``, stage 2 also the gradients, stage 3
    also the weights: (2 + 2 + 12)·Ψ, 2Ψ + 2Ψ + 12Ψ/n, 2Ψ + 14Ψ/n, 16Ψ/n.
    """
    _positive(params=params, gpus=gpus)
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage must be 0, 1, 2 or 3, got {zero_stage!r}")
    w, g, s = ADAM_WEIGHT_BYTES, ADAM_GRAD_BYTES, ADAM_STATE_BYTES
    shard = [(w, g, s), (w, g, s / gpus), (w, g / gpus, s / gpus), (w / gpus, g / gpus, s / gpus)]
    return float(params) * sum(shard[zero_stage])


def activation_bytes(
    shape: Shape, sequence: int, batch: int, recompute: str = "none", tensor_parallel: int = 1
) -> float:
    """Activation memory of all layers in 16-bit training (Korthikanti et al. 2022, §4, Table 2).

    Per layer: s·b·h·(34 + 5·a·s/h) bytes with no recomputation (s sequence, b micro-batch,
    h d_model, a heads); 34·s·b·h with selective recomputation (attention scores recomputed);
    2·s·b·h with full recomputation (only each layer's input kept). Tensor parallelism t
    divides the first by t (with sequence parallelism, Table 2's last rows).
    """
    _positive(sequence=sequence, batch=batch, tensor_parallel=tensor_parallel)
    s, b, h, a = _floats(sequence, batch, shape.d_model, shape.heads)
    per_layer = {
        "none": s * b * h * (34 + 5 * a * s / h) / tensor_parallel,
        "selective": 34 * s * b * h / tensor_parallel,
        "full": 2 * s * b * h,
    }
    if recompute not in per_layer:
        raise ValueError(f"recompute must be one of {sorted(per_layer)}, got {recompute!r}")
    return (shape.layers + shape.encoder_layers) * per_layer[recompute]


def kv_values_per_token_per_layer(shape: Shape) -> int:
    """Values one attention layer caches per token, by attention kind.

    Multi-head, grouped-query and multi-query attention cache a key and a value per KV head:
    2 · kv_heads · head_dim (kv_heads = heads, a group's count, or 1), or
    kv_heads · (head_dim + v_head_dim) when the values are narrower than the keys (the
    uncompressed form of MLA, :func:`uncompressed_attention`). Multi-head latent
    attention (DeepSeek-V2 §2.1.2) caches one compressed latent and one shared RoPE key:
    kv_lora_rank + rope_head_dim (DeepSeek-V3: 512 + 64 = 576, against 128·(192 + 128) =
    40,960 for the same heads caching full keys and values).
    """
    if shape.attention == "mla":
        return shape.kv_lora_rank + shape.rope_head_dim
    value_dim = shape.v_head_dim or shape.n_head_dim  # values narrower than keys: see below
    return shape.n_kv_heads * (shape.n_head_dim + value_dim)


def uncompressed_attention(shape: Shape, kv_heads: int | None = None) -> Shape:
    """The same attention caching full keys and values instead of MLA's latent.

    DeepSeek's reference inference code has both caches (DeepSeek-V3 ``inference/model.py``,
    class MLA): ``attn_impl="naive"`` keeps a key of ``qk_head_dim`` (= ``head_dim``, 192) and a
    value of ``v_head_dim`` (128) per head and token; the default ``"absorb"`` keeps the latent
    (``kv_lora_rank``) and the rotary key (``qk_rope_head_dim``). With ``kv_heads`` the keys and
    values are shared by groups of query heads, as grouped-query attention would (``kv_heads`` =
    ``heads`` is multi-head attention). Only the cache is meant: the returned shape's parameter
    count is not that of any released model.
    """
    if shape.attention != "mla":
        raise ValueError(f"uncompressed_attention needs an MLA shape, got {shape.attention!r}")
    groups = shape.heads if kv_heads is None else kv_heads
    kind = "mha" if groups == shape.heads else ("mqa" if groups == 1 else "gqa")
    return replace(shape, attention=kind, kv_heads=groups)


#: Lightning attention's recurrent state is kept in fp32: MiniMax-M1's
#: ``modeling_minimax_m1.py`` (MiniMaxM1LightningAttention) allocates it as
#: ``torch.zeros(b, h, d, e).to(torch.float32)``.
LINEAR_STATE_FORMAT = "fp32"


def linear_attention_state_bytes(
    heads: int, head_dim: int, layers: int, batch: int = 1, fmt: str = LINEAR_STATE_FORMAT
) -> float:
    """Bytes of the state a linear-attention layer carries instead of a KV cache.

    Linear attention (lightning attention in MiniMax-M1) folds every past key and value into one
    ``head_dim × head_dim`` matrix per head, kv ← decay · kv + kᵀv, so its memory is
    heads · head_dim² values per layer and sequence, whatever the context length.
    """
    _positive(heads=heads, head_dim=head_dim, layers=layers, batch=batch)
    values = float(heads) * float(head_dim) ** 2 * float(layers) * float(batch)
    return values * bits_per_weight(fmt) / 8


def kv_cache_bytes_per_token(shape: Shape, fmt: str = "fp16") -> float:
    """Bytes of keys and values cached per token over all layers, for a context no longer than
    any sliding window (see :func:`kv_cache_bytes` for longer ones).

    Grouped-query and multi-query attention cache only ``kv_heads`` heads, which is why
    Llama-3-8B (32 layers, 8 KV heads of 128) needs 128 KiB per token in fp16, not 512 KiB.
    Multi-head latent attention caches one compressed vector per layer instead, the latent
    (``kv_lora_rank``) and the rotary key shared by all heads (``rope_head_dim``):
    (c + r) · layers · bytes (DeepSeek-V2 paper, §2.1; 576 values per layer for DeepSeek-V2/V3).
    """
    return shape.layers * kv_values_per_token_per_layer(shape) * bits_per_weight(fmt) / 8


def kv_cache_bytes(shape: Shape, tokens: int, batch: int = 1, fmt: str = "fp16") -> float:
    """KV-cache bytes for ``batch`` sequences of ``tokens`` tokens.

    ``sliding_layers`` of the ``layers`` attend to the last ``sliding_window`` tokens only, so
    they cache at most that many (Gemma 3: five local layers per global one); the others cache
    every token.
    """
    _positive(tokens=tokens, batch=batch)
    per_layer = kv_values_per_token_per_layer(shape) * bits_per_weight(fmt) / 8
    sliding = (shape.sliding_layers or 0) if shape.sliding_window else 0
    window = min(float(tokens), float(shape.sliding_window)) if sliding else 0.0
    positions = (shape.layers - sliding) * float(tokens) + sliding * window
    return per_layer * positions * float(batch)


def decode_bytes_per_token(shape: Shape, fmt: str = "bf16", params: float | None = None) -> float:
    """Weight bytes read to generate one token: every active parameter once (a mixture of
    experts reads only its routed experts, shared experts, attention and dense layers), plus
    the input-embedding row (one of vocab_size) instead of the whole table; the output head is
    read in full. ``params`` (a reported total) rescales the shape's count when given.

    The KV cache read per token is on top: add :func:`kv_cache_bytes` for the context.
    """
    counts = param_counts(shape)
    read = active_params(shape) - counts["embedding"] + shape.d_model
    if counts["head"] == 0:  # tied: the table is read in full as the output head
        read += counts["embedding"]
    if params is not None:
        read *= float(params) / counts["total"]
    return read * bits_per_weight(fmt) / 8


GB = 1e9


def fits(total_bytes: float, memory_gb: float, chips: int = 1, reserve: float = 0.0) -> bool:
    """Whether ``total_bytes`` fits in ``chips`` × ``memory_gb`` (vendor GB), keeping ``reserve``
    (a fraction, e.g. 0.1 for CUDA context and fragmentation) free."""
    _positive(memory_gb=memory_gb, chips=chips)
    if not 0 <= reserve < 1:
        raise ValueError(f"reserve must be in [0, 1), got {reserve!r}")
    return total_bytes <= chips * memory_gb * GB * (1 - reserve)


#: Fine-tuning bytes per *trainable* parameter: bf16 weight and gradient (2 + 2) plus fp32 Adam
#: momentum and variance (4 + 4), as in QLoRA's accounting of LoRA parameters
#: (Dettmers et al. 2023, §3-4); full fine-tuning adds fp32 master weights (ZeRO's 16 bytes).
LORA_BYTES_PER_TRAINABLE = 12


def finetune_bytes(
    params: float,
    method: str = "full",
    trainable: float = 0.0,
    activations: float = 0.0,
) -> dict[str, float]:
    """Memory of fine-tuning by ``method``: "full" (mixed-precision Adam, 16 bytes/param),
    "lora" (frozen bf16 base + LoRA states) or "qlora" (frozen NF4 double-quantised base +
    LoRA states). ``trainable`` is the adapter's parameter count (see llmbook.peft); returns
    bytes by part and their ``total``."""
    _positive(params=params)
    if method == "full":
        parts = {"weights_and_states": training_state_bytes(params)}
    elif method in ("lora", "qlora"):
        base_fmt = "bf16" if method == "lora" else "nf4-dq"
        parts = {
            "frozen_weights": weight_bytes(params, base_fmt),
            "adapter_states": float(trainable) * LORA_BYTES_PER_TRAINABLE,
        }
    else:
        raise ValueError(f"method must be 'full', 'lora' or 'qlora', got {method!r}")
    parts["activations"] = activations
    parts["total"] = sum(parts.values())
    return parts


def decode_tokens_per_s_memory_bound(bytes_per_token: float, bandwidth_gb_s: float) -> float:
    """Upper bound on single-stream decoding speed: every weight (and the KV cache) is read
    once per generated token, so tokens/s ≤ bandwidth / bytes read per token."""
    _positive(bytes_per_token=bytes_per_token, bandwidth_gb_s=bandwidth_gb_s)
    return float(bandwidth_gb_s) * GB / float(bytes_per_token)


def decode_tokens_per_s_compute_bound(params: float, peak_tflops: float, batch: int = 1) -> float:
    """Upper bound from arithmetic: 2·N FLOPs per token, so tokens/s ≤ peak / (2·N) in all,
    shared by the ``batch`` sequences decoded together (the figure returned is per sequence)."""
    _positive(params=params, peak_tflops=peak_tflops, batch=batch)
    return float(peak_tflops) * 1e12 / (2 * float(params)) / batch


def shape_missing_mla(row) -> bool:
    """Whether an architectures row uses MLA but lacks kv_lora_rank or rope_head_dim."""
    import pandas as pd

    if row.get("attention") != "mla":
        return False
    return any(pd.isna(row.get(c)) for c in ("kv_lora_rank", "rope_head_dim"))


def sparse_models_table(architectures, models=None, fmt: str = "bf16"):
    """Mixture-of-experts and latent-attention rows of ``architectures``, for readers.

    One row per model with ``n_experts`` or MLA: experts (routed, per token, shared), total and
    active parameters from the shape (architecture.param_counts / active_params), the active
    share, the attention kind and the KV-cache bytes per token (all layers, ``fmt``). A row whose
    shape cannot be counted (an MLA row without kv_lora_rank) keeps empty number cells and says
    why in ``note``. Returns a DataFrame of strings indexed by model.
    """
    import pandas as pd

    def count(value: float) -> str:
        return f"{value / 1e9:.1f}B" if value >= 1e9 else f"{value / 1e6:.0f}M"

    def integer(value) -> str:
        return "" if value is None or pd.isna(value) else f"{int(value)}"

    rows = []
    chosen = architectures[
        architectures["n_experts"].notna() | (architectures["attention"] == "mla")
    ]
    for _, row in chosen.iterrows():
        out = {
            "model": row["model"],
            "routed experts": integer(row["n_experts"]),
            "per token": integer(row["experts_per_token"]),
            "shared": integer(row.get("shared_experts")),
            "attention": str(row["attention"]).upper(),
            "total params": "",
            "active params": "",
            "active share": "",
            "KV cache per token": "",
            "note": "",
        }
        try:
            shape = Shape.from_row(row.to_dict())
            total, active = param_counts(shape)["total"], active_params(shape)
            kv = kv_cache_bytes_per_token(shape, fmt)
        except ValueError as error:
            mla_incomplete = shape_missing_mla(row)
            out["note"] = "no MLA widths in architectures.csv" if mla_incomplete else str(error)
        else:
            out |= {
                "total params": count(total),
                "active params": count(active),
                "active share": f"{active / total:.0%}",
                "KV cache per token": f"{kv / 1024:.0f} KiB",
            }
        rows.append(out)
    return pd.DataFrame(rows).set_index("model")


def kv_cache_by_context(shapes: dict, contexts, batch: int = 1, fmt: str = "bf16"):
    """KV-cache bytes of each named shape (``{label: Shape}``) at each context length: a
    DataFrame indexed by label with one column per context (:func:`kv_cache_bytes`, sliding
    windows and MLA included)."""
    import pandas as pd

    return pd.DataFrame(
        {
            int(tokens): {
                label: kv_cache_bytes(s, int(tokens), batch, fmt) for label, s in shapes.items()
            }
            for tokens in contexts
        }
    )
