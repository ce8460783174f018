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
