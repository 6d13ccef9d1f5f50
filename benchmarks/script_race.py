"""The race against the script itself: its repository's `src/train.py`, run unchanged, against our `fast` recipe.

`python benchmarks/bench.py --reference-script DIR` runs it. DIR is a checkout of the script repository this
project grew from (https://github.com/tusharpatidar/erav3-session6), fetched by the user; nothing of it is
copied into this repository. What the script does, read from its source (commit 3208171):

- it reads MNIST from `../data`, relative to the working directory (`datasets.MNIST('../data',
  download=True)`), imports `network` from its own folder and writes `models/best_model.pth` under the working
  directory. It runs here as `python -u train.py` in DIR/src, so `../data` is DIR/data and all it writes
  stays in the checkout. DIR/data/MNIST/raw is seeded with our four archives, which torchvision extracts
  without the network; `seed_script_data` has it extract them before the first timed run, so that every
  run starts alike, as a user's second run would;
- after every epoch it prints `Epoch N: Test set: Average loss: L, Accuracy: A%` (A = 100 * correct / 10,000,
  two decimals, exact), steps `ReduceLROnPlateau('max', patience=2)` on A, and stops by itself after the
  first epoch with A >= 99.4 (19 epochs at most), printing a summary;
- its seed is fixed (`torch.manual_seed(42)`): its runs differ through the machine (threads, timing), not
  through a seed, and the race runs it several times.

Its time is the wall time from the start of its process to the arrival of the line that reports its first
A >= 99.4 (its output is unbuffered and stamped as each line arrives): imports, data loading and every
epoch's test pass count, as a user waits for them. Ours is the wall time of
`python -m mnist_nb train --recipe fast --seed K`, from the start of its process to its exit (after its one
test evaluation and its files are written). Both get the same thread count (OMP_NUM_THREADS, MKL_NUM_THREADS);
`parallel` runs one script run and one of ours at the same time, pinned to cores 0 and 1 (`taskset`), one
thread each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mnist_nb.lab.experiments import seed_directory
from mnist_nb.lab.records import summarize
from mnist_nb.support.mnist_files import MNIST_FILES, ensure_mnist, md5_of, raw_folder

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path("src") / "train.py"
REPOSITORY = "https://github.com/tusharpatidar/erav3-session6"
# A script that has printed its target line and has not exited within this many seconds is stopped: the
# script stops by itself, but a changed checkout might not.
GRACE_SECONDS = 60.0
# `Epoch 3: Test set: Average loss: 0.0378, Accuracy: 98.89%`; also `Accuracy: 9889/10000 (98.89%)`.
EPOCH_LINE = re.compile(
    r"\bEpoch\s*:?\s*(\d+)\b.*?\bAccuracy\s*[:=]?\s*(?:\d+\s*/\s*\d+\s*\(\s*)?(\d+(?:\.\d+)?)\s*%", re.IGNORECASE
)


class ScriptError(RuntimeError):
    """DIR is not a checkout of the script, or its data folder cannot be seeded."""


def script_path(directory: Path | str) -> Path:
    """DIR/src/train.py, or a ScriptError that says what DIR should be."""
    path = Path(directory).expanduser().resolve() / SCRIPT
    if not path.is_file():
        raise ScriptError(
            f"{path} does not exist: --reference-script takes a checkout of the script's repository "
            f"(git clone {REPOSITORY} DIR)."
        )
    return path


def checkout_state(directory: Path | str) -> str:
    """The checkout's commit, and whether src/ differs from it: the script must run unchanged."""
    directory = Path(directory).expanduser().resolve()

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *arguments], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "src")  # it writes src/models/
    except (OSError, subprocess.CalledProcessError):
        return "not a git checkout: its version is unknown"
    if changed:
        paths = len(changed.splitlines())
        return f"commit {commit[:7]}, src/ CHANGED from it ({paths} paths): not the script as published"
    return f"commit {commit[:7]}, src/ unchanged"


def seed_script_data(directory: Path | str, data_root: Path | str) -> Path:
    """Copy our four MNIST archives into DIR/data/MNIST/raw (where the script's `../data` points) and extract them.

    An archive already there with the right md5 is kept. The extraction is torchvision's (through
    `ensure_mnist`, offline), as the script's own `download=True` would do it on its first run.
    """
    source = raw_folder(Path(data_root))
    script_data = Path(directory).expanduser().resolve() / "data"
    target = raw_folder(script_data)
    target.mkdir(parents=True, exist_ok=True)
    for name, expected in MNIST_FILES:
        destination = target / name
        if destination.is_file() and md5_of(destination) == expected:
            continue
        archive = source / name
        if not archive.is_file():
            raise ScriptError(
                f"{archive} is missing: the script's data folder is seeded from our four archives "
                f"({', '.join(name for name, _ in MNIST_FILES)}) in {source}."
            )
        if md5_of(archive) != expected:
            raise ScriptError(f"{archive} is corrupt or truncated (md5 differs from {expected}).")
        shutil.copyfile(archive, destination)
    ensure_mnist(script_data, download=False)
    return script_data


def parse_epochs(lines: list[tuple[float, str]]) -> list[dict]:
    """The script's per-epoch test lines: [{"epoch", "accuracy", "seconds"}], seconds since its process started."""
    epochs = []
    for seconds, line in lines:
        match = EPOCH_LINE.search(line)
        if match:
            epochs.append({"epoch": int(match.group(1)), "accuracy": float(match.group(2)), "seconds": seconds})
    return epochs


def script_result(lines: list[tuple[float, str]], end_seconds: float, returncode: int | None, target: float) -> dict:
    """One run of the script: its first epoch >= target, the seconds to that line, seconds per epoch.

    Seconds per epoch is the mean gap between successive epoch lines up to that one (a training epoch and
    its test pass; the first line also carries start-up), or the first line's time when it is the first.
    """
    epochs = parse_epochs(lines)
    reached = next((index for index, row in enumerate(epochs) if row["accuracy"] >= target), None)
    counted = epochs[: reached + 1] if reached is not None else epochs
    if len(counted) > 1:
        per_epoch = (counted[-1]["seconds"] - counted[0]["seconds"]) / (len(counted) - 1)
    else:
        per_epoch = counted[0]["seconds"] if counted else float("nan")
    return {
        "epochs": epochs,
        "epoch": epochs[reached]["epoch"] if reached is not None else None,
        "accuracy": epochs[reached]["accuracy"]
        if reached is not None
        else (epochs[-1]["accuracy"] if epochs else None),
        # Not reached: the time it ran, a lower bound on its time to the target.
        "seconds": epochs[reached]["seconds"] if reached is not None else end_seconds,
        "per_epoch_seconds": per_epoch,
        "end_seconds": end_seconds,
        "returncode": returncode,
    }


def reached_target(target: float):
    """A `stop` for `run_timed`: true at the script's first epoch line >= target."""

    def stop(line: str) -> bool:
        match = EPOCH_LINE.search(line)
        return bool(match) and float(match.group(2)) >= target

    return stop


def run_timed(command: list[str], cwd: Path, env: dict, log_path: Path, stop=None, grace: float | None = None):
    """Run `command`, stamping each output line (stdout and stderr) with the seconds since its start.

    When `stop(line)` is true the process is given `grace` seconds (default GRACE_SECONDS) to exit by itself,
    then terminated.
    Returns (lines, seconds from start to exit, return code); the stamped output is also written to log_path.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lines: list[tuple[float, str]] = []
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    timer = None
    with open(log_path, "w", encoding="utf-8") as log:
        log.write(f"# {' '.join(command)}  (in {cwd})\n")
        for line in process.stdout:
            seconds = time.perf_counter() - started
            lines.append((seconds, line.rstrip("\n")))
            log.write(f"{seconds:9.2f}  {line}")
            log.flush()
            if stop is not None and timer is None and stop(line):
                timer = threading.Timer(GRACE_SECONDS if grace is None else grace, process.terminate)
                timer.start()
        returncode = process.wait()
        seconds = time.perf_counter() - started
        log.write(f"# exit {returncode} after {seconds:.2f} s\n")
    if timer is not None:
        timer.cancel()
    return lines, seconds, returncode


def child_environment(threads: int, *, cpu_only: bool, ours: bool = False) -> dict:
    """This process's environment with the race's thread count; ours also finds this checkout's mnist_nb."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    if ours:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if cpu_only:
        env["CUDA_VISIBLE_DEVICES"] = ""  # the script picks CUDA whenever it sees one
    return env


def pinned(command: list[str], core: int | None) -> list[str]:
    return command if core is None else ["taskset", "-c", str(core), *command]


def check_parallel() -> None:
    """Two cores to pin to, and taskset to pin with."""
    if shutil.which("taskset") is None:
        raise ScriptError("--parallel pins each side to its own core with taskset, which is not installed.")
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set()
    if not {0, 1} <= set(available):
        raise ScriptError(f"--parallel pins the two sides to cores 0 and 1; this process may use {sorted(available)}.")


def run_script(
    directory: Path, run: int, *, threads: int, core: int | None, cpu_only: bool, log_dir: Path, target: float
):
    path = script_path(directory)
    lines, seconds, returncode = run_timed(
        pinned([sys.executable, "-u", path.name], core),
        path.parent,
        child_environment(threads, cpu_only=cpu_only),
        log_dir / f"script-run-{run}.log",
        stop=reached_target(target),
    )
    return {"run": run, **script_result(lines, seconds, returncode, target)}


def run_ours(
    seed: int, *, threads: int, core: int | None, device: str, out_root: Path, log_dir: Path, model: str | None = None
) -> dict:
    """`python -m mnist_nb train --recipe fast --seed K`, timed from start to exit; with `model`, the same recipe
    trains that model instead of fast's own (`--model MODEL`)."""
    out = seed_directory(out_root, seed).resolve()
    # Relative to the project root, where it runs: the command recorded in its metrics.json names no machine's path.
    out = Path(os.path.relpath(out, ROOT))
    command = [sys.executable, "-m", "mnist_nb", "train", "--recipe", "fast", "--seed", str(seed)]
    command += [] if model is None else ["--model", model]
    command += ["--device", device, "--out", str(out), "--overwrite"]
    lines, seconds, returncode = run_timed(
        pinned(command, core),
        ROOT,
        child_environment(threads, cpu_only=device == "cpu", ours=True),
        log_dir / (f"fast-seed-{seed}.log" if model is None else f"fast-with-{model}-seed-{seed}.log"),
    )
    if returncode != 0:
        tail = "\n".join(line for _, line in lines[-15:])
        raise ScriptError(f"our fast recipe, seed {seed}, exited with {returncode}:\n{tail}")
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    return {"seed": seed, "seconds": seconds, "metrics": metrics}


def race(
    directory: Path | str,
    *,
    runs: int,
    seeds: int,
    threads: int,
    parallel: bool,
    device: str,
    out_root: Path,
    log_dir: Path,
    target: float,
    log=print,
    models: list[str] | None = None,
) -> dict:
    """The script `runs` times and our fast recipe seeds 0..seeds-1: one side at a time, or side by side.

    With `models`, our side trains fast's recipe with each of those models in turn (seed k of each, one after the
    other, beside the script's run k + 1), each model's runs in out_root/MODEL: what the model makes of the race."""
    directory = Path(directory).expanduser().resolve()
    script_path(directory)
    if parallel:
        check_parallel()
    cpu_only = device == "cpu"
    checkout = checkout_state(directory)  # before its runs write anything
    script_runs, ours = [], []

    def script(run: int, core: int | None) -> dict:
        log(f"--- the script, run {run + 1} of {runs} ({'core 0' if core is not None else 'alone'}) ---")
        result = run_script(
            directory, run + 1, threads=threads, core=core, cpu_only=cpu_only, log_dir=log_dir, target=target
        )
        log(f"  the script, run {run + 1}: {describe_script_run(result, target)}")
        return result

    def our_seed(seed: int, core: int | None, model: str | None) -> dict:
        name = "mnist_nb fast" + ("" if model is None else f" with the {model} model")
        log(f"--- {name}, seed {seed} ({'core 1' if core is not None else 'alone'}) ---")
        result = run_ours(
            seed, threads=threads, core=core, device=device, out_root=out_root / model if model else out_root,
            log_dir=log_dir, model=model,
        )  # fmt: skip
        log(f"  {name}, seed {seed}: {result['seconds']:.1f} s, test {result['metrics']['test_accuracy']:.2f}%")
        return result

    def our_turn(seed: int, core: int | None) -> list[dict]:
        return [our_seed(seed, core, model) for model in models or [None]]

    for index in range(max(runs, seeds)):
        if parallel:
            with ThreadPoolExecutor(max_workers=2) as pool:
                theirs = pool.submit(script, index, 0) if index < runs else None
                mine = pool.submit(our_turn, index, 1) if index < seeds else None
                if theirs is not None:
                    script_runs.append(theirs.result())
                if mine is not None:
                    ours.extend(mine.result())
        else:
            if index < runs:
                script_runs.append(script(index, None))
            if index < seeds:
                ours.extend(our_turn(index, None))
    return {
        "script_runs": script_runs,
        "ours": ours,
        "checkout": checkout,
        "directory": str(directory),
    }


def race_record(result: dict, *, parallel: bool, target: float) -> dict:
    """What the fast entry's record keeps of a race (`fast.json`'s "race"): each side's times, what ran beside
    what, and the ratio of mean times with its spread; notebook 09's summary reads it there."""
    script_runs = [
        {key: run[key] for key in ("run", "epoch", "accuracy", "seconds", "per_epoch_seconds")}
        for run in result["script_runs"]
    ]
    ours = [
        {
            "seed": row["seed"],
            "seconds": row["seconds"],
            "test_accuracy": row["metrics"]["test_accuracy"],
            # Side by side, seed k ran beside the script's run k + 1, if there was one.
            "beside_script": parallel and index < len(script_runs),
        }
        for index, row in enumerate(result["ours"])
    ]
    theirs, mine = [run["seconds"] for run in script_runs], [row["seconds"] for row in ours]
    beside = [row["seconds"] for row in ours if row["beside_script"]]
    return {
        "checkout": result["checkout"],
        "parallel": parallel,
        "target": target,
        "script_runs": script_runs,
        "ours": ours,
        "reached": all(run["epoch"] is not None for run in script_runs),  # else the script's times are bounds
        "script_seconds_mean": statistics.fmean(theirs),
        "our_seconds_mean": statistics.fmean(mine),
        "ratio": statistics.fmean(theirs) / statistics.fmean(mine),
        "ratio_spread": [min(theirs) / max(mine), max(theirs) / min(mine)],
        # Like for like: only our seeds that shared the machine with a run of the script.
        "ratio_beside": statistics.fmean(theirs) / statistics.fmean(beside) if beside else None,
    }


def model_swap_record(result: dict, *, parallel: bool, target: float) -> dict:
    """What a race with several models on our side keeps (`benchmarks/results/race-models.json`): the script's runs
    as `race_record` keeps them, and for each model the summary of fast's recipe trained with it (`summarize`), with
    each seed's wall time from start to exit. `mnist_nb.lab.race.model_swap_factors` reads it for notebook 09."""
    by_model: dict[str, list[dict]] = {}
    for row in result["ours"]:
        by_model.setdefault(row["metrics"]["model"], []).append(row)
    return {
        "checkout": result["checkout"],
        "parallel": parallel,
        "target": target,
        "script_runs": race_record(result, parallel=parallel, target=target)["script_runs"],
        "models": {
            model: {**summarize([row["metrics"] for row in rows]), "seconds": [row["seconds"] for row in rows]}
            for model, rows in by_model.items()
        },
    }


def model_swap_lines(record: dict) -> list[str]:
    """A race with several models on our side: each side's seconds an epoch and our models' test accuracies."""
    runs = [run["per_epoch_seconds"] for run in record["script_runs"]]
    setting = "side by side, pinned to cores 0 and 1, one thread each" if record["parallel"] else "one at a time"
    lines = [
        f"the script's seconds an epoch against fast's recipe with each of {', '.join(record['models'])} "
        f"({record['checkout']}; {setting}; our models in turn, seed k of each beside the script's run k + 1):",
        "",
        "| side | parameters | seconds an epoch, mean (each) | test %, each seed |",
        "| --- | ---: | --- | --- |",
        "| the script, unchanged (the mean gap between its epoch lines) | | "
        f"{statistics.fmean(runs):.1f} ({', '.join(f'{seconds:.1f}' for seconds in runs)}) | |",
    ]
    for model, summary in record["models"].items():
        each = [seconds / summary["epochs"] for seconds in summary["train_seconds"]]
        tests = ", ".join(f"{value:.2f}" for value in summary["test_accuracy"])
        lines.append(
            f"| fast's recipe with the {model} model ({summary['epochs']} epochs) | {summary['params']:,} | "
            f"{statistics.fmean(each):.1f} ({', '.join(f'{value:.1f}' for value in each)}) | {tests} |"
        )
    if any(summary["smoke"] for summary in record["models"].values()):
        lines.append("SMOKE RUN: our seeds trained a few batches an epoch; these times are not the recipe's")
    return lines


def race_from_logs(log_dir: Path, out_root: Path, *, runs: int, seeds: int, directory: Path, target: float) -> dict:
    """The result of the last race (as `race` returns it), read back from its stamped logs and our metrics.json
    files: a report and record without running it again."""

    def read_log(path: Path) -> tuple[list[tuple[float, str]], float, int]:
        if not path.is_file():
            raise ScriptError(f"{path} is missing: --from-logs reads the logs of a finished race")
        lines, end, returncode = [], None, None
        for text in path.read_text(encoding="utf-8").splitlines():
            exited = re.match(r"# exit (-?\d+) after ([0-9.]+) s", text)
            if exited:
                returncode, end = int(exited.group(1)), float(exited.group(2))
            elif not text.startswith("# "):
                seconds, _, line = text.strip().partition("  ")
                lines.append((float(seconds), line))
        if end is None:
            raise ScriptError(f"{path} has no exit line: that run did not finish")
        return lines, end, returncode

    script_runs = [
        {"run": run, **script_result(*read_log(log_dir / f"script-run-{run}.log"), target)}
        for run in range(1, runs + 1)
    ]
    ours = []
    for seed in range(seeds):
        _, seconds, _ = read_log(log_dir / f"fast-seed-{seed}.log")
        metrics = json.loads((seed_directory(out_root, seed) / "metrics.json").read_text(encoding="utf-8"))
        ours.append({"seed": seed, "seconds": seconds, "metrics": metrics})
    return {
        "script_runs": script_runs,
        "ours": ours,
        "checkout": checkout_state(directory),
        "directory": str(directory),
    }


def describe_script_run(result: dict, target: float) -> str:
    if result["epoch"] is None:
        return (
            f"no epoch >= {target}% in {len(result['epochs'])} epochs (last {result['accuracy']}%, "
            f"exit {result['returncode']}, {result['seconds']:.0f} s)"
        )
    return (
        f"{result['accuracy']:.2f}% at epoch {result['epoch']}, {result['seconds']:.1f} s "
        f"({result['per_epoch_seconds']:.1f} s an epoch)"
    )


def race_lines(result: dict, *, threads: int, parallel: bool, target: float) -> list[str]:
    """The race's report: a table of the script's runs, one of our seeds, the ratio of mean times and its spread."""
    script_runs, ours = result["script_runs"], result["ours"]
    setting = (
        "side by side, each pinned to its own core (taskset -c 0: the script, -c 1: ours), OMP_NUM_THREADS=1"
        if parallel
        else f"one process at a time, OMP_NUM_THREADS={threads} each"
    )
    lines = [
        f"race against the script itself (DIR: {Path(result['directory']).name}, {result['checkout']}; "
        "its src/train.py run as it is there), "
        f"{len(script_runs)} runs, against mnist_nb fast seeds 0-{len(ours) - 1}; {setting}.",
        f"The script: wall time from its process's start to its line reporting its first epoch >= {target}% "
        "(it stops there by itself). Ours: wall time of `python -m mnist_nb train --recipe fast --seed K`, "
        "start to exit.",
        "",
        f"| the script, run | first epoch >= {target}% | test % there | seconds to it | seconds per epoch |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in script_runs:
        if run["epoch"] is None:
            lines.append(
                f"| {run['run']} | not reached in {len(run['epochs'])} epochs | {run['accuracy']} | "
                f"> {run['seconds']:.1f} | {run['per_epoch_seconds']:.1f} |"
            )
        else:
            lines.append(
                f"| {run['run']} | {run['epoch']} | {run['accuracy']:.2f} | {run['seconds']:.1f} | "
                f"{run['per_epoch_seconds']:.1f} |"
            )
    lines += [
        "",
        "| mnist_nb fast, seed | seconds (wall) | of which training | test % |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for row in ours:
        metrics = row["metrics"]
        mark = "" if metrics["test_accuracy"] >= target else f" (below {target})"
        lines.append(
            f"| {row['seed']} | {row['seconds']:.1f} | {metrics['train_seconds']:.1f} | "
            f"{metrics['test_accuracy']:.2f}{mark} |"
        )
    lines.append("")
    if not script_runs or not ours:
        return lines
    theirs = [run["seconds"] for run in script_runs]
    mine = [row["seconds"] for row in ours]
    record = race_record(result, parallel=parallel, target=target)  # the ratio's one home
    (low, high), missed = record["ratio_spread"], [run for run in script_runs if run["epoch"] is None]
    bound = "more than " if missed else ""
    lines.append(
        f"the script: {record['script_seconds_mean']:.1f} s mean ({min(theirs):.1f}-{max(theirs):.1f}); "
        f"ours: {record['our_seconds_mean']:.1f} s mean ({min(mine):.1f}-{max(mine):.1f})"
    )
    lines.append(
        f"ratio of mean times (the script / ours): {bound}{record['ratio']:.2f}x, spread {bound}{low:.2f}x-{high:.2f}x "
        "(slowest of ours against fastest script run, and the reverse)"
    )
    if missed:
        lines.append(
            f"{len(missed)} script runs never reached {target}%: their times, the mean and the ratio are lower bounds"
        )
    lowest = min(row["metrics"]["test_accuracy"] for row in ours)
    lines.append(
        f"ours: every seed >= {target}%"
        if lowest >= target
        else f"ours: NOT every seed >= {target}% (lowest {lowest:.2f}%)"
    )
    if any(row["metrics"].get("smoke") for row in ours):
        lines.append("SMOKE RUN: our seeds trained a few batches an epoch; these times are not the recipe's")
    return lines


def rebuild_matches_script(rebuild: list[dict], script_runs: list[dict]) -> tuple[bool, str]:
    """Whether the rebuild stands for the script on this machine: its first >= target epoch within one of the
    script's (mean over runs) and its seconds per epoch within 10% of the script's."""
    rebuild_reached = [run for run in rebuild if run["epoch"] is not None]
    script_reached = [run for run in script_runs if run["epoch"] is not None]
    if not rebuild_reached or not script_reached:
        return False, "the rebuild or the script never reached the target: no comparison"
    rebuild_epoch = statistics.fmean(run["epoch"] for run in rebuild_reached)
    script_epoch = statistics.fmean(run["epoch"] for run in script_reached)
    rebuild_per_epoch = statistics.fmean(run["seconds"] / run["epoch"] for run in rebuild_reached)
    script_per_epoch = statistics.fmean(run["per_epoch_seconds"] for run in script_reached)
    matches = abs(rebuild_epoch - script_epoch) <= 1 and abs(rebuild_per_epoch / script_per_epoch - 1) <= 0.10
    return matches, (
        f"first epoch >= target {rebuild_epoch:.1f} (the script {script_epoch:.1f}), "
        f"{rebuild_per_epoch:.1f} s an epoch (the script {script_per_epoch:.1f})"
    )
