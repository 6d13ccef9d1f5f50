"""The command line, driven as a user would: argparse errors, recipes, smoke mode, train, evaluate, frontier."""

from __future__ import annotations

import json

import pytest

from mnist_nb.anatomy import count_parameters
from mnist_nb.config import PARAMETER_BUDGET, RECIPES, SMOKE_BATCHES_PER_EPOCH, TINY_BUDGET, TrainConfig, recipe
from mnist_nb.lab.cli import _config_from as config_from
from mnist_nb.lab.cli import build_parser, main
from mnist_nb.models import build_model, build_model_of


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
        (["train", "--epochs", "ten"], "argument --epochs: expected a whole number"),
        (["train", "--lr", "-0.1"], "argument --lr: must be a positive number"),
        (["train", "--device", "tpu9"], "argument --device: unknown device 'tpu9'"),
        (["train", "--model", "resnet"], "argument --model: invalid choice: 'resnet'"),
        (["seeds", "--num-seeds", "0"], "argument --num-seeds: must be at least 1"),
        (["train", "--clean-epochs", "-1"], "argument --clean-epochs: must be at least 0, got -1"),
        (["train", "--epochs", "2", "--clean-epochs", "3"], "clean_epochs must be in [0, num_epochs] (got 3)"),
    ],
)
def test_bad_arguments_get_argparse_errors_not_tracebacks(arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error


def test_recipes_are_valid_and_named_as_the_cli_offers_them():
    assert set(RECIPES) == {"final", "fast", "tiny", "series"}
    assert recipe("series") == TrainConfig()  # the defaults are the series' settings
    final = recipe("final")
    assert final.model == "residual" and final.clean_epochs > 0 and final.recalibrate_batchnorm
    assert count_parameters(build_model_of(final)) < PARAMETER_BUDGET
    assert recipe("fast").model == "fast" and recipe("fast").num_epochs < recipe("final").num_epochs
    assert count_parameters(build_model(recipe("tiny").model)) <= TINY_BUDGET
    with pytest.raises(ValueError, match="valid names: final, fast, tiny"):
        recipe("quick")


def test_cli_recipe_sets_defaults_and_flags_override_them(monkeypatch):
    monkeypatch.delenv("MNIST_NB_SMOKE", raising=False)
    parser = build_parser()
    fast = config_from(parser.parse_args(["train", "--recipe", "fast"]), seed=3)
    assert fast == recipe("fast").replace(seed=3)
    longer = config_from(parser.parse_args(["train", "--recipe", "fast", "--epochs", "7", "--lr", "0.2"]), seed=0)
    assert (longer.model, longer.num_epochs, longer.learning_rate) == ("fast", 7, 0.2)
    assert config_from(parser.parse_args(["train"]), seed=0) == recipe("final")
    # Another model than the recipe's is built as registered: the recipe's model options stay behind.
    reference = config_from(parser.parse_args(["train", "--model", "reference"]), seed=0)
    assert reference.model_options == () and reference.clean_epochs == recipe("final").clean_epochs
    same = config_from(parser.parse_args(["train", "--model", "residual"]), seed=0)
    assert same.model_options == recipe("final").model_options
    clean = config_from(parser.parse_args(["seeds", "--recipe", "tiny", "--clean-epochs", "3"]), seed=0)
    assert clean == recipe("tiny").replace(clean_epochs=3)
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "--teacher", "runs/t/model.pt"])  # distillation is gone


def test_smoke_mode_is_read_at_the_edge_and_passed_on_in_the_config(monkeypatch):
    parser = build_parser()
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    smoke = config_from(parser.parse_args(["train"]), seed=0)
    assert smoke == recipe("final").replace(max_batches_per_epoch=SMOKE_BATCHES_PER_EPOCH)
    short = config_from(parser.parse_args(["train", "--epochs", "1"]), seed=0)
    assert (short.num_epochs, short.clean_epochs) == (1, 1)  # the recipe's clean epochs, at most all of them
    explicit = config_from(parser.parse_args(["train", "--max-batches", "2"]), seed=0)
    assert explicit.max_batches_per_epoch == 2  # an explicit limit wins over smoke mode
    for off in ("", "0", "false", "No"):
        monkeypatch.setenv("MNIST_NB_SMOKE", off)
        assert config_from(parser.parse_args(["train"]), seed=0).max_batches_per_epoch is None


def test_models_lists_the_series(capsys):
    assert main(["models"]) == 0
    output = capsys.readouterr().out
    for name in ("baseline", "batchnorm", "dropout", "gap", "attention", "residual"):
        assert name in output
    last = output.strip().splitlines()[-1].split()
    assert last[:3] == ["(final", "recipe)", "16,887"] and "widths=(8, 20)" in output


def test_train_then_evaluate_in_smoke_mode(mnist_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    out = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--device", "cpu", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "smoke mode (MNIST_NB_SMOKE is set)" in printed
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
    # Exported: weights without optimizer state, evaluating to the same figure.
    assert main(["export", str(out), str(tmp_path / "shipped" / "weights.pt")]) == 0
    assert "residual after 2 epochs, seed 0" in capsys.readouterr().out
    figure = tmp_path / "figures" / "mistakes.png"
    assert main(["evaluate", str(tmp_path / "shipped" / "weights.pt"), "--device", "cpu", "--figure", str(figure)]) == 0
    assert f"test accuracy {metrics['test_accuracy']:.2f}%" in capsys.readouterr().out
    assert figure.read_bytes().startswith(b"\x89PNG")

    # A second run into the same directory would replace a good checkpoint: refused, with the fix.
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "2", "--device", "cpu", "--out", str(out)])
    assert exit_info.value.code == 2
    assert "pass --resume to continue it, --overwrite to replace it" in capsys.readouterr().err


def test_an_interrupted_train_keeps_its_last_epoch_and_resumes(mnist_root, tmp_path, monkeypatch, capsys):
    from mnist_nb.lab import experiments

    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    fit = experiments.fit

    def interrupted_after_epoch_1(config, **options):
        def log(line):
            print(line)
            if line.startswith("epoch  1/"):  # Ctrl-C, just after epoch 1 was checkpointed
                raise KeyboardInterrupt

        return fit(config, **{**options, "log": log})

    out = tmp_path / "run"
    arguments = ["train", "--recipe", "tiny", "--epochs", "2", "--device", "cpu", "--out", str(out)]
    monkeypatch.setattr(experiments, "fit", interrupted_after_epoch_1)
    assert main(arguments) == 130
    assert (
        "the last complete epoch's checkpoint is intact; continue with the same command and --resume"
        in capsys.readouterr().err
    )
    assert (out / "model.pt").is_file() and not (out / "metrics.json").exists()
    monkeypatch.setattr(experiments, "fit", fit)
    assert main([*arguments, "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "after epoch 1 of 2" in printed and "epoch  1/2" not in printed and "epoch  2/2" in printed
    assert len(json.loads((out / "metrics.json").read_text())["history"]) == 2


def test_evaluate_a_missing_checkpoint_says_so(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path / "nothing.pt"), "--device", "cpu"]) == 1
    error = capsys.readouterr().err
    assert "no checkpoint at" in error and "Traceback" not in error


def test_frontier_command_lists_entries_and_rejects_unknown_ones(capsys):
    assert main(["frontier", "--list"]) == 0
    listing = capsys.readouterr().out
    for name in ("final", "fast", "tiny", "small", "micro", "reference", "residual-no-batchnorm"):
        assert name in listing
    with pytest.raises(SystemExit) as exit_info:
        main(["frontier", "huge"])
    assert exit_info.value.code == 2
    assert "unknown entries huge; valid: final" in capsys.readouterr().err


@pytest.fixture
def a_text_file_and_a_folder(tmp_path, monkeypatch):
    """A working directory holding notes.txt (a text file) and results/ (a folder)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("not a checkpoint\n")
    (tmp_path / "results").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["train", "--out", "notes.txt"], "argument --out: notes.txt is a file, not a folder"),
        (["train", "--out", "notes.txt/run"], "argument --out: notes.txt is a file, not a folder"),
        (["seeds", "--out", "notes.txt"], "argument --out: notes.txt is a file, not a folder"),
        (["seeds", "--summary", "results"], "argument --summary: results is a folder: give the name of a file"),
        (["seeds", "--summary", "notes.txt/summary.json"], "argument --summary: notes.txt is a file"),
        (["notebooks", "--output-dir", "notes.txt"], "argument --output-dir: notes.txt is a file, not a folder"),
    ],
)
def test_paths_of_the_wrong_kind_are_refused_before_any_work(a_text_file_and_a_folder, arguments, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(arguments)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert message in error and "Traceback" not in error
    assert not (a_text_file_and_a_folder / "runs").exists()  # nothing trained, nothing written


def test_a_default_out_folder_behind_a_file_is_refused_before_training(a_text_file_and_a_folder, capsys):
    (a_text_file_and_a_folder / "runs").write_text("a file where the default runs/ folder goes\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--max-batches", "1", "--epochs", "1"])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert "runs is a file, not a folder: give another --out" in captured.err
    assert "epoch" not in captured.out  # refused before training


def test_evaluate_a_text_file_or_a_run_folder_names_the_fix(a_text_file_and_a_folder, capsys):
    assert main(["evaluate", "notes.txt"]) == 1
    error = capsys.readouterr().err
    assert "notes.txt is not a checkpoint (not a file written by torch.save)" in error
    assert "DIR/model.pt" in error and "Traceback" not in error
    (a_text_file_and_a_folder / "results" / "model.pt").write_bytes(b"")
    assert main(["evaluate", "results"]) == 1
    assert "results is a folder, not a checkpoint; its checkpoint is results/model.pt" in capsys.readouterr().err


def test_a_data_folder_that_is_a_file_is_refused_before_training(a_text_file_and_a_folder, monkeypatch, capsys):
    monkeypatch.setenv("MNIST_NB_DATA", "notes.txt")
    assert main(["train", "--out", "run", "--max-batches", "1", "--epochs", "1"]) == 1
    captured = capsys.readouterr()
    assert "notes.txt is a file, but MNIST needs a folder there" in captured.err
    assert "point $MNIST_NB_DATA at a folder" in captured.err and "Traceback" not in captured.err
    assert "learning_rate" not in captured.out  # refused before the config is even printed


def test_an_interrupted_sweep_is_told_how_it_resumes(monkeypatch, capsys):
    from mnist_nb.lab import commands

    def interrupted(*arguments):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "command_frontier", interrupted)
    assert main(["frontier"]) == 130
    assert "finished seeds are kept and an interrupted one resumes" in capsys.readouterr().err
