"""Memory plans for fine-tuning the catalog's models: full, LoRA and QLoRA, against GPU sizes.

Built on :mod:`llmbook.memory` (bytes of weights, Adam states, activations) and
:mod:`llmbook.peft` (trainable parameters). All sizes are decimal GB (1e9 bytes), as GPU vendors
count them.
"""

from __future__ import annotations

import math

import pandas as pd

from llmbook import deployment, memory, peft
from llmbook.architecture import Shape

GB = memory.GB
ALL_LINEAR = ("q", "k", "v", "o", "gate", "up", "down")
#: The activation setting of every plan unless a chapter shows an alternative beside it:
#: gradient checkpointing, which keeps only each layer's input ("full" recomputation, 2·s·b·h
#: bytes per layer, :func:`llmbook.memory.activation_bytes`). It is what fine-tuning recipes run:
#: the QLoRA repository's ``qlora.py`` defaults ``gradient_checkpointing`` to True ("You want to
#: use this"). The price is a second forward pass, about a third more compute.
DEFAULT_RECOMPUTE = "full"
#: The settings :func:`recompute_table` sets side by side, most memory first.
RECOMPUTE_SETTINGS = ("none", "selective", "full")


def lora_targets(shape: Shape, targets: tuple[str, ...] = ALL_LINEAR) -> tuple[str, ...]:
    """``targets`` without ``gate`` for a plain (non-gated) feed-forward block."""
    return tuple(t for t in targets if t != "gate" or shape.gated)


def full_finetune_plan(
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    names: list[str],
    sequence: int,
    batch: int,
    recompute: str = DEFAULT_RECOMPUTE,
) -> pd.DataFrame:
    """One row per model: parameters, then GB for weights + gradients + Adam states
    (mixed precision, 16 bytes per parameter, ZeRO §3.1), activations of one micro-batch
    (Korthikanti et al. 2022) and their total, on a single device."""
    rows = []
    for name in names:
        params, basis = deployment.params_of(name, models, shapes)
        shape = deployment.shape_of(name, models, shapes)
        states = memory.training_state_bytes(params)
        acts = memory.activation_bytes(shape, sequence, batch, recompute)
        rows.append(
            {
                "model": name,
                "params": params,
                "params_basis": basis,
                "weights_gb": memory.weight_bytes(params, "bf16") / GB,
                "states_gb": states / GB,
                "activations_gb": acts / GB,
                "total_gb": (states + acts) / GB,
            }
        )
    return pd.DataFrame(rows)


def gpus_needed(params: float, activations_bytes: float, memory_gb: float) -> int | None:
    """Fewest GPUs of ``memory_gb`` that hold full fine-tuning with ZeRO stage 3 (weights,
    gradients and Adam states sharded, 16Ψ/n each) plus one micro-batch's activations per GPU;
    None if the activations alone do not fit."""
    free = memory_gb * GB - activations_bytes
    if free <= 0:
        return None
    return max(1, math.ceil(memory.training_state_bytes(params) / free))


def method_plan(
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    names: list[str],
    sequence: int,
    batch: int,
    rank: int,
    targets: tuple[str, ...] = ALL_LINEAR,
    recompute: str = DEFAULT_RECOMPUTE,
    experts: str | None = None,
    variant: str = "lora",
) -> pd.DataFrame:
    """One row per (model, method) for full fine-tuning, LoRA (bf16 frozen base) and QLoRA
    (NF4 + double quantisation base): trainable parameters and GB by part
    (:func:`llmbook.memory.finetune_bytes`) with activations at ``recompute``.

    ``variant`` is the adapter (:func:`llmbook.peft.variant_params`: DoRA adds its magnitudes).
    For a mixture-of-experts model ``experts`` says which experts carry adapters on the
    feed-forward targets (:func:`llmbook.peft.adapted_matrices`). Full fine-tuning holds
    gradients and Adam states for every parameter, every expert included: any expert that a
    token of the batch is routed to has a gradient, so the optimiser keeps states for all."""
    rows = []
    for name in names:
        params, _ = deployment.params_of(name, models, shapes)
        shape = deployment.shape_of(name, models, shapes)
        trainable = peft.variant_params(shape, rank, lora_targets(shape, targets), variant, experts)
        acts = memory.activation_bytes(shape, sequence, batch, recompute)
        for method in ("full", "lora", "qlora"):
            parts = memory.finetune_bytes(
                params, method, trainable=trainable if method != "full" else 0, activations=acts
            )
            weights = parts.get("frozen_weights", 0.0)
            rows.append(
                {
                    "model": name,
                    "method": method,
                    "trainable": params if method == "full" else trainable,
                    "weights_gb": weights / GB,
                    "trainable_states_gb": (parts["total"] - weights - acts) / GB,
                    "activations_gb": acts / GB,
                    "total_gb": parts["total"] / GB,
                }
            )
    return pd.DataFrame(rows)


def recompute_table(
    models: pd.DataFrame,
    shapes: pd.DataFrame,
    name: str,
    sequence: int,
    batch: int,
    rank: int,
    targets: tuple[str, ...] = ALL_LINEAR,
    experts: str | None = None,
) -> pd.DataFrame:
    """Total GB of full fine-tuning, LoRA and QLoRA of one model under each activation setting
    of :data:`RECOMPUTE_SETTINGS` (rows) -- the alternatives to :data:`DEFAULT_RECOMPUTE` side
    by side, from the same :func:`method_plan` (``experts`` as there, for a mixture)."""
    rows = {}
    for setting in RECOMPUTE_SETTINGS:
        plan = method_plan(
            models, shapes, [name], sequence, batch, rank, targets, setting, experts=experts
        )
        rows[setting] = plan.set_index("method")["total_gb"]
    return pd.DataFrame(rows).T.rename_axis("recompute")
