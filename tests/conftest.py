"""Shared fixtures: the repository root and throw-away copies of the data package."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def root() -> Path:
    return ROOT


@pytest.fixture
def data_copy(tmp_path: Path) -> Path:
    """A writable copy of data/ to break on purpose, with the bibliography beside it (as in the
    repository) so that ``source`` keys are checked against it."""
    target = tmp_path / "data"
    shutil.copytree(ROOT / "data", target)
    (tmp_path / "book").mkdir()
    shutil.copy(ROOT / "book" / "references.bib", tmp_path / "book" / "references.bib")
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


JB = Path(sys.executable).with_name("jb")
IGNORE = shutil.ignore_patterns(
    "_build", ".venv", ".git", "__pycache__", ".pytest_cache", ".ruff_cache", "*.egg-info",
    ".hypothesis", "test-artifacts",
)  # fmt: skip
REPOSITORY_VARIABLES = ("GITHUB_REPOSITORY", "LLMBOOK_REPOSITORY")
#: The no-change rebuild budget of GUIDE §6.
NO_CHANGE_REBUILD_SECONDS = 5.0


def copy_book(target: Path) -> Path:
    """A copy of the repository (sources, data, config) to build or break on purpose."""
    shutil.copytree(ROOT, target, ignore=IGNORE)
    return target


def seed_cache(source: Path, target: Path) -> None:
    """Give the copy ``target`` the executed-notebook cache of the built copy ``source``.

    A seeded build re-executes only what differs from ``source`` (the data-aware cache sees to
    that), so the tests that need a built book but not a cold build stay fast.
    """
    cache = source / "_build" / ".jupyter_cache"
    shutil.copytree(cache, target / "_build" / ".jupyter_cache", dirs_exist_ok=True)


def jb_build(
    book: Path, env: dict | None = None, prefix: tuple = ()
) -> subprocess.CompletedProcess:
    """The README's build command, run in ``book``."""
    # The repository buttons follow GITHUB_REPOSITORY in GitHub Actions: tests set it themselves.
    base = {k: v for k, v in os.environ.items() if k not in REPOSITORY_VARIABLES}
    return subprocess.run(
        [*prefix, str(JB), "build", "-W", "-n", "--keep-going", "."],
        cwd=book, capture_output=True, text=True, timeout=900,
        env={**base, **(env or {})},
    )  # fmt: skip


def toc_files(book: Path) -> list[str]:
    toc = yaml.safe_load((book / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    return files


def executed(log: str) -> set[str]:
    """Documents the build log says it executed."""
    return set(re.findall(r"([\w./-]+)\.md: Executing notebook", log))


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """A clean, strict build of a copy of the book, shared by the read-only site tests."""
    book = copy_book(tmp_path_factory.mktemp("site") / "book")
    result = jb_build(book)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return book
