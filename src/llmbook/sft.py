"""What supervised fine-tuning (SFT) costs: tokens, FLOPs, GPU memory and GPU count.

Built on :mod:`llmbook.compute` and :mod:`llmbook.memory`. Conventions as there: N parameters,
D tokens processed (every token of every example in every epoch, prompt included: the prompt
goes through the forward and backward pass even where the loss mask is off).

FLOPs per parameter per token (Kaplan et al. 2020, §2.1: forward 2, backward 4, the backward
being 2 for the gradient with respect to the activations and 2 for the gradient with respect to
the weights):

- full fine-tuning: 6;
- LoRA / QLoRA: 4. The frozen weights still need the forward pass (2) and the activation
  gradient that carries the error back through them (2), but no weight gradient; the
  adapter's own work is small (its parameters are a fraction of a percent of N) and is left out.
  This is an arithmetic bound, not a measured speed-up.
"""

from __future__ import annotations

import math

from llmbook import compute, memory
from llmbook.compute import _positive

#: FLOPs per parameter per token by method (see the module docstring).
FLOPS_PER_PARAM_TOKEN = {"full": 6, "lora": 4, "qlora": 4}


def sft_tokens(examples: float, tokens_per_example: float, epochs: float = 1) -> float:
    """Tokens processed: examples × tokens per example × epochs."""
    _positive(examples=examples, tokens_per_example=tokens_per_example, epochs=epochs)
    return float(examples) * float(tokens_per_example) * float(epochs)


def sft_flops(params: float, tokens: float, method: str = "full") -> float:
    """Training FLOPs of SFT: FLOPS_PER_PARAM_TOKEN[method] · N · D."""
    _positive(params=params, tokens=tokens)
    if method not in FLOPS_PER_PARAM_TOKEN:
        raise ValueError(f"method must be one of {sorted(FLOPS_PER_PARAM_TOKEN)}, got {method!r}")
    return FLOPS_PER_PARAM_TOKEN[method] * float(params) * float(tokens)


def gpus_for_full_finetune(
    params: float,
    memory_gb: float,
    activations_per_gpu: float = 0.0,
    reserve: float = 0.1,
    max_gpus: int = 4096,
) -> int:
    """Fewest GPUs of ``memory_gb`` that hold full fine-tuning with ZeRO stage 3.

    Per GPU: 16·N/n bytes of weights, gradients and Adam states (ZeRO-3, see
    :func:`llmbook.memory.training_state_bytes`) plus ``activations_per_gpu`` bytes, within
    ``(1 - reserve)`` of the GPU's memory. Raises if ``max_gpus`` are not enough.
    """
    _positive(params=params, memory_gb=memory_gb)
    usable = memory_gb * memory.GB * (1 - reserve) - activations_per_gpu
    if usable <= 0:
        raise ValueError("the activations alone do not fit on one GPU; shorten the micro-batch")
    per_param = memory.ADAM_WEIGHT_BYTES + memory.ADAM_GRAD_BYTES + memory.ADAM_STATE_BYTES
    n = max(1, math.ceil(float(params) * per_param / usable))
    if n > max_gpus:
        raise ValueError(f"needs {n} GPUs, more than max_gpus={max_gpus}")
    assert memory.training_state_bytes(params, zero_stage=3, gpus=n) <= usable * (1 + 1e-12)
    return n


def gpus_to_hold(total_bytes: float, memory_gb: float, reserve: float = 0.1) -> int:
    """Fewest GPUs of ``memory_gb`` whose memory, less ``reserve``, holds ``total_bytes``
    (the model split across them, e.g. LoRA's frozen weights by pipeline or tensor parallelism)."""
    _positive(total_bytes=total_bytes, memory_gb=memory_gb)
    return max(1, math.ceil(float(total_bytes) / (memory_gb * memory.GB * (1 - reserve))))


def hours(flops: float, gpus: int, peak_flops_per_s: float, mfu: float) -> float:
    """Wall-clock hours on ``gpus`` GPUs at utilisation ``mfu`` (see compute.seconds)."""
    return compute.seconds(flops, gpus, peak_flops_per_s, mfu) / 3600
