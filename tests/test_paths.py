"""llmbook.paths: which data package the library reads."""

from __future__ import annotations

import json

import pytest

from llmbook import paths


def test_an_unrelated_projects_data_folder_is_not_adopted(tmp_path, monkeypatch, root):
    other = tmp_path / "other-project"
    (other / "data").mkdir(parents=True)
    (other / "data" / "datapackage.json").write_text(
        json.dumps({"name": "someone-elses-data", "resources": []}), encoding="utf-8"
    )
    monkeypatch.delenv("LLMBOOK_DATA", raising=False)
    found = paths.data_dir(start=other / "data")
    assert found != (other / "data").resolve()
    assert found == (root / "data").resolve()  # the package checkout's, next in the search


def test_the_books_own_data_is_found_by_walking_up(tmp_path, monkeypatch, root):
    monkeypatch.delenv("LLMBOOK_DATA", raising=False)
    assert paths.data_dir(start=root / "book" / "part1-base-models") == root / "data"


def test_llmbook_data_wins_and_must_hold_a_package(tmp_path, monkeypatch, root):
    monkeypatch.setenv("LLMBOOK_DATA", str(root / "data"))
    assert paths.data_dir(start=tmp_path) == (root / "data").resolve()
    monkeypatch.setenv("LLMBOOK_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="LLMBOOK_DATA"):
        paths.data_dir()


def test_the_shipped_copy_is_the_checkouts_data_in_a_checkout(root):
    """In the repository, llmbook/_data links to data/: a wheel built from it carries the
    same files (tests/test_wheel.py installs one)."""
    assert paths.shipped_data() == (root / "data").resolve()


def test_write_atomically_replaces_the_whole_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "new folder" / "state.json"
    paths.write_atomically(target, "first")
    assert target.read_text(encoding="utf-8") == "first"
    paths.write_atomically(target, b"\x00second")
    assert target.read_bytes() == b"\x00second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]

    def fail(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(paths.os, "replace", fail)  # a failed rename keeps the old file whole
    with pytest.raises(OSError, match="disk full"):
        paths.write_atomically(target, "third")
    assert target.read_bytes() == b"\x00second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["state.json"]
