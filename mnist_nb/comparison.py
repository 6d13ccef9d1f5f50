"""Models side by side: the same recipe and budget for each, and a table of what they reached."""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from pathlib import Path

from mnist_nb.config import TrainConfig
from mnist_nb.data import ImageSet, TensorLoader
from mnist_nb.training import EVALUATION_BATCH_SIZE, TrainingResult, evaluate, fit, predict

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
            f"{name:<{width}} {result.parameters:>8,} {final['train_accuracy']:>8.2f} {validation:>7} "
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


def student_t_p_value(t: float, freedom: int) -> float:
    """Two-sided tail of Student's t: the chance of a |T| at least |t| with `freedom` degrees of freedom."""
    # P(|T| < t) for integer degrees of freedom, in closed form (Abramowitz and Stegun 26.7.3-4).
    angle = math.atan(abs(t) / math.sqrt(freedom))
    sine, cosine = math.sin(angle), math.cos(angle)
    power, coefficient, total = freedom % 2, 1.0, 0.0
    while power <= freedom - 2:  # the series runs over cos^power, power = freedom - 2, freedom - 4, ... >= 0
        total += coefficient * cosine**power
        coefficient *= (power + 1) / (power + 2)
        power += 2
    inside = (2 / math.pi) * (angle + sine * total) if freedom % 2 else sine * total
    return min(1.0, max(0.0, 1.0 - inside))


def student_t_critical(freedom: int, level: float = SIGNIFICANCE_LEVEL) -> float:
    """The t that |T| exceeds with probability `level` (2.776 for 4 degrees of freedom at 0.05)."""
    low, high = 0.0, 1000.0
    for _ in range(100):  # bisection: the tail falls as t grows
        middle = (low + high) / 2
        if student_t_p_value(middle, freedom) > level:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def paired_t_p_value(differences: list[float]) -> float:
    """Two-sided paired t-test: the chance, if neither model were better, of a mean difference this far
    from 0 measured against the spread of the differences.

    `differences` are one model's accuracy minus another's, one per seed, each pair trained on the
    same seed. With n pairs, t = mean / (sd / sqrt(n)) follows Student's t with n - 1 degrees of freedom
    when neither model is better; the p-value is the chance of a |t| at least this large. (Five seeds
    are too few for a two-sided sign test, whose smallest p-value is 2 / 2**5 = 0.0625.)
    """
    count = len(differences)
    if count < 2:
        raise ValueError("a paired t-test needs at least two pairs")
    mean, spread = statistics.fmean(differences), statistics.stdev(differences)  # sample sd, n - 1
    if spread == 0:
        return 1.0 if mean == 0 else 0.0
    return student_t_p_value(mean / (spread / math.sqrt(count)), count - 1)


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
