"""Command line: `python -m mnist_nb {train,evaluate,export,seeds,models,frontier,notebooks,nbval} ...`.

python -m mnist_nb train --seed 0 --out runs/final
python -m mnist_nb evaluate runs/final/model.pt
python -m mnist_nb export runs/final benchmarks/results/final-seed-0.pt
python -m mnist_nb seeds --num-seeds 5 --out runs/seeds
python -m mnist_nb models
python -m mnist_nb frontier [NAMES...] [--ablation] [--list] [--markdown]
python -m mnist_nb notebooks [--smoke] [NAMES...]
python -m mnist_nb nbval [--repeat N]

The parser and its checks live here; what each command does is in `commands`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_nb.config import SMOKE_ENVIRONMENT_VARIABLE, TrainConfig, smoke_batches
from mnist_nb.support.mnist_files import file_in_the_way


def _whole_number(minimum: int):
    """An argparse type: a whole number of at least `minimum`."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


_positive_int, _non_negative_int = _whole_number(1), _whole_number(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def folder_argument(text: str) -> Path:
    """An argparse type: a folder, existing or to be made; refused when a file stands where it must go."""
    path = Path(text)
    blocking = file_in_the_way(path)
    if blocking is not None:
        raise argparse.ArgumentTypeError(f"{blocking} is a file, not a folder: give a folder (it may not exist yet)")
    return path


def file_argument(text: str) -> Path:
    """An argparse type: a file to write, in a folder existing or to be made; refused when it is a folder."""
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{path} is a folder: give the name of a file to write in it")
    blocking = file_in_the_way(path.parent)
    if blocking is not None:
        raise argparse.ArgumentTypeError(f"{blocking} is a file, so {path} cannot be written: choose another path")
    return path


def _device(text: str) -> str:
    from mnist_nb.devices import DeviceError, select_device

    try:
        select_device(text)
    except DeviceError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    from mnist_nb.config import RECIPES
    from mnist_nb.models import MODEL_NAMES

    parser.add_argument(
        "--recipe",
        choices=tuple(RECIPES),
        default="final",
        help="starting point: final (the final model's recipe), fast (time to 99.4%%), tiny (<= 5k parameters) "
        "or series (notebook 06's model at 15 epochs); "
        "the options below override it (default: %(default)s)",
    )
    parser.add_argument(
        "--model",
        choices=MODEL_NAMES,
        default=None,
        help="model (default: the recipe's, with its options; another model is built as registered)",
    )
    parser.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=_positive_int, default=None, help="default: the recipe's")
    parser.add_argument(
        "--lr",
        type=_positive_float,
        default=None,
        help="peak learning rate (default: the recipe's, 0.1; the baseline without BatchNorm trains at 0.05)",
    )
    parser.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=None, help="augmentation (default: the recipe's)"
    )
    parser.add_argument(
        "--clean-epochs",
        type=_non_negative_int,
        default=None,
        metavar="N",
        help="train the last N epochs without augmentation (default: the recipe's)",
    )
    parser.add_argument(
        "--recalibrate-batchnorm",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="after the last epoch, recompute BatchNorm statistics on the clean training images "
        "(default: the recipe's)",
    )
    parser.add_argument("--device", type=_device, default="auto", help="auto, cpu, cuda, cuda:N or mps (default: auto)")
    parser.add_argument(
        "--max-batches", type=_positive_int, default=None, help="batches per epoch, for quick checks (default: all)"
    )


def _config_from(arguments: argparse.Namespace, seed: int) -> TrainConfig:
    from mnist_nb.config import recipe

    base = recipe(arguments.recipe)
    changes = {
        "model": arguments.model,
        "num_epochs": arguments.epochs,
        "batch_size": arguments.batch_size,
        "learning_rate": arguments.lr,
        "augment": arguments.augment,
        "clean_epochs": arguments.clean_epochs,
        "recalibrate_batchnorm": arguments.recalibrate_batchnorm,
        "max_batches_per_epoch": arguments.max_batches,
    }
    if changes["max_batches_per_epoch"] is None:  # smoke mode is read here, at the edge, and passed on
        changes["max_batches_per_epoch"] = smoke_batches()
    if arguments.model not in (None, base.model):
        changes["model_options"] = ()  # the recipe's options belong to the recipe's model
    return base.replace(
        seed=seed, device=arguments.device, **{key: value for key, value in changes.items() if value is not None}
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_nb", description="Train and evaluate the mnist-nb models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train one model, report its test accuracy once at the end")
    _add_recipe_arguments(train)
    train.add_argument("--seed", type=_non_negative_int, default=0, help="default: %(default)s")
    train.add_argument("--out", type=folder_argument, default=None, help="run directory (default: runs/MODEL-seedS)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/model.pt")
    train.add_argument("--overwrite", action="store_true", help="start over even if OUT/model.pt exists")

    evaluate = commands.add_parser("evaluate", help="re-evaluate a checkpoint on the official test set")
    evaluate.add_argument("checkpoint", type=Path, help="a model.pt written by train")
    evaluate.add_argument("--device", type=_device, default="auto", help="default: auto")
    evaluate.add_argument(
        "--figure", type=file_argument, default=None, help="also draw the misclassified test digits to this PNG"
    )

    export = commands.add_parser(
        "export", help="write a finished run's weights, config and history without its optimizer state"
    )
    export.add_argument("checkpoint", type=Path, help="a model.pt written by train (or its run folder)")
    export.add_argument("target", type=file_argument, help="the file to write, e.g. benchmarks/results/final-seed-0.pt")

    seeds = commands.add_parser("seeds", help="train several seeds and report mean +- std test accuracy")
    _add_recipe_arguments(seeds)
    seeds.add_argument("--num-seeds", type=_positive_int, default=5, help="seeds 0..N-1 (default: %(default)s)")
    seeds.add_argument("--out", type=folder_argument, default=None, help="directory (default: runs/MODEL-seeds)")
    seeds.add_argument("--reuse", action="store_true", help="read seeds already finished in OUT instead of retraining")
    seeds.add_argument(
        "--summary",
        type=file_argument,
        default=None,
        help="also write the summary here (e.g. benchmarks/results/NAME.json)",
    )

    commands.add_parser("models", help="list the models with their parameter counts")

    frontier = commands.add_parser(
        "frontier", help="train the frontier (and ablation) entries over seeds, record benchmarks/results/NAME.json"
    )
    frontier.add_argument("names", nargs="*", help="entries to run (default: the frontier; see --list)")
    frontier.add_argument(
        "--ablation",
        action="store_true",
        help="the ablation entries (residual, the series' last model, minus one component each)",
    )
    frontier.add_argument("--num-seeds", type=_positive_int, default=None, help="seeds per entry (default: its own)")
    frontier.add_argument("--list", action="store_true", help="list the entries and what is recorded, then stop")
    frontier.add_argument(
        "--markdown", action="store_true", help="print the recorded results as the docs' tables, then stop"
    )

    notebooks = commands.add_parser("notebooks", help="execute the notebook series headless with papermill")
    notebooks.add_argument("names", nargs="*", help="notebooks to run: 02, batchnorm or 02_batchnorm (default: all)")
    notebooks.add_argument(
        "--smoke", action="store_true", help="a few batches per training; committed notebooks are left untouched"
    )
    notebooks.add_argument(
        "--output-dir", type=folder_argument, default=None, help="write executed notebooks here instead"
    )

    flakiness = commands.add_parser("nbval", help="run nbval over the notebooks N times (smoke mode), report changes")
    flakiness.add_argument("--repeat", type=_positive_int, default=3, help="number of runs (default: %(default)s)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from mnist_nb.lab import commands
    from mnist_nb.support.checkpoint_files import CheckpointError
    from mnist_nb.support.mnist_files import MnistDataError

    parser = build_parser()
    arguments = parser.parse_args(argv)
    config = None
    if arguments.command in ("train", "seeds"):
        try:  # options that are fine alone but not together (--clean-epochs above --epochs)
            config = _config_from(arguments, arguments.seed if arguments.command == "train" else 0)
        except ValueError as error:
            parser.error(str(error))
    if smoke_batches():
        print(
            f"smoke mode ({SMOKE_ENVIRONMENT_VARIABLE} is set): a few batches per epoch, accuracies are not meaningful"
        )
    try:
        if arguments.command == "train":
            commands.command_train(arguments, config, parser)
        elif arguments.command == "evaluate":
            commands.command_evaluate(arguments)
        elif arguments.command == "export":
            commands.command_export(arguments)
        elif arguments.command == "seeds":
            commands.command_seeds(arguments, config, parser)
        elif arguments.command == "models":
            commands.command_models()
        elif arguments.command == "frontier":
            commands.command_frontier(arguments, parser)
        elif arguments.command == "notebooks":
            return commands.command_notebooks(arguments, parser)
        elif arguments.command == "nbval":
            return commands.command_nbval(arguments)
    except (MnistDataError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        hints = {
            "train": "the last complete epoch's checkpoint is intact; continue with the same command and --resume",
            "seeds": "finished seeds are kept and an interrupted one resumes: run the same command with --reuse",
            "frontier": "finished seeds are kept and an interrupted one resumes: run the same command again",
        }
        hint = hints.get(arguments.command, "nothing was replaced by an unfinished run")
        print(f"\ninterrupted: {hint}", file=sys.stderr)
        return 130
    return 0
