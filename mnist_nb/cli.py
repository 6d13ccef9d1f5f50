"""Command line: `python -m mnist_nb {train,evaluate,seeds,models} ...`.

python -m mnist_nb train --model residual --epochs 15 --seed 0 --out runs/final
python -m mnist_nb evaluate runs/final/model.pt
python -m mnist_nb seeds --num-seeds 5 --out runs/seeds
python -m mnist_nb models
python -m mnist_nb frontier [NAMES...] [--ablation] [--list] [--markdown]
python -m mnist_nb notebooks [--smoke] [NAMES...]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mnist_nb.config import TrainConfig, smoke_mode


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _device(text: str) -> str:
    from mnist_nb.training import DeviceError, select_device

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
        help="starting point: final (the notebooks' model), fast (time to 99.4%%) or tiny (<= 5k parameters); "
        "the options below override it (default: %(default)s)",
    )
    parser.add_argument("--model", choices=MODEL_NAMES, default=None, help="model (default: the recipe's)")
    parser.add_argument("--epochs", type=_positive_int, default=None, help="epochs (default: the recipe's)")
    parser.add_argument("--batch-size", type=_positive_int, default=None, help="default: the recipe's")
    parser.add_argument(
        "--lr", type=_positive_float, default=None, help="peak learning rate (default: the model's own)"
    )
    parser.add_argument(
        "--augment", action=argparse.BooleanOptionalAction, default=None, help="augmentation (default: the model's own)"
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
    parser.add_argument(
        "--compile", action=argparse.BooleanOptionalAction, default=None, help="torch.compile (default: the recipe's)"
    )
    parser.add_argument(
        "--teacher",
        default=None,
        metavar="CHECKPOINT",
        help="distill from this trained model.pt (same training split; default: the recipe's, usually none)",
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
        "compile": arguments.compile,
        "teacher": arguments.teacher,
    }
    return base.replace(
        seed=seed, device=arguments.device, **{key: value for key, value in changes.items() if value is not None}
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnist_nb", description="Train and evaluate the mnist-nb models.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train one model, report its test accuracy once at the end")
    _add_recipe_arguments(train)
    train.add_argument("--seed", type=_non_negative_int, default=0, help="default: %(default)s")
    train.add_argument("--out", type=Path, default=None, help="run directory (default: runs/MODEL-seedS)")
    train.add_argument("--resume", action="store_true", help="continue from OUT/model.pt")
    train.add_argument("--overwrite", action="store_true", help="start over even if OUT/model.pt exists")

    evaluate = commands.add_parser("evaluate", help="re-evaluate a checkpoint on the official test set")
    evaluate.add_argument("checkpoint", type=Path, help="a model.pt written by train")
    evaluate.add_argument("--device", type=_device, default="auto", help="default: auto")

    seeds = commands.add_parser("seeds", help="train several seeds and report mean +- std test accuracy")
    _add_recipe_arguments(seeds)
    seeds.add_argument("--num-seeds", type=_positive_int, default=5, help="seeds 0..N-1 (default: %(default)s)")
    seeds.add_argument("--out", type=Path, default=None, help="directory (default: runs/MODEL-seeds)")
    seeds.add_argument("--reuse", action="store_true", help="read seeds already finished in OUT instead of retraining")
    seeds.add_argument(
        "--summary", type=Path, default=None, help="also write the summary here (e.g. benchmarks/results/NAME.json)"
    )

    commands.add_parser("models", help="list the models with their parameter counts")

    frontier = commands.add_parser(
        "frontier", help="train the frontier (and ablation) entries over seeds, record benchmarks/results/NAME.json"
    )
    frontier.add_argument("names", nargs="*", help="entries to run (default: the frontier; see --list)")
    frontier.add_argument("--ablation", action="store_true", help="the ablation entries (final model minus one)")
    frontier.add_argument("--num-seeds", type=_positive_int, default=None, help="seeds per entry (default: its own)")
    frontier.add_argument("--list", action="store_true", help="list the entries and what is recorded, then stop")
    frontier.add_argument(
        "--markdown", action="store_true", help="print the recorded results as the README's tables, then stop"
    )

    notebooks = commands.add_parser("notebooks", help="execute the notebook series headless with papermill")
    notebooks.add_argument("names", nargs="*", help="notebooks to run: 02, batchnorm or 02_batchnorm (default: all)")
    notebooks.add_argument(
        "--smoke", action="store_true", help="a few batches per training; committed notebooks are left untouched"
    )
    notebooks.add_argument("--output-dir", type=Path, default=None, help="write executed notebooks here instead")

    flakiness = commands.add_parser("nbval", help="run nbval over the notebooks N times (smoke mode), report changes")
    flakiness.add_argument("--repeat", type=_positive_int, default=3, help="number of runs (default: %(default)s)")
    return parser


def _check_out_directory(out: Path, *, resume: bool, overwrite: bool, parser: argparse.ArgumentParser) -> None:
    if (out / "model.pt").exists() and not (resume or overwrite):
        parser.error(
            f"{out / 'model.pt'} exists: pass --resume to continue it, --overwrite to replace it, or another --out"
        )


def command_train(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.experiments import train_and_report
    from mnist_nb.training import with_model_defaults

    config = with_model_defaults(_config_from(arguments, arguments.seed).with_smoke_mode())
    out = arguments.out or Path("runs") / f"{config.model}-seed{config.seed}"
    _check_out_directory(out, resume=arguments.resume, overwrite=arguments.overwrite, parser=parser)
    print(config.describe(), flush=True)
    metrics = train_and_report(config, out, resume=arguments.resume)
    print(
        f"{metrics['model']}: {metrics['params']:,} parameters, {metrics['epochs']} epochs on {metrics['device']} "
        f"in {metrics['train_seconds']:.1f}s ({metrics['seconds_per_epoch']:.1f}s/epoch)\n"
        f"validation accuracy {metrics['val_accuracy']:.2f}%\n"
        f"test accuracy {metrics['test_accuracy']:.2f}%\n"
        f"wrote {out / 'metrics.json'} and {out / 'model.pt'}"
    )


def command_evaluate(arguments: argparse.Namespace) -> None:
    from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint
    from mnist_nb.data import TensorLoader, load_test_set
    from mnist_nb.summary import count_parameters
    from mnist_nb.training import evaluate, select_device

    device = select_device(arguments.device)
    checkpoint = load_checkpoint(arguments.checkpoint)
    model, normalization = model_from_checkpoint(checkpoint, device)
    test_loader = TensorLoader(load_test_set().to(device), 1000, shuffle=False, normalization=normalization)
    test = evaluate(model, test_loader)
    print(
        f"{checkpoint['model_name']}: {count_parameters(model):,} parameters, trained {checkpoint['epoch']} epochs\n"
        f"test accuracy {test['accuracy']:.2f}%  (loss {test['loss']:.4f}, 10,000 images, {device})"
    )


def command_seeds(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.experiments import format_summary, run_seeds
    from mnist_nb.results import write_json

    config = _config_from(arguments, 0).with_smoke_mode()
    out = arguments.out or Path("runs") / f"{config.model}-seeds"
    print(config.describe(), flush=True)
    summary = run_seeds(config, arguments.num_seeds, out, reuse=arguments.reuse)
    print()
    print(format_summary(summary))
    print(f"wrote {out / 'summary.json'}")
    if arguments.summary is not None:
        write_json(arguments.summary, summary)
        print(f"wrote {arguments.summary}")


def command_models() -> None:
    from mnist_nb.models import FINAL_MODEL, MODEL_SPECS, build_model
    from mnist_nb.summary import count_parameters, receptive_field

    print(f"{'model':<10}  {'parameters':>10}  {'receptive field':>15}  description")
    for name, spec in MODEL_SPECS.items():
        model = build_model(name)
        marker = "  <- final" if name == FINAL_MODEL else ""
        print(
            f"{name:<10}  {count_parameters(model):>10,}  {receptive_field(model)[-1].receptive_field:>13}px  "
            f"{spec.description}{marker}"
        )


def command_frontier(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.frontier import ABLATION, ENTRIES, FRONTIER, frontier_table, load_results, markdown_tables, run_entry

    if arguments.markdown:
        print(markdown_tables(load_results()))
        return
    if arguments.list:
        recorded = load_results()
        for entry in FRONTIER + ABLATION:
            state = "recorded" if entry.name in recorded else "not recorded"
            print(f"{entry.name:<26} {entry.num_seeds} seeds  {state:<12}  {entry.description}")
        return
    unknown = [name for name in arguments.names if name not in ENTRIES]
    if unknown:
        parser.error(f"unknown entries {', '.join(unknown)}; valid: {', '.join(ENTRIES)}")
    if arguments.names:
        entries = [ENTRIES[name] for name in arguments.names]
    else:
        entries = list(ABLATION if arguments.ablation else FRONTIER)
    results = {}
    for entry in entries:
        print(f"=== {entry.name}: {entry.description} ===", flush=True)
        results[entry.name] = run_entry(entry, num_seeds=arguments.num_seeds)
    print()
    print(frontier_table(results))


def command_notebooks(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from mnist_nb.notebooks import find_notebooks, format_table, run_series

    try:
        find_notebooks(arguments.names)
    except ValueError as error:
        parser.error(str(error))
    runs = run_series(arguments.names, smoke=arguments.smoke, output_dir=arguments.output_dir)
    print()
    print(format_table(runs))
    return 0 if all(run.ok for run in runs) else 1


def command_nbval(arguments: argparse.Namespace) -> int:
    from mnist_nb.notebooks import nbval_flakiness

    runs, changed = nbval_flakiness(arguments.repeat)
    failed = sorted({cell for run in runs for cell, outcome in run.items() if outcome == "failed"})
    print(f"{len(changed)} of {len(runs[0])} nbval cells changed outcome across {len(runs)} runs")
    for cell in changed:
        print(f"  changed: {cell}: " + " / ".join(run.get(cell, "missing") for run in runs))
    for cell in failed:
        print(f"  failed at least once: {cell}")
    return 0 if not changed and not failed else 1


def main(argv: list[str] | None = None) -> int:
    from mnist_nb.checkpoint import CheckpointError
    from mnist_nb.data import MnistDataError

    parser = build_parser()
    arguments = parser.parse_args(argv)
    if arguments.command in ("train", "seeds"):
        try:  # options that are fine alone but not together (--clean-epochs above --epochs)
            _config_from(arguments, 0)
        except ValueError as error:
            parser.error(str(error))
    if smoke_mode():
        print("smoke mode (MNIST_NB_SMOKE is set): a few batches per epoch, accuracies are not meaningful")
    try:
        if arguments.command == "train":
            command_train(arguments, parser)
        elif arguments.command == "evaluate":
            command_evaluate(arguments)
        elif arguments.command == "seeds":
            command_seeds(arguments, parser)
        elif arguments.command == "models":
            command_models()
        elif arguments.command == "frontier":
            command_frontier(arguments, parser)
        elif arguments.command == "notebooks":
            return command_notebooks(arguments, parser)
        elif arguments.command == "nbval":
            return command_nbval(arguments)
    except (MnistDataError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted: the last complete epoch's checkpoint is intact; continue with --resume", file=sys.stderr)
        return 130
    return 0
