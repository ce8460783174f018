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


def test_examples_by_sums_and_skips_unknown_sizes():
    frame = pd.DataFrame(
        {
            "languages": ["en", "en", "zh", None],
            "n_languages": [1, 1, 1, 46],
            "examples": pd.array([10, 5, 7, None], dtype="Int64"),
            "method": ["human", "distilled", "distilled", "templated"],
        }
    )
    table = instruction_data.examples_by(
        instruction_data.with_groups(frame), "method", "language_group"
    )
    assert table.loc["distilled", "English"] == 5
    assert table.loc["distilled", "Chinese"] == 7
    assert table.loc["human", "Chinese"] == 0
    assert "templated" not in table.index


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
