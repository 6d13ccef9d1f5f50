"""Models side by side: the same recipe and budget for each, and a table of what they reached."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from mnist_nb.config import TrainConfig, resolve
from mnist_nb.data import ImageSet
from mnist_nb.training import TrainingResult, fit


def run_directory(runs_dir: Path | str, config: TrainConfig) -> Path:
    """The folder that keeps `config`'s run: the model, the seed and a digest of the whole resolved recipe.

    Two notebooks that train the same model with the same recipe share one folder, so the second
    reuses the first's run; any other setting (epochs, device string, smoke batches) is another folder.
    """
    recipe = json.dumps(resolve(config).to_dict(), sort_keys=True, default=list)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return Path(runs_dir) / f"{config.model}-seed-{config.seed}-{digest}"


def train_models(
    names: list[str],
    config: TrainConfig,
    train_set: ImageSet,
    validation_set: ImageSet,
    *,
    runs_dir: Path | str | None = None,
    log=print,
) -> dict[str, TrainingResult]:
    """{name: TrainingResult}: each named model trained with the same recipe and budget.

    Each model's own defaults (learning rate, augmentation) apply unless `config` sets them. With
    `runs_dir`, each run keeps its checkpoint in `run_directory(runs_dir, ...)`: a finished run found
    there is loaded instead of trained again, and an unfinished one is resumed (`fit` says which).
    """
    results = {}
    for name in names:
        model_config = config.replace(model=name)
        checkpoint_path = run_directory(runs_dir, model_config) / "model.pt" if runs_dir is not None else None
        if log:
            log(f"--- {name} ---")
        results[name] = fit(
            model_config,
            train_set,
            validation_set,
            checkpoint_path=checkpoint_path,
            resume=checkpoint_path is not None,
            log=log,
        )
    return results


def comparison_table(results: dict[str, TrainingResult]) -> str:
    """One line per run: parameters, final train and validation accuracy, their gap, seconds.

    The gap compares unlike things on purpose: training accuracy is measured on augmented images with
    dropout on, averaged while the weights still move; validation on clean images, dropout off, after
    the epoch. A negative gap is what regularization looks like, not a bug.
    """
    width = max([12] + [len(name) for name in results])
    lines = [f"{'model':<{width}} {'params':>8} {'train %':>8} {'val %':>7} {'gap':>6} {'seconds':>8}"]
    for name, result in results.items():
        final = result.final
        validation, gap = "-", "-"  # a run without a validation split
        if final["val_accuracy"] is not None:
            validation = f"{final['val_accuracy']:.2f}"
            gap = f"{final['train_accuracy'] - final['val_accuracy']:+.2f}"
        lines.append(
            f"{name:<{width}} {result.parameters:>8,} {final['train_accuracy']:>8.2f} {validation:>7} "
            f"{gap:>6} {result.train_seconds:>8.1f}"
        )
    return "\n".join(lines)
