"""llmbook.catalog: validation with located errors, typed loading, schema documentation."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from llmbook import catalog

from conftest import ROOT, edit_cell


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


# --- Issue 24: the validator catches what contributors type, each problem located ----------


def _problems(data) -> list[str]:
    with pytest.raises(catalog.DataError) as info:
        catalog.validate(data)
    return [str(p) for p in info.value.problems]


def test_validate_accepts_a_relative_data_path(root, monkeypatch):
    monkeypatch.chdir(root)
    catalog.validate(Path("data"))


def test_a_folder_without_datapackage_is_one_line_naming_the_path(tmp_path):
    with pytest.raises(catalog.PackageError) as info:
        catalog.validate(tmp_path)
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "datapackage.json") in message


def test_a_malformed_datapackage_is_one_line_naming_the_path_and_place(data_copy):
    (data_copy / "datapackage.json").write_text('{"resources": [\n  {bad', encoding="utf-8")
    with pytest.raises(catalog.PackageError) as info:
        catalog.validate(data_copy)
    message = str(info.value)
    assert "\n" not in message and str(data_copy / "datapackage.json") in message
    assert "line 2" in message


with (ROOT / "data" / "models.csv").open(newline="", encoding="utf-8") as _models:
    FIRST_MODEL = next(csv.DictReader(_models))["model"]

#: (file, row, column, bad value, words of the message) -- each refused, located at its cell.
REFUSED = {
    "inf": ("hardware.csv", 2, "memory_gb", "inf", "not a finite number"),
    "1e309 overflows": ("hardware.csv", 3, "memory_gb", "1e309", "not a finite number"),
    "nan": ("hardware.csv", 4, "fp32_tflops", "nan", "not a finite number"),
    "release in the future": ("models.csv", 5, "released", "2999-01", "after the date"),
    "date in the future": ("training_runs.csv", 2, "start", "2999-01-01", "after the date"),
    "beyond int64": ("models.csv", 3, "params", "99999999999999999999", "64-bit"),
    "control character": ("models.csv", 4, "notes", "bell\x07here", "U+0007"),
    "newline in a cell": ("claims.csv", 2, "notes", "two\nlines", "U+000A"),
    "role after a semicolon in source": (
        "models.csv", 6, "source", "brown2020language: §2 ; {download}`../../../x.txt`",
        "item 2",
    ),
    "role inside a source item": (
        "models.csv", 7, "source", "brown2020language: §2; {download}`../x.txt`", "no backticks",
    ),
    "source key not in references.bib": (
        "hardware.csv", 5, "source", "nosuchentry2099: Table 1", "not in",
    ),
    "backticks and a role in a model name": (
        "models.csv", 8, "model", "Leak` {download}`../../../x.txt` `X", "backtick",
    ),
    "brace in a foreign key": ("licences.csv", 2, "model", "{cite}x", "backtick or brace"),
    "parameters written with a unit": ("models.csv", 9, "params", "175B", "'175B'"),
    "month 13": ("models.csv", 10, "released", "2020-13", "cell '2020-13'"),
    "a model name used twice": ("models.csv", 11, "model", FIRST_MODEL, "the same as in the row"),
    "a base model not in the table": (
        "models.csv", 12, "base_model", "No Such Model 1B", "No Such Model 1B\" not found",
    ),
    "no source": ("models.csv", 13, "source", "", '"required"'),
}  # fmt: skip


@pytest.mark.parametrize(
    "created, words",
    [("2030-13-45", 'property "created" is not valid'), ("2999-01-01T00:00:00Z", "after the date")],
)
def test_the_descriptors_creation_date_is_checked_and_located(data_copy, created, words):
    path = data_copy / "datapackage.json"
    descriptor = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**descriptor, "created": created}), encoding="utf-8")
    problems = _problems(data_copy)
    assert any(p.startswith("data/datapackage.json") and words in p for p in problems), problems


@pytest.fixture(scope="module")
def every_refused_cell(tmp_path_factory) -> list[str]:
    """The problems of one copy of data/ that holds every cell of REFUSED at once (each in its
    own file, row and column): one validation reports them all, as it must for a contributor who
    made several mistakes, and the suite validates once instead of once per case."""
    root = tmp_path_factory.mktemp("refused")
    shutil.copytree(ROOT / "data", root / "data")
    (root / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", root / "book" / "references.bib")
    places = [(file, row, column) for file, row, column, _, _ in REFUSED.values()]
    assert len(set(places)) == len(places), "two cases edit the same cell"
    for file, row, column, value, _ in REFUSED.values():
        edit_cell(root / "data" / file, row, column, value)
    return _problems(root / "data")


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_validate_refuses_and_locates(every_refused_cell, case):
    file, row, column, _, words = REFUSED[case]
    located = [p for p in every_refused_cell if p.startswith(f"data/{file}, row {row}, "
                                                            f"column '{column}'")]  # fmt: skip
    assert any(words in p for p in located), located


def test_primary_keys_differing_only_in_case_are_refused(data_copy):
    lines = (data_copy / "hardware.csv").read_text(encoding="utf-8").splitlines()
    row = next(
        n for n, line in enumerate(lines[1:], 2) if line.split(",")[0].upper() != line.split(",")[0]
    )
    chip = lines[row - 1].split(",")[0]
    lines.append(chip.upper() + lines[row - 1][len(chip) :])
    (data_copy / "hardware.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = _problems(data_copy)
    assert problems == [
        f"data/hardware.csv, row {len(lines)}, column 'chip': '{chip.upper()}' repeats row {row} "
        "ignoring case; names are looked up ignoring case, so keys must differ in more than case"
    ]


def test_a_non_utf8_byte_is_blamed_on_its_own_file_row_and_column(data_copy):
    csv = data_copy / "hardware.csv"
    raw = csv.read_bytes()
    line3 = raw.split(b"\n")[2]
    vendor = line3.split(b",")[1]
    csv.write_bytes(raw.replace(line3, line3.replace(vendor, vendor[:-1] + b"\xff", 1), 1))
    problems = _problems(data_copy)
    assert len(problems) == 1, problems  # not one per table that refers to hardware.csv
    assert problems[0].startswith("data/hardware.csv, row 3, column 'vendor': byte 0xff")


def test_a_missing_csv_is_blamed_on_itself(data_copy):
    (data_copy / "licences.csv").unlink()
    problems = _problems(data_copy)
    assert len(problems) == 1 and problems[0].startswith("data/licences.csv: file missing")


def test_a_renamed_header_names_the_expected_and_found_label(data_copy):
    csv = data_copy / "hardware.csv"
    csv.write_text(csv.read_text(encoding="utf-8").replace("memory_gb", "memory_GB", 1), "utf-8")
    (problem,) = _problems(data_copy)
    assert problem.startswith("data/hardware.csv, row 1: header does not match")
    assert "expected 'memory_gb', found 'memory_GB'" in problem


def test_a_trailing_blank_line_is_tolerated_a_blank_row_inside_is_not(data_copy):
    csv = data_copy / "hardware.csv"
    text = csv.read_text(encoding="utf-8")
    csv.write_text(text + "\n\n", encoding="utf-8")
    catalog.validate(data_copy)
    assert len(catalog.load("hardware", data_copy)) == len(text.splitlines()) - 1
    first, rest = text.split("\n", 1)
    csv.write_text(first + "\n\n" + rest, encoding="utf-8")
    assert any(p.startswith("data/hardware.csv, row 2") for p in _problems(data_copy))


def test_dates_are_checked_against_the_day_of_the_check(root):
    import datetime as dt

    latest = max(catalog.load("models", root / "data")["released"].dropna())
    month_end = (latest + pd.offsets.MonthEnd(0)).date()
    assert catalog.check_cells(root / "data", today=month_end) == []
    before = month_end.replace(day=1) - dt.timedelta(days=1)
    problems = catalog.check_cells(root / "data", today=before)
    assert problems and all("after the date of this check" in p.message for p in problems)


def test_source_keys_are_checked_only_where_a_bibliography_is_found(data_copy):
    edit_cell(data_copy / "hardware.csv", 5, "source", "nosuchentry2099: Table 1")
    assert _problems(data_copy)
    (data_copy.parent / "book" / "references.bib").unlink()
    assert catalog.bibliography(data_copy) is None
    catalog.validate(data_copy)


def test_real_source_keys_resolve_in_the_bibliography(root):
    assert catalog.bibliography(root / "data") == root / "book" / "references.bib"
    assert catalog.check_cells(root / "data") == []


def test_cite_sources_refuses_what_is_not_a_bibliography_key():
    frame = pd.DataFrame({"source": ["a2020x: §1 ; {download}`../../x.txt`: §2"]})
    with pytest.raises(ValueError, match="not bibliography keys"):
        catalog.cite_sources(frame)


@pytest.mark.parametrize("name", ["Llama-4-Scout-17B-16E", "Llama-4-Maverick-17B-128E"])
def test_llama_4_gpu_hours_are_possible_only_with_active_parameters(root, name):
    """Meta's model card: ~40T (Scout) and ~22T (Maverick) pre-training tokens, 5.0M and 2.38M
    H100-80GB GPU-hours, 17B activated of 109B / 400B. Costed with 6·N·D, the total count
    would need the H100s to run above their dense BF16 peak; the active count needs 15-40%."""
    from llmbook import compute

    data = root / "data"
    model = catalog.lookup("models", name, data)
    run = catalog.load("training_runs", data).set_index("model").loc[name]
    peak = catalog.lookup("hardware", run["chip"], data)["bf16_tflops_dense"] * 1e12
    seconds = float(run["chip_hours"]) * 3600

    def utilisation(params: float) -> float:
        flops = compute.training_flops(params, model["train_tokens"])
        return compute.implied_mfu(flops, 1, peak, seconds)

    assert model["active_params"] < model["params"]
    assert 0.15 < utilisation(model["active_params"]) < 0.40
    assert utilisation(model["params"]) > 1


def test_empty_facts_lists_each_row_with_an_empty_fact_and_its_note(data_copy):
    before = catalog.empty_facts("hardware", ["memory_gb"], data_copy)
    assert "H800" in set(before["chip"])  # no datasheet: every figure empty, the note says why
    assert all(before["empty"] == "memory_gb")
    h800 = before.set_index("chip").loc["H800", "what the sources state"]
    assert "datasheet" in h800
    rows = list(csv.DictReader((data_copy / "hardware.csv").open(encoding="utf-8")))
    line = 2 + next(i for i, r in enumerate(rows) if r["chip"] == "A100 80GB")
    edit_cell(data_copy / "hardware.csv", line, "memory_gb", "")
    after = catalog.empty_facts("hardware", ["memory_gb", "tdp_watts"], data_copy)
    assert "A100 80GB" in set(after["chip"]) and "A100 80GB" not in set(before["chip"])
    with pytest.raises(KeyError, match="no column"):
        catalog.empty_facts("hardware", ["memory"], data_copy)


def test_a_machine_receipt_skips_revalidating_the_same_package_and_only_it(data_copy, monkeypatch,
                                                                           tmp_path):  # fmt: skip
    from conftest import edit_cell

    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(catalog.VALIDATED_ENV, raising=False)
    calls = []

    def validate(data):  # counts the validations; refuses what the real one would (cheaper)
        calls.append(data)
        if "175 billion" in (data / "models.csv").read_text(encoding="utf-8"):
            raise catalog.DataError([catalog.Problem("data/models.csv", 4, "params", "refused")])

    monkeypatch.setattr(catalog, "validate", validate)

    def load_fresh():  # as a new process would: no in-memory memo
        catalog._validate_cached.cache_clear()
        return catalog.load("models", data_copy)

    load_fresh()
    load_fresh()
    assert len(calls) == 1  # the second run trusts this machine's receipt
    edit_cell(data_copy / "models.csv", 4, "notes", "an edited note")
    load_fresh()
    assert len(calls) == 2  # other content: validated again
    bib = catalog.bibliography(data_copy)
    bib.write_text(bib.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    load_fresh()
    assert len(calls) == 3  # another bibliography: validated again
    edit_cell(data_copy / "models.csv", 4, "params", "175 billion")
    for _ in range(2):  # a refused package leaves no receipt
        with pytest.raises(catalog.DataError):
            load_fresh()
    assert len(calls) == 5
    (tmp_path / "cache" / catalog.RECEIPTS_FILE).write_text("{damaged", encoding="utf-8")
    edit_cell(data_copy / "models.csv", 4, "params", "")
    load_fresh()  # a damaged record is ignored, then rewritten
    assert len(calls) == 6 and len(catalog._receipts()) == 1
