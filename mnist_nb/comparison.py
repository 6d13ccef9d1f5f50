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

# Below this p-value a difference counts as larger than the noise of one validation set.
SIGNIFICANCE_LEVEL = 0.05


def run_directory(runs_dir: Path | str, config: TrainConfig) -> Path:
    """The folder that keeps `config`'s run: the model, the seed and a digest of the whole config but the device.

    Two notebooks that train the same run (`TrainConfig.same_run`) share one folder, so the second
    reuses the first's run; any other setting (epochs, learning rate, smoke batches) is another folder.
    """
    recipe = json.dumps(config.replace(device="auto").to_dict(), sort_keys=True, default=list)
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
    """{model name: TrainingResult}: each config trained on the same data, e.g. two models with one budget.

    With `runs_dir`, each run keeps its checkpoint in `run_directory(runs_dir, ...)`: a finished run found
    there is loaded instead of trained again, and an unfinished one is resumed (`fit` says which).
    """
    results = {}
    for model_config in configs:
        name = model_config.model
        if name in results:
            raise ValueError(f"{name} is trained twice: one config per model")
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
            f"{name:<{width}} {result.parameter_count:>8,} {final['train_accuracy']:>8.2f} {validation:>7} "
            f"{gap:>6} {result.train_seconds:>8.1f}"
        )
    return "\n".join(lines)


def mcnemar_p_value(only_first: int, only_second: int) -> float:
    """Exact two-sided McNemar test: how often chance alone splits the disagreements this unevenly.

    Two models scored on the same images agree on most of them; only the images exactly one of them
    gets right say which is better. If neither were better, each such image would be equally likely
    to fall on either side: a fair coin tossed n = only_first + only_second times. The p-value is the
    probability of a split at least this uneven, both directions counted.
    """
    tosses = only_first + only_second
    fewer = min(only_first, only_second)
    one_tail = sum(math.comb(tosses, heads) for heads in range(fewer + 1)) / 2**tosses
    return min(1.0, 2 * one_tail)


def format_p_value(p_value: float) -> str:
    """'p = 0.042', or 'p < 0.001' where three decimals would print 0."""
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}"


def paired_comparison(first: TrainingResult, second: TrainingResult, validation_set: ImageSet) -> dict:
    """Both models on the same validation images: the images only one gets right, and McNemar's p.

    This measures whether the two trained models differ on these images, not whether another seed
    would rank them the same way: that noise is the seed-paired ablation's (benchmarks/results).
    """
    correct = []
    for result in (first, second):
        loader = TensorLoader(validation_set, EVALUATION_BATCH_SIZE, shuffle=False, normalization=result.normalization)
        predicted, true = predict(result.model, loader)  # [N] each, in validation order
        correct.append(predicted == true)
    only_first = int((correct[0] & ~correct[1]).sum())
    only_second = int((correct[1] & ~correct[0]).sum())
    return {
        "images": len(validation_set),
        "only_first": only_first,
        "only_second": only_second,
        "change": 100 * (only_second - only_first) / len(validation_set),  # points, second minus first
        "p_value": mcnemar_p_value(only_first, only_second),
    }


def paired_verdict(first_name: str, second_name: str, comparison: dict) -> str:
    """One sentence from `paired_comparison`'s numbers, so that it cannot outlive them."""
    larger = comparison["p_value"] < SIGNIFICANCE_LEVEL
    p_value = format_p_value(comparison["p_value"])
    return (
        f"{second_name} against {first_name} on the same {comparison['images']:,} validation images: "
        f"{comparison['only_second']} right only by {second_name}, {comparison['only_first']} only by {first_name} "
        f"({comparison['change']:+.2f} points); McNemar {p_value}: "
        + (
            f"larger than chance disagreement (p < {SIGNIFICANCE_LEVEL})"
            if larger
            else f"within what chance disagreement gives (p >= {SIGNIFICANCE_LEVEL}): no difference shown"
        )
    )


def clean_accuracy(result: TrainingResult, images: ImageSet) -> float:
    """Accuracy (%) of a trained model on `images` scored as validation is: in order, unaugmented, eval mode
    (dropout off). On training images this gives a train accuracy fair to compare with validation's."""
    loader = TensorLoader(
        images.to(result.device), EVALUATION_BATCH_SIZE, shuffle=False, normalization=result.normalization
    )
    return evaluate(result.model, loader)["accuracy"]
