"""llmbook.instruction_data: language groups and totals, on hand-made rows and the catalog."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbook import catalog, instruction_data


@pytest.mark.parametrize(
    ("languages", "n", "group"),
    [
        ("en", 1, "English"),
        ("zh", 1, "Chinese"),
        ("en;zh", 2, "Chinese and English"),
        ("zh;en", None, "Chinese and English"),
        (None, 46, "multilingual"),
        ("en;zh;fr", None, "multilingual"),
        (None, None, "not stated"),
        ("fr", 1, "other"),
    ],
)
def test_language_group(languages, n, group):
    assert instruction_data.language_group(languages, n) == group


def _frame(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    frame["examples"] = pd.array(frame["examples"], dtype="Int64")
    return frame


def test_examples_by_sums_within_a_unit_and_skips_unknown_sizes():
    frame = _frame(
        languages=["en", "en", "zh", None, "zh"],
        n_languages=[1, 1, 1, 46, 1],
        examples=[10, 5, 7, None, 3],
        example_unit=["records", "instructions", "instructions", None, "dialogues"],
        method=["human", "distilled", "distilled", "templated", "distilled"],
    )
    table = instruction_data.examples_by(
        instruction_data.with_groups(frame), "method", "language_group"
    )
    assert table.index.names == ["example_unit", "method"]
    assert table.loc[("instructions", "distilled"), "English"] == 5
    assert table.loc[("instructions", "distilled"), "Chinese"] == 7
    assert table.loc[("dialogues", "distilled"), "Chinese"] == 3
    assert table.loc[("records", "human"), "English"] == 10
    assert table.loc[("records", "human"), "Chinese"] == 0
    assert "templated" not in table.index.get_level_values("method")
    # no cell adds two units: each unit's column sums are that unit's total alone
    assert int(table.loc["instructions"].to_numpy().sum()) == 12


def test_summing_mixed_units_raises():
    mixed = _frame(examples=[52_000, 70_000], example_unit=["instructions", "dialogues"])
    with pytest.raises(instruction_data.MixedUnitsError, match="different units"):
        instruction_data.total_examples(mixed)
    same = _frame(examples=[570_000, 590_000, None], example_unit=["dialogues", "dialogues", None])
    assert instruction_data.total_examples(same) == 1_160_000


def test_share_by_unit_stays_within_each_unit():
    frame = _frame(
        examples=[100, 300, 50, 50, None],
        example_unit=["instructions", "instructions", "dialogues", "dialogues", None],
        method=["human", "distilled", "distilled", "templated", "distilled"],
    )
    shares = instruction_data.share_by_unit(frame, frame["method"] == "distilled")
    assert shares["instructions"] == pytest.approx(0.75)
    assert shares["dialogues"] == pytest.approx(0.5)
    assert set(shares.index) == {"instructions", "dialogues"}


@pytest.mark.parametrize(
    ("spelling", "canonical"),
    [
        ("GPT-3 (davinci)", "davinci"),
        ("GPT-4", "gpt-4"),
        ("ChatGPT (gpt-3.5-turbo)", "gpt-3.5-turbo"),
        ("gpt-3.5-turbo", "gpt-3.5-turbo"),
        ("ChatGPT", "ChatGPT"),
        ("Llama 3 70B Instruct", "Meta-Llama-3-70B-Instruct"),
        ("R1; Qwen2 72B Instruct", "DeepSeek-R1;Qwen2-72B-Instruct"),
    ],
)
def test_teacher_name_maps_spellings_to_one_name(spelling, canonical):
    assert instruction_data.teacher_name(spelling) == canonical
    assert instruction_data.teacher_name(canonical) == canonical


def test_teacher_name_rejects_an_unknown_model():
    with pytest.raises(ValueError, match="unknown teacher model 'GPT-5'"):
        instruction_data.teacher_name("GPT-5")


def test_catalog_teachers_use_canonical_names():
    data = catalog.load("instruction_datasets")
    teachers = data["distilled_from"].dropna()
    assert len(teachers) >= 15
    for name in teachers:
        assert instruction_data.teacher_name(name) == name, name
    # one spelling per model: no alias survives in the table
    assert not set(teachers) & set(instruction_data.TEACHER_ALIASES)


def test_catalog_since_2023_rows():
    """The rows issue 22 asks for, with their reported sizes (each source's own unit)."""
    data = catalog.load("instruction_datasets").set_index("dataset")
    expected = {
        "Magpie-Pro-300K-Filtered": (300_000, "instances", "Meta-Llama-3-70B-Instruct"),
        "Tulu 3 SFT mixture": (939_344, "samples", None),
        "DeepSeek-R1 SFT data": (800_000, "samples", None),
        "OpenR1-Math-220k": (220_000, "traces", "DeepSeek-R1"),
        "BELLE train_3.5M_CN": (3_500_000, "instructions", "ChatGPT"),
        "UltraChat 200k": (207_865, "dialogues", "gpt-3.5-turbo"),
    }
    for name, (examples, unit, teacher) in expected.items():
        row = data.loc[name]
        assert (row["examples"], row["example_unit"]) == (examples, unit), name
        if teacher is None:
            assert pd.isna(row["distilled_from"]), name
        else:
            assert row["distilled_from"] == teacher, name
    # unreleased data has no licence; released data after 2023 is in the table
    assert not data.loc["DeepSeek-R1 SFT data", "released"]
    assert data.loc[~data["released"].astype(bool), "licence"].isna().all()
    assert (data["year"] >= 2024).sum() >= 8
    assert "COIG-CQIA" in data.index and data.loc["COIG-CQIA", "languages"] == "zh"


def test_catalog_rows_are_sourced_and_distillation_is_named():
    data = catalog.load("instruction_datasets")
    assert len(data) >= 15
    distilled = data[data["method"] == "distilled"]
    assert distilled["distilled_from"].notna().all()
    assert data.loc[data["method"] != "distilled", "distilled_from"].isna().all()
    # a size needs its unit and basis, and the reverse
    has = data["examples"].notna()
    assert (data["example_unit"].notna() == has).all()
    assert (data["examples_basis"].notna() == has).all()
    groups = instruction_data.with_groups(data)["language_group"]
    assert {"English", "Chinese", "multilingual"} <= set(groups)


def test_unit_summary_compares_within_units():
    frame = _frame(
        dataset=["a", "b", "c", "d"],
        examples=[100, 300, 50, None],
        example_unit=["instructions", "instructions", "dialogues", None],
        method=["human", "distilled", "distilled", "templated"],
    )
    summary = instruction_data.unit_summary(frame)
    assert list(summary.index) == ["instructions", "dialogues"]
    assert summary.loc["instructions", "examples"] == 400
    assert summary.loc["instructions", "distilled_share"] == pytest.approx(0.75)
    assert summary.loc["instructions", "largest"] == "b"
    assert summary.loc["dialogues", "datasets"] == 1


def test_teacher_table_totals_each_unit_apart():
    frame = _frame(
        dataset=["a", "b", "c", "d"],
        year=[2023, 2023, 2024, 2023],
        examples=[52_000, 1_100_000, 200_000, 15_000],
        example_unit=["instructions", "dialogues", "instructions", "records"],
        method=["distilled", "distilled", "distilled", "human"],
        distilled_from=["GPT-4", "gpt-4", "Qwen2-72B-Instruct", None],
    )
    table = instruction_data.teacher_table(frame)
    assert list(table.index) == ["gpt-4", "Qwen2-72B-Instruct"]
    assert table.loc["gpt-4", "datasets"] == 2
    assert table.loc["gpt-4", "examples"] == "1.1M dialogues; 52K instructions"
    assert table.loc["Qwen2-72B-Instruct", "first_year"] == 2024


def test_distinct_drops_subsets_whose_parent_is_present():
    frame = pd.DataFrame(
        {"dataset": ["UltraChat", "UltraChat 200k"], "subset_of": [None, "UltraChat"]}
    )
    assert list(instruction_data.distinct(frame)["dataset"]) == ["UltraChat"]
    alone = frame[frame["dataset"] == "UltraChat 200k"]
    assert list(instruction_data.distinct(alone)["dataset"]) == ["UltraChat 200k"]
    data = catalog.load("instruction_datasets")
    assert set(data["subset_of"].dropna()) <= set(data["dataset"])


def test_catalog_table_folds_into_seven_columns_and_keeps_every_fact():
    frame = pd.DataFrame(
        {
            "dataset": ["a", "b", "c", "d"],
            "year": pd.array([2023, None, 2022, 2025], dtype="Int64"),
            "languages": ["en;zh", "zh", None, None],
            "n_languages": pd.array([2, 1, 46, None], dtype="Int64"),
            "examples": pd.array([52000, 82612, None, 800000], dtype="Int64"),
            "example_unit": ["instructions", "instances", None, "samples"],
            "examples_basis": ["rounded", "exact", None, "rounded"],
            "tasks": pd.array([None, None, 1836, None], dtype="Int64"),
            "method": ["distilled", "human", "templated", "mixed"],
            "distilled_from": ["gpt-4", None, None, None],
            "released": [True, True, True, False],
            "licence": ["<b>MIT</b>", None, "Apache-2.0", None],
        }
    )
    shown, notes = instruction_data.catalog_table(frame)
    assert list(shown.columns) == [
        "dataset", "year", "languages", "examples", "tasks", "method", "licence"
    ]  # fmt: skip
    dash = "\u2013"
    assert shown["languages"].tolist() == ["en, zh (2 languages)", "zh", "46 languages", dash]
    assert shown["examples"].tolist() == [
        "52K instructions (rounded)", "82,612 instances", dash, "800K samples (rounded)"
    ]  # fmt: skip
    assert shown["tasks"].tolist() == [dash, dash, "1,836", dash]
    assert shown["method"].tolist() == ["distilled from gpt-4", "human", "templated", "mixed"]
    # the licence stays as the source wrote it (the page escapes it); not released is said
    assert shown["licence"].tolist() == ["<b>MIT</b>", dash, "Apache-2.0", "not released"]
    assert shown["year"].tolist() == ["2023", dash, "2022", "2025"]
    assert "licence: \u2013 means the source states none" in notes
    assert any(n.startswith("year:") for n in notes)
    assert any(n.startswith("languages:") and "neither" in n for n in notes)  # only d's dash
    assert not any(n.startswith(("n_languages", "example_unit", "distilled_from")) for n in notes)


def test_catalog_table_of_the_catalog_sorts_its_counts_as_numbers():
    """The book's table: the examples and tasks columns are counts written for readers, which
    llmbook.tables gives a numeric sort."""
    from llmbook import tables

    shown, _ = instruction_data.catalog_table(catalog.load("instruction_datasets"))
    columns = [shown.columns[i] for i in tables.count_text_columns(shown)]
    assert columns == ["examples", "tasks"]
