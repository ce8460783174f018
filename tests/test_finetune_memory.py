"""llmbook.finetune_memory: full, LoRA and QLoRA plans from the catalog."""

from __future__ import annotations

import pytest

from llmbook import catalog, deployment, finetune_memory, memory, peft
from llmbook.architecture import Shape


@pytest.fixture
def tables(root):
    data = root / "data"
    return catalog.load("models", data), catalog.load("architectures", data)


def test_full_plan_is_sixteen_bytes_per_parameter_plus_activations(tables):
    models, shapes = tables
    plan = finetune_memory.full_finetune_plan(
        models, shapes, ["LLaMA-7B"], 2048, 1, recompute="selective"
    ).iloc[0]
    assert plan["states_gb"] == pytest.approx(16 * plan["params"] / 1e9)
    # Korthikanti et al. 2022, selective recomputation: 34·s·b·h bytes per layer
    assert plan["activations_gb"] == pytest.approx(32 * 34 * 2048 * 4096 / 1e9)
    assert plan["total_gb"] == pytest.approx(plan["states_gb"] + plan["activations_gb"])


def test_gpus_needed_with_zero3():
    # 1e9 parameters: 16 GB of states; 1 GB of activations; 5 GB cards leave 4 GB: 4 cards
    assert finetune_memory.gpus_needed(1e9, 1e9, 5) == 4
    assert finetune_memory.gpus_needed(1e9, 6e9, 5) is None
    assert finetune_memory.gpus_needed(1e6, 0, 80) == 1


def test_method_plan_reproduces_qlora_65b_under_48_gb(tables):
    # QLoRA abstract: a 65B model fine-tunes in < 48 GB (> 780 GB in 16-bit full fine-tuning)
    models, shapes = tables
    plan = finetune_memory.method_plan(models, shapes, ["LLaMA-65B"], 512, 1, rank=64)
    by = plan.set_index("method")
    assert by.loc["qlora", "total_gb"] < 48 < by.loc["lora", "total_gb"]
    assert by.loc["full", "total_gb"] > 780
    shape = Shape(layers=80, d_model=8192, heads=64, ffn_dim=22016, vocab_size=32000)
    assert by.loc["qlora", "trainable"] == peft.lora_params(shape, 64, finetune_memory.ALL_LINEAR)
    weights = memory.weight_bytes(by.loc["full", "trainable"], "nf4-dq") / 1e9
    assert by.loc["qlora", "weights_gb"] == pytest.approx(weights)


def test_plain_ffn_models_have_no_gate_target():
    plain = Shape(layers=2, d_model=64, heads=4, vocab_size=100, activation="gelu")
    assert "gate" not in finetune_memory.lora_targets(plain)
    assert "gate" in finetune_memory.lora_targets(Shape(layers=2, d_model=64, heads=4))


def test_every_plan_defaults_to_gradient_checkpointing(tables):
    """One default for every chapter: full recomputation keeps 2·s·b·h bytes per layer."""
    models, shapes = tables
    assert finetune_memory.DEFAULT_RECOMPUTE == "full"
    full = finetune_memory.full_finetune_plan(models, shapes, ["LLaMA-7B"], 2048, 1).iloc[0]
    assert full["activations_gb"] == pytest.approx(32 * 2 * 2048 * 4096 / 1e9)
    plan = finetune_memory.method_plan(models, shapes, ["LLaMA-7B"], 2048, 1, rank=8)
    assert (plan["activations_gb"] == full["activations_gb"]).all()


def test_recompute_table_sets_the_alternatives_side_by_side(tables):
    models, shapes = tables
    table = finetune_memory.recompute_table(models, shapes, "LLaMA-7B", 2048, 1, rank=8)
    assert list(table.index) == ["none", "selective", "full"]
    assert list(table.columns) == ["full", "lora", "qlora"]
    # less kept, less memory; the activations differ by the same amount for every method
    assert (table.diff().iloc[1:] < 0).all().all()
    gaps = table.loc["none"] - table.loc["full"]
    assert gaps.max() == pytest.approx(gaps.min())
    for setting in table.index:
        plan = finetune_memory.method_plan(
            models, shapes, ["LLaMA-7B"], 2048, 1, rank=8, recompute=setting
        ).set_index("method")
        assert table.loc[setting, "lora"] == plan.loc["lora", "total_gb"]


def test_moe_plan_holds_every_expert_and_adapts_the_chosen_ones(tables):
    """Hunyuan-A13B (64 routed + 1 shared expert per layer): the frozen base holds every expert;
    full fine-tuning keeps states for all of them; LoRA's states grow with the adapted experts."""
    models, shapes = tables
    shape = deployment.shape_of("Hunyuan-A13B", models, shapes)
    plans = {
        experts: finetune_memory.method_plan(
            models, shapes, ["Hunyuan-A13B"], 2048, 1, rank=16, experts=experts
        ).set_index("method")
        for experts in ("none", "shared", "all")
    }
    attention = peft.lora_params(shape, 16, ("q", "k", "v", "o"))
    assert plans["none"].loc["lora", "trainable"] == attention
    one_expert = 16 * (2 * (4096 + 3072) + (3072 + 4096))  # gate, up, down of one expert
    assert plans["shared"].loc["lora", "trainable"] == attention + 32 * one_expert
    assert plans["all"].loc["lora", "trainable"] == attention + 32 * 65 * one_expert
    for plan in plans.values():  # the base weights are the same whichever experts adapt
        assert plan.loc["qlora", "weights_gb"] == plans["all"].loc["qlora", "weights_gb"]
        assert plan.loc["full", "trainable"] == 80e9  # the reported total, every expert
    with pytest.raises(NotImplementedError, match="experts"):
        finetune_memory.method_plan(models, shapes, ["Hunyuan-A13B"], 2048, 1, rank=16)


def test_dora_plan_adds_the_magnitudes_states(tables):
    models, shapes = tables
    plain = finetune_memory.method_plan(models, shapes, ["LLaMA-7B"], 512, 1, rank=8)
    dora = finetune_memory.method_plan(models, shapes, ["LLaMA-7B"], 512, 1, rank=8,
                                       variant="dora")  # fmt: skip
    extra = 32 * (4 * 4096 + 2 * 11008 + 4096)  # one magnitude per output column, 7 targets
    lora_rows = plain["method"] != "full"
    assert ((dora["trainable"] - plain["trainable"])[lora_rows] == extra).all()
    gb = (dora["total_gb"] - plain["total_gb"])[lora_rows]
    assert gb.to_numpy() == pytest.approx([extra * memory.LORA_BYTES_PER_TRAINABLE / 1e9] * 2)


def test_recompute_table_of_a_mixture_needs_and_passes_the_adapted_experts(tables):
    models, shapes = tables
    table = finetune_memory.recompute_table(
        models, shapes, "Hunyuan-A13B", 2048, 1, rank=16, experts="shared"
    )
    plan = finetune_memory.method_plan(
        models, shapes, ["Hunyuan-A13B"], 2048, 1, rank=16, experts="shared"
    ).set_index("method")
    assert table.loc["full", "qlora"] == plan.loc["qlora", "total_gb"]
    with pytest.raises(NotImplementedError):
        finetune_memory.recompute_table(models, shapes, "Hunyuan-A13B", 2048, 1, rank=16)
