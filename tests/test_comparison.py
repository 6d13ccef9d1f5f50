"""Models side by side with one recipe."""

from __future__ import annotations

import math
import statistics
import types

import pytest
import torch

import mnist_nb.comparison as comparison_module
from mnist_nb.comparison import (
    accuracy_standard_error,
    clean_accuracy,
    comparison_table,
    format_p_value,
    mcnemar_p_value,
    paired_comparison,
    paired_verdict,
    run_directory,
    train_models,
)
from mnist_nb.data import ImageSet, Normalization, TensorLoader
from mnist_nb.inspection import predict
from mnist_nb.training import format_epoch

from .conftest import QUICK, synthetic_digits


def test_train_models_trains_each_config_and_the_table_compares_them():
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2)
    baseline, dropout = (
        config.replace(model="baseline", learning_rate=0.05),
        config.replace(model="dropout", augment=True),
    )
    lines = []
    results = train_models([baseline, dropout], synthetic_digits(640), synthetic_digits(100, seed=1), log=lines.append)
    assert list(results) == ["baseline", "dropout"]
    assert results["baseline"].config == baseline and results["dropout"].config == dropout
    with pytest.raises(ValueError, match="dropout is trained twice"):
        train_models([dropout, dropout], synthetic_digits(640), synthetic_digits(100, seed=1), log=None)
    assert lines[0] == "--- baseline ---" and "--- dropout ---" in lines
    table = comparison_table(results).splitlines()
    assert table[0].split() == ["model", "params", "train", "%", "val", "%", "train-val", "seconds"]
    assert len(table) == 3 and table[1].split()[:2] == ["baseline", f"{results['baseline'].parameter_count:,}"]
    assert table[2].split()[2] == f"{results['dropout'].final['train_accuracy']:.2f}"


def test_a_run_without_validation_shows_a_dash_not_a_crash():
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2, validation_size=0)
    empty = synthetic_digits(100, seed=1)
    empty = type(empty)(empty.images[:0], empty.labels[:0])
    results = train_models([config.replace(model="batchnorm")], synthetic_digits(640), empty, log=None)
    row = comparison_table(results).splitlines()[1].split()
    assert row[0] == "batchnorm" and row[3:5] == ["-", "-"]


def test_a_run_kept_in_runs_dir_is_reused_by_the_next_comparison_and_another_recipe_is_not(tmp_path):
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2)
    train, validation = synthetic_digits(640), synthetic_digits(100, seed=1)
    batchnorm, dropout = config.replace(model="batchnorm"), config.replace(model="dropout")
    first = train_models([batchnorm], train, validation, runs_dir=tmp_path, log=None)
    folder = run_directory(tmp_path, config.replace(model="batchnorm"))
    assert (folder / "model.pt").is_file() and folder.name.startswith("batchnorm-seed-0-")
    lines = []
    # The same run on another device string is the same folder (`TrainConfig.same_run`).
    again = train_models(
        [batchnorm.replace(device="auto"), dropout], train, validation, runs_dir=tmp_path, log=lines.append
    )
    # A loaded run shows its training log, as a trained one would.
    assert lines[1] == f"the same run as an earlier one, loaded from {folder.as_posix()}; its training log:"
    assert lines[2] == format_epoch(first["batchnorm"].history[0], 1)
    assert again["batchnorm"].history == first["batchnorm"].history
    trained, reused = first["batchnorm"].model.state_dict(), again["batchnorm"].model.state_dict()
    assert all(torch.equal(trained[key], reused[key]) for key in trained) and trained.keys() == reused.keys()
    assert "epoch  1/1" in lines[-1]  # dropout had no run yet: trained
    assert run_directory(tmp_path, batchnorm.replace(num_epochs=2)) != folder
    assert run_directory(tmp_path, batchnorm.replace(learning_rate=0.05)) != folder


def test_mcnemar_p_value_is_the_exact_two_sided_binomial_tail():
    # 2 against 8 disagreements: P(X <= 2) for X ~ Binomial(10, 1/2) is 56/1024, doubled.
    assert math.isclose(mcnemar_p_value(2, 8), 2 * 56 / 1024)
    assert mcnemar_p_value(8, 2) == mcnemar_p_value(2, 8)  # symmetric
    assert mcnemar_p_value(5, 5) == 1.0 and mcnemar_p_value(0, 0) == 1.0  # an even split is no evidence
    assert mcnemar_p_value(0, 12) < 0.001 < mcnemar_p_value(3, 12) < 0.05 < mcnemar_p_value(5, 12)


def test_format_p_value_prints_three_decimals_or_a_bound():
    assert format_p_value(0.0004) == "p < 0.001" and format_p_value(0.0421) == "p = 0.042"


def test_paired_comparison_counts_the_images_only_one_model_gets_right():
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=3)
    validation = synthetic_digits(300, seed=1)
    configs = [config.replace(model="baseline"), config.replace(model="batchnorm")]
    results = train_models(configs, synthetic_digits(640), validation, log=None)
    comparison = paired_comparison(results["baseline"], results["batchnorm"], validation)
    correct = {}
    for name, result in results.items():  # the counts, recomputed image by image
        loader = TensorLoader(validation, 100, shuffle=False, normalization=result.normalization)
        predicted, true = predict(result.model, loader)
        correct[name] = (predicted == true).tolist()
    pairs = list(zip(correct["baseline"], correct["batchnorm"], strict=True))
    assert comparison["only_first"] == sum(first and not second for first, second in pairs)
    assert comparison["only_second"] == sum(second and not first for first, second in pairs)
    assert comparison["images"] == 300
    # The change is the difference of the two accuracies, in points: the images both get right cancel.
    accuracy = {name: 100 * sum(values) / 300 for name, values in correct.items()}
    assert math.isclose(comparison["change"], accuracy["batchnorm"] - accuracy["baseline"])
    assert comparison["p_value"] == mcnemar_p_value(comparison["only_first"], comparison["only_second"])
    # Its standard error: the per-image differences' standard deviation (over all n) over sqrt(n), in points.
    differences = [int(second) - int(first) for first, second in pairs]
    spread = statistics.pstdev(differences) / math.sqrt(len(differences))
    assert math.isclose(comparison["change_error"], 100 * spread)


def test_the_paired_error_is_below_the_independent_one_when_the_models_mostly_agree(monkeypatch):
    # 1,000 images: 900 right by both, 40 only by the first, 10 only by the second, 50 by neither (94 % and 91 %).
    labels = torch.ones(1000, dtype=torch.long)
    answers = iter(
        [
            (torch.tensor([1] * 940 + [0] * 60), labels),  # the first model's answers: [N] predicted, [N] true
            (torch.tensor([1] * 900 + [0] * 40 + [1] * 10 + [0] * 50), labels),
        ]
    )
    monkeypatch.setattr(comparison_module, "predict", lambda model, loader: next(answers))
    model = types.SimpleNamespace(model=None, normalization=Normalization(0.0, 1.0))
    images = ImageSet(torch.zeros(1000, 28, 28, dtype=torch.uint8), labels)
    comparison = paired_comparison(model, model, images)
    assert (comparison["only_first"], comparison["only_second"]) == (40, 10)
    assert math.isclose(comparison["change"], -3.0)
    assert math.isclose(comparison["change_error"], 100 * math.sqrt((0.05 - 0.03**2) / 1000))  # 0.69 points
    independent = math.hypot(accuracy_standard_error(94, 1000), accuracy_standard_error(91, 1000))  # 0.83 points
    assert comparison["change_error"] < independent


def test_paired_verdict_follows_the_p_value():
    shown = paired_verdict(
        "a", "b", {"images": 5000, "only_first": 2, "only_second": 30, "change": 0.56, "p_value": 1e-6}
    )
    within = paired_verdict(
        "a", "b", {"images": 5000, "only_first": 20, "only_second": 25, "change": 0.1, "p_value": 0.55}
    )
    assert "30 right only by b, 2 only by a (+0.56 points); McNemar p < 0.001: larger than chance" in shown
    assert "McNemar p = 0.550: within what chance disagreement gives" in within and "no difference shown" in within


def test_clean_accuracy_scores_images_as_validation_does():
    config = QUICK.replace(model="dropout", num_epochs=1, max_batches_per_epoch=3)
    train_set, validation = synthetic_digits(640), synthetic_digits(300, seed=1)
    result = train_models([config], train_set, validation, log=None)["dropout"]
    # On the validation images it must give exactly the validation accuracy fit recorded (eval mode, clean).
    assert clean_accuracy(result, validation) == result.final["val_accuracy"]


def test_accuracy_standard_error_is_the_binomial_one_in_points():
    # 99 % on 10,000 images: sqrt(99 * 1 / 10,000) = 0.0995 points; symmetric in accuracy and error rate
    assert math.isclose(accuracy_standard_error(99.0, 10_000), math.sqrt(0.0099))
    assert accuracy_standard_error(1.0, 500) == accuracy_standard_error(99.0, 500)
    assert accuracy_standard_error(100.0, 500) == 0.0
    # Four times the images halve it
    assert math.isclose(accuracy_standard_error(90.0, 400), 2 * accuracy_standard_error(90.0, 1600))
