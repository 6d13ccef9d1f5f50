"""Experiments as files: one training run -> metrics.json, several seeds -> summary.json.

Every figure in the README and notebooks comes from one of these files, and each file records
the config, the machine and the command that produced it. The test set is evaluated exactly
once per run, after training, on the final-epoch model.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

from mnist_nb.config import TrainConfig
from mnist_nb.models import ModelSpec, build_model, model_spec
from mnist_nb.results import machine_description, mean_and_std, write_json
from mnist_nb.summary import count_parameters


def command_line() -> str:
    """How this process was started, as a user would retype it."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if program in ("__main__.py", "cli.py"):
        program = "python -m mnist_nb"
    elif "ipykernel" in program:  # its arguments name a kernel file: a machine's path, not a command
        return "a notebook (Jupyter kernel)"
    return " ".join([program, *sys.argv[1:]])


def train_and_report(config: TrainConfig, out: Path, *, resume: bool = False, log=print) -> dict:
    """Train, evaluate once on the test set, write OUT/metrics.json; return the metrics."""
    from mnist_nb.data import TensorLoader, load_test_set
    from mnist_nb.training import evaluate, fit

    result = fit(config, checkpoint_path=out / "model.pt", resume=resume, log=log)
    # The one and only look at the test set, after every choice has been made.
    test_set = load_test_set().to(result.device)
    test_loader = TensorLoader(test_set, 1000, shuffle=False, normalization=result.normalization)
    test = evaluate(result.model, test_loader)
    metrics = {
        "model": result.config.model,
        # The architecture itself, not just its name: a record stays tied to the model it measured
        # even if the spec behind the name changes later (finished_run checks it).
        "model_spec": model_spec_record(result.config.model),
        "params": result.parameters,
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
        "command": command_line(),
        "history": result.history,
    }
    write_json(out / "metrics.json", metrics)
    return metrics


def finished_run(out: Path, config: TrainConfig) -> dict | None:
    """OUT/metrics.json if it holds a finished run of `config` (model defaults filled in; any device)."""
    from mnist_nb.training import with_model_defaults

    path = out / "metrics.json"
    if not path.is_file():
        return None
    metrics = json.loads(path.read_text(encoding="utf-8"))
    wanted = with_model_defaults(config.with_smoke_mode())
    saved = TrainConfig.from_dict(metrics.get("config", {}))
    if not saved.same_recipe(wanted) or metrics.get("epochs") != wanted.num_epochs:
        return None
    # Same config, but is it the same model? Records from before model_spec was saved are
    # checked by their parameter count.
    if "model_spec" in metrics:
        same_model = spec_from_record(metrics["model_spec"]) == model_spec(config.model)
    else:
        same_model = metrics.get("params") == count_parameters(build_model(config.model))
    return metrics if same_model else None


def spec_from_record(record: dict) -> ModelSpec:
    """The ModelSpec a metrics.json recorded. Fields added to ModelSpec since then take their
    defaults, which by design keep the models built before they existed."""
    known = {field.name for field in dataclasses.fields(ModelSpec)}
    values = {key: value for key, value in record.items() if key in known}
    for name in ("widths", "stage_depths"):  # JSON stores tuples as lists
        if name in values:
            values[name] = tuple(values[name])
    return ModelSpec(**values)


def model_spec_record(name: str) -> dict:
    """The model's spec as plain JSON values (tuples become lists), for metrics.json."""
    return json.loads(json.dumps(dataclasses.asdict(model_spec(name))))


def run_seeds(config: TrainConfig, num_seeds: int, out: Path, *, reuse: bool = False, log=print) -> dict:
    """Train seeds 0..N-1 of `config` into OUT/seed-K; write and return OUT/summary.json.

    With `reuse`, a seed whose metrics.json already holds a finished run of the same config is
    read instead of retrained (sweeps can be resumed).
    """
    rows = []
    for seed in range(num_seeds):
        seed_config = config.replace(seed=seed)
        seed_out = out / f"seed-{seed}"
        previous = finished_run(seed_out, seed_config) if reuse else None
        if previous is not None:
            if log:
                log(f"--- seed {seed}: reusing {seed_out / 'metrics.json'} ---")
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
    from mnist_nb.checkpoint import CheckpointError, load_checkpoint
    from mnist_nb.training import with_model_defaults

    checkpoint_path, metrics_path = out / "model.pt", out / "metrics.json"
    if not checkpoint_path.exists() and not metrics_path.exists():
        return False
    if checkpoint_path.is_file() and not metrics_path.exists():
        wanted = with_model_defaults(config.with_smoke_mode())
        try:
            saved = TrainConfig.from_dict(load_checkpoint(checkpoint_path)["config"])
        except CheckpointError:
            saved = None
        if saved is not None and saved.same_recipe(wanted):
            return True
    number = 1
    while out.with_name(f"{out.name}.previous-{number}").exists():
        number += 1
    aside = out.with_name(f"{out.name}.previous-{number}")
    out.rename(aside)
    if log:
        log(f"{out} held another run: moved it to {aside}")
    return False


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
    }


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
