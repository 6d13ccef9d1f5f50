"""Print the lowest versions pyproject.toml declares, as pip constraints: `name==floor`, one per line.

    python .github/floors.py > floors.txt && python -m pip install -c floors.txt -e ".[test]"

The floor job of .github/workflows/ci.yml installs these to test that the declared floors hold.
Arguments name optional dependency groups to add to the core dependencies (default: test).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

FLOOR = re.compile(r"^\s*([A-Za-z0-9_.\-]+)(\[[^\]]*\])?\s*>=\s*([0-9][A-Za-z0-9.]*)\s*$")


def floors(pyproject: Path, extras: list[str]) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    lines = []
    for requirement in requirements:
        match = FLOOR.match(requirement)
        if match is None:
            raise SystemExit(f"{requirement!r} in {pyproject} has no plain floor (name>=version)")
        lines.append(f"{match.group(1)}=={match.group(3)}")
    return lines


if __name__ == "__main__":
    print("\n".join(floors(Path(__file__).resolve().parents[1] / "pyproject.toml", sys.argv[1:] or ["test"])))
