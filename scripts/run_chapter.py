"""Execute one or more chapters outside the book build, to check them while editing.

    python scripts/run_chapter.py book/part3-instruction-tuning/sft-cost.md [more.md ...]

Each chapter runs in a fresh kernel from its own folder (as the build runs it); the executed
notebook is written to ``/tmp/<part>-<chapter>.ipynb``. Prints the time, any stderr output, and the
failing cell's traceback, and its slowest cells (to see where a chapter's time goes); exits 1 if a
chapter failed. ``jb build`` remains the real check (strict
references, glue keys, Sphinx warnings).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime
from pathlib import Path

import jupytext
import nbclient
import nbformat

from llmbook.execution import SINGLE_THREAD_ENV


def run(path: Path) -> bool:
    # As the build runs its kernels: one BLAS thread each (two threading BLAS libraries on a
    # busy machine spin against each other and run many times slower).
    os.environ.update(SINGLE_THREAD_ENV)
    notebook = jupytext.read(path)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3",
        resources={"metadata": {"path": str(path.parent.resolve())}},
    )  # fmt: skip
    start = time.perf_counter()
    ok = True
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        print(f"{path}: FAILED\n{error}")
        ok = False
    seconds = time.perf_counter() - start
    for number, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                print(f"{path}: cell {number} wrote to stderr:\n{output['text']}")
    for seconds_, number, first in slowest_cells(notebook):
        print(f"  {seconds_:6.1f} s  cell {number}: {first}")
    target = Path("/tmp") / f"{path.resolve().parent.name}-{path.stem}.ipynb"
    nbformat.write(notebook, target)
    print(f"{path}: {'ok' if ok else 'FAILED'} in {seconds:.1f} s -> {target}")
    return ok


def slowest_cells(notebook, count: int = 5) -> list[tuple[float, int, str]]:
    """(seconds, cell number, first source line) of the slowest code cells, from the execution
    timestamps nbclient records in each cell's metadata."""
    timed = []
    for number, cell in enumerate(notebook.cells):
        stamps = cell.get("metadata", {}).get("execution", {})
        start, end = stamps.get("iopub.execute_input"), stamps.get("shell.execute_reply")
        if cell.cell_type == "code" and start and end:
            seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
            lines = [line for line in cell.source.splitlines() if line and not line.startswith(":")]
            timed.append((seconds, number, lines[0][:70] if lines else ""))
    return sorted(timed, reverse=True)[:count]


if __name__ == "__main__":
    results = [run(Path(arg)) for arg in sys.argv[1:]]
    sys.exit(0 if all(results) else 1)
