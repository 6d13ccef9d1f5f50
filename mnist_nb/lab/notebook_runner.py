"""Run the notebook series headless with papermill: `python -m mnist_nb notebooks [--smoke] [NAMES...]`.

Each notebook runs in a fresh `python3` kernel with `notebooks/` as its working directory. The
executed copy goes to a temporary file first; only a notebook that ran to the end replaces the
committed one (a failure midway leaves it untouched). The series stops at the first failing cell
and names it. Smoke runs (a few batches per training) never replace committed notebooks: their
executed copies go to a scratch directory, or to `--output-dir`.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mnist_nb.config import SMOKE_ENVIRONMENT_VARIABLE
from mnist_nb.support.checkpoint_files import default_file_mode
from mnist_nb.support.mnist_files import project_root

KERNEL_NAME = "python3"
KEY_METRIC_TAG = "key-metric"


def notebook_directory() -> Path:
    root = project_root()
    if root is None or not (root / "notebooks").is_dir():
        raise FileNotFoundError("the notebooks live in the repository checkout: run this from a clone of mnist-nb")
    return root / "notebooks"


def find_notebooks(names: list[str] | None = None) -> list[Path]:
    """The series in order; `names` select by full name, number ("02") or topic ("batchnorm")."""
    series = sorted(path for path in notebook_directory().glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return series
    chosen = []
    for name in names:
        stem = name.removesuffix(".ipynb")
        matches = [
            path
            for path in series
            if path.stem == stem or path.stem.split("_", 1)[0] == stem or path.stem.split("_", 1)[1] == stem
        ]
        if len(matches) != 1:
            valid = ", ".join(path.stem for path in series)
            raise ValueError(f"no notebook named {name!r}; valid names: {valid}")
        chosen.append(matches[0])
    return chosen


@dataclass
class NotebookRun:
    name: str
    seconds: float
    key_metric: str = ""
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def key_metric(notebook) -> str:
    """The first line printed by the cell tagged `key-metric`: a sentence for the reader, a column for the table."""
    for cell in notebook.cells:
        if KEY_METRIC_TAG in cell.get("metadata", {}).get("tags", []):
            for output in cell.get("outputs", []):
                for line in output.get("text", "").splitlines():
                    if line.strip():
                        return line.strip()
    return ""


def strip_run_metadata(notebook) -> None:
    """Drop papermill's per-cell timestamps and durations: they change on every run, mean nothing to
    a reader, and would make every re-run a diff of every cell."""
    notebook.metadata.pop("papermill", None)
    for cell in notebook.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)


def kernel_config():
    """Encrypt the kernel's local sockets where jupyter_client and zmq can (ipykernel >= 7.3 warns on every
    start over plain TCP); elsewhere the defaults."""
    import zmq
    from jupyter_client.manager import KernelManager
    from traitlets.config import Config

    if "transport_encryption" in KernelManager.class_trait_names() and zmq.has("curve"):
        return Config({"KernelManager": {"transport_encryption": "auto"}})
    return Config()


def run_notebook(path: Path, output_path: Path, *, smoke: bool, parameters: dict | None = None) -> NotebookRun:
    """Execute `path` into a temporary file, then move it to `output_path` if every cell ran."""
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    output_path = Path(output_path)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".ipynb", dir=output_path.parent)
    os.close(handle)
    previous = os.environ.get(SMOKE_ENVIRONMENT_VARIABLE)
    os.environ[SMOKE_ENVIRONMENT_VARIABLE] = "1" if smoke else "0"  # the kernel inherits it
    started = time.perf_counter()
    try:
        papermill.execute_notebook(
            str(path),
            temporary,
            parameters=parameters or {},
            kernel_name=KERNEL_NAME,
            cwd=str(path.parent),
            progress_bar=False,
            log_output=False,
            config=kernel_config(),
        )
        seconds = time.perf_counter() - started
        notebook = nbformat.read(temporary, as_version=4)
        strip_run_metadata(notebook)
        nbformat.write(notebook, temporary)
        os.chmod(temporary, default_file_mode())  # mkstemp makes files private (0600)
        os.replace(temporary, output_path)  # only now is the previous notebook replaced
    except PapermillExecutionError as error:
        message = error.evalue.strip().splitlines()[0] if error.evalue.strip() else ""
        source = (error.source or "").strip().splitlines()
        return NotebookRun(
            path.stem,
            time.perf_counter() - started,
            error=f"cell {error.cell_index} ({source[0] if source else 'empty'!r}) raised {error.ename}: {message}",
        )
    except Exception as error:  # noqa: BLE001 - a dead kernel, an unreadable notebook...: reported, nothing replaced
        return NotebookRun(path.stem, time.perf_counter() - started, error=f"{type(error).__name__}: {error}")
    finally:
        Path(temporary).unlink(missing_ok=True)
        if previous is None:
            os.environ.pop(SMOKE_ENVIRONMENT_VARIABLE, None)
        else:
            os.environ[SMOKE_ENVIRONMENT_VARIABLE] = previous
    return NotebookRun(path.stem, seconds, key_metric=key_metric(notebook))


def run_series(
    names: list[str] | None = None,
    *,
    smoke: bool = False,
    output_dir: Path | None = None,
    parameters: dict | None = None,
    log=print,
) -> list[NotebookRun]:
    """Run the chosen notebooks in order; stop at the first failure. Returns one row per notebook run.

    Full runs replace the committed notebooks (unless `output_dir` is given); smoke runs write to
    `output_dir` or a scratch directory.
    """
    paths = find_notebooks(names)
    if output_dir is None and smoke:
        output_dir = Path(tempfile.mkdtemp(prefix="mnist-nb-smoke-"))
    runs = []
    for path in paths:
        target = (Path(output_dir) / path.name) if output_dir is not None else path
        if log:
            log(f"running {path.name} ({'smoke' if smoke else 'full'}) ...")
        run = run_notebook(path, target, smoke=smoke, parameters=parameters)
        runs.append(run)
        if not run.ok:
            if log:
                log(f"FAILED {path.name}: {run.error}; {path.name} was left as it was")
            break
    return runs


def format_table(runs: list[NotebookRun]) -> str:
    width = max([len("notebook")] + [len(run.name) for run in runs])
    lines = [f"{'notebook':<{width}}  {'seconds':>8}  key metric"]
    for run in runs:
        lines.append(
            f"{run.name:<{width}}  {run.seconds:>8.1f}  {run.key_metric if run.ok else 'FAILED: ' + run.error}"
        )
    lines.append(f"{'total':<{width}}  {sum(run.seconds for run in runs):>8.1f}")
    return "\n".join(lines)


def run_nbval(junit_path: Path, notebooks: list[Path] | None = None) -> dict[str, str]:
    """One `pytest --nbval-lax` pass over the notebooks in smoke mode; outcome per cell test id."""
    import subprocess
    import sys
    import xml.etree.ElementTree as ElementTree

    directory = notebook_directory()
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
        "--nbval-sanitize-with", str(directory / "nbval_sanitize.cfg"), f"--junitxml={junit_path}",
        *[str(path) for path in (notebooks or [directory])],
    ]  # fmt: skip
    environment = {**os.environ, SMOKE_ENVIRONMENT_VARIABLE: "1"}
    finished = subprocess.run(command, cwd=directory.parent, env=environment, capture_output=True, text=True)
    if not Path(junit_path).is_file():  # pytest stopped before any cell: nbval missing, or a bad argument
        tail = (finished.stdout + finished.stderr).strip().splitlines()[-3:]
        raise RuntimeError(
            f"pytest --nbval-lax ran no notebook (exit code {finished.returncode}): {' | '.join(tail)}; "
            'nbval comes with the test extra: pip install -e ".[test]"'
        )
    outcomes = {}
    for case in ElementTree.parse(junit_path).getroot().iter("testcase"):
        failed = case.find("failure") is not None or case.find("error") is not None
        outcome = "failed" if failed else "skipped" if case.find("skipped") is not None else "passed"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes


def nbval_flakiness(num_runs: int, log=print) -> tuple[list[dict[str, str]], list[str]]:
    """Run nbval `num_runs` times; return every run's outcomes and the cells whose outcome changed."""
    runs = []
    with tempfile.TemporaryDirectory(prefix="mnist-nb-nbval-") as scratch:
        for index in range(num_runs):
            started = time.perf_counter()
            outcomes = run_nbval(Path(scratch) / f"run-{index}.xml")
            failed = sum(outcome == "failed" for outcome in outcomes.values())
            if log:
                log(f"nbval run {index + 1}/{num_runs}: {len(outcomes)} cells, {failed} failed, "
                    f"{time.perf_counter() - started:.0f}s")  # fmt: skip
            runs.append(outcomes)
    cells = sorted(set().union(*runs))
    changed = [cell for cell in cells if len({run.get(cell, "missing") for run in runs}) > 1]
    return runs, changed
