"""Trainable parameters of PEFT methods, against the LoRA paper and the PEFT README."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmbook import peft
from llmbook.architecture import Shape
from test_architecture import GPT2_SMALL, MT5_LARGE

GPT3 = Shape(layers=96, d_model=12288, heads=96, vocab_size=50257, activation="gelu")


def test_lora_gpt3_rank1_on_q_and_v():
    # Hu et al. 2021, §7.2 / Table 15: r = 1 on W_q and W_v of GPT-3 175B: 4.7M parameters.
    assert peft.lora_params(GPT3, 1, ("q", "v")) == 4_718_592


def test_lora_mt0_large_rank8_matches_peft_readme():
    # PEFT README: "trainable params: 2359296 || all params: 1231940608" for mt0-large, r=8.
    assert peft.lora_params(MT5_LARGE, 8, ("q", "v")) == 2_359_296


def test_prompt_prefix_ia3_bitfit_on_gpt2():
    assert peft.prompt_params(GPT2_SMALL, 20) == 20 * 768
    assert peft.prefix_params(GPT2_SMALL, 10) == 12 * 2 * 10 * 768
    assert peft.ia3_params(GPT2_SMALL) == 12 * (2 * 768 + 3072)
    # GPT-2's biases: per layer 2304 + 768 + 3072 + 768 linear and 2 x 768 LayerNorm, + ln_f.
    assert peft.bitfit_params(GPT2_SMALL) == 12 * (2304 + 768 + 3072 + 768 + 2 * 768) + 768
    llama_like = Shape(layers=2, d_model=64, heads=4, vocab_size=100)
    assert peft.bitfit_params(llama_like) == 0


def test_adapters_houlsby():
    assert peft.adapter_params(GPT2_SMALL, 64) == 12 * 2 * (2 * 64 * 768 + 64 + 768)


def test_unknown_target_is_refused():
    with pytest.raises(ValueError, match="unknown target"):
        peft.lora_params(GPT3, 8, ("qkv",))
    with pytest.raises(ValueError, match="gate"):
        peft.lora_params(GPT3, 8, ("gate",))


@given(r=st.integers(1, 256), k=st.integers(2, 8))
def test_lora_is_linear_in_rank(r, k):
    targets = ("q", "k", "v", "o")
    assert peft.lora_params(GPT3, r * k, targets) == k * peft.lora_params(GPT3, r, targets)


# ----------------------------------------------------------------------------------------------
# LoRA variants and mixture-of-experts models

MOE = Shape(layers=4, d_model=64, heads=4, kv_heads=2, vocab_size=100, ffn_dim=256,
            n_experts=8, experts_per_token=2, shared_experts=1, expert_ffn_dim=32,
            dense_layers=1)  # fmt: skip


def test_dora_adds_one_magnitude_per_output_column_and_the_others_nothing():
    # DoRA (Liu et al. 2024, §3): m has one entry per column of W' (its output width)
    targets = ("q", "k", "v", "o", "gate", "up", "down")
    llama = Shape(layers=32, d_model=4096, heads=32, ffn_dim=11008, vocab_size=32000)
    outs = {"q": 4096, "k": 4096, "v": 4096, "o": 4096, "gate": 11008, "up": 11008, "down": 4096}
    lora = peft.lora_params(llama, 16, targets)
    assert peft.variant_params(llama, 16, targets, "dora") == lora + 32 * sum(outs.values())
    for variant in ("lora", "rslora", "pissa", "lora+"):
        assert peft.variant_params(llama, 16, targets, variant) == lora
    with pytest.raises(ValueError, match="unknown variant"):
        peft.variant_params(llama, 16, targets, "vera")


def test_moe_feed_forward_adapters_count_the_adapted_experts():
    r = 2
    attention = peft.lora_params(MOE, r, ("q", "v"))
    assert attention == 4 * r * ((64 + 64) + (64 + 32))  # four attention blocks
    with pytest.raises(NotImplementedError, match="experts"):
        peft.lora_params(MOE, r, ("up",))
    dense_up = 1 * r * (64 + 256)  # the one dense layer's up projection (width ffn_dim)
    expert_up = r * (64 + 32)  # one expert's up projection (width expert_ffn_dim)
    assert peft.lora_params(MOE, r, ("up",), experts="none") == dense_up
    assert peft.lora_params(MOE, r, ("up",), experts="shared") == dense_up + 3 * 1 * expert_up
    assert peft.lora_params(MOE, r, ("up",), experts="all") == dense_up + 3 * 9 * expert_up
    with pytest.raises(ValueError, match="experts must be"):
        peft.lora_params(MOE, r, ("up",), experts="routed")
    # dense models ignore the argument
    assert peft.lora_params(GPT3, 1, ("q", "v"), experts="all") == 4_718_592
