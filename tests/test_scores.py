"""Joining scores with the catalog, settings, and the per-decade slope."""

from __future__ import annotations

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
