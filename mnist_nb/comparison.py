"""Models side by side: the same recipe and budget for each, and a table of what they reached."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

from mnist_nb.config import TrainConfig
from mnist_nb.data import ImageSet, TensorLoader
from mnist_nb.inspection import predict
from mnist_nb.training import EVALUATION_BATCH_SIZE, TrainingResult, evaluate, fit

# The project's one significance level: below this p-value a difference counts as larger than the noise,
# for McNemar's test here and for every t-test over seeds in the lab.
SIGNIFICANCE_LEVEL = 0.05


def run_directory(runs_dir: Path | str, config: TrainConfig) -> Path:
    """The folder of `config`'s run: model, seed and a digest of its `run_identity`. Two notebooks training
    the same run (`TrainConfig.same_run`) share it, so the second reuses the first's run."""
    recipe = json.dumps(config.run_identity(), sort_keys=True, default=list)
    digest = hashlib.sha256(recipe.encode()).hexdigest()[:10]
    return Path(runs_dir) / f"{config.model}-seed-{config.seed}-{digest}"


def train_models(
    configs: list[TrainConfig],
    train_set: ImageSet,
    validation_set: ImageSet,
    *,
    runs_dir: Path | str | None = None,
    log=print,
) -> dict[str, TrainingResult]:
    """{model name: TrainingResult}, each config trained on the same data. With `runs_dir`, each run keeps its
    checkpoint in its `run_directory`: a finished run is loaded, an unfinished one resumed (`fit` says which)."""
    results = {}
    for config in configs:
        name = config.model
        if name in results:
            raise ValueError(f"{name} is trained twice: one config per model")
        kept = run_directory(runs_dir, config) / "model.pt" if runs_dir is not None else None  # the checkpoint
        if log:
            log(f"--- {name} ---")
        results[name] = fit(config, train_set, validation_set, checkpoint_path=kept, resume=kept is not None, log=log)
    return results


def comparison_table(results: dict[str, TrainingResult]) -> str:
    """One line per run: parameters, final train and validation accuracy, their gap (train-val), seconds.

    Training accuracy is on augmented images, dropout on, averaged while the weights move; validation on
    clean images, dropout off, after the epoch. A negative gap is what regularization looks like, not a bug.
    """
    width = max([12] + [len(name) for name in results])
    lines = [f"{'model':<{width}} {'params':>8} {'train %':>8} {'val %':>7} {'train-val':>9} {'seconds':>8}"]
    for name, result in results.items():
        final = result.final
        validation, gap = "-", "-"  # a run without a validation split
        if final["val_accuracy"] is not None:
            validation = f"{final['val_accuracy']:.2f}"
            gap = f"{final['train_accuracy'] - final['val_accuracy']:+.2f}"
        lines.append(
            f"{name:<{width}} {result.parameter_count:>8,} {final['train_accuracy']:>8.2f} {validation:>7} "
            f"{gap:>9} {result.train_seconds:>8.1f}"
        )
    return "\n".join(lines)


def accuracy_standard_error(accuracy: float, images: int) -> float:
    """The binomial standard error of an accuracy (or error rate) of `accuracy` % on `images` images, in points:
    sqrt(p (100 - p) / n). The gap between two accuracies on different images: the root of the sum of squares."""
    return math.sqrt(accuracy * (100 - accuracy) / images)


def mcnemar_p_value(only_first: int, only_second: int) -> float:
    """Exact two-sided McNemar test: how often chance alone splits the disagreements this unevenly.

    Only the images exactly one model gets right say which is better. If neither were, each would fall on
    either side like a fair coin tossed n = only_first + only_second times; p is the probability of a split
    at least this uneven, both directions counted.
    """
    tosses = only_first + only_second
    fewer = min(only_first, only_second)
    one_tail = sum(math.comb(tosses, heads) for heads in range(fewer + 1)) / 2**tosses
    return min(1.0, 2 * one_tail)


def format_p_value(p_value: float) -> str:
    """'p = 0.042', or 'p < 0.001' where three decimals would print 0."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def paired_comparison(first: TrainingResult, second: TrainingResult, images: ImageSet) -> dict:
    """Both models on the same images: the images only one gets right, McNemar's p, and the change's standard
    error. Whether these two trained models differ, not whether another seed would rank them alike (the
    ablation's seeds). On validation images this says which generalizes better; on training images, which fits."""
    correct = []
    for result in (first, second):
        loader = TensorLoader(images, EVALUATION_BATCH_SIZE, shuffle=False, normalization=result.normalization)
        predicted, true = predict(result.model, loader)  # [N] each, in the images' order
        correct.append(predicted == true)
    only_first = int((correct[0] & ~correct[1]).sum())
    only_second = int((correct[1] & ~correct[0]).sum())
    # Per image +1, -1 or 0: the change is their mean, its standard error sqrt((disagreeing - change²) / n).
    disagreeing, change = (only_first + only_second) / len(images), (only_second - only_first) / len(images)
    return {
        "images": len(images),
        "only_first": only_first,
        "only_second": only_second,
        "change": 100 * change,  # points, second minus first
        "change_error": 100 * math.sqrt((disagreeing - change**2) / len(images)),  # points
        "p_value": mcnemar_p_value(only_first, only_second),
    }


def paired_verdict(first_name: str, second_name: str, comparison: dict) -> str:
    """One sentence from `paired_comparison`'s numbers, so that it cannot outlive them."""
    verdict = (
        f"larger than chance disagreement (p < {SIGNIFICANCE_LEVEL})"
        if comparison["p_value"] < SIGNIFICANCE_LEVEL
        else f"within what chance disagreement gives (p >= {SIGNIFICANCE_LEVEL}): no difference shown"
    )
    return (
        f"{second_name} against {first_name} on the same {comparison['images']:,} validation images: "
        f"{comparison['only_second']} right only by {second_name}, {comparison['only_first']} only by {first_name} "
        f"({comparison['change']:+.2f} points); McNemar {format_p_value(comparison['p_value'])}: {verdict}"
    )


def clean_accuracy(result: TrainingResult, images: ImageSet) -> float:
    """Accuracy (%) on `images` scored as validation is (unaugmented, dropout off): on training images, a
    train accuracy fair to compare with validation's."""
    loader = TensorLoader(
        images.to(result.device), EVALUATION_BATCH_SIZE, shuffle=False, normalization=result.normalization
    )
    return evaluate(result.model, loader)["accuracy"]
