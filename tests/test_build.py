"""The book builds strictly, in parallel, and rebuilds exactly what changed.

The session's one cold build (conftest's ``site_build``, made with no network) is checked here;
the rebuild tests run on one copy (``work``) that starts from its notebook cache and goes through
a sequence of edits, each followed by a build: nothing, a CSV edit (which also carries markup
that must stay text), a library edit, and a build interrupted while a notebook executes. Only the
cases that break the build on purpose pay for fresh copies.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import (
    EDITED_PAGE,
    MARKER,
    NO_CHANGE_REBUILD_SECONDS,
    ROOT,
    copy_book,
    edit_cell,
    executed,
    jb_build,
    state_of,
    toc_files,
)

pytestmark = [pytest.mark.build, pytest.mark.slow]

#: Pages that publish what the build machine measured (run times, tokens per second): they may
#: differ between two executions of the same sources. Every other page must be byte-identical.
MEASURED = (
    "book/appendix/build-status",
    "book/part2-peft/lora",
    "book/part2-peft/variants",
    "book/part4-decoding/cost",
    "book/part5-rlhf/grpo",  # "every answer and training took 22 s here"
)


def differing_files(first: Path, second: Path) -> list[str]:
    """Files present in one tree only, or whose bytes differ, as paths relative to the trees."""
    found = []

    def walk(comparison: filecmp.dircmp, prefix: str = "") -> None:
        found.extend(prefix + name for name in comparison.left_only + comparison.right_only)
        _, mismatch, errors = filecmp.cmpfiles(
            comparison.left, comparison.right, comparison.common_files, shallow=False
        )
        found.extend(prefix + name for name in mismatch + errors)
        for name, sub in comparison.subdirs.items():
            walk(sub, f"{prefix}{name}/")

    walk(filecmp.dircmp(first, second))
    return sorted(found)


def log_of(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_strict_build_succeeds(site_build):
    _, result = site_build
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "build succeeded" in result.stdout
    # Sphinx warnings look like "file: WARNING: ..." (-W already turns them into a failure);
    # the kernel's own "[IPKernelApp] WARNING | ..." log line is not a build warning.
    assert "WARNING:" not in result.stdout + result.stderr


def test_the_cold_build_executes_every_notebook_once_on_all_cores(site_build):
    book, result = site_build
    log = log_of(result)
    workers = min(len(os.sched_getaffinity(0)), len(state_of(book)["docs"]))
    assert re.search(rf"executing \d+ notebooks on {workers} worker\(s\)", log), log[-2000:]
    ran = re.findall(r"([\w./-]+)\.md: Executing notebook", log)
    assert len(ran) == len(set(ran)) == len(state_of(book)["docs"])
    # myst-nb found every notebook cached: it executed none itself.
    assert "Executing notebook using" not in log


def test_every_toc_page_is_built_without_error_output(site):
    book = site
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


def test_landing_page_lists_the_six_parts(site):
    book = site
    text = (book / "_build" / "html" / "book" / "intro.html").read_text(encoding="utf-8")
    for part in range(1, 7):
        assert f"Part {part}:" in text


def test_figures_exist_and_have_alt_text(site):
    book = site
    html = book / "_build" / "html"
    page = html / "book" / "part1-base-models" / "landscape.html"
    text = page.read_text(encoding="utf-8")
    images = re.findall(r"<img[^>]*>", text)
    assert images, "the landscape chapter has no figure"
    for tag in images:
        src = re.search(r'src="([^"]+)"', tag).group(1)
        assert (page.parent / src).resolve().is_file(), src
        if "_static/images/logo_" in src:
            continue  # the theme's launch-button icons (Binder, JupyterHub), not figures
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and len(alt.group(1)) > 20, tag[:200]


def test_every_figure_is_drawn_once_as_a_glued_figure(site):
    """A chapter's figures reach the page through glue (``style.glue_figure``), which closes
    them: a figure left open is drawn again by the inline backend at the end of its cell, a
    hidden second PNG that costs kernel time and sits in the cached notebook. No image in the
    site comes from anywhere else."""
    html = site / "_build" / "html"
    glued, plain = 0, []
    for path in sorted(html.glob("book/**/*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for output in cell.get("outputs", []):
                data = output.get("data", {})
                glued += "application/papermill.record/image/png" in data
                if "image/png" in data:
                    plain.append(f"{path.relative_to(html)}: {cell['source'][:80]!r}")
    assert glued >= 50, f"only {glued} glued figures in the downloadable notebooks"
    assert not plain, "figures drawn outside glue:\n" + "\n".join(plain)
    assert len(list((html / "_images").glob("*.png"))) <= glued


def test_interactive_tables_load_their_bundle_from_the_site(site):
    book = site
    html = book / "_build" / "html"
    assert (html / "_static" / "dt_bundle.js").is_file()
    text = (html / "book" / "part1-base-models" / "landscape.html").read_text(encoding="utf-8")
    imports = re.findall(r"from '([^']*dt_bundle\.js)'", text)
    assert imports and set(imports) == {"../../_static/dt_bundle.js"}, imports


def test_no_change_rebuild_is_fast_and_executes_nothing(work):
    """Measured in CPU seconds: the rebuild runs while the browser tests load both cores, so its
    wall time says more about them than about it (scripts/time_build.py times it on an idle
    machine). A rebuild that hangs still fails on the wall clock."""
    result, cpu = work["no_change"], work["no_change_cpu_seconds"]
    assert result.returncode == 0
    assert executed(log_of(result)) == set()
    assert cpu < NO_CHANGE_REBUILD_SECONDS, f"no-change rebuild used {cpu:.1f} s of CPU"
    assert work["no_change_seconds"] < 6 * NO_CHANGE_REBUILD_SECONDS


def test_csv_edit_reexecutes_exactly_its_readers_and_publishes_the_new_value(work):
    result = work["csv_edit"]
    log = log_of(result)
    assert result.returncode == 0, log[-3000:]
    ran = executed(log)
    readers = work["edited_readers"]
    assert {r for r in ran} == {str(work["book"] / r) for r in readers}, (ran, readers)
    assert not any(p.endswith("errata") for p in ran), ran  # reads claims.csv only
    page = work["csv_html"] / EDITED_PAGE
    assert MARKER in page.read_text(encoding="utf-8")


def changed_pages(before: Path, after: Path) -> list[str]:
    """HTML pages that differ between two sites, measured pages aside."""
    return [
        name for name in differing_files(before, after)
        if name.endswith(".html") and not any(name == f"{m}.html" for m in MEASURED)
    ]  # fmt: skip


def test_a_clean_render_and_reexecuted_chapters_publish_the_cold_builds_pages(work, site):
    """Reproducible: the work copy's first build renders every page afresh (the chapters that
    do not read the edited table from the cold build's cache, those that do re-executed); only
    pages that show the edited cell may differ."""
    after = work["csv_html"]
    changed = changed_pages(site / "_build" / "html", after)
    assert changed, "the edit changed no page"
    unexplained = [n for n in changed if MARKER not in (after / n).read_text(encoding="utf-8")]
    assert unexplained == []


def test_chapters_reexecuted_after_a_library_comment_publish_identical_pages(work):
    """The nf4.py edit is a comment: the chapters it re-executes (the small model's QLoRA runs
    among them) must publish exactly what they published before."""
    assert changed_pages(work["csv_html"], work["library_html"]) == []


def test_a_library_edit_reexecutes_only_the_chapters_that_imported_the_module(work):
    result = work["library_edit"]
    log = log_of(result)
    assert result.returncode == 0, log[-3000:]
    ran = executed(log)
    readers = work["nf4_readers"]
    assert "book/part2-peft/qlora" in readers
    assert ran == {str(work["book"] / r) for r in readers}, (ran, readers)
    assert 1 <= len(ran) <= 3, ran


def test_an_interrupted_build_leaves_nothing_stale_for_the_next(work):
    assert "sft-cost.md: Executing notebook" in work["interrupted_log"]
    result = work["after_interrupt"]
    log = log_of(result)
    assert result.returncode == 0, log[-3000:]
    page = work["book"] / "_build" / "html" / "book" / "part3-instruction-tuning" / "sft-cost.html"
    text = re.sub(r"<[^>]+>", "", page.read_text(encoding="utf-8"))
    assert "7.5 hours" in text and "in 3 hours" not in text


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


def test_a_bad_cell_stops_the_build_before_any_notebook_runs(tmp_path):
    # Every kind of bad cell is tested against llmbook.validate in test_catalog; this checks the
    # build runs that validation first and publishes nothing.
    book = copy_book(tmp_path / "book")
    edit_cell(book / "data" / "models.csv", 4, "params", "175 billion")
    result = jb_build(book)
    log = log_of(result)
    assert result.returncode != 0
    assert "data/models.csv, row 4, column 'params'" in log, log[-2000:]
    assert executed(log) == set()
    assert not (book / "_build" / "html" / "index.html").exists()


def test_repository_edit_and_launch_buttons_only_for_a_known_repository(tmp_path):
    book = copy_book(tmp_path / "book")
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: book/intro\nchapters:\n  - file: book/page\n  - file: book/nb\n",
        encoding="utf-8",
    )
    (book / "book" / "intro.md").write_text("# Intro\n", encoding="utf-8")
    (book / "book" / "page.md").write_text("# A page\n\nText.\n", encoding="utf-8")
    (book / "book" / "nb.md").write_text(
        (ROOT / "book" / "appendix" / "errata.md").read_text(encoding="utf-8").split("# ")[0]
        + "# A notebook\n\n```{code-cell} ipython3\n1 + 1\n```\n",
        encoding="utf-8",
    )
    html = book / "_build" / "html" / "book"
    # Without a repository: no button points at a guessed address.
    result = jb_build(book)
    assert result.returncode == 0, log_of(result)[-3000:]
    for page in ("intro", "page", "nb"):
        text = (html / f"{page}.html").read_text(encoding="utf-8")
        assert "github.com/" not in text.split("<article", 1)[0] and "mybinder" not in text
    # With one (and a JupyterHub): edit and repository buttons, launch links on the notebook.
    env = {"LLMBOOK_REPOSITORY": "example-org/replicating-chatgpt"}
    result = jb_build(book, env={**env, "LLMBOOK_JUPYTERHUB_URL": "https://hub.example.org"})
    assert result.returncode == 0, log_of(result)[-3000:]
    text = (html / "page.html").read_text(encoding="utf-8")
    repo = "https://github.com/example-org/replicating-chatgpt"
    assert f'href="{repo}/edit/main/book/page.md"' in text
    assert f'href="{repo}"' in text
    assert "mybinder" not in text and "hub.example.org" not in text  # no code, nothing to run
    notebook = (html / "nb.html").read_text(encoding="utf-8")
    assert (
        'href="https://mybinder.org/v2/gh/example-org/replicating-chatgpt/main'
        '?urlpath=lab/tree/book/nb.md"'
    ) in notebook
    assert (
        "https://hub.example.org/hub/user-redirect/git-pull?repo=https%3A//github.com/"
        "example-org/replicating-chatgpt&urlpath=lab/tree/replicating-chatgpt/book/nb.md"
    ) in notebook
