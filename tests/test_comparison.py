"""Models side by side with one recipe."""

from __future__ import annotations

from mnist_nb.comparison import comparison_table, train_models

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
