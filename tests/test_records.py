"""mnist_nb.lab.records: seeds summarized as mean +- sample std, the command line, the benchmark log."""

from __future__ import annotations

import json
import statistics
import sys
import time

import pytest

from mnist_nb.config import TrainConfig
from mnist_nb.lab.records import (
    append_report,
    command_line,
    format_summary,
    machine_description,
    margin_phrase,
    mean_and_std,
    run_record,
    seed_rows,
    summarize,
)
from mnist_nb.support.checkpoint_files import write_json

from .conftest import QUICK, quick_fit


def metrics(seed: int, test: float, val: float, seconds: float, command: str = "python -m mnist_nb seeds") -> dict:
    """One seed's metrics.json, the fields a summary reads."""
    return {
        "model": "tiny",
        "params": 4_718,
        "epochs": 20,
        "seed": seed,
        "device": "cpu",
        "test_accuracy": test,
        "val_accuracy": val,
        "train_seconds": seconds,
        "smoke": False,
        "config": {"model": "tiny", "num_epochs": 20, "seed": seed},
        "machine": {"device": "cpu", "cpu_threads": 1},
        "command": command,
    }


def test_mean_and_sample_std():
    assert mean_and_std([99.4]) == (99.4, 0.0)  # one value: no spread to claim
    mean, std = mean_and_std([99.3, 99.4, 99.6])
    assert mean == pytest.approx(99.4333333)
    assert std == pytest.approx(statistics.stdev([99.3, 99.4, 99.6]))  # n - 1, not the population std
    assert std > statistics.pstdev([99.3, 99.4, 99.6])


def test_summary_holds_every_seed_and_its_statistics(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["bench.py", "--seeds", "2"])
    rows = [metrics(0, 99.40, 99.20, 100.0), metrics(1, 99.50, 99.30, 110.0, command="python -m mnist_nb train")]
    summary = summarize(rows)
    assert summary["seeds"] == [0, 1] and summary["model"] == "tiny" and summary["params"] == 4_718
    assert summary["test_accuracy"] == [99.40, 99.50] and summary["val_accuracy"] == [99.20, 99.30]
    assert summary["test_accuracy_mean"] == pytest.approx(99.45)
    assert summary["test_accuracy_std"] == pytest.approx(statistics.stdev([99.40, 99.50]))
    assert summary["val_accuracy_mean"] == pytest.approx(99.25)
    assert summary["train_seconds_mean"] == pytest.approx(105.0)
    assert summary["config"] == {"model": "tiny", "num_epochs": 20}  # the recipe, not one seed's
    assert not summary["smoke"] and summary["machine"] == {"device": "cpu", "cpu_threads": 1}
    assert summary["command"] == "python bench.py --seeds 2"  # the command that wrote the summary...
    assert summary["seed_commands"] == ["python -m mnist_nb seeds", "python -m mnist_nb train"]  # ... and each seed's


def test_seed_rows_give_back_the_rows_a_summary_was_made_from():
    amd = {"device": "cpu", "cpu_threads": 1, "device_name": "AMD EPYC"}
    rows = [metrics(0, 99.40, 99.20, 100.0), {**metrics(1, 99.50, 99.30, 110.0), "machine": amd}]
    summary = summarize(rows)
    assert summary["seed_machines"] == [rows[0]["machine"], amd]  # each seed says where it ran
    assert seed_rows(summary) == rows
    assert summarize(seed_rows(summary)) == summary
    # A record from before seed_machines: each seed ran on the summary's one machine.
    older = {key: value for key, value in summary.items() if key != "seed_machines"}
    assert [row["machine"] for row in seed_rows(older)] == [rows[0]["machine"]] * 2


def test_format_summary_has_a_row_per_seed_and_the_mean():
    text = format_summary(summarize([metrics(0, 99.40, 99.20, 100.0), metrics(1, 99.50, 99.30, 110.0)]))
    lines = text.splitlines()
    assert lines[0].split() == ["seed", "val", "%", "test", "%", "seconds"]
    assert lines[1].split() == ["0", "99.20", "99.40", "100.0"] and lines[2].split() == ["1", "99.30", "99.50", "110.0"]
    assert lines[3] == (
        "tiny (4,718 parameters, 20 epochs, 2 seeds): test accuracy 99.45 +- 0.07%  "
        "(validation 99.25 +- 0.07%), 105.0s per run"
    )


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/somewhere/mnist_nb/__main__.py", "seeds", "--num-seeds", "5"], "python -m mnist_nb seeds --num-seeds 5"),
        (["/somewhere/mnist_nb/lab/cli.py", "train"], "python -m mnist_nb train"),
        (["benchmarks/bench.py", "--throughput-only"], "python benchmarks/bench.py --throughput-only"),
        (["/home/me/mnist-nb/benchmarks/gpu_sweep.py"], "python benchmarks/gpu_sweep.py"),
        (["/venv/lib/ipykernel_launcher.py", "-f", "/home/me/kernel-1.json"], "a notebook (Jupyter kernel)"),
        (["-"], "python - (a script read from standard input)"),
        ([], "python"),
    ],
)
def test_command_line_is_what_a_user_would_retype(argv, expected, monkeypatch):
    monkeypatch.setattr(sys, "argv", argv)
    assert command_line() == expected


def test_append_report_adds_a_dated_section_and_keeps_what_was_there(tmp_path):
    path = tmp_path / "deeper" / "RESULTS.md"
    append_report(path, "first machine", "python benchmarks/bench.py --rounds 1", ["line one", "line two"])
    append_report(path, "second machine", "python benchmarks/gpu_sweep.py", ["only line"])
    text = path.read_text()
    today = time.strftime("%Y-%m-%d")
    assert text == (
        f"\n## {today}: first machine\n\nCommand: `python benchmarks/bench.py --rounds 1`\n\n"
        "```\nline one\nline two\n```\n"
        f"\n## {today}: second machine\n\nCommand: `python benchmarks/gpu_sweep.py`\n\n```\nonly line\n```\n"
    )


def test_run_record_is_the_metrics_json_of_a_run(tmp_path):
    result = quick_fit(QUICK.replace(num_epochs=2, max_batches_per_epoch=4))
    record = run_record(result, {"accuracy": 97.5, "loss": 0.08}, "python -m mnist_nb train")
    assert record["architecture"] == str(result.model) and "ResidualBlock" in record["architecture"]
    assert record["model"] == "residual" and record["params"] == result.parameter_count == 11_280
    assert (record["epochs"], record["seed"], record["device"]) == (2, 0, "cpu")
    assert (record["test_accuracy"], record["test_loss"]) == (97.5, 0.08)
    assert record["val_accuracy"] == result.final["val_accuracy"]
    assert record["train_seconds"] == pytest.approx(sum(row["seconds"] for row in result.history))
    assert record["seconds_per_epoch"] == pytest.approx(record["train_seconds"] / 2)
    assert record["smoke"]  # a limited number of batches per epoch is never a result
    assert not run_record(quick_fit(QUICK.replace(num_epochs=1)), {"accuracy": 1, "loss": 1}, "")["smoke"]
    assert record["history"] == result.history and record["command"] == "python -m mnist_nb train"
    assert record["machine"] == machine_description(result.device)
    assert {"torch", "torchvision", "python", "cpu_threads", "device_name"} <= set(record["machine"])
    # Written and read back as JSON, the config is the one the run trained with.
    write_json(tmp_path / "metrics.json", record)
    loaded = json.loads((tmp_path / "metrics.json").read_text())
    assert TrainConfig.from_dict(loaded["config"]) == result.config


def test_margin_phrase_weighs_the_margin_over_the_target_against_the_standard_error():
    on_the_line = {"seeds": [0, 1, 2, 3], "test_accuracy_mean": 99.42, "test_accuracy_std": 0.04}  # error 0.02
    assert margin_phrase(on_the_line) == (
        "0.020 points above the line, 1.0 standard errors of its mean (0.020) against Student's t, 3.182: within "
        "seed noise"
    )
    # 2.5 standard errors over four seeds: past 2, not past Student's t for 3 degrees of freedom (3.182).
    between = on_the_line | {"test_accuracy_mean": 99.45}
    assert margin_phrase(between).startswith("0.050 points above the line, 2.5 standard errors")
    assert margin_phrase(between).endswith(": within seed noise")
    below = {"seeds": [0, 1, 2, 3], "test_accuracy_mean": 99.30, "test_accuracy_std": 0.04}
    assert margin_phrase(below).startswith("0.100 points below the line, 5.0 standard errors")
    assert margin_phrase(below).endswith(": beyond seed noise")
    one_seed = {"seeds": [0], "test_accuracy_mean": 99.45, "test_accuracy_std": 0.0}
    assert margin_phrase(one_seed) == "0.050 points above the line"  # no spread, no verdict


def test_a_bare_p_value_is_the_tables_column():
    from mnist_nb.lab.records import bare_p_value

    assert bare_p_value(0.0671) == "0.067" and bare_p_value(0.0002) == "< 0.001"
