"""Time the book's builds on a temporary copy: cold, no change, prose edit, CSV edit.

    python scripts/time_build.py

Cold means an empty ``_build`` (assets already cached on this machine). Prints one line per
build with its wall-clock seconds and which notebooks executed, then each notebook's execution
time from the last build. The working tree is never touched.
"""

from __future__ import annotations

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
    )
    seconds = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"build failed:\n{log[-4000:]}")
    return seconds, log


def report(name: str, seconds: float, log: str) -> None:
    ran = re.findall(r"([\w./-]+)\.md: Executed notebook in ([\d.]+) seconds", log)
    names = ", ".join(f"{Path(p).name} ({float(s):.1f} s)" for p, s in ran) or "none"
    print(f"{name:<16} {seconds:6.1f} s   executed: {names}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        book = Path(tmp) / "book"
        shutil.copytree(ROOT, book, ignore=IGNORE)
        report("cold", *build(book))
        report("no change", *build(book))
        chapter = book / "book" / "part1-base-models" / "landscape.md"
        chapter.write_text(chapter.read_text() + "\nA prose edit.\n")
        report("prose edit", *build(book))
        csv = book / "data" / "models.csv"
        csv.write_text(csv.read_text().replace("\n", "\n", 1).rstrip("\n") + "\n")
        text = csv.read_text()
        csv.write_text(text.replace("Predominantly English", "Predominantly English (edited)", 1))
        report("csv edit", *build(book))


if __name__ == "__main__":
    main()
