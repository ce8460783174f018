"""llmbook.landscape: counts, reader tables and the timeline, on a small hand-made catalog."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from llmbook import landscape  # noqa: E402


@pytest.fixture
def models() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["A 7B", "B 70B", "C chat", "D"],
            "family": ["A", "B", "A", "D"],
            "organization": ["X;Y", "Z", "X", "W"],
            "released": pd.to_datetime(["2023-01-01", "2022-06-01", "2023-03-01", None]),
            "languages": pd.array(["zh;en", "en", "zh;en", None], dtype="string"),
            "params": pd.array([7_000_000_000, 70_000_000_000, None, 1_000_000], dtype="Int64"),
            "train_tokens": pd.array([10**12, None, None, None], dtype="Int64"),
            "architecture": ["decoder-only", "decoder-only", None, None],
            "open_weights": pd.array([True, False, True, None], dtype="boolean"),
            "base_model": [None, None, "A 7B", None],
            "stage": ["pretrained", "pretrained", "chat", "pretrained"],
            "source": ["k: §1", "k: §2", "k: §3", "k: §4"],
            "notes": [None, None, None, None],
        }
    )


def test_summarize_counts(models):
    facts = landscape.summarize(models)
    assert facts["n_models"] == 4
    assert facts["n_pretrained"] == 3
    assert facts["n_tuned"] == 1
    assert facts["n_open"] == 2  # A and C; D's openness is unknown, not "closed" or "open"
    assert facts["n_zh"] == 2
    assert facts["n_open_zh"] == 2
    assert facts["size_span_orders"] == "1.0"  # drawn: 7B and 70B
    assert facts["largest_open"] == "A 7B (7B)"
    assert facts["largest_open_zh"] == "A 7B (7B)"
    assert facts["n_undrawn"] == 2  # C has no size, D no release month
    assert facts["undrawn"] == "C chat, D"


def test_language_group():
    assert landscape.language_group("zh;en") == "Chinese among main languages"
    assert landscape.language_group("mul") == "many languages"
    assert landscape.language_group("en") == "English only"
    assert landscape.language_group(pd.NA) == "other / not stated"


def test_display_table_formats_billions_and_blanks(models):
    table = landscape.display_table(models, "pretrained")
    assert table["model"].tolist() == ["B 70B", "A 7B", "D"]  # by release month, unknown last
    assert table["params (B)"].tolist() == ["70", "7", "0.001"]
    assert table["train tokens (B)"].tolist() == ["", "1000", ""]
    assert table["open weights"].tolist() == ["no", "yes", ""]
    assert table["organization"].tolist()[1] == "X, Y"
    tuned = landscape.display_table(models, "tuned")
    assert tuned["base model"].tolist() == ["A 7B"]


def test_display_table_rejects_unknown_stage(models):
    with pytest.raises(ValueError, match="stage"):
        landscape.display_table(models, "base")


def test_missing_facts(models):
    missing = landscape.missing_facts(models)
    assert missing.loc["pretrained", "models"] == 3
    assert missing.loc["pretrained", "no published size"] == 0
    assert missing.loc["chat", "no published size"] == 1
    assert missing.loc["pretrained", "no release month"] == 1


def test_timeline_draws_only_points_with_size_and_date(models):
    fig = landscape.timeline_figure(models)
    ax = fig.axes[0]
    offsets = sum(len(c.get_offsets()) for c in ax.collections)
    assert offsets == 2
    assert ax.get_yscale() == "log"
    assert sorted(t.get_text() for t in ax.texts) == ["A 7B", "B 70B"]


def test_label_mask_names_the_largest_of_each_family(models):
    extra = models.copy()
    extra.loc[len(extra)] = extra.loc[0]
    extra.loc[len(extra) - 1, ["model", "params"]] = ["A 1B", 1_000_000_000]
    mask = landscape.label_mask(extra)
    assert sorted(extra.loc[mask, "model"]) == ["A 7B", "B 70B", "D"]


def test_moe_table_separates_total_and_active_parameters():
    frame = pd.DataFrame(
        {
            "model": ["Dense", "Sparse", "Unknown"],
            "released": pd.to_datetime(["2024-01-01", "2024-12-01", "2023-06-01"]),
            "moe": pd.array([False, True, True], dtype="boolean"),
            "params": [7e9, 671e9, 47e9],
            "active_params": [7e9, 37e9, None],
        }
    )
    table = landscape.moe_table(frame)
    assert table.index.tolist() == ["Unknown", "Sparse"]  # MoE rows only, by release
    assert table.loc["Sparse"].tolist() == ["2024-12", "671.0B", "37.0B", "6%"]
    assert table.loc["Unknown", "active params"] == "not in catalog"
    assert table.loc["Unknown", "active share"] == ""
