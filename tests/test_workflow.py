"""Issue 21: the Pages workflow is checked here, not first on GitHub."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "book.yml"
CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def test_the_workflow_satisfies_githubs_schema_offline():
    # check-jsonschema ships the schemastore copy of GitHub's workflow schema: no download.
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    broken = tmp_path / "book.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs_on:", 1), encoding="utf-8")
    result = subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(broken)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0


def test_every_action_is_pinned_to_a_release_commit():
    lines = [line for line in WORKFLOW.read_text().splitlines() if "uses:" in line]
    assert len(lines) >= 5
    for line in lines:
        assert re.search(r"uses: [\w.-]+/[\w.-]+@[0-9a-f]{40}\s+# v\d+\.\d+\.\d+$", line), line


def test_nothing_is_deployed_unless_the_tests_and_the_strict_build_passed():
    jobs = workflow()["jobs"]
    assert jobs["deploy"]["needs"] in ("build", ["build"])
    steps = jobs["build"]["steps"]
    runs = [step.get("run", "") for step in steps]
    uses = [step.get("uses", "") for step in steps]
    tests = runs.index("python -m pytest")
    build = runs.index("jb build -W -n --keep-going .")
    upload = next(i for i, u in enumerate(uses) if u.startswith("actions/upload-pages-artifact"))
    assert tests < upload and build < upload
    assert not any(step.get("continue-on-error") for step in steps)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "jb build -W -n --keep-going ." in readme and "-m pytest" in readme


def test_the_asset_download_and_the_notebook_cache_are_cached():
    caches = {
        step["with"]["path"]: step["with"]["key"]
        for step in workflow()["jobs"]["build"]["steps"]
        if step.get("uses", "").startswith("actions/cache@")
    }
    assert "hashFiles('src/llmbook/assets.toml')" in caches["~/.cache/llmbook"]
    assert "_build/.jupyter_cache" in caches
