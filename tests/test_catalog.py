"""llmbook.catalog: validation with located errors, typed loading, schema documentation."""

from __future__ import annotations

import pandas as pd
import pytest

from llmbook import catalog

from conftest import edit_cell


def test_real_data_package_is_valid(root):
    catalog.validate(root / "data")


def test_load_types_columns_as_the_schema_declares(root):
    models = catalog.load("models", root / "data")
    assert models["params"].dtype == "Int64"
    assert models["open_weights"].dtype == "boolean"
    assert pd.api.types.is_datetime64_any_dtype(models["released"])
    gpt3 = models.set_index("model").loc["GPT-3 175B"]
    # Brown et al. 2020, Table 2.1: 175.0B parameters, 300B training tokens.
    assert gpt3["params"] == 175_000_000_000
    assert gpt3["train_tokens"] == 300_000_000_000
    assert gpt3["released"] == pd.Timestamp("2020-05-01")


def test_empty_cells_stay_missing_not_zero(root):
    models = catalog.load("models", root / "data").set_index("model")
    # OpenAI's GPT-4 report discloses no model size: the catalog must not invent one.
    assert pd.isna(models.loc["GPT-4", "params"])


def test_unknown_table_names_the_tables_that_exist(root):
    with pytest.raises(KeyError, match="models"):
        catalog.load("no_such_table", root / "data")


def _problem_for(data, row, column, value):
    edit_cell(data / "models.csv", row, column, value)
    with pytest.raises(catalog.DataError) as info:
        catalog.validate(data)
    return info.value


def test_non_numeric_params_names_file_row_column(data_copy):
    error = _problem_for(data_copy, 3, "params", "175B")
    assert "data/models.csv, row 3, column 'params'" in str(error)
    assert "'175B'" in str(error)


def test_bad_date_names_file_row_column(data_copy):
    error = _problem_for(data_copy, 4, "released", "2020-13")
    assert "data/models.csv, row 4, column 'released'" in str(error)


def test_duplicate_model_names_row_and_column(data_copy):
    first = pd.read_csv(data_copy / "models.csv", dtype=str)["model"][0]
    error = _problem_for(data_copy, 5, "model", first)
    assert "data/models.csv, row 5, column 'model'" in str(error)


def test_unknown_base_model_names_row_and_column(data_copy):
    error = _problem_for(data_copy, 6, "base_model", "No Such Model 1B")
    assert "data/models.csv, row 6, column 'base_model'" in str(error)
    assert "No Such Model 1B" in str(error)


def test_missing_source_names_row_and_column(data_copy):
    error = _problem_for(data_copy, 7, "source", "")
    assert "data/models.csv, row 7, column 'source'" in str(error)


def test_load_refuses_an_invalid_package(data_copy):
    edit_cell(data_copy / "models.csv", 2, "params", "lots")
    with pytest.raises(catalog.DataError):
        catalog.load("models", data_copy)


def test_load_sees_an_edit_made_after_a_first_load(data_copy):
    before = catalog.load("models", data_copy)
    edit_cell(data_copy / "models.csv", 2, "notes", "edited after the first load")
    after = catalog.load("models", data_copy)
    assert "edited after the first load" not in set(before["notes"].dropna())
    assert "edited after the first load" in set(after["notes"].dropna())


def test_source_keys_splits_and_dedupes():
    cell = "a2020x: §1 ; b2021y: Table 2 ; a2020x: §3"
    assert catalog.source_keys(cell) == ["a2020x", "b2021y"]


def test_describe_documents_every_column(root):
    described = catalog.describe("models", root / "data")
    fields = [f["name"] for f in catalog.schema("models", root / "data")["fields"]]
    assert described["column"].tolist() == fields
    assert (described["meaning"] != "").all()


def test_foreign_keys_resolve_self_reference(root):
    assert ("base_model", "models", "model") in catalog.foreign_keys("models", root / "data")


def test_cite_sources_makes_one_cite_role_per_key():
    frame = pd.DataFrame({"source": ["b2021y: §1 ; a2020x: §2", "a2020x: Table 1", None]})
    assert catalog.cite_sources(frame) == "{cite:t}`a2020x`; {cite:t}`b2021y`."


def test_a_build_receipt_for_exactly_this_data_skips_revalidation(data_copy, monkeypatch):
    from conftest import edit_cell

    edit_cell(data_copy / "models.csv", 4, "params", "175 billion")
    with pytest.raises(catalog.DataError):  # no receipt: validated, refused
        catalog.load("models", data_copy)
    monkeypatch.setenv(catalog.VALIDATED_ENV, "0" * 64)  # a receipt for other content
    catalog._validate_cached.cache_clear()
    with pytest.raises(catalog.DataError):
        catalog.load("models", data_copy)
    # The build validated this content itself (here it would have refused it: the receipt is
    # only ever set after a successful validation); a kernel trusts it and does not redo it.
    monkeypatch.setenv(catalog.VALIDATED_ENV, catalog.package_digest(data_copy))
    catalog._validate_cached.cache_clear()
    with pytest.raises(ValueError, match="175 billion"):  # typing fails, validation was skipped
        catalog.load("models", data_copy)
