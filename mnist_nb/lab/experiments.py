"""Experiments as files: one training run -> metrics.json, several seeds -> summary.json.

Every figure in the README and notebooks comes from one of these files, and each file records
the config, the machine and the command that produced it. The test set is evaluated exactly
once per run, after training, on the final-epoch model.
"""

from __future__ import annotations

import json
from pathlib import Path

from mnist_nb.checkpoint import is_run_of, load_checkpoint
from mnist_nb.config import TrainConfig
from mnist_nb.data import TensorLoader, load_test_set
from mnist_nb.lab.records import command_line, run_record, seed_rows, summarize
from mnist_nb.models import build_model_of
from mnist_nb.support.checkpoint_files import CheckpointError, write_json
from mnist_nb.training import EVALUATION_BATCH_SIZE, evaluate, fit


def seed_directory(out: Path | str, seed: int) -> Path:
    """Where seed K of a sweep in OUT runs: OUT/seed-K, the one home of that name."""
    return Path(out) / f"seed-{seed}"


def seeds_in(out: Path | str) -> list[int]:
    """The seeds with a folder in OUT; runs moved aside (OUT/seed-K.previous-N) are not seeds."""
    names = (path.name.removeprefix("seed-") for path in Path(out).glob("seed-*"))
    return sorted(int(name) for name in names if name.isdigit())


def train_and_report(config: TrainConfig, out: Path, *, resume: bool = False, log=print) -> dict:
    """Train, evaluate once on the test set, write OUT/metrics.json; return the metrics."""
    result = fit(config, checkpoint_path=out / "model.pt", resume=resume, log=log)
    # The one and only look at the test set, after every choice has been made.
    test_loader = TensorLoader(
        load_test_set().to(result.device), EVALUATION_BATCH_SIZE, shuffle=False, normalization=result.normalization
    )
    metrics = run_record(result, evaluate(result.model, test_loader), command_line())
    write_json(out / "metrics.json", metrics)
    return metrics


def finished_run(out: Path, config: TrainConfig) -> dict | None:
    """OUT/metrics.json if it holds a finished run of `config` (on any device) and of the same model."""
    path = out / "metrics.json"
    if not path.is_file():
        return None
    return _run_of(json.loads(path.read_text(encoding="utf-8")), config)


def _run_of(metrics: dict, config: TrainConfig) -> dict | None:
    """`metrics` if it records a finished run of `config` (`checkpoint.is_run_of`), else None."""
    model = build_model_of(config)
    finished = metrics.get("epochs") == config.num_epochs
    return metrics if finished and is_run_of(metrics, config, model) else None


def run_seeds(
    config: TrainConfig, num_seeds: int, out: Path, *, reuse: bool = False, recorded: dict | None = None, log=print
) -> dict:
    """Train seeds 0..N-1 of `config` into OUT/seed-K; write and return OUT/summary.json.

    With `reuse`, a seed whose metrics.json already holds a finished run of the same config is
    read instead of retrained (sweeps can be resumed), and so is a seed of the `recorded`
    summary that ran the same config (a record is extended without its run directories).
    """
    earlier = {row["seed"]: row for row in seed_rows(recorded)} if reuse and recorded else {}
    rows = []
    for seed in range(num_seeds):
        seed_config = config.replace(seed=seed)
        seed_out = seed_directory(out, seed)
        previous = finished_run(seed_out, seed_config) if reuse else None
        source = seed_out / "metrics.json"
        if previous is None and seed in earlier:
            previous, source = _run_of(earlier[seed], seed_config), "the recorded summary"
        if previous is not None:
            if log:
                log(f"--- seed {seed}: reusing {source} ---")
            rows.append(previous)
            continue
        if log:
            log(f"--- seed {seed} ---")
        resume = prepare_run_directory(seed_out, seed_config, log=log)
        rows.append(train_and_report(seed_config, seed_out, resume=resume, log=log))
    summary = summarize(rows)
    write_json(out / "summary.json", summary)
    return summary


def prepare_run_directory(out: Path, config: TrainConfig, *, log=print) -> bool:
    """Make OUT ready for a run of `config` without losing what it holds; True means resume.

    A checkpoint of an interrupted run of the same config is resumed. Anything else already in
    OUT (a finished run of another config or model, a foreign checkpoint) is moved aside to
    OUT.previous-N rather than overwritten: a sweep never destroys a result.
    """
    checkpoint_path, metrics_path = out / "model.pt", out / "metrics.json"
    if not checkpoint_path.exists() and not metrics_path.exists():
        return False
    if checkpoint_path.is_file() and not metrics_path.exists():
        try:
            checkpoint = load_checkpoint(checkpoint_path)
        except CheckpointError:
            checkpoint = None
        model = build_model_of(config)
        if checkpoint is not None and is_run_of(checkpoint, config, model):
            return True
    number = 1
    while out.with_name(f"{out.name}.previous-{number}").exists():
        number += 1
    aside = out.with_name(f"{out.name}.previous-{number}")
    out.rename(aside)
    if log:
        log(f"{out} held another run: moved it to {aside}")
    return False
