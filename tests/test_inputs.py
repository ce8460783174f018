"""llmbook.inputs: the record of files a notebook read, used by the build cache."""

from __future__ import annotations

from llmbook import inputs


def test_note_does_nothing_outside_a_build(tmp_path, monkeypatch):
    monkeypatch.delenv(inputs.ENV_VAR, raising=False)
    inputs.note(tmp_path / "x.csv")
    assert list(tmp_path.iterdir()) == []


def test_note_appends_absolute_paths_and_read_log_dedupes(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    monkeypatch.setenv(inputs.ENV_VAR, str(log))
    monkeypatch.chdir(tmp_path)
    inputs.note("a.csv")
    inputs.note("b.csv")
    inputs.note("a.csv")
    assert inputs.read_log(log) == [tmp_path / "a.csv", tmp_path / "b.csv"]


def test_note_library_records_the_package_sources(tmp_path, monkeypatch):
    log = tmp_path / "log.txt"
    monkeypatch.setenv(inputs.ENV_VAR, str(log))
    inputs.note_library()
    names = {p.name for p in inputs.read_log(log)}
    assert {"__init__.py", "catalog.py", "inputs.py"} <= names


def test_read_log_of_a_missing_file_is_empty(tmp_path):
    assert inputs.read_log(tmp_path / "none") == []


def test_loading_a_table_records_its_csv_and_schema_only(root, tmp_path, monkeypatch):
    from llmbook import catalog

    log = tmp_path / "log.txt"
    monkeypatch.setenv(inputs.ENV_VAR, str(log))
    catalog.load("claims", root / "data")
    recorded = {p.name for p in inputs.read_log(log) if p.suffix in (".csv", ".json")}
    assert recorded == {"claims.csv", "datapackage.json"}


def test_every_load_records_its_table_even_when_validation_is_cached(root, tmp_path, monkeypatch):
    from llmbook import catalog

    catalog.load("models", root / "data")  # warm the validation cache
    log = tmp_path / "log.txt"
    monkeypatch.setenv(inputs.ENV_VAR, str(log))
    catalog.load("models", root / "data")
    assert {"models.csv", "datapackage.json"} <= {p.name for p in inputs.read_log(log)}
