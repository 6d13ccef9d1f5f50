"""What each `python -m mnist_nb` command does, once `cli` has parsed and checked its arguments."""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_nb.config import TrainConfig, smoke_batches


def _check_before_training(out: Path, parser: argparse.ArgumentParser, *, resume=False, overwrite=False) -> None:
    """Refuse what would fail after minutes of training (a file where OUT must go), and find MNIST first."""
    from mnist_nb.support.mnist_files import ensure_mnist, file_in_the_way

    blocking = file_in_the_way(out)
    if blocking is not None:
        parser.error(f"{blocking} is a file, not a folder: give another --out (a folder, it may not exist yet)")
    if (out / "model.pt").exists() and not (resume or overwrite):
        parser.error(
            f"{out / 'model.pt'} exists: pass --resume to continue it, --overwrite to replace it, or another --out"
        )
    ensure_mnist()  # a MnistDataError says what to do, before any config is printed


def command_train(arguments: argparse.Namespace, config: TrainConfig, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.lab.experiments import train_and_report

    out = arguments.out or Path("runs") / f"{config.model}-seed{config.seed}"
    _check_before_training(out, parser, resume=arguments.resume, overwrite=arguments.overwrite)
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
    from mnist_nb.anatomy import count_parameters
    from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint
    from mnist_nb.data import TensorLoader, load_test_set
    from mnist_nb.devices import select_device
    from mnist_nb.training import EVALUATION_BATCH_SIZE, evaluate

    device = select_device(arguments.device)
    checkpoint = load_checkpoint(arguments.checkpoint)
    model, normalization = model_from_checkpoint(checkpoint, device)
    test_set = load_test_set()
    test_loader = TensorLoader(test_set.to(device), EVALUATION_BATCH_SIZE, shuffle=False, normalization=normalization)
    test = evaluate(model, test_loader)
    print(
        f"{checkpoint['config']['model']}: {count_parameters(model):,} parameters, "
        f"trained {checkpoint['epoch']} epochs\n"
        f"test accuracy {test['accuracy']:.2f}%  (loss {test['loss']:.4f}, {len(test_set):,} images, {device})"
    )
    if arguments.figure is not None:  # the test digits it gets wrong, the most confident mistakes first
        from mnist_nb.inspection import predict
        from mnist_nb.support.plots import plot_misclassified

        predictions, labels, confidences = predict(model, test_loader, confidences=True)
        figure = plot_misclassified(test_set.images, predictions, labels, 24, 8, confidences)  # 3 rows, readable
        arguments.figure.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(arguments.figure, dpi=100, facecolor="white")
        print(f"wrote {arguments.figure}")


def command_export(arguments: argparse.Namespace) -> None:
    from mnist_nb.support.checkpoint_files import export_weights

    source = arguments.checkpoint / "model.pt" if arguments.checkpoint.is_dir() else arguments.checkpoint
    weights = export_weights(source, arguments.target)
    size = arguments.target.stat().st_size
    print(
        f"{arguments.target}: {weights['config']['model']} after {weights['epoch']} epochs, seed "
        f"{weights['config']['seed']}, {size / 1024:.0f} KiB (weights, config, normalization, history)"
    )


def command_seeds(arguments: argparse.Namespace, config: TrainConfig, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.lab.experiments import run_seeds
    from mnist_nb.lab.records import format_summary
    from mnist_nb.support.checkpoint_files import write_json

    out = arguments.out or Path("runs") / f"{config.model}-seeds"
    _check_before_training(out, parser, resume=True)  # a sweep resumes or moves aside what OUT holds
    print(config.describe(), flush=True)  # what every seed trains with (the seed aside)
    summary = run_seeds(config, arguments.num_seeds, out, reuse=arguments.reuse)
    print()
    print(format_summary(summary))
    print(f"wrote {out / 'summary.json'}")
    if arguments.summary is not None:
        write_json(arguments.summary, summary)
        print(f"wrote {arguments.summary}")


def command_models() -> None:
    from mnist_nb.anatomy import count_parameters, receptive_field
    from mnist_nb.config import recipe
    from mnist_nb.models import MODEL_NAMES, build_model, build_model_of, model_description

    def row(name: str, model, description: str) -> str:
        return (
            f"{name:<24}  {count_parameters(model):>10,}  {receptive_field(model)[-1].receptive_field:>13}px  "
            f"{description}"
        )

    print(f"{'model':<24}  {'parameters':>10}  {'receptive field':>15}  description")
    for name in MODEL_NAMES:
        print(row(name, build_model(name), model_description(name)))
    final = recipe("final")
    options = ", ".join(f"{key}={value}" for key, value in final.model_options)
    model = build_model_of(final)
    print(row("(final recipe)", model, f"{final.model} with {options}: what `--recipe final` trains"))


def command_frontier(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    from mnist_nb.lab.frontier import (
        ABLATION,
        ENTRIES,
        FRONTIER,
        frontier_table,
        load_results,
        markdown_tables,
        run_entry,
    )

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
        results[entry.name] = run_entry(entry, num_seeds=arguments.num_seeds, max_batches_per_epoch=smoke_batches())
    print()
    print(frontier_table(results))


def command_notebooks(arguments: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from mnist_nb.lab.notebook_runner import find_notebooks, format_table, run_series

    try:
        find_notebooks(arguments.names)
    except ValueError as error:
        parser.error(str(error))
    runs = run_series(arguments.names, smoke=arguments.smoke, output_dir=arguments.output_dir)
    print()
    print(format_table(runs))
    return 0 if all(run.ok for run in runs) else 1


def command_nbval(arguments: argparse.Namespace) -> int:
    from mnist_nb.lab.notebook_runner import nbval_flakiness

    runs, changed = nbval_flakiness(arguments.repeat)
    failed = sorted({cell for run in runs for cell, outcome in run.items() if outcome == "failed"})
    print(f"{len(changed)} of {len(runs[0])} nbval cells changed outcome across {len(runs)} runs")
    for cell in changed:
        print(f"  changed: {cell}: " + " / ".join(run.get(cell, "missing") for run in runs))
    for cell in failed:
        print(f"  failed at least once: {cell}")
    return 0 if not changed and not failed else 1
