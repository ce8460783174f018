"""The book builds strictly from a copy of the repository, and rebuilds what changed.

These tests run ``jb build -W -n --keep-going`` (the README's build) on temporary copies, so the
working tree and its ``_build`` are never touched. The copy they rebuild starts from the notebook
cache of the session's clean build (``site`` in conftest), so only the cases that break the build
on purpose pay for fresh executions.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import (
    NO_CHANGE_REBUILD_SECONDS,
    copy_book,
    edit_cell,
    executed,
    jb_build,
    seed_cache,
    toc_files,
)

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def built(tmp_path_factory, site) -> tuple[Path, subprocess.CompletedProcess]:
    # The session's clean build (conftest's ``site``) already executed every chapter strictly:
    # this copy starts from its notebook cache and executes only what it adds.
    book = copy_book(tmp_path_factory.mktemp("book") / "book")
    seed_cache(site, book)
    # A chapter that imports the library but reads no data: a CSV edit must not re-run it.
    (book / "book" / "no_data.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        "  name: python3\n  display_name: Python 3\n---\n\n# No data\n\n"
        "```{code-cell} ipython3\nfrom llmbook import style\nstyle.PALETTE[0]\n```\n",
        encoding="utf-8",
    )
    with (book / "_toc.yml").open("a", encoding="utf-8") as toc:
        toc.write("      - file: book/no_data\n")
    result = jb_build(book)
    return book, result


def test_strict_build_succeeds(built):
    _, result = built
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "build succeeded" in result.stdout
    # Sphinx warnings look like "file: WARNING: ..." (-W already turns them into a failure);
    # the kernel's own "[IPKernelApp] WARNING | ..." log line is not a build warning.
    assert "WARNING:" not in result.stdout + result.stderr


def test_every_toc_page_is_built_without_error_output(built):
    book, _ = built
    html = book / "_build" / "html"
    assert (html / "index.html").is_file()
    for page in toc_files(book):
        path = html / f"{page}.html"
        assert path.is_file(), f"{page} missing from the site"
        text = path.read_text(encoding="utf-8")
        assert "Traceback" not in text, page
        assert "output stderr" not in text, page
        assert "output error" not in text, page
        # MyST that reached the page unparsed (a role in a Markdown output, a glue typo).
        assert "{cite" not in text and "{glue" not in text and "{numref" not in text, page


def test_landing_page_lists_the_six_parts(built):
    book, _ = built
    text = (book / "_build" / "html" / "book" / "intro.html").read_text(encoding="utf-8")
    for part in range(1, 7):
        assert f"Part {part}:" in text


def test_figures_exist_and_have_alt_text(built):
    book, _ = built
    html = book / "_build" / "html"
    page = html / "book" / "part1-base-models" / "landscape.html"
    text = page.read_text(encoding="utf-8")
    images = re.findall(r"<img[^>]*>", text)
    assert images, "the landscape chapter has no figure"
    for tag in images:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert (page.parent / src).resolve().is_file(), src
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 20, tag[:200]


def test_interactive_tables_load_their_bundle_from_the_site(built):
    book, _ = built
    html = book / "_build" / "html"
    assert (html / "_static" / "dt_bundle.js").is_file()
    text = (html / "book" / "part1-base-models" / "landscape.html").read_text(encoding="utf-8")
    imports = re.findall(r"from '([^']*dt_bundle\.js)'", text)
    assert imports and set(imports) == {"../../_static/dt_bundle.js"}, imports


def test_no_change_rebuild_is_fast_and_executes_nothing(built):
    book, _ = built
    start = time.perf_counter()
    result = jb_build(book)
    seconds = time.perf_counter() - start
    assert result.returncode == 0
    assert executed(result.stdout + result.stderr) == set()
    assert seconds < NO_CHANGE_REBUILD_SECONDS, f"no-change rebuild took {seconds:.1f} s"


def test_csv_edit_reexecutes_only_the_readers_and_publishes_the_new_value(built):
    book, _ = built
    marker = "Cache-test marker: this note was edited after the first build."
    edit_cell(book / "data" / "models.csv", 2, "notes", marker)
    result = jb_build(book)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    ran = executed(log)
    assert any(p.endswith("landscape") for p in ran), ran
    assert not any(p.endswith("no_data") for p in ran), ran
    assert not any(p.endswith("errata") for p in ran), ran  # reads claims.csv only
    page = book / "_build" / "html" / "book" / "part1-base-models" / "landscape.html"
    assert marker in page.read_text(encoding="utf-8")


def test_a_raising_cell_fails_the_build_with_its_traceback(tmp_path):
    book = copy_book(tmp_path / "book")
    (book / "book" / "boom.md").write_text(
        "---\njupytext:\n  text_representation:\n    format_name: myst\nkernelspec:\n"
        "  name: python3\n  display_name: Python 3\n---\n\n# Boom\n\n"
        "```{code-cell} ipython3\n1 / 0\n```\n",
        encoding="utf-8",
    )
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/boom\n", encoding="utf-8"
    )
    (book / "book" / "intro.md").write_text("# Intro\n", encoding="utf-8")
    result = jb_build(book)
    assert result.returncode != 0
    assert "ZeroDivisionError" in result.stdout + result.stderr


#: One broken cell per kind of bad input: (file, row, column, value, what the message names).
BAD_CELLS = {
    "non-numeric params": ("models.csv", 4, "params", "175 billion"),
    "bad date": ("models.csv", 5, "released", "2021-13"),
    "duplicate key": ("models.csv", 6, "model", "GPT-3 175B"),
    "unknown foreign key": ("models.csv", 7, "base_model", "No Such Model"),
    "missing source": ("models.csv", 8, "source", ""),
}


@pytest.mark.parametrize("case", sorted(BAD_CELLS))
def test_a_bad_cell_stops_the_build_before_any_notebook_runs(tmp_path, case):
    file, row, column, value = BAD_CELLS[case]
    book = copy_book(tmp_path / "book")
    edit_cell(book / "data" / file, row, column, value)
    result = jb_build(book)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"data/{file}, row {row}, column '{column}'" in log, log[-2000:]
    assert executed(log) == set()
    assert not (book / "_build" / "html" / "index.html").exists()
