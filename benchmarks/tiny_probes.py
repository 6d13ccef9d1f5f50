"""The validation probes behind the `tiny` recipe: variants of it, seed 0, validation only.

    python benchmarks/tiny_probes.py                  # every probe, one after another
    python benchmarks/tiny_probes.py no-dropout-30    # just these
    python benchmarks/tiny_probes.py --list
    python benchmarks/tiny_probes.py clean-5 --seed 1 --save runs/probes       # keep the final model
    python benchmarks/tiny_probes.py clean-5 --seed 1 --save runs/probes --check  # re-check it, no training

Each probe changes the `tiny` model's spec and/or its recipe, trains seed 0 and prints its
final-epoch validation accuracy and loss, as trained and with "precise" BatchNorm statistics
(`training.recalibrate_batchnorm`: one pass over the clean training images, dropout off). The
test set is never loaded here: these runs choose, the frontier (`python -m mnist_nb frontier
tiny`) measures. On one CPU thread (OMP_NUM_THREADS=1) a probe takes
10 to 15 minutes and gives the same figures on every run; the ones found so far are in
benchmarks/RESULTS.md. MNIST_NB_SMOKE=1 runs a few batches per epoch, to check the script.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from contextlib import contextmanager

from mnist_nb import models
from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint
from mnist_nb.config import TrainConfig, recipe
from mnist_nb.data import Normalization, load_training_split
from mnist_nb.summary import count_parameters
from mnist_nb.training import clean_loader, evaluate, fit, recalibrate_batchnorm

TEACHER = "runs/frontier/final/seed-0/model.pt"

# name: (changes to the tiny model's spec, changes to the tiny recipe, why)
PROBES: dict[str, tuple[dict, dict, str]] = {
    "tiny-20": ({}, {}, "the tiny recipe itself (width 10, stem 6, dropout 0.05, 20 epochs)"),
    "tiny-30": ({}, {"num_epochs": 30}, "a longer schedule"),
    "no-dropout-30": ({"dropout": 0.0}, {"num_epochs": 30}, "less regularization (training accuracy < validation)"),
    "stem8-30": ({"widths": (8, 10)}, {"num_epochs": 30}, "a wider stem (4,920 parameters)"),
    "stem8-no-dropout-30": ({"widths": (8, 10), "dropout": 0.0}, {"num_epochs": 30}, "both"),
    "expand-24-no-attention": (
        {"attention": False, "head_width": 24},
        {},
        "attention's 302 parameters spent on a 1x1 conv 10 -> 24 before GAP (4,844 parameters)",
    ),
    "expand-16": ({"head_width": 16}, {}, "a 1x1 conv 10 -> 16 before GAP, attention kept (4,970 parameters)"),
    # Distillation from the final model: seed 0 of `python -m mnist_nb frontier final` (same split; its
    # model.pt is also runs/seeds/seed-0/model.pt of `python -m mnist_nb seeds`).
    "distill-0.5": ({}, {"teacher": TEACHER}, "distillation from the final model, weight 0.5, temperature 4"),
    "distill-0.9": (
        {},
        {"teacher": TEACHER, "distillation_weight": 0.9},
        "distillation from the final model, weight 0.9, temperature 4",
    ),
    "clean-3": ({}, {"clean_epochs": 3}, "augmentation off for the last 3 of 20 epochs"),
    "clean-5": ({}, {"clean_epochs": 5}, "augmentation off for the last 5 of 20 epochs"),
    "stem8-30-clean-3": (
        {"widths": (8, 10)},
        {"num_epochs": 30, "clean_epochs": 3},
        "the tiny-stem8 entry (stem 8, last 3 epochs clean) at 30 epochs (4,920 parameters)",
    ),
    # Funnels: a narrow 28x28 front, the width where the map is 7x7, one conv in stage3.
    "funnel-16": (
        {"widths": (8, 8, 12, 16), "stage_depths": (2, 1), "attention": False},
        {},
        "widths 8, 8 | 12, 12 | 16, plain convs, no attention (4,818 parameters)",
    ),
    "funnel-16-attention": (
        {"widths": (8, 10, 10, 16), "stage_depths": (2, 1)},
        {},
        "widths 8, 10 | residual 10 | 16, attention kept (4,708 parameters)",
    ),
    "separable-24": (
        {"widths": (8, 24), "separable": True},
        {},
        "depthwise-separable convs buy width 24 (the tiny-separable model)",
    ),
}


@contextmanager
def registered(name: str):
    """A probe is a model for the length of its run only: registered, used, removed."""
    spec_changes, _, _ = PROBES[name]
    model_name = f"tiny-probe-{name}"
    models.MODEL_SPECS[model_name] = dataclasses.replace(models.MODEL_SPECS["tiny"], **spec_changes)
    try:
        yield model_name
    finally:
        del models.MODEL_SPECS[model_name]


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
    with registered(name):
        checkpoint = load_checkpoint(f"{save}/{name}/seed-{seed}/model.pt")
        model, normalization = model_from_checkpoint(checkpoint)
        config = TrainConfig.from_dict(checkpoint["config"])
        _, validation_set = load_training_split(validation_size=config.validation_size, split_seed=config.split_seed)
        as_trained = evaluate(
            model, clean_loader(validation_set, 1000, normalization, config.replace(channels_last=False))
        )
        precise = validation_with_precise_batchnorm(model, normalization, config)
    print(
        f"{name} seed {seed}: validation {as_trained['accuracy']:.2f}% (loss {as_trained['loss']:.4f}) as trained, "
        f"{precise['accuracy']:.2f}% (loss {precise['loss']:.4f}) with precise BatchNorm statistics"
    )
    return {"as_trained": as_trained, "precise": precise}


def run_probe(name: str, *, seed: int = 0, num_epochs: int | None = None, save: str | None = None) -> dict:
    _, recipe_changes, _ = PROBES[name]
    with registered(name) as model_name:
        config = recipe("tiny").replace(model=model_name, seed=seed, **recipe_changes)
        if num_epochs is not None:
            config = config.replace(num_epochs=num_epochs)
        parameters = count_parameters(models.build_model(model_name))
        print(f"--- {name}: {parameters:,} parameters, {config.num_epochs} epochs, seed {seed} ---", flush=True)
        # --save keeps the final model (a train checkpoint) for post-hoc checks on validation.
        checkpoint_path = f"{save}/{name}/seed-{seed}/model.pt" if save else None
        result = fit(config, checkpoint_path=checkpoint_path, progress=False, log=lambda line: print(line, flush=True))
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
    parser.add_argument("--save", metavar="DIR", help="keep each final model as DIR/NAME/seed-SEED/model.pt")
    parser.add_argument(
        "--check", action="store_true", help="train nothing: re-check the --save'd models of NAME at --seed"
    )
    parser.add_argument("--list", action="store_true", help="list the probes and exit")
    args = parser.parse_args(argv)
    if args.list:
        for name, (_, _, why) in PROBES.items():
            print(f"{name:<22} {why}")
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
    rows = [run_probe(name, seed=args.seed, num_epochs=args.epochs, save=args.save) for name in args.names or PROBES]
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
