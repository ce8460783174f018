"""Shared fixtures: the repository root and throw-away copies of the data package."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of data/ to break on purpose."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target)
    return target


def edit_cell(csv: Path, row: int, column: str, value: str) -> None:
    """Set one cell of a CSV file; ``row`` is the file's line number (header = line 1)."""
    import csv as csvlib

    with csv.open(newline="", encoding="utf-8") as handle:
        rows = list(csvlib.reader(handle))
    col = rows[0].index(column)
    rows[row - 1][col] = value
    with csv.open("w", newline="", encoding="utf-8") as handle:
        csvlib.writer(handle, lineterminator="\n").writerows(rows)
