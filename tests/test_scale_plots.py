"""llmbook.scale_plots: Kaplan's frontier, tokens per parameter, inversions, loss and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from llmbook import compute, scaling  # noqa: E402
from llmbook import scale_plots as sp  # noqa: E402


@pytest.fixture
def models() -> pd.DataFrame:
    """A hand-made catalog: an under-trained candidate, an over-trained one, an MoE, gaps."""
    return pd.DataFrame(
        {
            "model": ["GLM-130B", "LLaMA-7B", "Big MoE", "CPM 2.6B", "Small"],
            "stage": ["pretrained"] * 4 + ["chat"],
            "architecture": pd.array(
                ["prefix-lm", "decoder-only", "decoder-only", "decoder-only", None],
                dtype="string",
            ),
            "moe": pd.array([False, False, True, False, None], dtype="boolean"),
            "params": pd.array(
                [130_000_000_000, 6_700_000_000, 200_000_000_000, 2_600_000_000, 1_000_000_000],
                dtype="Int64",
            ),
            "train_tokens": pd.array(
                [400_000_000_000, 10**12, 5 * 10**12, None, 20_000_000_000], dtype="Int64"
            ),
            "source": ["a: §1", "b: §2", "c: §3", "d: §4", "e: §5"],
        }
    )


def test_kaplan_constants_are_table_6():
    # Kaplan et al. 2020, Appendix A Table 6: N_e = 1.3e9 params, p_N = 0.73,
    # D_e = 2e10 tokens, p_D = 0.27, C_min in PF-days.
    k = sp.KAPLAN_2020
    assert (k.n_e, k.p_n, k.d_e, k.p_d) == (1.3e9, 0.73, 2e10, 0.27)
    assert "kaplan2020scaling" in k.source and "Table 6" in k.source


def test_kaplan_at_one_pf_day_returns_the_coefficients():
    params, tokens = sp.KAPLAN_2020.optimal(compute.PFLOP_S_DAY)
    assert params == pytest.approx(1.3e9)
    assert tokens == pytest.approx(2e10)


def test_kaplan_figure_14_caption_5x_model_per_10x_compute():
    # Figure 14 caption: model size grows "by 5x for each 10x increase in compute" and data
    # "by only 2x" (10^0.73 = 5.4, 10^0.27 = 1.9).
    n_factor, d_factor = sp.growth_per_decade(sp.KAPLAN_2020.optimal)
    assert n_factor == pytest.approx(10**0.73)
    assert round(n_factor) == 5 and round(d_factor) == 2


def test_kaplan_rounded_constants_overspend_6nd():
    # 6 · 1.3e9 · 2e10 / 8.64e19 = 1.806: the two rounded laws are not exactly C = 6ND.
    assert sp.KAPLAN_2020.six_nd_over_budget() == pytest.approx(1.80556, rel=1e-4)
    assert sp.KAPLAN_2020.six_nd_over_budget(1e24) == pytest.approx(1.80556, rel=1e-4)


@given(c=st.floats(1e18, 1e27))
def test_chinchilla_ratio_is_twenty_at_every_budget(c):
    # Table 3's first row: 400M parameters and 8.0B tokens, 20 tokens per parameter.
    assert sp.chinchilla_tokens_per_param(c) == pytest.approx(20.0, rel=1e-9)


def test_scale_table_keeps_models_with_both_facts(models):
    table = sp.scale_table(models)
    assert table["model"].tolist() == ["GLM-130B", "Small", "Big MoE", "LLaMA-7B"]
    glm = table.set_index("model").loc["GLM-130B"]
    assert glm["tokens_per_param"] == pytest.approx(400 / 130)
    assert glm["flops"] == pytest.approx(6 * 130e9 * 400e9)
    assert glm["undertrained"] and glm["candidate"] == "GLM"
    llama = table.set_index("model").loc["LLaMA-7B"]
    assert not llama["undertrained"] and llama["candidate"] == "LLaMA"
    assert table.set_index("model").loc["Small", "candidate"] == ""
    assert table["moe"].tolist() == [False, False, True, False]  # missing moe -> False


def test_a_model_at_the_ratio_is_not_undertrained(models):
    # Approach 1's ratio is 20 up to rounding (20.000000000000004); "Small" has exactly 20.
    assert not sp.scale_table(models).set_index("model").loc["Small", "undertrained"]


def test_undertrained_threshold_is_strict(models):
    # "Small" has exactly 20 tokens per parameter: at the ratio, not under it.
    table = sp.scale_table(models, ratio=20.0).set_index("model")
    assert not table.loc["Small", "undertrained"]
    assert sp.scale_table(models, ratio=20.5).set_index("model").loc["Small", "undertrained"]


def test_missing_candidates_lists_rows_without_both_facts(models):
    missing = sp.missing_candidates(models)
    assert "CPM 2.6B" in missing and "Wenzhong2.0-GPT2-3.5B" in missing
    assert "GLM-130B" not in missing and "LLaMA-7B" not in missing


@pytest.mark.parametrize("name", list(sp.ALLOCATIONS))
def test_allocation_for_params_inverts_each_rule(name):
    rule = sp.ALLOCATIONS[name]
    flops, params, tokens = sp.allocation_for_params(rule, 130e9)
    assert params == pytest.approx(130e9, rel=1e-9)
    assert rule(flops) == pytest.approx((params, tokens), rel=1e-9)


def test_allocation_for_params_approach1_is_twenty_tokens_per_param():
    flops, params, tokens = sp.allocation_for_params(scaling.approach1, 130e9)
    assert tokens == pytest.approx(2.6e12, rel=1e-6)
    assert flops == pytest.approx(6 * 130e9 * 2.6e12, rel=1e-6)


def test_allocation_for_params_refuses_out_of_range():
    with pytest.raises(ValueError, match="outside"):
        sp.allocation_for_params(scaling.approach1, 1e30)
    with pytest.raises(ValueError, match="positive"):
        sp.allocation_for_params(scaling.approach1, 0)


def test_allocation_table_one_column_per_rule():
    table = sp.allocation_table([1e21, 1e23])
    assert list(table.columns) == list(sp.ALLOCATIONS)
    assert table["Chinchilla Approach 1 (Table 3)"].tolist() == pytest.approx([20.0, 20.0])
    kaplan = table["Kaplan et al. 2020 (Table 6)"]
    assert kaplan.iloc[1] < kaplan.iloc[0]  # Kaplan's D/N falls as the budget grows


def test_loss_table_excess_is_non_negative_and_drops_moe(models):
    losses = sp.loss_table(sp.scale_table(models))
    assert "Big MoE" not in losses["model"].tolist()
    for key in scaling.LAWS:
        assert (losses[f"excess {key}"] >= -1e-12).all()
    glm = losses.set_index("model").loc["GLM-130B"]
    assert glm["loss epoch"] == pytest.approx(scaling.EPOCH_2024.loss(130e9, 400e9))
    shown = sp.display_loss_table(losses)
    assert "loss, 2024 refit (nats)" in shown.columns
    assert shown.set_index("model").loc["GLM-130B", "params (B)"] == "130"
    assert shown.set_index("model").loc["LLaMA-7B", "tokens (B)"] == "1000"  # not "1e+03"
    assert shown.set_index("model").loc["GLM-130B", "loss, 2024 refit (nats)"] == (
        f"{scaling.EPOCH_2024.loss(130e9, 400e9):.3f}"
    )
    # nine columns keep the interactive table inside the text column; all but the model's
    # name are numbers, so DataTables sorts them as numbers
    from llmbook.tables import numeric_text_columns

    assert len(shown.columns) == 9, list(shown.columns)
    assert numeric_text_columns(shown) == list(range(1, 9))


def test_amounts_reads_suffixed_counts():
    assert sp.amounts("a 130B model is estimated to need 4T tokens") == [130e9, 4e12]
    assert sp.amounts("1.4T") == [1.4e12]
    assert sp.amounts("180B") == [180e9]
    assert sp.amounts("no count here, B-tree") == []


def test_token_claims_joins_the_catalog(models):
    claims = pd.DataFrame(
        {
            "claim": ["C20", "C99", "C05"],
            "subject": ["GLM-130B", "CPM 2.6B", "CPM 2.6B"],
            "field": ["train_tokens", "train_tokens", "released"],
            "article_value": ["400B", "100G", "2021-03"],
            "verdict": ["correct", "unsourced", "ambiguous"],
        }
    )
    out = sp.token_claims(claims, models)
    assert out["claim"].tolist() == ["C20", "C99"]
    assert out["catalog tokens (B)"].tolist() == ["400", ""]
    assert out["tokens/param"].tolist() == ["3.08", ""]


def test_candidate_of():
    assert sp.candidate_of("BLOOM-176B") == "BLOOM"
    assert sp.candidate_of("Wenzhong2.0-GPT2-3.5B") == "Wenzhong"
    assert sp.candidate_of("GPT-3 175B") == ""


def test_figures_draw(models):
    table = sp.scale_table(models)
    fig = sp.frontier_figure(table)
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"GLM-130B", "LLaMA-7B"} <= texts
    plt.close(fig)
    fig = sp.tokens_per_param_figure(table, 20.0)
    assert len(fig.axes[0].patches) == len(table)
    assert not [c for c in fig.axes[0].collections if len(c.get_offsets())]  # no active count
    plt.close(fig)
    # with an active count, the MoE gets one marker at D / N_active
    with_active = sp.scale_table(models.assign(active_params=[None, None, 20e9, None, None]))
    fig = sp.tokens_per_param_figure(with_active, 20.0)
    drawn = [x for c in fig.axes[0].collections for x, _ in c.get_offsets()]
    moe = with_active.set_index("model").loc["Big MoE"]
    assert drawn == pytest.approx([moe["tokens"] / 20e9])
    plt.close(fig)
    fig = sp.allocation_figure(table)
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == len(sp.ALLOCATIONS)
    plt.close(fig)
    fig = sp.isoflop_figure(table, ("GLM-130B", "LLaMA-7B"))
    assert len(fig.axes) == 2 and len(fig.axes[0].lines) == 2
    plt.close(fig)


def test_scale_table_costs_a_mixture_of_experts_by_its_active_parameters(models):
    table = sp.scale_table(models).set_index("model")
    # without an active count the MoE keeps its place (total params) but gets no budget
    assert pd.isna(table.loc["Big MoE", "flops"]) and pd.isna(table.loc["Big MoE", "active_params"])
    assert table.loc["LLaMA-7B", "active_params"] == table.loc["LLaMA-7B", "params"]
    with_active = models.assign(active_params=[None, None, 20e9, None, None])
    table = sp.scale_table(with_active).set_index("model")
    moe = table.loc["Big MoE"]
    assert moe["flops"] == 6 * 20e9 * moe["tokens"]
    assert moe["tokens_per_active_param"] == pytest.approx(10 * moe["tokens_per_param"])
