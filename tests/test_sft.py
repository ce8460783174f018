"""llmbook.sft: hand-computed SFT budgets."""

from __future__ import annotations

import pytest

from llmbook import memory, sft


def test_tokens_and_flops_hand_computed():
    # 52,000 examples of 512 tokens for 3 epochs: 79,872,000 tokens; a 7e9 model: 6ND.
    tokens = sft.sft_tokens(52_000, 512, 3)
    assert tokens == 79_872_000
    assert sft.sft_flops(7e9, tokens) == pytest.approx(6 * 7e9 * 79_872_000)
    assert sft.sft_flops(7e9, tokens, "lora") == pytest.approx(4 * 7e9 * 79_872_000)
    assert sft.sft_flops(7e9, tokens, "lora") / sft.sft_flops(7e9, tokens) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="method"):
        sft.sft_flops(7e9, tokens, "adapter")
    with pytest.raises(ValueError, match="examples"):
        sft.sft_tokens(0, 512)


def test_gpus_for_full_finetune():
    # 7e9 parameters × 16 bytes = 112 GB of states; 80 GB GPUs with 10% reserve hold 72 GB
    # each: 2 GPUs (56 GB each).
    assert sft.gpus_for_full_finetune(7e9, 80) == 2
    # 70e9 × 16 = 1,120 GB over 72 GB usable: ceil(15.6) = 16.
    assert sft.gpus_for_full_finetune(70e9, 80) == 16
    # activations eat into each GPU: 40 GB of activations leave 32 GB, so 4 GPUs for 112 GB.
    assert sft.gpus_for_full_finetune(7e9, 80, activations_per_gpu=40e9) == 4
    with pytest.raises(ValueError, match="activations"):
        sft.gpus_for_full_finetune(7e9, 80, activations_per_gpu=80e9)


def test_gpus_to_hold_and_hours():
    lora = memory.finetune_bytes(7e9, "lora", trainable=4e6)["total"]
    assert sft.gpus_to_hold(lora, 80) == 1
    assert sft.gpus_to_hold(140e9, 80) == 2
    # 1e18 FLOPs on 8 GPUs of 1e14 FLOP/s at 50%: 1e18 / 4e14 = 2,500 s.
    assert sft.hours(1e18, 8, 1e14, 0.5) == pytest.approx(2500 / 3600)
