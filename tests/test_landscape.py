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
    # the organization and the openness of the weights share a cell; unknown openness is said
    assert table["organization / weights"].tolist() == [
        "Z · closed weights",
        "X, Y · open weights",
        "W · weights not stated",
    ]
    assert table["source and notes"].tolist()[1] == "k: §1"  # no notes: the source alone
    tuned = landscape.display_table(models, "tuned")
    assert tuned["stage / base model"].tolist() == ["chat, from A 7B"]


def test_display_tables_have_seven_columns_and_numeric_sizes():
    """Seven columns keep the interactive tables inside the text column (688 px at 1280 px);
    the number columns stay numbers so DataTables sorts them as numbers (the whole catalog)."""
    from llmbook import catalog
    from llmbook.tables import numeric_text_columns

    models = catalog.load("models")
    for stage, numbers in (("pretrained", ["params (B)", "train tokens (B)"]),
                           ("tuned", ["params (B)"])):  # fmt: skip
        table = landscape.display_table(models, stage)
        assert len(table.columns) == 7, list(table.columns)
        numeric = [table.columns[i] for i in numeric_text_columns(table)]
        assert numeric == numbers
        assert "architecture" not in table.columns


def test_made_by_stage_and_source_cells():
    assert landscape.made_by("A;B", True) == "A, B · open weights"
    assert landscape.made_by(pd.NA, False) == "closed weights"
    assert landscape.stage_and_base("instruction-tuned", None) == "instruction-tuned"
    # a key the bibliography lacks stays as written; a key it has reads as the work's name
    assert landscape.source_and_notes("k: §1", "rank 8") == "k: §1 — rank 8"
    assert landscape.source_and_notes("hu2021lora: Table 4", None) == "Hu et al. 2021: Table 4"
    assert landscape.source_and_notes(None, None) == ""


def test_architectures_apart_names_every_model_not_decoder_only():
    rows = pd.DataFrame(
        {
            "model": ["a", "b", "c", "d", "e"],
            "architecture": ["decoder-only", "encoder-decoder", "prefix-lm", None,
                             "encoder-decoder"],
        }
    )  # fmt: skip
    assert landscape.architectures_apart(rows) == (
        "b and e (encoder-decoder); c (prefix LM); d (architecture not stated)"
    )
    assert landscape.architectures_apart(rows.iloc[:1]) == "none"


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
