"""The llmbook command line: validate and list, with a non-zero exit on bad data."""

from __future__ import annotations

from llmbook import cli

from conftest import edit_cell


def test_validate_ok(root, capsys):
    assert cli.main(["validate", "--data", str(root / "data")]) == 0
    assert "data package valid" in capsys.readouterr().out


def test_validate_reports_the_cell_and_fails(data_copy, capsys):
    edit_cell(data_copy / "models.csv", 3, "released", "March 2021")
    assert cli.main(["validate", "--data", str(data_copy)]) == 1
    assert "data/models.csv, row 3, column 'released'" in capsys.readouterr().err


def test_models_lists_a_stage(root, capsys):
    assert cli.main(["models", "--stage", "chat", "--data", str(root / "data")]) == 0
    out = capsys.readouterr().out
    assert "ChatGPT" in out and "GPT-3 175B" not in out
