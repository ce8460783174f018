"""Project configuration: what the build reads and what git ignores."""

from __future__ import annotations

import json
import logging
import re
import subprocess
from pathlib import Path

import yaml


def _excluded(root) -> list[str]:
    return yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))["exclude_patterns"]


def test_a_jupytext_twin_is_not_a_second_source_of_the_chapter(root, tmp_path, caplog):
    """The README pairs a chapter with a notebook (``jupytext --set-formats ipynb,md:myst``):
    Sphinx must see one document, not warn "multiple files found" (a failure under -W)."""
    from sphinx.project import Project

    chapter = tmp_path / "book" / "part1-base-models"
    chapter.mkdir(parents=True)
    (chapter / "landscape.md").write_text("# Landscape\n", encoding="utf-8")
    (chapter / "landscape.ipynb").write_text(json.dumps({"cells": []}), encoding="utf-8")
    project = Project(tmp_path, [".md", ".ipynb"])
    with caplog.at_level(logging.WARNING):
        docs = project.discover(exclude_paths=_excluded(root))
    assert docs == {"book/part1-base-models/landscape"}
    assert str(project.doc2path("book/part1-base-models/landscape", absolute=False)).endswith(".md")
    assert "multiple files" not in caplog.text
    # Without the exclusion Sphinx does warn: the test would catch the pattern being dropped.
    with caplog.at_level(logging.WARNING):
        Project(tmp_path, [".md", ".ipynb"]).discover(
            exclude_paths=[p for p in _excluded(root) if "ipynb" not in p]
        )
    assert "multiple files" in caplog.text


def test_build_outputs_are_ignored_by_git(root, tmp_path):
    for folder in ("_build", "build"):
        result = subprocess.run(
            ["git", "check-ignore", "-q", f"{folder}/html/index.html"], cwd=root
        )
        assert result.returncode == 0, f"{folder}/ is not in .gitignore"


def test_every_library_function_the_formulas_appendix_names_exists(root):
    """The appendix's tables name the function behind each formula: a rename in the library must
    not leave the reader a dead name."""
    import importlib

    text = (root / "book" / "appendix" / "formulas.md").read_text(encoding="utf-8")
    names = set(re.findall(r"`(llmbook\.[\w.]+)`", text))
    assert len(names) >= 20, names
    missing = []
    for name in sorted(names):
        parts = name.split(".")
        for cut in range(len(parts), 1, -1):
            try:
                target = importlib.import_module(".".join(parts[:cut]))
            except ModuleNotFoundError:
                continue
            try:
                for attribute in parts[cut:]:
                    target = getattr(target, attribute)
            except AttributeError:
                missing.append(name)
            break
        else:
            missing.append(name)
    assert missing == []


def test_binder_opens_chapters_as_notebooks(root):
    """Binder installs requirements.txt (the book's pins, jupytext among them) and runs
    postBuild, which makes JupyterLab open a chapter's .md as a notebook."""
    import os
    import shutil
    import sys

    post = root / "postBuild"
    assert os.access(post, os.X_OK)
    commands = [line for line in post.read_text().splitlines() if line and line[0] != "#"]
    assert "jupytext-config set-default-viewer" in commands
    assert re.search(r"^jupytext==", (root / "requirements.txt").read_text(), re.M)
    assert shutil.which("jupytext-config", path=str(Path(sys.executable).parent))
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"


def test_exactly_the_pages_with_code_are_notebooks_with_a_launch_button(root):
    """sphinx-book-theme draws launch buttons on a page whose front matter declares a kernelspec
    (header_buttons/launch.py, ``_is_notebook``): every page with a code cell must declare one (a
    reader can run it) and no page without code may (its button would open nothing to run)."""
    from conftest import toc_files

    wrong = []
    for doc in toc_files(root):
        text = (root / f"{doc}.md").read_text(encoding="utf-8")
        front = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
        if ("kernelspec" in (front or {})) != ("```{code-cell}" in text):
            wrong.append(doc)
    assert len(toc_files(root)) > 30 and wrong == []


def _theme_options(monkeypatch, config_url=None, **env) -> dict:
    """The theme options llmbook.sphinx_ext makes of _config.yml's ``repository.url`` (as
    Jupyter Book passes it) and the environment."""
    from types import SimpleNamespace

    from llmbook import sphinx_ext

    for name in ("LLMBOOK_REPOSITORY", "GITHUB_REPOSITORY", "LLMBOOK_JUPYTERHUB_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = yaml.safe_load((Path(__file__).parents[1] / "_config.yml").read_text(encoding="utf-8"))
    options = {"launch_buttons": dict(config["launch_buttons"])}
    if config_url is not None:
        options["repository_url"] = config_url
    namespace = SimpleNamespace(html_theme_options=options)
    sphinx_ext.on_config_inited(None, namespace)
    return namespace.html_theme_options


def test_the_launch_buttons_follow_the_repository_the_book_names(monkeypatch):
    import pytest
    from sphinx.errors import ExtensionError

    from llmbook.sphinx_ext import JUPYTER_BOOK_DEFAULT_REPOSITORY as DEFAULT

    # No repository known (Jupyter Book's default is its own): no launch or repository buttons.
    for url in (None, DEFAULT):
        options = _theme_options(monkeypatch, url)
        assert "launch_buttons" not in options and options.get("repository_url") in (None, DEFAULT)
    # _config.yml's repository.url; GitHub Actions' GITHUB_REPOSITORY fills it when it is unset.
    ours = "https://github.com/example-org/replicating-chatgpt"
    options = _theme_options(monkeypatch, ours + ".git", GITHUB_REPOSITORY="fork/copy")
    assert options["repository_url"] == ours and options["path_to_docs"] == ""
    assert options["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    options = _theme_options(monkeypatch, DEFAULT, GITHUB_REPOSITORY="fork/copy")
    assert options["repository_url"] == "https://github.com/fork/copy"
    # LLMBOOK_REPOSITORY wins over both; a hub adds a JupyterHub button.
    options = _theme_options(
        monkeypatch, ours, LLMBOOK_REPOSITORY="me/mine", LLMBOOK_JUPYTERHUB_URL="https://hub.x.org"
    )
    assert options["repository_url"] == "https://github.com/me/mine"
    assert options["launch_buttons"]["jupyterhub_url"] == "https://hub.x.org"
    with pytest.raises(ExtensionError, match="repository.url"):
        _theme_options(monkeypatch, "https://gitlab.com/a/b")


def test_the_bibliography_is_sorted_by_key_without_duplicates(root):
    """Union merges have lost closing braces and duplicated entries before: entries stay sorted
    by key, each key once, and the file parses to exactly those entries."""
    import pybtex.database

    path = root / "book" / "references.bib"
    keys = re.findall(r"(?m)^@\w+\s*\{\s*([^,\s]+)\s*,", path.read_text(encoding="utf-8"))
    assert keys == sorted(keys)
    assert len(keys) == len(set(keys))
    assert list(pybtex.database.parse_file(str(path)).entries) == keys


CODE_CELL = re.compile(r"```\{code-cell\}[^\n]*\n(.*?)```", re.S)
PLUMBING = re.compile(r"\bglue\(|plt\.subplots\(|\bfig\.add_subplot\(")


def test_plumbing_is_removed_and_teaching_stays_visible(root):
    """One rule for every chapter (stated in the introduction): a cell whose code glues a number
    into the prose or draws a figure is removed from the page (remove-cell); visible cells are
    the computations the reader learns from. Figure code that is the lesson belongs in a
    library figure function the visible cell calls."""
    offenders = []
    for page in sorted((root / "book").rglob("*.md")):
        for cell in CODE_CELL.findall(page.read_text(encoding="utf-8")):
            tags = re.search(r"^:tags: \[(.*?)\]", cell, re.M)
            hidden = tags and re.search(r"remove-cell|remove-input|hide-input", tags.group(1))
            if not hidden and PLUMBING.search(cell):
                offenders.append(f"{page.relative_to(root)}: {cell.splitlines()[0][:60]}")
    assert offenders == [], offenders
