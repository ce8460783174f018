"""Issue 21: the command line works from a wheel installed without the repository.

The wheel is built from a copy of the sources (so the checkout gains no build/ folder), installed
into a fresh virtual environment whose only other path is the shared environment's
site-packages (the dependencies; no .pth of it is processed, so the checkout's editable install
is not visible), and run from an empty folder. Its answers must equal the checkout's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment (about 30 s)

COMMANDS = [
    ["budget", "--model", "LLaMA-7B", "--json"],
    ["budget", "--model", "DeepSeek-V3", "--chip", "H100 SXM", "--chips", "2048", "--json"],
    ["memory", "--model", "Qwen2.5-7B", "--context", "32768", "--json"],
    ["peft", "lora", "--model", "LLaMA-7B", "--rank", "16", "--targets", "q,k,v,o", "--json"],
]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "data", source / "data")
    shutil.copytree(
        ROOT / "src", source / "src", symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )  # fmt: skip
    wheels = base / "wheels"
    pip = [sys.executable, "-m", "pip"]
    # Offline: the build backend is the environment's own setuptools (requirements.txt does not
    # pin it; a Python 3.11 venv has it, a 3.12+ venv needs `pip install setuptools` first).
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(source)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = wheels.glob("llmbook-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "-q", "--target", site, str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    (Path(site) / "shared-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    empty = base / "empty"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LLMBOOK_DATA", "PYTHONPATH")}
    return {"python": python, "cwd": empty, "env": env, "wheel": wheel, "site": Path(site)}


def run(installed, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(installed["python"]), "-m", "llmbook", *args],
        cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True,
    )  # fmt: skip


def test_the_wheel_carries_the_data_package(installed):
    """Every file of data/, its subfolders too (texts/), byte for byte."""
    import zipfile

    wheel = zipfile.ZipFile(installed["wheel"])
    prefix = "llmbook/_data/"
    shipped = {n[len(prefix) :] for n in wheel.namelist() if n.startswith(prefix)}
    expected = {
        p.relative_to(ROOT / "data").as_posix()
        for p in (ROOT / "data").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected == shipped
    for name in sorted(expected):
        assert wheel.read(prefix + name) == (ROOT / "data" / name).read_bytes(), name


def test_the_installed_command_reads_the_shipped_data_not_the_checkout(installed):
    result = run(installed, "--version")
    assert result.returncode == 0, result.stderr
    assert str(installed["site"]) in result.stdout and str(ROOT) not in result.stdout
    from llmbook import catalog

    assert f"sha256:{catalog.package_digest(ROOT / 'data')[:12]}" in result.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:3]))
def test_the_installed_command_answers_as_the_checkout(installed, args):
    wheel = run(installed, *args)
    checkout = subprocess.run(
        [sys.executable, "-m", "llmbook", *args], cwd=ROOT, capture_output=True, text=True
    )
    assert wheel.returncode == checkout.returncode == 0, wheel.stderr + checkout.stderr
    assert json.loads(wheel.stdout) == json.loads(checkout.stdout)


def test_the_installed_version_names_the_shipped_data_packages_version(installed):
    descriptor = json.loads((ROOT / "data" / "datapackage.json").read_text(encoding="utf-8"))
    line = run(installed, "--version").stdout
    assert f"replicating-chatgpt-data {descriptor['version']} (created " in line


def where(installed, cwd=None, **env) -> str:
    """The data folder the installed command reads (the end of its --version line)."""
    result = subprocess.run(
        [str(installed["python"]), "-m", "llmbook", "--version"], cwd=cwd or installed["cwd"],
        env={**installed["env"], **env}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().rsplit(" (", 1)[1].rstrip(")")


def test_a_checkout_and_llmbook_data_win_over_the_shipped_copy(installed, tmp_path):
    """Editors see their own edits: run inside a checkout, the installed command reads its data/;
    LLMBOOK_DATA wins over both."""
    assert where(installed, cwd=ROOT / "book" / "part1-base-models") == str(ROOT / "data")
    copy = tmp_path / "edited"
    shutil.copytree(ROOT / "data", copy)
    assert where(installed, LLMBOOK_DATA=str(copy)) == str(copy.resolve())
    assert where(installed, cwd=ROOT, LLMBOOK_DATA=str(copy)) == str(copy.resolve())


def test_another_projects_data_folder_is_not_adopted(installed, tmp_path):
    project = tmp_path / "other" / "analysis"
    (project.parent / "data").mkdir(parents=True)
    project.mkdir()
    (project.parent / "data" / "datapackage.json").write_text(
        json.dumps({"name": "someone-elses-data", "resources": []}), encoding="utf-8"
    )
    found = where(installed, cwd=project)
    assert found.startswith(str(installed["site"])) and "other" not in found


def test_validate_works_from_the_wheel_without_a_bibliography(installed):
    result = run(installed, "validate")
    assert result.returncode == 0, result.stderr
    assert "source keys unchecked" in result.stdout  # no book/references.bib beside the data
