"""The committed notebooks, as GitHub readers and CI see them, and nbval over them in smoke mode."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from mnist_nb.lab.notebook_runner import KEY_METRIC_TAG, key_metric

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SERIES = [
    "00_data",
    "01_baseline",
    "02_batchnorm",
    "03_dropout_augmentation",
    "04_global_average_pooling",
    "05_attention",
    "06_residual",
    "07_final_training",
    "08_inside_the_model",
    "09_frontier",
]
MACHINE_PATHS = re.compile(r"(/work/|/tmp/|/root/|/home/[a-z]|site-packages|[A-Z]:\\\\Users)")


def read(name: str):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def markdown_printed(name: str, call: str) -> list[str]:
    """The Markdown that notebook `name`'s committed outputs show from the cells calling `call` ("every_test(")."""
    return [
        "".join(output["data"]["text/markdown"])
        for cell in code_cells(read(name))
        if call in cell.source
        for output in cell.outputs
        if "text/markdown" in output.get("data", {})
    ]


def test_the_series_is_complete():
    assert sorted(path.stem for path in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) == SERIES


@pytest.mark.parametrize("name", SERIES)
def test_committed_notebook_is_fully_executed_and_clean(name):
    path = NOTEBOOKS / f"{name}.ipynb"
    notebook = read(name)
    nbformat.validate(notebook)
    cells = code_cells(notebook)
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), "not executed top to bottom"
    outputs = [output for cell in cells for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    assert not [output for output in outputs if output.get("name") == "stderr"], "warnings on stderr"
    assert any("image/png" in output.get("data", {}) for output in outputs), "no figure"
    assert not MACHINE_PATHS.findall(str(outputs)), "machine paths in outputs"
    assert "widgets" not in notebook.metadata
    assert path.stat().st_size < 5_000_000
    assert any("parameters" in cell.metadata.get("tags", []) for cell in cells)
    # nbval's markers are cell tags, not comments in the learner's code.
    assert not [cell for cell in cells if "NBVAL" in cell.source]
    assert any("nbval-check-output" in cell.metadata.get("tags", []) for cell in cells)
    assert any(KEY_METRIC_TAG in cell.metadata.get("tags", []) for cell in cells) and key_metric(notebook)
    text = "".join(output.get("text", "") for output in outputs)
    assert "full run" in text and "smoke run" not in text, "committed outputs must come from a full run"


def test_final_notebook_reaches_99_4_with_under_20k_parameters():
    metric = key_metric(read("07_final_training"))
    accuracy = float(re.search(r"test accuracy ([\d.]+)%", metric).group(1))
    parameters = int(re.search(r"with ([\d,]+) parameters", metric).group(1).replace(",", ""))
    assert accuracy >= 99.4, metric
    assert parameters < 20_000, metric


def test_committed_full_budget_sentences_are_the_records_current_ones():
    """Notebooks 02-06 close with a table and a line generated from benchmarks/results: a record that changes without
    the notebooks re-executed would leave their committed pages reading the old numbers."""
    from mnist_nb.lab.ablation import full_budget_verdict

    checked = []
    for name in SERIES[2:7]:
        for cell in code_cells(read(name)):
            for removed in re.findall(r'^print\(full_budget_verdict\("(\w+)"\)\)$', cell.source, re.MULTILINE):
                printed = "".join(output.get("text", "") for output in cell.outputs)
                assert full_budget_verdict(removed) in printed, f"{name}: {removed} is stale"
                checked.append(removed)
    assert sorted(checked) == ["attention", "augmentation", "batchnorm", "dropout", "gap", "skip"]


def test_committed_study_readings_are_the_records_current_ones():
    """04 and 09 print GAP's replication on fresh seeds, 09 the final recipe's changes, from their records:
    a record that changes without these notebooks re-executed would leave their pages reading old numbers."""
    from mnist_nb.lab.recipe_changes import changes_table
    from mnist_nb.lab.replication import replication_sentence

    for reading, notebooks in [
        (replication_sentence, ["04_global_average_pooling", "09_frontier"]),
        (changes_table, ["09_frontier"]),
    ]:
        for name in notebooks:
            (printed,) = [
                "".join(output.get("text", "") for output in cell.outputs)
                for cell in code_cells(read(name))
                if f"print({reading.__name__}())" in cell.source
            ]
            # 09 prints more under its table (the changes' additivity, checked in test_recipe_changes.py).
            assert printed.startswith(reading() + "\n"), f"{name}: {reading.__name__} is stale"


def test_notebooks_define_no_helpers():
    for name in SERIES:
        for cell in code_cells(read(name)):
            assert not re.search(r"^\s*(def|class) ", cell.source, re.MULTILINE), f"{name} defines a helper"


def stray_strings(source: str) -> list[str]:
    """String literals that stand alone as statements outside a docstring's place: the second half of a
    string split over two lines without parentheses, which Python drops without a word."""
    tree = ast.parse(source)
    found = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            statements = getattr(node, field, None)
            if not isinstance(statements, list):
                continue
            for index, statement in enumerate(statements):
                docstring = index == 0 and field == "body" and isinstance(node, DOCUMENTED)
                if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant) and not docstring:
                    if isinstance(statement.value.value, str):
                        found.append(statement.value.value)
    return found


DOCUMENTED = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def test_stray_strings_are_found():
    split = 'meaning = "on this seed the rate alone does not "\n"explain its lead"'
    assert stray_strings(split) == ["explain its lead"]
    assert stray_strings('"""A docstring."""\nmeaning = ("a " "b")') == []


def test_no_string_is_lost_to_a_missing_parenthesis():
    """A sentence split over two lines without parentheses prints its first half only (02 did)."""
    for name in SERIES:
        for index, cell in enumerate(read(name).cells):
            if cell.cell_type == "code":
                source = "\n".join(line for line in cell.source.splitlines() if not line.startswith(("%", "!")))
                assert not stray_strings(source), f"{name}, cell {index}: a string stands alone"
    for path in Path(__file__).resolve().parents[1].glob("[mbt]*/**/*.py"):
        assert not stray_strings(path.read_text(encoding="utf-8")), f"{path.name}: a string stands alone"


@pytest.mark.parametrize("name", SERIES)
def test_notebook_renders_to_html_with_its_figures(name):
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(read(name))
    assert html.count("data:image/png;base64,") >= 1
    assert "Traceback (most recent call last)" not in html  # the CSS of highlighted code names "Generic.Traceback"
    assert len(html) < 5_000_000


def test_nbval_passes_in_smoke_mode():
    """`pytest --nbval-lax notebooks/` with MNIST_NB_SMOKE=1, in its own process (its own environment)."""
    environment = {**os.environ, "MNIST_NB_SMOKE": "1"}
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
        "--nbval-sanitize-with", str(NOTEBOOKS / "nbval_sanitize.cfg"), str(NOTEBOOKS),
    ]  # fmt: skip
    completed = subprocess.run(command, cwd=NOTEBOOKS.parent, env=environment, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    assert re.search(r"\d+ passed", completed.stdout)
