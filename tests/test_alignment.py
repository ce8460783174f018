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
    assert t.loc[("Llama 2-Chat", "reward model"), "rm_params"] == t.loc[
        ("Llama 2-Chat", "reward model"), "policy_params"
    ]
    # Llama 3 §4.1.4: DPO with beta = 0.1; Qwen3 §4.2: GRPO on 3,995 query-verifier pairs
    assert t.loc[("Llama 3", "rl"), "kl_coef"] == 0.1
    assert "DPO" in t.loc[("Llama 3", "rl"), "algorithm"]
    assert t.loc[("Qwen3", "rl"), "data_count"] == 3_995
    assert "GRPO" in t.loc[("Qwen3", "rl"), "algorithm"]
    m = alignment.disclosure_matrix(t.reset_index())
    assert set(m.index[m.all(axis=1)]) == {"InstructGPT", "Llama 2-Chat"}
