"""The validation probes behind the `tiny` and `fast` recipes, and notebook 06's zero-init question: validation only.

    python benchmarks/probes.py                  # every probe, one after another
    python benchmarks/probes.py no-dropout-30    # just these
    python benchmarks/probes.py --list
    python benchmarks/probes.py clean-5 --seed 1 --save runs/probes       # keep the final model
    python benchmarks/probes.py clean-5 --seed 1 --save runs/probes --check  # re-check it, no training

Each probe changes a named recipe (`tiny` unless it says otherwise) and/or its model's spec
(`TrainConfig.model_options`: a variant, built by `fit` without touching the package's registry),
trains one seed and prints its final-epoch validation accuracy and loss, as trained and with
"precise" BatchNorm statistics (`training.recalibrate_batchnorm`: one pass over the clean training
images, dropout off). The test set is never loaded here: these runs choose, the frontier (`python -m
mnist_nb frontier tiny`) and the benchmark (`benchmarks/bench.py`) measure. On one CPU thread
(OMP_NUM_THREADS=1) a probe takes 5 to 15 minutes and gives the same figures on every run; the ones
found so far are in benchmarks/RESULTS.md. MNIST_NB_SMOKE=1 runs a few batches per epoch, to check
the script. The probes of features since removed (expand-*, funnel-*, separable-24, distill-*) went
with those features; their figures stay in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import NamedTuple

from mnist_nb.anatomy import count_parameters
from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_nb.config import TrainConfig, recipe, smoke_batches
from mnist_nb.data import Normalization, clean_loader, load_training_split
from mnist_nb.lab.cli import folder_argument
from mnist_nb.lab.experiments import seed_directory
from mnist_nb.models import build_model_of
from mnist_nb.training import evaluate, fit, recalibrate_batchnorm


class Probe(NamedTuple):
    spec_changes: dict  # ModelSpec fields of the recipe's model
    recipe_changes: dict  # TrainConfig fields
    why: str
    base: str = "tiny"  # the named recipe it starts from


WIDTH_16 = {"early_pooling": False, "widths": (8, 16)}  # `fast`'s model until 2026-12-04 (see below)

PROBES: dict[str, Probe] = {
    "tiny-20": Probe({}, {}, "the tiny recipe itself (width 10, stem 6, dropout 0.05, 20 epochs)"),
    "tiny-30": Probe({}, {"num_epochs": 30}, "a longer schedule"),
    "no-dropout-30": Probe({"dropout": 0.0}, {"num_epochs": 30}, "less regularization (training accuracy < val)"),
    "stem8-30": Probe({"widths": (8, 10)}, {"num_epochs": 30}, "a wider stem (4,920 parameters)"),
    "stem8-no-dropout-30": Probe({"widths": (8, 10), "dropout": 0.0}, {"num_epochs": 30}, "both"),
    "clean-3": Probe({}, {"clean_epochs": 3}, "augmentation off for the last 3 of 20 epochs"),
    "clean-5": Probe({}, {"clean_epochs": 5}, "augmentation off for the last 5 of 20 epochs"),
    "stem8-30-clean-3": Probe(
        {"widths": (8, 10)},
        {"num_epochs": 30, "clean_epochs": 3},
        "the tiny-stem8 entry (stem 8, last 3 epochs clean) at 30 epochs (4,920 parameters)",
    ),
    # The fast recipe's probes are variants of its model, `fast`; the ones before 2026-12-04's last sweep
    # ran on the model `fast` was then: the same without early pooling, at width 16 (10,786 parameters).
    # The fast recipe with a shorter budget; the last epoch clean and BatchNorm recalibrated cost one
    # forward pass over the training images.
    "fast-7": Probe(
        WIDTH_16, {"num_epochs": 7, "clean_epochs": 1, "recalibrate_batchnorm": True}, "fast in 7 epochs", "fast"
    ),
    "fast-8": Probe(
        WIDTH_16, {"num_epochs": 8, "clean_epochs": 1, "recalibrate_batchnorm": True}, "fast in 8 epochs", "fast"
    ),
    # Every seed of `fast` past 99.4%: changes that cost no more than an eighth epoch.
    "fast-7-no-dropout": Probe(
        {**WIDTH_16, "dropout": 0.0}, {}, "fast without dropout (training accuracy stays below validation)", "fast"
    ),
    "fast-7-clean-2": Probe(WIDTH_16, {"clean_epochs": 2}, "fast with its last 2 epochs clean", "fast"),
    "fast-7-no-dropout-clean-2": Probe({**WIDTH_16, "dropout": 0.0}, {"clean_epochs": 2}, "both", "fast"),
    "fast-7-lr-0.2": Probe(WIDTH_16, {"learning_rate": 0.2}, "fast at twice the peak learning rate", "fast"),
    "fast-8-clean-2": Probe(
        WIDTH_16, {"num_epochs": 8, "clean_epochs": 2}, "fast in 8 epochs, the last 2 clean", "fast"
    ),
    # Stage 1 at 14x14 (`early_pooling`): its 28x28 tensors made most of a CPU step; the time saved buys epochs.
    "fast-early-pooling-10": Probe(
        {**WIDTH_16, "early_pooling": True}, {"num_epochs": 10}, "pool after the stem, 10 epochs", "fast"
    ),
    "fast-early-pooling-12": Probe(
        {**WIDTH_16, "early_pooling": True}, {"num_epochs": 12}, "pool after the stem, 12 epochs", "fast"
    ),
    "fast-early-pooling-stem16-8": Probe(
        {"early_pooling": True, "widths": (16, 16)}, {"num_epochs": 8}, "pool after a 16-channel stem, 8 epochs", "fast"
    ),
    "fast-early-pooling-stem16-9": Probe(
        {"early_pooling": True, "widths": (16, 16)}, {"num_epochs": 9}, "pool after a 16-channel stem, 9 epochs", "fast"
    ),
    # The winner, the fast recipe since: its model is `fast` as it is now.
    "fast-early-pooling-width20-7": Probe(
        {"early_pooling": True, "widths": (8, 20)}, {"num_epochs": 7}, "pool after the stem, width 20, 7 epochs", "fast"
    ),
    # The race's 5x: `fast` from start to exit in about 57 s needs about 4 epochs of its model.
    "fast-4": Probe({}, {"num_epochs": 4}, "fast in 4 epochs (the last clean)", "fast"),
    "fast-5": Probe({}, {"num_epochs": 5}, "fast in 5 epochs (the last clean)", "fast"),
    "fast-4-lr-0.2": Probe(
        {}, {"num_epochs": 4, "learning_rate": 0.2}, "fast in 4 epochs at twice the peak rate", "fast"
    ),
    # On one CPU thread an image costs as much in a batch of 32 or 64 as in one of 128: more steps, same time.
    "fast-4-batch-64": Probe({}, {"num_epochs": 4, "batch_size": 64}, "fast in 4 epochs of batches of 64", "fast"),
    "fast-4-batch-64-lr-0.2": Probe(
        {}, {"num_epochs": 4, "batch_size": 64, "learning_rate": 0.2}, "the same at twice the peak rate", "fast"
    ),
    "fast-4-batch-32": Probe({}, {"num_epochs": 4, "batch_size": 32}, "fast in 4 epochs of batches of 32", "fast"),
    "fast-4-batch-32-lr-0.05": Probe(
        {}, {"num_epochs": 4, "batch_size": 32, "learning_rate": 0.05}, "the same at half the peak rate", "fast"
    ),
    "fast-4-batch-32-lr-0.2": Probe(
        {}, {"num_epochs": 4, "batch_size": 32, "learning_rate": 0.2}, "the same at twice the peak rate", "fast"
    ),
    # Notebook 06's question at the full budget: does each block starting as the identity (zero-init γ) change the
    # series' last model? Seeds 0-4 of each, paired by seed; the rule, fixed before the runs: zero-init is said to
    # differ only if the mean of its five validation differences is more than twice their standard error.
    "residual-15": Probe({}, {}, "the series' last model, its 15-epoch recipe (the ablation's base)", "series"),
    "residual-zero-init-15": Probe(
        {"zero_init_residual": True}, {}, "the same, each block's last BatchNorm γ starting at 0", "series"
    ),
}


def probe_config(name: str, *, seed: int = 0, num_epochs: int | None = None, max_batches_per_epoch=None):
    """The probe's recipe: its base recipe with its changes, the model as a variant (`model_options`)."""
    probe = PROBES[name]
    config = recipe(probe.base).replace(
        model_options=probe.spec_changes, seed=seed, max_batches_per_epoch=max_batches_per_epoch, **probe.recipe_changes
    )
    if num_epochs is None:
        return config
    return config.replace(num_epochs=num_epochs)  # the clean epochs stay the last ones (`TrainConfig.replace`)


def validation_with_precise_batchnorm(model, normalization: Normalization, config) -> dict:
    """Validation loss and accuracy of a copy of `model` after `recalibrate_batchnorm` on clean training images."""
    train_set, validation_set = load_training_split(
        validation_size=config.validation_size, split_seed=config.split_seed
    )
    config = config.replace(channels_last=False)  # the copy runs on the CPU
    model = copy.deepcopy(model).cpu()
    recalibrate_batchnorm(model, clean_loader(train_set, 500, normalization, config))
    return evaluate(model, clean_loader(validation_set, 1000, normalization, config))


def check_saved(name: str, seed: int, save: str) -> dict:
    """Validation of a --save'd probe model as trained and with precise BatchNorm statistics."""
    checkpoint = load_checkpoint(seed_directory(Path(save) / name, seed) / "model.pt")
    model, normalization = model_from_checkpoint(checkpoint)  # the variant, from the config's model_options
    config = TrainConfig.from_dict(checkpoint["config"])
    _, validation_set = load_training_split(validation_size=config.validation_size, split_seed=config.split_seed)
    as_trained = evaluate(model, clean_loader(validation_set, 1000, normalization, config.replace(channels_last=False)))
    precise = validation_with_precise_batchnorm(model, normalization, config)
    print(
        f"{name} seed {seed}: validation {as_trained['accuracy']:.2f}% (loss {as_trained['loss']:.4f}) as trained, "
        f"{precise['accuracy']:.2f}% (loss {precise['loss']:.4f}) with precise BatchNorm statistics"
    )
    return {"as_trained": as_trained, "precise": precise}


def run_probe(
    name: str,
    *,
    seed: int = 0,
    num_epochs: int | None = None,
    save: str | None = None,
    max_batches_per_epoch: int | None = None,
) -> dict:
    config = probe_config(name, seed=seed, num_epochs=num_epochs, max_batches_per_epoch=max_batches_per_epoch)
    parameters = count_parameters(build_model_of(config))
    print(f"--- {name}: {parameters:,} parameters, {config.num_epochs} epochs, seed {seed} ---", flush=True)
    # --save keeps the final model (a train checkpoint) for post-hoc checks on validation.
    checkpoint_path = seed_directory(Path(save) / name, seed) / "model.pt" if save else None
    result = fit(config, checkpoint_path=checkpoint_path, log=lambda line: print(line, flush=True))
    precise = validation_with_precise_batchnorm(result.model, result.normalization, result.config)
    return {
        "name": name,
        "params": parameters,
        "epochs": config.num_epochs,
        "val_accuracy": result.final["val_accuracy"],
        "val_loss": result.final["val_loss"],
        "precise_val_accuracy": precise["accuracy"],
        "precise_val_loss": precise["loss"],
        "seconds": result.train_seconds,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"probes to run (default: all): {', '.join(PROBES)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="override every probe's epochs (for quick checks)")
    parser.add_argument(
        "--save", type=folder_argument, metavar="DIR", help="keep each final model as DIR/NAME/seed-SEED/model.pt"
    )
    parser.add_argument(
        "--check", action="store_true", help="train nothing: re-check the --save'd models of NAME at --seed"
    )
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, probe in PROBES.items():
            print(f"{name:<22} {probe.why}")
        return
    unknown = [name for name in args.names if name not in PROBES]
    if unknown:
        parser.error(f"unknown probe(s) {', '.join(unknown)}; valid names: {', '.join(PROBES)}")
    if args.check:
        if not args.save or not args.names:
            parser.error("--check needs NAME(s) and the --save DIR they were trained with")
        for name in args.names:
            check_saved(name, args.seed, args.save)
        return
    # Smoke mode is read here, at the script's edge, and passed on in each probe's config.
    smoke = smoke_batches()
    rows = [
        run_probe(name, seed=args.seed, num_epochs=args.epochs, save=args.save, max_batches_per_epoch=smoke)
        for name in args.names or PROBES
    ]
    # "precise": the same model after recalibrate_batchnorm (clean training images, dropout off).
    print(
        f"\n{'probe':<22} {'params':>7} {'epochs':>6} {'val %':>6} {'val loss':>8} "
        f"{'precise %':>9} {'loss':>7} {'seconds':>7}"
    )
    for row in rows:
        print(
            f"{row['name']:<22} {row['params']:>7,} {row['epochs']:>6} {row['val_accuracy']:>6.2f} "
            f"{row['val_loss']:>8.4f} {row['precise_val_accuracy']:>9.2f} {row['precise_val_loss']:>7.4f} "
            f"{row['seconds']:>7.0f}"
        )


if __name__ == "__main__":
    main()
