"""Models side by side: the same recipe and budget for each, and a table of what they reached."""

from __future__ import annotations

from mnist_nb.config import TrainConfig
from mnist_nb.data import ImageSet
from mnist_nb.training import TrainingResult, fit


def train_models(names: list[str], config: TrainConfig, train_set: ImageSet, validation_set: ImageSet, **options):
    """{name: TrainingResult}: each named model trained with the same recipe and budget.

    Each model's own defaults (learning rate, augmentation) apply unless `config` sets them.
    """
    log = options.get("log", print)
    results = {}
    for name in names:
        if log:
            log(f"--- {name} ---")
        results[name] = fit(config.replace(model=name), train_set, validation_set, **options)
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
