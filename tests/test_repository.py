"""The repository's promises about itself: CI runs the README's command, conda matches pip."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_COMMAND = 'python3 -m venv .venv && .venv/bin/python -m pip install -q -e ".[test]" && .venv/bin/python -m pytest'


def test_ci_runs_exactly_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / "README.md").read_text()
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[ ]", requirement, maxsplit=1)[0].lower() for requirement in requirements}


def test_environment_yml_has_the_same_packages_as_pyproject():
    tomllib = pytest.importorskip("tomllib", reason="tomllib is in the standard library from Python 3.11")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | {
        name for extra in ("notebooks", "test") for name in _names(project["optional-dependencies"][extra])
    }
    conda_names = {"pytorch": "torch"}  # conda-forge spells torch "pytorch"
    listed = set()
    for line in (ROOT / "environment.yml").read_text().splitlines():
        match = re.match(r"\s*-\s+([A-Za-z][A-Za-z0-9_.-]*)", line)
        if match and match.group(1) not in ("conda-forge", "pip", "python"):
            listed.add(conda_names.get(match.group(1).lower(), match.group(1).lower()))
    assert wanted <= listed, f"missing from environment.yml: {sorted(wanted - listed)}"
    assert listed <= wanted, f"in environment.yml but not pyproject.toml: {sorted(listed - wanted)}"


def test_dataset_is_ignored_and_never_tracked():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    if not tracked:  # not a git checkout (an unpacked sdist): nothing to check
        return
    assert not [path for path in tracked if "ubyte" in path or path.startswith("data/")]
    ignored = subprocess.run(["git", "check-ignore", "data/MNIST/raw/x.gz"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.returncode == 0
