"""Results as records: one run (metrics.json), statistics over seeds (summary.json), the benchmark log.

A summary (summary.json, benchmarks/results/NAME.json) holds every seed's validation and test
accuracy, their mean +- sample std, the seconds, the config, the machine and the commands.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import sys
import textwrap
import time
from pathlib import Path

import torch

from mnist_nb.comparison import format_p_value
from mnist_nb.config import TARGET_ACCURACY
from mnist_nb.lab.t_tests import student_t_critical
from mnist_nb.support.mnist_files import project_root

# Where every recorded result lives (benchmarks/results/NAME.json and folders of studies).
RESULTS_DIR = (project_root() or Path.cwd()) / "benchmarks" / "results"


def command_line() -> str:
    """How this process was started, as a user would retype it."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "cli.py"):
        program = "python -m mnist_nb"
    elif "ipykernel" in program:  # its arguments name a kernel file: a machine's path, not a command
        return "a notebook (Jupyter kernel)"
    elif program == "-":
        return "python - (a script read from standard input)"
    elif program.endswith(".py"):  # a script: from the repository's root, never the machine's path to it
        program = f"python {Path(Path(sys.argv[0]).parent.name) / program}"
    return " ".join([program, *sys.argv[1:]])


def run_record(result, test: dict, command: str) -> dict:
    """metrics.json, the one schema of a run's record: a `training.TrainingResult` and its one test evaluation."""
    return {
        "model": result.config.model,
        # The architecture itself, not just its name: a record stays tied to the model it measured.
        "architecture": str(result.model),
        "params": result.parameter_count,
        "epochs": len(result.history),
        "seed": result.config.seed,
        "device": str(result.device),
        "val_accuracy": result.final["val_accuracy"],
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "train_seconds": result.train_seconds,
        "seconds_per_epoch": result.train_seconds / len(result.history),
        "smoke": result.config.max_batches_per_epoch is not None,
        "config": result.config.to_dict(),
        "machine": machine_description(result.device),
        "command": command,
        "history": result.history,
    }


def machine_description(device: torch.device) -> dict:
    """What a figure was measured on: device name, CPU threads, versions."""
    import torchvision

    return {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        "cpu_threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "platform": platform.platform(terse=True),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); std is 0.0 for a single value."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def summarize(rows: list[dict]) -> dict:
    """Mean +- sample std over the runs of one recipe (one metrics dict per seed)."""
    test_mean, test_std = mean_and_std([row["test_accuracy"] for row in rows])
    val_mean, val_std = mean_and_std([row["val_accuracy"] for row in rows])
    seconds_mean, seconds_std = mean_and_std([row["train_seconds"] for row in rows])
    return {
        "model": rows[0]["model"],
        "params": rows[0]["params"],
        "epochs": rows[0]["epochs"],
        "seeds": [row["seed"] for row in rows],
        "device": rows[0]["device"],
        "test_accuracy": [row["test_accuracy"] for row in rows],
        "val_accuracy": [row["val_accuracy"] for row in rows],
        "train_seconds": [row["train_seconds"] for row in rows],
        "test_accuracy_mean": test_mean,
        "test_accuracy_std": test_std,
        "val_accuracy_mean": val_mean,
        "val_accuracy_std": val_std,
        "train_seconds_mean": seconds_mean,
        "train_seconds_std": seconds_std,
        "smoke": rows[0]["smoke"],
        "config": {key: value for key, value in rows[0]["config"].items() if key != "seed"},
        "machine": rows[0]["machine"],
        # The command that wrote this summary; each seed's own run may have come from another
        # (a resumed sweep reuses finished seeds).
        "command": command_line(),
        "seed_commands": [row["command"] for row in rows],
        # A sweep extended later may run its new seeds on another machine: each seed says where it ran.
        "seed_machines": [row["machine"] for row in rows],
    }


def seed_rows(summary: dict) -> list[dict]:
    """The per-seed rows a summary was made from, as far as it holds them: `summarize`'s inverse.

    Lets a sweep extend a recorded summary with new seeds without the recorded seeds' run
    directories (they may have been trained on another machine).
    """
    machines = summary.get("seed_machines", [summary["machine"]] * len(summary["seeds"]))
    return [
        {
            "model": summary["model"],
            "params": summary["params"],
            "epochs": summary["epochs"],
            "seed": seed,
            "device": summary["device"],
            "test_accuracy": summary["test_accuracy"][index],
            "val_accuracy": summary["val_accuracy"][index],
            "train_seconds": summary["train_seconds"][index],
            "smoke": summary["smoke"],
            "config": {**summary["config"], "seed": seed},
            "machine": machines[index],
            "command": summary["seed_commands"][index],
        }
        for index, seed in enumerate(summary["seeds"])
    ]


def format_summary(summary: dict) -> str:
    lines = [f"{'seed':>4}  {'val %':>6}  {'test %':>6}  {'seconds':>7}"]
    for seed, val, test, seconds in zip(
        summary["seeds"], summary["val_accuracy"], summary["test_accuracy"], summary["train_seconds"], strict=True
    ):
        lines.append(f"{seed:>4}  {val:6.2f}  {test:6.2f}  {seconds:7.1f}")
    lines.append(
        f"{summary['model']} ({summary['params']:,} parameters, {summary['epochs']} epochs, "
        f"{len(summary['seeds'])} seeds): test accuracy {summary['test_accuracy_mean']:.2f} "
        f"+- {summary['test_accuracy_std']:.2f}%  (validation {summary['val_accuracy_mean']:.2f} "
        f"+- {summary['val_accuracy_std']:.2f}%), {summary['train_seconds_mean']:.1f}s per run"
    )
    return "\n".join(lines)


def append_report(path: Path | str, heading: str, command: str, lines: list[str]) -> None:
    """Append one benchmark run to a Markdown log (benchmarks/RESULTS.md): dated heading, command, output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as file:
        file.write(
            f"\n## {time.strftime('%Y-%m-%d')}: {heading}\n\nCommand: `{command}`\n\n```\n"
            + "\n".join(lines)
            + "\n```\n"
        )


TEXT_WIDTH = 110  # a printed note wraps here, so that a notebook's text output reads on GitHub without scrolling


def note(text: str) -> str:
    """A note printed under a table, wrapped at TEXT_WIDTH, its continuation lines indented by two spaces."""
    return textwrap.fill(text, TEXT_WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def bare_p_value(p_value: float) -> str:
    """A p as a table's column prints it: '0.067', '< 0.001' (`format_p_value` without its 'p')."""
    return format_p_value(p_value).replace("p = ", "").removeprefix("p ")


def signed_points(value: float) -> str:
    """A difference in points, signed: '+0.25', and '+0.00' rather than '-0.00' for one that rounds to nothing."""
    return f"{round(value, 2) + 0.0:+.2f}"


def beyond_seed_noise(summary: dict) -> bool:
    """Whether the mean test accuracy lies further from the target than seed noise reaches: more than Student's t
    standard errors of the mean (sd / sqrt(seeds); t, 2.776 for five seeds, as the sd is itself estimated from
    them). Needs two seeds or more."""
    error = summary["test_accuracy_std"] / math.sqrt(len(summary["seeds"]))
    critical = student_t_critical(len(summary["seeds"]) - 1)
    return abs(summary["test_accuracy_mean"] - TARGET_ACCURACY) >= critical * error


def margin_phrase(summary: dict) -> str:
    """How far the mean test accuracy is from the target, in standard errors of the mean; within seed noise
    unless `beyond_seed_noise`: then the side of the line the mean falls on is luck-sized."""
    margin = summary["test_accuracy_mean"] - TARGET_ACCURACY
    error = summary["test_accuracy_std"] / math.sqrt(len(summary["seeds"]))
    side = f"{abs(margin):.3f} points {'above' if margin >= 0 else 'below'} the line"
    if not error or len(summary["seeds"]) < 2:  # one seed: no spread to weigh the margin against
        return side
    noise = "beyond" if beyond_seed_noise(summary) else "within"
    critical = student_t_critical(len(summary["seeds"]) - 1)
    return (
        f"{side}, {abs(margin) / error:.1f} standard errors of its mean ({error:.3f}) against Student's t, "
        f"{critical:.3f}: {noise} seed noise"
    )
