"""The repository's promises about itself: CI runs the README's command, its links resolve, conda matches pip."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_COMMAND = 'python3 -m venv .venv && .venv/bin/python -m pip install -q -e ".[test]" && .venv/bin/python -m pytest'


def test_ci_runs_exactly_the_readme_test_command():
    assert TEST_COMMAND in (ROOT / "README.md").read_text()
    assert TEST_COMMAND in (ROOT / ".ci" / "run").read_text()


def test_every_relative_link_in_the_readme_and_docs_points_to_a_file():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    assert len(pages) > 1, "docs/ holds the pages the README links to"
    broken = []
    for page in pages:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)  # code is not a link
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            path = target.split("#", 1)[0]
            if re.match(r"[a-z]+:", target) or not path:  # http(s) and other schemes; anchors within the page
                continue
            if not (page.parent / path).exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, f"links to files that do not exist: {broken}"


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


def test_the_top_level_holds_only_the_projects_parts():
    """A stray file (a figure extracted during a review, say) is caught before it lands at the top level."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True).stdout.splitlines()
    if not tracked:  # not a git checkout: nothing to check
        return
    expected = {".ci", ".github", ".gitignore", "README.md", "benchmarks", "docs", "environment.yml"}
    expected |= {"mnist_nb", "notebooks", "pyproject.toml", "tests"}
    assert {path.split("/")[0] for path in tracked} <= expected


PACKAGE = ROOT / "mnist_nb"
MAX_LINES = 300


def _imported_modules(path: Path) -> set[str]:
    """Every module `path` imports, absolute names (`from . import x` inside mnist_nb/lab -> mnist_nb.lab.x)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def _within(name: str, module: str) -> bool:
    return name == module or name.startswith(module + ".")


def test_every_package_file_is_short_enough_to_read():
    too_long = {
        str(path.relative_to(ROOT)): count
        for path in sorted(PACKAGE.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not too_long, f"files over {MAX_LINES} lines: {too_long}"


def test_the_lesson_core_imports_support_but_never_the_lab():
    """Three layers: the lesson core (mnist_nb/*.py) may import support (mnist_nb/support/: files, the
    reference model), never the lab; support imports nothing else of the package; the README says which is which."""
    core = sorted(PACKAGE.glob("*.py"))
    assert {path.name for path in core} >= {"config.py", "models.py", "training.py", "checkpoint.py"}
    offenders = {
        path.name: sorted(name for name in _imported_modules(path) if _within(name, "mnist_nb.lab"))
        for path in core
        if path.name != "__main__.py"  # `python -m mnist_nb` is the command line's door, not the lesson
    }
    assert not {name: found for name, found in offenders.items() if found}
    # Not vacuous: the same parser sees the core's imports of support (data reads the files through it).
    assert any(_within(name, "mnist_nb.support") for name in _imported_modules(PACKAGE / "data.py"))
    support = sorted((PACKAGE / "support").glob("*.py"))
    assert support, "mnist_nb/support/ holds the support modules"
    beyond = {
        path.name: sorted(
            name
            for name in _imported_modules(path)
            if _within(name, "mnist_nb") and not _within(name, "mnist_nb.support")
        )
        for path in support
    }
    assert not {name: found for name, found in beyond.items() if found}
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert all(f"support/{path.name}" in readme for path in support if path.name != "__init__.py")


def test_the_documented_module_map_has_true_line_counts():
    """docs/package.md's tables and the README's core total are `wc -l` of the files they name."""
    page = (ROOT / "docs" / "package.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([\w/]+\.py)` \| (\d+) \|", page, flags=re.MULTILINE)
    assert len(rows) >= len(list(PACKAGE.glob("*.py"))) - 2  # every core module but __init__ and __main__
    wrong = {
        name: (int(count), actual)
        for name, count in rows
        if (actual := len((PACKAGE / name).read_text(encoding="utf-8").splitlines())) != int(count)
    }
    assert not wrong, f"documented (lines, actual): {wrong}"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for part in ("", "support/", "lab/"):  # each part's total, on both pages
        total = sum(len(path.read_text(encoding="utf-8").splitlines()) for path in (PACKAGE / part).glob("*.py"))
        assert f"{total:,} lines" in page and f"{total:,} lines" in readme, f"mnist_nb/{part}: {total:,} lines"
    # The README's core modules in reading order, each with its count: "`config` (152), `data` (171), ..."
    listed = re.findall(r"`(\w+)` \((\d+)\)", readme)
    assert len(listed) >= len(list(PACKAGE.glob("*.py"))) - 2
    stale = {
        name: count for name, count in listed if len((PACKAGE / f"{name}.py").read_text().splitlines()) != int(count)
    }
    assert not stale, f"README's core line counts: {stale}"
