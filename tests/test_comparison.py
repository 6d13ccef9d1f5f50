"""Models side by side with one recipe."""

from __future__ import annotations

import torch

from mnist_nb.comparison import comparison_table, run_directory, train_models

from .conftest import QUICK, synthetic_digits


def test_train_models_applies_each_models_defaults_and_the_table_compares_them():
    config = QUICK.replace(learning_rate=None, augment=None, num_epochs=1, max_batches_per_epoch=2)
    lines = []
    results = train_models(
        ["baseline", "dropout"], config, synthetic_digits(640), synthetic_digits(100, seed=1), log=lines.append
    )
    assert list(results) == ["baseline", "dropout"]
    assert (results["baseline"].config.learning_rate, results["baseline"].config.augment) == (0.05, False)
    assert (results["dropout"].config.learning_rate, results["dropout"].config.augment) == (0.1, True)
    assert lines[0] == "--- baseline ---" and "--- dropout ---" in lines
    table = comparison_table(results).splitlines()
    assert table[0].split() == ["model", "params", "train", "%", "val", "%", "gap", "seconds"]
    assert len(table) == 3 and table[1].split()[:2] == ["baseline", f"{results['baseline'].parameters:,}"]
    assert table[2].split()[2] == f"{results['dropout'].final['train_accuracy']:.2f}"


def test_a_run_without_validation_shows_a_dash_not_a_crash():
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2, validation_size=0)
    empty = synthetic_digits(100, seed=1)
    empty = type(empty)(empty.images[:0], empty.labels[:0])
    results = train_models(["batchnorm"], config, synthetic_digits(640), empty, log=None)
    row = comparison_table(results).splitlines()[1].split()
    assert row[0] == "batchnorm" and row[3:5] == ["-", "-"]


def test_a_run_kept_in_runs_dir_is_reused_by_the_next_comparison_and_another_recipe_is_not(tmp_path):
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2)
    train, validation = synthetic_digits(640), synthetic_digits(100, seed=1)
    first = train_models(["batchnorm"], config, train, validation, runs_dir=tmp_path, log=None)
    folder = run_directory(tmp_path, config.replace(model="batchnorm"))
    assert (folder / "model.pt").is_file() and folder.name.startswith("batchnorm-seed-0-")
    lines = []
    again = train_models(["batchnorm", "dropout"], config, train, validation, runs_dir=tmp_path, log=lines.append)
    assert lines[1] == f"reused the finished run in {folder.as_posix()} after epoch 1 of 1"
    assert again["batchnorm"].history == first["batchnorm"].history
    trained, reused = first["batchnorm"].model.state_dict(), again["batchnorm"].model.state_dict()
    assert all(torch.equal(trained[key], reused[key]) for key in trained) and trained.keys() == reused.keys()
    assert "epoch  1/1" in lines[-1]  # dropout had no run yet: trained
    assert run_directory(tmp_path, config.replace(model="batchnorm", num_epochs=2)) != folder
