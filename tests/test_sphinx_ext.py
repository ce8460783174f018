"""llmbook.sphinx_ext helpers: content hashing decides what re-executes."""

from __future__ import annotations

from llmbook import sphinx_ext


def test_changed_inputs_compares_content_not_mtime(tmp_path):
    (tmp_path / "a.csv").write_text("x\n1\n")
    (tmp_path / "b.csv").write_text("x\n2\n")
    record = {
        "a.csv": sphinx_ext.file_sha256(tmp_path / "a.csv"),
        "b.csv": sphinx_ext.file_sha256(tmp_path / "b.csv"),
    }
    (tmp_path / "a.csv").write_text("x\n1\n")  # rewritten, same content
    (tmp_path / "b.csv").write_text("x\n3\n")
    assert sphinx_ext.changed_inputs(record, tmp_path) == ["b.csv"]


def test_a_deleted_input_counts_as_changed(tmp_path):
    (tmp_path / "a.csv").write_text("x\n")
    record = {"a.csv": sphinx_ext.file_sha256(tmp_path / "a.csv")}
    (tmp_path / "a.csv").unlink()
    assert sphinx_ext.changed_inputs(record, tmp_path) == ["a.csv"]


def test_folder_hash_changes_with_any_file(tmp_path):
    (tmp_path / "a.csv").write_text("1")
    before = sphinx_ext.folder_sha256(tmp_path)
    (tmp_path / "a.csv").write_text("2")
    assert sphinx_ext.folder_sha256(tmp_path) != before
