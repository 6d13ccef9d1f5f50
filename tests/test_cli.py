"""The command line, driven as a user would: argparse errors, train, evaluate."""

from __future__ import annotations

import json

import pytest

from mnist_nb.cli import main


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
        (["train", "--epochs", "ten"], "argument --epochs: expected a whole number"),
        (["train", "--lr", "-0.1"], "argument --lr: must be a positive number"),
        (["train", "--device", "tpu9"], "argument --device: unknown device 'tpu9'"),
        (["train", "--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
        (["seeds", "--num-seeds", "0"], "argument --num-seeds: must be at least 1"),
        (["train", "--clean-epochs", "-1"], "argument --clean-epochs: must be 0 or more"),
        (["train", "--epochs", "2", "--clean-epochs", "3"], "clean_epochs must be in [0, num_epochs] (got 3)"),
    ],
)
def test_bad_arguments_get_argparse_errors_not_tracebacks(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_models_lists_the_series(capsys):
    assert main(["models"]) == 0
    output = capsys.readouterr().out
    for name in ("baseline", "batchnorm", "dropout", "gap", "attention", "residual"):
        assert name in output
    assert "<- final" in output


def test_train_then_evaluate_in_smoke_mode(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "epoch  1/2" in printed and "epoch  2/2" in printed and "test accuracy" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "model",
        "params",
        "epochs",
        "seed",
        "device",
        "val_accuracy",
        "test_accuracy",
        "train_seconds",
        "history",
    ):
        assert key in metrics, key
    assert metrics["model"] == "residual" and metrics["params"] < 20_000 and metrics["smoke"]
    assert len(metrics["history"]) == 2 and metrics["device"] == "cpu"

    assert main(["evaluate", str(out / "model.pt"), "--device", "cpu"]) == 0
    assert f"test accuracy {metrics['test_accuracy']:.2f}%" in capsys.readouterr().out

    # A second run into the same directory would replace a good checkpoint: refused, with the fix.
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "2", "--device", "cpu", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "pass --resume to continue it, --overwrite to replace it" in capsys.readouterr().err


def test_evaluate_a_missing_checkpoint_says_so(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing.pt"), "--device", "cpu"]) == 1
    error = capsys.readouterr().err
    assert "no checkpoint at" in error and "Traceback" not in error
