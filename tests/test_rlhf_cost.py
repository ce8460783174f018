"""RLHF step-3 memory and compute, against hand counts and DeepSpeed-Chat's published claims."""

from __future__ import annotations

import pytest

from llmbook import rlhf_cost
from llmbook.architecture import Shape

OPT_13B = Shape(layers=40, d_model=5120, heads=40, ffn_dim=20480, norm="layernorm",
                activation="relu", position_encoding="learned", linear_bias=True,
                context_length=2048)  # fmt: skip
OPT_350M = Shape(layers=24, d_model=1024, heads=16, ffn_dim=4096, norm="layernorm",
                 activation="relu", position_encoding="learned", linear_bias=True,
                context_length=2048)  # fmt: skip


def test_full_actor_memory_by_hand():
    m = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, gpus=1, zero_stage=0)
    assert m["actor (trained)"] == 16 * 13e9
    assert m["reference (frozen)"] == 2 * 13e9
    assert m["critic (trained)"] == 16 * 350e6
    assert m["reward model (frozen)"] == 2 * 350e6
    assert m["total"] == pytest.approx(sum(v for k, v in m.items() if k != "total"))


def test_zero3_shards_everything_and_lora_freezes_the_actor():
    m = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, gpus=8, zero_stage=3)
    assert m["actor (trained)"] == 16 * 13e9 / 8
    assert m["reference (frozen)"] == 2 * 13e9 / 8
    lora = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, actor_lora_params=1e7)
    assert lora["actor (trained)"] == 2 * 13e9 + 12 * 1e7


def test_generation_share_by_hand_and_against_deepspeed_chat():
    # By hand, for a critic much smaller than the actor: generation 2N, experience 2N + 2N
    # (actor and reference forward), training 6N per token: 2 / 12 of the FLOPs.
    f = rlhf_cost.step3_flops_per_sample(66e9, 1.0)
    assert f["generation"] / sum(f.values()) == pytest.approx(2 / 12, rel=1e-6)
    # DeepSpeed-Chat blog, §5 'Effective Throughput Analysis': with 256 prompt and 256
    # generated tokens "the generation phase comprises approximately 20% of the total
    # computation" (OPT actors, 350M reward model). The hand count is of that order.
    for actor in (1.3e9, 13e9, 66e9):
        f = rlhf_cost.step3_flops_per_sample(actor, 350e6)
        assert 0.1 < f["generation"] / sum(f.values()) < 0.25


def test_generation_bounds():
    # memory-bound at batch 1: 256 steps x 26 GB / 1555 GB/s on one A100 40GB
    t = rlhf_cost.generation_seconds(13e9, 256, 1, 1, 1555, 312)
    assert t == pytest.approx(256 * 26e9 / 1555e9)
    # a huge batch is compute-bound: 2 N b FLOPs per step
    t = rlhf_cost.generation_seconds(13e9, 256, 100_000, 1, 1555, 312)
    assert t == pytest.approx(256 * 2 * 13e9 * 100_000 / 312e12)


def test_utilisation_round_trip():
    s = rlhf_cost.training_seconds(1e18, 8, 312, 0.4)
    assert rlhf_cost.implied_utilisation(1e18, s, 8, 312) == pytest.approx(0.4)


def test_critic_free_and_dpo_memory_by_hand():
    ppo = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6)
    grpo = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, method="grpo", group=8)
    dpo = rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, method="dpo")
    # GRPO: no critic, its Adam states (16 B/param) and activations are gone
    assert grpo["critic (trained)"] == 0.0
    assert grpo["reward model (frozen)"] == 2 * 350e6
    # the KV cache holds a group of 8 answers per prompt: 8 times PPO's one
    assert grpo["KV cache (generation)"] == pytest.approx(8 * ppo["KV cache (generation)"])
    assert ppo["activations (training)"] - grpo["activations (training)"] > 0
    # DPO: policy and reference only, activations of two answers, no generation
    assert dpo["critic (trained)"] == dpo["reward model (frozen)"] == 0.0
    assert dpo["KV cache (generation)"] == 0.0
    assert dpo["actor (trained)"] + dpo["reference (frozen)"] == 18 * 13e9
    assert dpo["total"] == pytest.approx(sum(v for k, v in dpo.items() if k != "total"))
    with pytest.raises(ValueError, match="group"):
        rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, method="ppo", group=4)
    with pytest.raises(ValueError, match="method"):
        rlhf_cost.step3_memory_bytes(OPT_13B, 13e9, OPT_350M, 350e6, method="a2c")


def test_lora_actor_flops_by_hand():
    full = rlhf_cost.step3_flops_per_sample(13e9, 350e6, 256, 256)
    lora = rlhf_cost.step3_flops_per_sample(13e9, 350e6, 256, 256, actor_lora_params=1e7)
    # the actor trains at 4 FLOPs per base parameter and token plus 6 per adapter parameter
    assert lora["training"] == pytest.approx((4 * 13e9 + 6 * 1e7 + 6 * 350e6) * 512)
    assert full["training"] - lora["training"] == pytest.approx((2 * 13e9 - 6 * 1e7) * 512)
    assert lora["generation"] == full["generation"] and lora["experience"] == full["experience"]
