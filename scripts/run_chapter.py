"""Execute one or more chapters outside the book build, to check them while editing.

    python scripts/run_chapter.py book/part3-instruction-tuning/sft-cost.md [more.md ...]

Each chapter runs in a fresh kernel from its own folder (as the build runs it); the executed
notebook is written to ``/tmp/<part>-<chapter>.ipynb``. Prints the time, any stderr output, and the
failing cell's traceback; exits 1 if a chapter failed. ``jb build`` remains the real check (strict
references, glue keys, Sphinx warnings).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import jupytext
import nbclient
import nbformat


def run(path: Path) -> bool:
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
    target = Path("/tmp") / f"{path.resolve().parent.name}-{path.stem}.ipynb"
    nbformat.write(notebook, target)
    print(f"{path}: {'ok' if ok else 'FAILED'} in {seconds:.1f} s -> {target}")
    return ok


if __name__ == "__main__":
    results = [run(Path(arg)) for arg in sys.argv[1:]]
    sys.exit(0 if all(results) else 1)
