"""Joining scores with the catalog, settings, and the per-decade slope."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from llmbook import catalog, scores


def _scores():
    return pd.DataFrame(
        {
            "model": ["a", "a", "b"],
            "benchmark": ["X", "X", "X"],
            "split": ["test", None, "test"],
            "shots": [5, 5, 5],
            "cot": [False, False, False],
            "score": [40.0, 45.0, 60.0],
            "reported_by": ["r1", "r2", "r1"],
        }
    )


def test_one_setting_refuses_two_reporters():
    with pytest.raises(ValueError, match="choose a reported_by"):
        scores.one_setting(_scores(), "X", 5)
    assert len(scores.one_setting(_scores(), "X", 5, reported_by="r1")) == 2


def test_spread_and_settings():
    spread = scores.spread_across_settings(_scores())
    assert spread.loc[0, "model"] == "a" and spread.loc[0, "spread_points"] == 5.0
    table = scores.settings(_scores())
    assert table["scores"].sum() == 3 and "not stated" in set(table["split"])


def test_points_per_decade_hand_case():
    assert scores.points_per_decade(pd.Series([1e9, 1e10, 1e11]), pd.Series([30, 40, 50])) == (
        pytest.approx(10.0)
    )
    with pytest.raises(ValueError):
        scores.points_per_decade(pd.Series([1e9]), pd.Series([30]))


def test_with_model_facts_computes_6nd(root):
    models = catalog.load("models", root / "data")
    table = scores.with_model_facts(catalog.load("benchmark_scores", root / "data"), models)
    row = table[table["model"] == "LLaMA-65B"].iloc[0]
    assert row["training_flops"] == pytest.approx(
        6 * float(row["params"]) * float(row["train_tokens"])
    )


def test_reader_view_names_reporters_and_leaves_no_raw_values(root):
    from llmbook import catalog, tables

    table = scores.with_model_facts(
        catalog.load("benchmark_scores", root / "data"), catalog.load("models", root / "data")
    )
    view = scores.reader_view(table)
    keys = set(tables.bibliography_names())
    cells = view.astype(str).to_numpy().ravel().tolist()
    assert not {"<NA>", "nan", "NaN", "None"} & set(cells)
    assert not set(view["reported by"]) & keys  # names, not bibliography keys
    assert len(view) == len(table)


def test_figures_label_reporters_by_name(root):
    import matplotlib.pyplot as plt

    from llmbook import catalog, tables

    table = scores.with_model_facts(
        catalog.load("benchmark_scores", root / "data"), catalog.load("models", root / "data")
    )
    five = table[(table["shots"] == 5) & (~table["cot"].astype(bool))].dropna(subset=["params"])
    fig = scores.panel_figure(five, "params", "parameters")
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    plt.close(fig)
    keys = set(tables.bibliography_names())
    assert legend and not set(legend) & keys


def test_half_width_points_matches_the_hand_computed_wilson_interval():
    # n = 2400 at p = 0.5: the normal interval is 1.96 * 0.5 / sqrt(2400) = 0.0200 (+-2.0 points);
    # the Wilson half-width z sqrt(pq/n + z^2/4n^2) / (1 + z^2/n) is a little narrower:
    z, n = 1.96, 2400
    by_hand = z * math.sqrt(0.25 / n + z**2 / (4 * n**2)) / (1 + z**2 / n) * 100
    assert scores.half_width_points(n) == pytest.approx(by_hand, rel=1e-9)
    assert by_hand == pytest.approx(2.0, abs=0.01)
    # Four times the items halve the half-width (to within the Wilson correction).
    assert scores.half_width_points(4 * n) == pytest.approx(by_hand / 2, rel=0.01)
    with pytest.raises(ValueError):
        scores.half_width_points(0)


def test_size_interval_table_keeps_only_counted_benchmarks_with_a_size(root):
    from llmbook import catalog

    bench = catalog.load("benchmarks", root / "data")
    table = scores.size_interval_table(bench)
    assert "HumanEval" in set(table["benchmark"]) and "MMLU" in set(table["benchmark"])
    # Judged benchmarks (rated 1-10) and benchmarks without a stated test size are left out.
    assert not {"MT-Bench", "AlignBench", "CMMLU"} & set(table["benchmark"])
    assert table["test_questions"].is_monotonic_increasing
    assert table["half_width_points"].is_monotonic_decreasing


def test_reader_view_gives_each_score_its_unit(root):
    from llmbook import catalog

    table = catalog.load("benchmark_scores", root / "data")
    bench = catalog.load("benchmarks", root / "data")
    view = scores.reader_view(table, bench)
    judged = view[table["benchmark"].isin(["AlignBench", "MT-Bench"]).to_numpy()]
    assert len(judged) > 0 and judged["score"].str.endswith("/ 10").all()
    assert view[table["benchmark"].eq("MMLU").to_numpy()]["score"].str.endswith("%").all()
    with pytest.raises(ValueError, match="score_max"):
        scores.reader_view(table, bench[bench["benchmark"] != "MMLU"])
