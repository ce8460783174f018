"""The alignment-disclosure helpers, on the shipped table and by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbook import alignment, catalog


def test_comparisons_per_ranking():
    assert [alignment.comparisons_per_ranking(k) for k in (2, 4, 9)] == [1, 6, 36]
    with pytest.raises(ValueError):
        alignment.comparisons_per_ranking(1)


def test_disclosure_matrix_by_hand():
    frame = pd.DataFrame(
        {
            "project": ["X", "X", "X"],
            "stage": ["sft", "reward model", "rl"],
            "data_count": [10, None, None],
            "rm_params": [None, 6e9, None],
            "algorithm": [None, None, "PPO"],
            "kl_coef": [None, None, None],
        }
    )
    m = alignment.disclosure_matrix(frame).loc["X"]
    assert m[("sft", "data_count")] and m[("reward model", "rm_params")]
    assert not m[("reward model", "data_count")] and not m[("rl", "kl_coef")]
    assert m[("rl", "algorithm")]


def test_shipped_table_instructgpt_is_fully_disclosed_and_chatgpt_is_not():
    m = alignment.disclosure_matrix(catalog.load("alignment_disclosures"))
    assert m.loc["InstructGPT"].all()
    assert m.loc["ChatGPT"].sum() == 1  # only the algorithm (PPO)


def test_shipped_table_matches_instructgpt_table_6():
    # Ouyang et al. 2022, Table 6: SFT train 11,295 + 1,430; RM train 6,623 + 26,584; PPO 31,144
    t = catalog.load("alignment_disclosures").set_index(["project", "stage"])
    assert t.loc[("InstructGPT", "sft"), "data_count"] == 11_295 + 1_430
    assert t.loc[("InstructGPT", "reward model"), "data_count"] == 6_623 + 26_584
    assert t.loc[("InstructGPT", "rl"), "data_count"] == 31_144


def test_shipped_table_later_reports():
    t = catalog.load("alignment_disclosures").set_index(["project", "stage"])
    # Llama 2 §3.2.2: reward models initialised from the chat model's checkpoints, same architecture
    assert (
        t.loc[("Llama 2-Chat", "reward model"), "rm_params"]
        == t.loc[("Llama 2-Chat", "reward model"), "policy_params"]
    )
    # Llama 3 §4.1.4: DPO with beta = 0.1; Qwen3 §4.2: GRPO on 3,995 query-verifier pairs
    assert t.loc[("Llama 3", "rl"), "kl_coef"] == 0.1
    assert "DPO" in t.loc[("Llama 3", "rl"), "algorithm"]
    assert t.loc[("Qwen3", "rl"), "data_count"] == 3_995
    assert "GRPO" in t.loc[("Qwen3", "rl"), "algorithm"]
    m = alignment.disclosure_matrix(t.reset_index())
    assert set(m.index[m.all(axis=1)]) == {"InstructGPT", "Llama 2-Chat"}


def test_instructgpt_initialisation_follows_section_3_5():
    models = {m["name"]: m for m in alignment.instructgpt_models(175e9, 6e9)}
    assert models["policy"]["init"] == models["reference"]["init"] == "SFT model"
    assert models["value function"]["init"] == "reward model"
    assert models["reward model"]["init"] == "SFT model (RM size)"
    assert models["reward model"]["params"] == models["value function"]["params"] == 6e9
    assert models["reference"]["role"] == "frozen"
    depths = alignment.initialisation_depths(list(models.values()))
    assert depths == {
        "GPT-3": 0,
        "GPT-3 (RM size)": 0,
        "SFT model": 1,
        "SFT model (RM size)": 1,
        "policy": 2,
        "reference": 2,
        "reward model": 2,
        "value function": 3,
    }


def test_initialisation_depths_refuses_cycles_and_unknown_parents():
    with pytest.raises(ValueError, match="cycle"):
        alignment.initialisation_depths([{"name": "a", "init": "b"}, {"name": "b", "init": "a"}])
    with pytest.raises(ValueError, match="unknown"):
        alignment.initialisation_depths([{"name": "a", "init": "nowhere"}])


def test_pipeline_figure_draws_every_model_and_edge():
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    from llmbook import rlhf_plots

    models = alignment.instructgpt_models(175e9, 6e9)
    uses = [("reward model", "policy", "reward"), ("reference", "policy", "KL penalty")]
    fig = rlhf_plots.pipeline_figure(
        models, alignment.initialisation_depths(models), {"policy": ["β = 0.02"]}, uses
    )
    ax = fig.axes[0]
    boxes = [p for p in ax.patches if isinstance(p, FancyBboxPatch)]
    arrows = [p for p in ax.patches if isinstance(p, FancyArrowPatch)]
    assert len(boxes) == len(models)
    assert len(arrows) == sum(m["init"] is not None for m in models) + len(uses)
    texts = {t.get_text() for t in ax.texts}
    assert {"policy", "value function", "KL penalty"} <= texts
    plt.close(fig)
