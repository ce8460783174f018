"""3D parallelism as formulas: how a run's GPUs split into tensor, pipeline and data parallelism.

Narayanan et al. 2021 ("Efficient Large-Scale Language Model Training on GPU Clusters Using
Megatron-LM") write a layout as (p, t, d): p pipeline stages, t-way tensor parallelism inside
each stage, d data-parallel replicas, so that the GPU count is n = p * t * d (§3). Memory per GPU
reuses ``llmbook.memory.training_state_bytes``; nothing here re-derives the 16 bytes per
parameter of mixed-precision Adam.

A mixture of experts adds *expert parallelism* (DeepSeek-AI 2024, §3.2, after Lepikhin et al.
2021): each MoE layer's routed experts are spread over a group of ``expert_parallel`` GPUs,
which send each token to the GPUs holding its experts and back (all-to-all) inside the layer.
DeepSeek-V3 trained with 16-way pipeline, 64-way expert and ZeRO-1 data parallelism and no
tensor parallelism (DeepSeek-AI 2024, §3.2); parameter counts come from ``llmbook.architecture``.
"""

from __future__ import annotations

import pandas as pd

from llmbook.architecture import Shape, expert_params, param_counts
from llmbook.memory import training_state_bytes


def _positive_ints(**values: int) -> None:
    for name, value in values.items():
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def gpus(tensor: int, pipeline: int, data: int, context: int = 1) -> int:
    """GPUs a layout uses: n = t * c * p * d (Narayanan et al. 2021, §3, with c = 1; Llama 3's
    4D parallelism adds the context-parallel degree c, Llama Team 2024, §3.3.2 and Table 4)."""
    _positive_ints(tensor=tensor, pipeline=pipeline, data=data, context=context)
    return int(tensor) * int(context) * int(pipeline) * int(data)


def layout_consistent(gpu_count, tensor, pipeline, data, context=1) -> bool | None:
    """Whether a stated GPU count equals t * c * p * d; None when the count or t, p or d is
    unknown (an unknown context degree counts as 1: no context parallelism stated)."""
    values = (gpu_count, tensor, pipeline, data)
    if any(pd.isna(v) for v in values):
        return None
    c = 1 if pd.isna(context) else int(context)
    return int(gpu_count) == gpus(int(tensor), int(pipeline), int(data), c)


def microbatches(global_batch: int, micro_batch: int, data: int) -> int:
    """Micro-batches each pipeline runs per step: m = B / (b * d) (Narayanan et al. 2021, §2.2).

    Raises when the global batch does not divide into whole micro-batches per replica.
    """
    _positive_ints(global_batch=global_batch, micro_batch=micro_batch, data=data)
    per_step = int(micro_batch) * int(data)
    if int(global_batch) % per_step:
        raise ValueError(
            f"global batch {global_batch} is not a multiple of micro_batch * data = {per_step}"
        )
    return int(global_batch) // per_step


def bubble_fraction(pipeline: int, microbatches: int, interleave: int = 1) -> float:
    """Share of a step that a GPipe/1F1B pipeline spends idle: (p - 1) / (m + p - 1).

    Narayanan et al. 2021, §2.2.1: the bubble time is (p - 1) micro-batch times against m
    micro-batch times of useful work, so the idle share of the whole step is
    (p - 1) / (m + p - 1); the ratio of idle to useful time is (p - 1) / m. With
    ``interleave`` = v model chunks per device (§2.2.2) the idle time shrinks by v; Llama 3's
    report states the resulting "pipeline bubble ratio" as (PP - 1) / (V * M) (Llama Team 2024,
    §3.3.2).
    """
    _positive_ints(pipeline=pipeline, microbatches=microbatches, interleave=interleave)
    idle = (pipeline - 1) / interleave
    return idle / (microbatches + idle)


def state_bytes_per_gpu(
    params: float, tensor: int = 1, pipeline: int = 1, data: int = 1, zero_stage: int = 0
) -> float:
    """Per-GPU bytes of weights, gradients and Adam states under t x p x d parallelism.

    Tensor and pipeline parallelism split the model into t * p equal shards (an even split is
    the assumption: embeddings and uneven stages make real shards differ); ZeRO then partitions
    each shard's states over the d data-parallel replicas
    (``llmbook.memory.training_state_bytes``). Activations are not included.
    """
    _positive_ints(tensor=tensor, pipeline=pipeline, data=data)
    shard = float(params) / (tensor * pipeline)
    return training_state_bytes(shard, zero_stage=zero_stage, gpus=data)


def expert_copies(gpu_count: int, pipeline: int, expert_parallel: int, tensor: int = 1) -> int:
    """How many GPUs hold each routed expert: n / (t * p * ep), when every GPU of every stage
    holds experts (the expert-data-parallel degree). Raises when the GPUs do not divide."""
    _positive_ints(
        gpu_count=gpu_count, pipeline=pipeline, expert_parallel=expert_parallel, tensor=tensor
    )
    group = int(tensor) * int(pipeline) * int(expert_parallel)
    if int(gpu_count) % group:
        raise ValueError(f"{gpu_count} GPUs do not divide into groups of t * p * ep = {group}")
    return int(gpu_count) // group


def moe_params_per_gpu(
    shape: Shape, expert_parallel: int, pipeline: int = 1, tensor: int = 1, copies: int = 1
) -> dict[str, float]:
    """Parameters one GPU holds when a mixture-of-experts model is split into pipeline stages,
    tensor-parallel shards and expert-parallel groups.

    Pipeline parallelism cuts the layers into ``pipeline`` stages and tensor parallelism each
    matrix into ``tensor`` shards (an even split is the assumption, as in
    :func:`state_bytes_per_gpu`). Expert parallelism spreads each MoE layer's ``n_experts``
    routed experts over ``expert_parallel`` GPUs, ``n_experts / expert_parallel`` each; the
    other parameters (attention, shared experts, router, norms, dense layers, embeddings) are
    not split by it: every GPU of the group holds its stage's copy. ``copies`` multiplies
    both, e.g. 2 for DualPipe, which keeps two copies of the model parameters (DeepSeek-AI
    2024, §3.2.1, Table 2).

    Returns ``experts_per_layer`` (routed experts per GPU in each MoE layer),
    ``routed_experts``, ``other`` and ``total`` (parameters per GPU).
    """
    _positive_ints(expert_parallel=expert_parallel, pipeline=pipeline, tensor=tensor, copies=copies)
    if not shape.n_experts:
        raise ValueError("expert parallelism needs a mixture-of-experts shape (n_experts)")
    if shape.n_experts % expert_parallel:
        raise ValueError(
            f"{shape.n_experts} routed experts do not divide over {expert_parallel} GPUs"
        )
    routed = shape.moe_layers * shape.n_experts * expert_params(shape)
    other = param_counts(shape)["total"] - routed
    split = pipeline * tensor
    per_gpu = {
        "routed_experts": copies * routed / (split * expert_parallel),
        "other": copies * other / split,
    }
    return {
        "experts_per_layer": shape.n_experts // expert_parallel,
        **per_gpu,
        "total": per_gpu["routed_experts"] + per_gpu["other"],
    }
