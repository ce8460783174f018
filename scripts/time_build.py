"""Time the book's builds on a temporary copy: cold, no change, prose edit, CSV edit, library edit.

    python scripts/time_build.py

Cold means an empty ``_build`` (assets already cached on this machine). The copy builds with its
own library (its ``src`` first on PYTHONPATH), so the library edit edits the copy. Prints one
line per build with its wall-clock seconds and which notebooks executed, and, for the cold build,
the sum of the notebooks' execution times and the ratio of wall time to it (notebooks execute in
parallel), and the machine's single-core matrix-product speed around it (it moves the timings).
The working tree is never touched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
JB = Path(sys.executable).with_name("jb")
IGNORE = shutil.ignore_patterns("_build", ".venv", ".git", "__pycache__", "*.egg-info")


def build(book: Path) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(
        [str(JB), "build", "-W", "-n", "--keep-going", "."],
        cwd=book,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(book / "src")},
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"build failed:\n{log[-4000:]}")
    return seconds, log


def report(name: str, seconds: float, log: str) -> None:
    ran = re.findall(r"([\w./-]+)\.md: Executed notebook in ([\d.]+) seconds", log)
    names = ", ".join(f"{Path(p).name} ({float(s):.1f} s)" for p, s in ran) or "none"
    total = sum(float(s) for _, s in ran)
    summary = f"; {len(ran)} notebooks, {total:.0f} s of execution" if ran else ""
    ratio = f", wall/execution {seconds / total:.2f}" if total else ""
    print(f"{name:<16} {seconds:6.1f} s{summary}{ratio}   executed: {names}", flush=True)


#: One core's float32 matrix-product speed, measured in a fresh process with one BLAS thread:
#: the notebooks' arithmetic runs at about this speed, which varies by 10-20 % on a shared
#: machine from one hour to the next, so each timing is printed with it.
GFLOPS = """
import time, numpy as np
a, b = np.ones((1024, 1024), np.float32), np.ones((1024, 1024), np.float32)
a @ b
rates = []
for _ in range(7):
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    rates.append(10 * 2 * 1024**3 / (time.perf_counter() - start) / 1e9)
print(sorted(rates)[3])
"""


def blas_gflops() -> float:
    """The median of seven measurements of :data:`GFLOPS`."""
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", GFLOPS], env=env, capture_output=True, text=True)
    return float(out.stdout)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book"
        shutil.copytree(ROOT, book, ignore=IGNORE)
        before = blas_gflops()
        report("cold", *build(book))
        print(f"machine: one core multiplies float32 matrices at {before:.0f} GFLOP/s before the "
              f"cold build, {blas_gflops():.0f} GFLOP/s after it", flush=True)  # fmt: skip
        report("no change", *build(book))
        chapter = book / "book" / "part1-base-models" / "landscape.md"
        chapter.write_text(chapter.read_text() + "\nA prose edit.\n")
        report("prose edit", *build(book))
        csv = book / "data" / "models.csv"
        csv.write_text(csv.read_text().replace("\n", "\n", 1).rstrip("\n") + "\n")
        text = csv.read_text()
        csv.write_text(text.replace("Predominantly English", "Predominantly English (edited)", 1))
        report("csv edit", *build(book))
        module = book / "src" / "llmbook" / "nf4.py"
        module.write_text(module.read_text() + "\n# A library edit.\n")
        report("library edit", *build(book))


if __name__ == "__main__":
    main()
