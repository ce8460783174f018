"""Trainable parameters of parameter-efficient fine-tuning methods, from a model's shape.

Target matrices of one decoder layer (d = d_model, h·k = query width, g·k = key/value width,
f = ffn_dim): ``q`` d→h·k, ``k`` d→g·k, ``v`` d→g·k, ``o`` h·k→d, ``gate`` d→f, ``up`` d→f,
``down`` f→d (a plain FFN has only ``up`` and ``down``). In an encoder-decoder, attention
targets exist in encoder self-attention, decoder self-attention and decoder cross-attention.
"""

from __future__ import annotations

from dataclasses import replace

from llmbook.architecture import Shape
from llmbook.compute import _positive

ATTENTION_TARGETS = ("q", "k", "v", "o")
FFN_TARGETS = ("gate", "up", "down")


def target_dims(shape: Shape, target: str, expert: bool = False) -> tuple[int, int]:
    """(d_in, d_out) of one target matrix; ``expert=True`` gives a feed-forward target's
    shape inside one expert of a mixture-of-experts layer (width ``expert_ffn_dim``).

    Refused where one matrix per layer is not what a target names: multi-head latent attention
    factors its projections (down to a latent, then up to the heads), and a feed-forward target
    of a mixture-of-experts model needs to know which experts are adapted (see
    :func:`adapted_matrices`)."""
    if shape.attention == "mla" and target in ATTENTION_TARGETS:
        raise NotImplementedError(
            "multi-head latent attention splits each projection in two (to the latent, and from "
            "it to the heads): count LoRA on the model's own module names"
        )
    if shape.n_experts and target in FFN_TARGETS and not expert:
        raise NotImplementedError(
            "a mixture-of-experts layer has one feed-forward block per expert: which experts "
            "are adapted decides the count; pass experts='all' or 'shared' (or use attention "
            "targets)"
        )
    f = shape.n_expert_ffn if expert else shape.n_ffn
    d, q, kv = shape.d_model, shape.heads * shape.n_head_dim, shape.n_kv_heads * shape.n_head_dim
    dims = {"q": (d, q), "k": (d, kv), "v": (d, kv), "o": (q, d), "gate": (d, f), "up": (d, f)}
    dims["down"] = (f, d)
    if target not in dims:
        raise ValueError(f"unknown target {target!r}; use {', '.join(dims)}")
    if target == "gate" and not shape.gated:
        raise ValueError("a plain (non-gated) feed-forward block has no 'gate' matrix")
    return dims[target]


#: Which experts of a mixture-of-experts layer carry adapters on the feed-forward targets:
#: every routed and shared expert, the shared experts only, or none (dense layers only).
EXPERT_CHOICES = ("all", "shared", "none")


def adapted_matrices(
    shape: Shape, targets: tuple[str, ...] | list[str], experts: str | None = None
) -> list[tuple[str, int, int, int]]:
    """Every adapted matrix shape as (target, d_in, d_out, how many in the model).

    Attention targets: one per attention block. Feed-forward targets: one per dense layer and,
    in each mixture-of-experts layer, one per adapted expert, where ``experts`` says which:
    ``"all"`` (the E routed and S shared experts each get their own adapter), ``"shared"`` (the
    S shared experts only) or ``"none"`` (the experts stay frozen). ``None`` is refused for a
    mixture-of-experts model with feed-forward targets: the choice changes the count by a
    factor of about E. The router (d_model × E) is never a target here."""
    if experts is not None and experts not in EXPERT_CHOICES:
        raise ValueError(f"experts must be one of {', '.join(EXPERT_CHOICES)}, got {experts!r}")
    out = []
    for target in targets:
        if target in ATTENTION_TARGETS or not shape.n_experts:
            d_in, d_out = target_dims(shape, target)
            blocks = _attention_blocks(shape) if target in ATTENTION_TARGETS else _ffn_blocks(shape)
            out.append((target, d_in, d_out, blocks))
            continue
        if experts is None:
            raise NotImplementedError(
                "a mixture-of-experts layer has one feed-forward block per expert: which "
                "experts are adapted decides the count; pass experts='all', 'shared' or 'none'"
            )
        dense = shape.layers - shape.moe_layers
        if dense:
            d_in, d_out = target_dims(replace(shape, n_experts=None), target)
            out.append((target, d_in, d_out, dense))
        per_layer = {"all": shape.n_experts + shape.shared_experts,
                     "shared": shape.shared_experts, "none": 0}[experts]  # fmt: skip
        if per_layer:
            d_in, d_out = target_dims(shape, target, expert=True)
            out.append((target, d_in, d_out, shape.moe_layers * per_layer))
    return out


def _attention_blocks(shape: Shape) -> int:
    """Attention blocks in the model: decoder self (+ cross) and encoder self-attention."""
    cross = shape.layers if shape.encoder_layers else 0
    return shape.layers + cross + shape.encoder_layers


def _ffn_blocks(shape: Shape) -> int:
    return shape.layers + shape.encoder_layers


def lora_params(
    shape: Shape,
    rank: int,
    targets: tuple[str, ...] | list[str] = ("q", "v"),
    experts: str | None = None,
) -> int:
    """LoRA (Hu et al. 2021, §4): W + B·A with A r×d_in and B d_out×r: r·(d_in + d_out) per
    adapted matrix, in every layer. GPT-3 175B with r = 1 on W_q and W_v has 4.7M (§7.2).
    ``experts`` says which experts of a mixture-of-experts model are adapted
    (:func:`adapted_matrices`)."""
    _positive(rank=rank)
    return sum(n * rank * (d_in + d_out) for _, d_in, d_out, n in
               adapted_matrices(shape, targets, experts))  # fmt: skip


#: The LoRA variants :func:`variant_params` counts (those of :mod:`llmbook.lora_train`).
VARIANTS = ("lora", "rslora", "dora", "pissa", "lora+")


def variant_params(
    shape: Shape,
    rank: int,
    targets: tuple[str, ...] | list[str] = ("q", "v"),
    variant: str = "lora",
    experts: str | None = None,
) -> int:
    """Trainable parameters of a LoRA variant: :func:`lora_params`, plus for DoRA one magnitude
    per output column of every adapted matrix (Liu et al. 2024, §3: W' = m · V / ||V||_c with
    a trainable magnitude vector m). rsLoRA changes only the scale alpha/sqrt(r) (Kalajdzievski
    2023), PiSSA only the initial values of A and B (Meng et al. 2024) and LoRA+ only B's
    learning rate (Hayou et al. 2024): none adds a parameter."""
    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; use one of {', '.join(VARIANTS)}")
    total = lora_params(shape, rank, targets, experts)
    if variant == "dora":
        total += sum(n * d_out for _, _, d_out, n in adapted_matrices(shape, targets, experts))
    return total


def adapter_params(shape: Shape, bottleneck: int, per_layer: int = 2) -> int:
    """Houlsby et al. 2019 (§2.1): per adapter a down-projection d×m and up-projection m×d with
    biases, 2·m·d + m + d; two adapters per layer (after attention and after the FFN)."""
    _positive(bottleneck=bottleneck, per_layer=per_layer)
    m, d = bottleneck, shape.d_model
    return _ffn_blocks(shape) * per_layer * (2 * m * d + m + d)


def prefix_params(shape: Shape, prefix_length: int) -> int:
    """Prefix tuning (Li & Liang 2021) / P-tuning v2 (Liu et al. 2021): trained key and value
    vectors for ``prefix_length`` virtual tokens in every layer, 2·L·n·(g·k) (without the
    re-parameterisation MLP used during training)."""
    _positive(prefix_length=prefix_length)
    kv = shape.n_kv_heads * shape.n_head_dim
    return _attention_blocks(shape) * 2 * prefix_length * kv


def prompt_params(shape: Shape, prompt_length: int) -> int:
    """Prompt tuning (Lester et al. 2021): ``prompt_length`` trained input embeddings, n·d."""
    _positive(prompt_length=prompt_length)
    return prompt_length * shape.d_model


def bitfit_params(shape: Shape) -> int:
    """BitFit (Ben Zaken et al. 2021): train only the bias terms (linear and norm biases).
    Zero for bias-free models such as LLaMA."""
    from llmbook.architecture import attention_params, ffn_params, norm_params

    linear = 0
    if shape.linear_bias:
        no_bias = Shape(**{**shape.__dict__, "linear_bias": False})
        attn = attention_params(shape) - attention_params(no_bias)
        ffn = ffn_params(shape) - ffn_params(no_bias)
        linear = _attention_blocks(shape) * attn + _ffn_blocks(shape) * ffn
    norm_bias = norm_params(shape) // 2 if shape.has_norm_bias else 0
    cross = shape.layers if shape.encoder_layers else 0
    norms = _ffn_blocks(shape) * 2 + cross + (2 if shape.encoder_layers else 1)
    return linear + norms * norm_bias


def ia3_params(shape: Shape) -> int:
    """(IA)³ (Liu et al. 2022, T-Few §3.3): learned rescaling vectors for keys (g·k), values
    (g·k) in each attention block and the FFN's inner activation (f) in each FFN block."""
    kv = shape.n_kv_heads * shape.n_head_dim
    return _attention_blocks(shape) * 2 * kv + _ffn_blocks(shape) * shape.n_ffn
