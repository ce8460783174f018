"""What the RL stage of RLHF costs: four models in memory, generation against training in time.

PPO in InstructGPT's recipe (Ouyang et al. 2022, §3.5 and Appendix C.4; DeepSpeed-Chat's step
3) holds four models: the **actor** (the policy being trained), the **reference** (a frozen copy
of the SFT model, for the KL penalty), the **critic** (a value model, trained) and the **reward
model** (frozen). Each PPO iteration first *makes experience*: the actor generates answers, and
the four models score them (actor and reference log-probabilities, critic values, rewards).
Then it *trains* the actor and the critic on that experience.

Memory (bytes per GPU) reuses :mod:`llmbook.memory`: trained models hold mixed-precision Adam
states (16 bytes per parameter, partitioned by ZeRO stage), frozen ones fp16 weights (2 bytes
per parameter, partitioned only under ZeRO stage 3, which shards every parameter). With LoRA on
the actor, its base weights are frozen fp16 and only the adapter carries gradients and Adam
states (:data:`llmbook.memory.LORA_BYTES_PER_TRAINABLE` per adapter parameter).

Compute uses 2 FLOPs per parameter per token for a forward pass and 6 for forward plus backward
(Kaplan et al. 2020, §2.1); attention's own FLOPs are left out.
"""

from __future__ import annotations

from llmbook import memory
from llmbook.architecture import Shape
from llmbook.compute import _positive

FORWARD_FLOPS_PER_PARAM_TOKEN = 2
TRAIN_FLOPS_PER_PARAM_TOKEN = 6
#: Forward (2) and the backward pass's activation gradients (2), no weight gradients: a frozen
#: base under LoRA.
LORA_TRAIN_FLOPS_PER_PARAM_TOKEN = 4
METHODS = ("ppo", "grpo", "rloo", "dpo")


def step3_memory_bytes(
    actor: Shape,
    actor_params: float,
    critic: Shape,
    critic_params: float,
    gpus: int = 1,
    zero_stage: int = 0,
    actor_lora_params: float = 0.0,
    batch_per_gpu: int = 1,
    prompt_tokens: int = 256,
    answer_tokens: int = 256,
    recompute: str = "full",
    method: str = "ppo",
    group: int = 1,
) -> dict[str, float]:
    """Per-GPU bytes of the RL stage, by part, and their ``total``.

    ``method`` "ppo" holds all four models. "grpo" and "rloo" have no critic (the group of
    ``group`` answers per prompt is the baseline; Shao et al. 2024, §4.1; Ahmadian et al. 2024),
    so the critic's part is 0 and the KV cache holds ``group`` answers for each of the
    ``batch_per_gpu`` prompts. "dpo" trains offline on pairs (Rafailov et al. 2023): no critic,
    no reward model, no generation; activations are those of the chosen and the rejected answer.

    ``actor_lora_params`` > 0 trains the actor through LoRA (base frozen); 0 trains it fully.
    The KV cache is the actor's, for ``batch_per_gpu`` sequences of prompt + answer tokens in
    fp16; activations are those of training actor and critic on the same sequences
    (:func:`llmbook.memory.activation_bytes`, ``recompute`` as there; "full" is gradient
    checkpointing, which DeepSpeed-Chat's scripts switch on).
    """
    _positive(gpus=gpus, batch_per_gpu=batch_per_gpu, group=group)
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if method in ("ppo", "dpo") and group != 1:
        raise ValueError(f"group applies to grpo and rloo only; {method} samples one answer")
    frozen_shard = gpus if zero_stage == 3 else 1
    sequence = prompt_tokens + answer_tokens
    if actor_lora_params > 0:
        actor_bytes = (
            memory.weight_bytes(actor_params, "fp16") / frozen_shard
            + actor_lora_params * memory.LORA_BYTES_PER_TRAINABLE
        )
    else:
        actor_bytes = memory.training_state_bytes(actor_params, zero_stage, gpus)
    parts = {
        "actor (trained)": actor_bytes,
        "reference (frozen)": memory.weight_bytes(actor_params, "fp16") / frozen_shard,
        "critic (trained)": memory.training_state_bytes(critic_params, zero_stage, gpus)
        if method == "ppo"
        else 0.0,
        "reward model (frozen)": memory.weight_bytes(critic_params, "fp16") / frozen_shard
        if method != "dpo"
        else 0.0,
        "KV cache (generation)": memory.kv_cache_bytes(
            actor, sequence, batch_per_gpu * group, "fp16"
        )
        if method != "dpo"
        else 0.0,
        "activations (training)": memory.activation_bytes(
            actor, sequence, batch_per_gpu * (2 if method == "dpo" else 1), recompute
        )
        + (
            memory.activation_bytes(critic, sequence, batch_per_gpu, recompute)
            if method == "ppo"
            else 0.0
        ),
    }
    parts["total"] = sum(parts.values())
    return parts


def step3_flops_per_sample(
    actor_params: float,
    critic_params: float,
    prompt_tokens: int = 256,
    answer_tokens: int = 256,
    actor_lora_params: float = 0.0,
) -> dict[str, float]:
    """FLOPs of one PPO sample (prompt + generated answer), by phase.

    generation: the actor's forward pass over every token (prompt prefill and each generated
    token: 2·N per token); experience: forward passes of actor (log-probabilities), reference,
    critic (values) and reward model over the whole sequence; training: forward and backward of
    actor and critic (6·N per token). Gradient-checkpointing recomputation is not counted.

    With ``actor_lora_params`` > 0 the actor's base is frozen: its backward pass still carries
    the gradient through every layer (2·N per token) but computes no weight gradients for the
    base (the other 2·N), so the actor trains at :data:`LORA_TRAIN_FLOPS_PER_PARAM_TOKEN` (4)
    per base parameter plus 6 per adapter parameter (Hu et al. 2021, §4.2: no gradients for the
    frozen weights).
    """
    _positive(actor_params=actor_params, critic_params=critic_params)
    seq = float(prompt_tokens + answer_tokens)
    na, nc = float(actor_params), float(critic_params)
    f, t = FORWARD_FLOPS_PER_PARAM_TOKEN, TRAIN_FLOPS_PER_PARAM_TOKEN
    if actor_lora_params > 0:
        actor_train = LORA_TRAIN_FLOPS_PER_PARAM_TOKEN * na + t * float(actor_lora_params)
    else:
        actor_train = t * na
    return {
        "generation": f * na * seq,
        "experience": f * (2 * na + 2 * nc) * seq,
        "training": (actor_train + t * nc) * seq,
    }


def generation_seconds(
    actor_params: float,
    answer_tokens: int,
    batch: int,
    gpus: int,
    bandwidth_gb_s: float,
    peak_tflops: float,
    weight_format: str = "fp16",
) -> float:
    """A lower bound on the time to generate ``answer_tokens`` tokens for ``batch`` sequences
    with the actor split over ``gpus`` GPUs (tensor parallel): each step reads every weight once
    (memory-bound, bytes / bandwidth) and does 2·N·batch FLOPs (compute-bound, FLOPs / peak);
    a step takes at least the larger of the two."""
    _positive(answer_tokens=answer_tokens, batch=batch, gpus=gpus)
    read = memory.weight_bytes(actor_params, weight_format) / (gpus * bandwidth_gb_s * memory.GB)
    compute = FORWARD_FLOPS_PER_PARAM_TOKEN * actor_params * batch / (gpus * peak_tflops * 1e12)
    return answer_tokens * max(read, compute)


def training_seconds(flops: float, gpus: int, peak_tflops: float, mfu: float) -> float:
    """Time for ``flops`` on ``gpus`` GPUs running at a fraction ``mfu`` of their peak."""
    _positive(flops=flops, gpus=gpus, peak_tflops=peak_tflops, mfu=mfu)
    return flops / (gpus * peak_tflops * 1e12 * mfu)


def implied_utilisation(flops: float, seconds: float, gpus: int, peak_tflops: float) -> float:
    """Share of the GPUs' peak FLOP/s a run achieved, if it did ``flops`` in ``seconds``."""
    _positive(flops=flops, seconds=seconds, gpus=gpus, peak_tflops=peak_tflops)
    return flops / (seconds * gpus * peak_tflops * 1e12)
