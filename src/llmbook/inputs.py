"""Record which files a notebook reads, so that the book's build can re-execute it when they change.

Jupyter-cache keys an executed notebook on its code cells only: edit ``data/models.csv`` and a
plain ``jb build`` would publish the old outputs. The book's Sphinx extension
(:mod:`llmbook.sphinx_ext`) sets ``LLMBOOK_INPUTS_LOG`` to a file before it executes a notebook;
while that variable is set, every data file the library opens, and the library's own source
files, are appended to that file, one absolute path per line. Outside a build the variable is
unset and these functions do nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ENV_VAR = "LLMBOOK_INPUTS_LOG"
PACKAGE_DIR = Path(__file__).resolve().parent


def note(path: str | os.PathLike[str]) -> None:
    """Append ``path`` (made absolute) to the inputs log, if a build asked for one."""
    log = os.environ.get(ENV_VAR)
    if not log:
        return
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(f"{Path(path).resolve()}\n")


def note_modules(names: list[str] | None = None) -> None:
    """Record the source file of every ``llmbook`` module this process has imported (or of the
    modules ``names``, taken before importing this one).

    The build's executor (:mod:`llmbook.execution`) runs this in the kernel after a notebook's
    last cell: ``sys.modules`` then holds every module the notebook used, transitively, so an
    edit to ``nf4.py`` re-executes the chapters that imported it and no others."""
    if not os.environ.get(ENV_VAR):
        return
    if names is None:
        names = [name for name in sys.modules if name.split(".")[0] == "llmbook"]
    for name in sorted(names):
        file = getattr(sys.modules.get(name), "__file__", None)
        if file:
            note(file)


def note_library() -> None:
    """Record every Python source file of this package as an input (the conservative rule for
    a notebook executed without :func:`note_modules`)."""
    if not os.environ.get(ENV_VAR):
        return
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        note(path)


def read_log(path: str | os.PathLike[str]) -> list[Path]:
    """The distinct paths recorded in a log file, in first-seen order (empty if no file)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    return [Path(line) for line in dict.fromkeys(line for line in lines if line.strip())]
