"""The headless runner, with real papermill and a real ipykernel, on tiny notebooks the test writes."""

from __future__ import annotations

import os

import nbformat
import pytest

from mnist_nb.lab.notebook_runner import find_notebooks, format_table, run_nbval, run_notebook, run_series


def write_notebook(path, *sources, key_metric_source=None):
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_code_cell("value = 1", metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    if key_metric_source:
        notebook.cells.append(nbformat.v4.new_code_cell(key_metric_source, metadata={"tags": ["key-metric"]}))
    nbformat.write(notebook, path)
    return path


def test_successful_run_replaces_the_notebook_and_reports_its_key_metric(tmp_path, capfd):
    path = write_notebook(
        tmp_path / "00_ok.ipynb",
        "import os\nprint('smoke =', os.environ.get('MNIST_NB_SMOKE'))\nprint('cwd =', os.path.basename(os.getcwd()))",
        key_metric_source="print(f'value {value * 42}')",
    )
    run = run_notebook(path, path, smoke=True, parameters={"value": 2})
    assert run.ok, run.error
    assert run.key_metric == "value 84"  # the parameter reached the kernel through papermill
    executed = nbformat.read(path, as_version=4)
    outputs = "".join(output.get("text", "") for cell in executed.cells for output in cell.get("outputs", []))
    assert "smoke = 1" in outputs  # smoke mode reaches the kernel through the environment
    assert f"cwd = {tmp_path.name}" in outputs  # the notebook runs in its own directory
    assert "papermill" not in executed.metadata  # no timestamps left behind
    assert all("papermill" not in cell.metadata for cell in executed.cells)
    assert [path.name for path in tmp_path.iterdir()] == ["00_ok.ipynb"]  # no temporary file left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any file the user writes
    assert "without encryption" not in capfd.readouterr().err  # the kernel started without a warning


def test_failing_cell_is_named_and_the_committed_notebook_is_untouched(tmp_path):
    path = write_notebook(tmp_path / "01_broken.ipynb", "print('fine')", "raise ValueError('midway')", "print('never')")
    before = path.read_bytes()
    run = run_notebook(path, path, smoke=True)
    assert not run.ok
    assert "cell 2" in run.error and "raise ValueError('midway')" in run.error and "ValueError: midway" in run.error
    assert path.read_bytes() == before
    assert [path.name for path in tmp_path.iterdir()] == ["01_broken.ipynb"]


def test_series_stops_at_the_first_failure(tmp_path, monkeypatch):
    write_notebook(tmp_path / "00_first.ipynb", "print('one')", key_metric_source="print('one')")
    write_notebook(tmp_path / "01_second.ipynb", "1 / 0")
    write_notebook(tmp_path / "02_third.ipynb", "print('three')")
    monkeypatch.setattr("mnist_nb.lab.notebook_runner.notebook_directory", lambda: tmp_path)
    out = tmp_path / "out"
    runs = run_series(smoke=True, output_dir=out, log=None)
    assert [run.name for run in runs] == ["00_first", "01_second"]
    assert runs[0].ok and not runs[1].ok and "ZeroDivisionError" in runs[1].error
    assert sorted(path.name for path in out.iterdir()) == ["00_first.ipynb"]
    table = format_table(runs)
    assert "00_first" in table and "one" in table and "FAILED" in table


def test_notebooks_are_found_by_number_topic_or_name():
    everything = find_notebooks()
    assert everything == sorted(everything) and len(everything) >= 1
    first = everything[0]
    number, topic = first.stem.split("_", 1)
    assert find_notebooks([number]) == find_notebooks([topic]) == find_notebooks([first.name]) == [first]
    with pytest.raises(ValueError, match="valid names"):
        find_notebooks(["no-such-notebook"])


def test_nbval_that_ran_no_notebook_says_why_and_how_to_install_it(tmp_path, monkeypatch):
    import subprocess

    def no_nbval(command, **options):  # what pytest does without the plugin: a usage error, no report
        return subprocess.CompletedProcess(command, 4, "", "error: unrecognized arguments: --nbval-lax\n")

    monkeypatch.setattr(subprocess, "run", no_nbval)
    with pytest.raises(RuntimeError, match=r"exit code 4\).*unrecognized arguments.*pip install -e \"\.\[test\]\""):
        run_nbval(tmp_path / "report.xml")
