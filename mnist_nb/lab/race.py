"""The race against the script this project grew from, read from its records.

`fast.json`'s "race" (benchmarks/script_race.py) in one phrase and split in two factors, the epochs each side needs
and the seconds an epoch takes; and the race of `bench.py --models fast reference` (`race-models.json`), which
splits the seconds an epoch again: what `fast`'s model makes of it, and what the rest of its recipe does.
"""

from __future__ import annotations

import json
import re
import statistics

from mnist_nb.lab.records import RESULTS_DIR
from mnist_nb.models import REFERENCE_MODEL

# Written by `benchmarks/bench.py --reference-script DIR --parallel --models fast reference`.
MODEL_SWAP_RECORD = RESULTS_DIR / "race-models.json"


def race_phrase(race: dict) -> str:
    """A race's record (`fast.json`'s "race", written by benchmarks/script_race.py) in one phrase."""
    bound = "" if race["reached"] else "more than "  # a script run that never got there: its time is a bound
    low, high = race["ratio_spread"]
    beside = f"; {race['ratio_beside']:.2f}x on the seeds that ran beside it" if race["ratio_beside"] else ""
    return (
        f"{race['our_seconds_mean']:.1f} s a run from start to exit; the script itself, run unchanged, "
        f"{bound}{race['script_seconds_mean']:.1f} s to its first epoch at >= {race['target']} % (mean of "
        f"{len(race['script_runs'])} runs): **{bound}{race['ratio']:.2f}x** faster ({low:.2f}-{high:.2f}x from its "
        f"fastest run against our slowest to its slowest against our fastest){beside}"
    )


def race_factors(fast: dict) -> dict | None:
    """`fast`'s race (`fast.json`'s "race") as two factors, the script's figure over `fast`'s: the epochs each
    needs to its answer (the script's first epoch at the target, the mean over its runs that reached it; `fast`'s
    fixed budget) and the seconds an epoch (the script's from the gaps between its epoch lines, a test pass each;
    `fast`'s epochs' seconds over their count, a validation pass each and the recalibration). Also each side's
    seconds outside its epochs: `fast`'s measured (start-up, loading the data, its one test pass), the script's
    only what its time less epochs x mean gap leaves (start-up plus epoch 1's difference from the mean gap; it can
    be negative). None when no run of the script reached the target: it has no epoch count."""
    race = fast["race"]
    reached = [run for run in race["script_runs"] if run["epoch"] is not None]
    if not reached:
        return None
    script_epochs = statistics.fmean(run["epoch"] for run in reached)
    script_epoch_seconds = statistics.fmean(run["per_epoch_seconds"] for run in reached)
    our_epoch_seconds = fast["train_seconds_mean"] / fast["epochs"]
    return {
        "script_epochs": script_epochs,
        "our_epochs": fast["epochs"],
        "script_epoch_seconds": script_epoch_seconds,
        "our_epoch_seconds": our_epoch_seconds,
        "epochs": script_epochs / fast["epochs"],
        "epoch_seconds": script_epoch_seconds / our_epoch_seconds,
        # The rest of each clock, on average: the script's seconds to its line less its epochs' share.
        "script_outside_seconds": statistics.fmean(
            run["seconds"] - run["epoch"] * run["per_epoch_seconds"] for run in reached
        ),
        "our_outside_seconds": race["our_seconds_mean"] - fast["train_seconds_mean"],
    }


def model_swap_factors(record: dict, model: str = "fast") -> dict:
    """`race-models.json`: the script's seconds an epoch (the mean gap between its epoch lines) over `model`'s in
    fast's recipe, split at the script's model trained in the same recipe. `model` is what the model makes (the
    script's model's epoch over `model`'s, both in fast's recipe), `recipe` what the rest does (the script's epoch
    over its model's in fast's recipe: the data pipeline and its augmentation, the image counts, the evaluation
    pass). Each side's epochs: `train_seconds` over the epochs (a validation pass each and the recalibration)."""
    missing = [name for name in (model, REFERENCE_MODEL) if name not in record["models"]]
    if missing:
        raise ValueError(
            f"{MODEL_SWAP_RECORD.name} holds {', '.join(record['models'])}, not {', '.join(missing)}: the split needs "
            f"both; run python benchmarks/bench.py --reference-script DIR --parallel --models {model} {REFERENCE_MODEL}"
        )
    script = [run["per_epoch_seconds"] for run in record["script_runs"]]
    ours, theirs = record["models"][model], record["models"][REFERENCE_MODEL]
    our_epochs, their_epochs = (
        [seconds / side["epochs"] for seconds in side["train_seconds"]] for side in (ours, theirs)
    )
    script_seconds = statistics.fmean(script)
    our_seconds, their_seconds = statistics.fmean(our_epochs), statistics.fmean(their_epochs)
    return {
        "script_epoch_seconds": script,
        "our_epoch_seconds": our_epochs,
        "reference_epoch_seconds": their_epochs,
        "epoch_seconds": script_seconds / our_seconds,
        "recipe": script_seconds / their_seconds,
        "model": their_seconds / our_seconds,
        # Told apart only where no seed of one model took as long an epoch as a seed of the other.
        "model_apart": min(their_epochs) > max(our_epochs) or max(their_epochs) < min(our_epochs),
        "epochs": ours["epochs"],
        "reference_test_accuracy": theirs["test_accuracy"],
        "our_test_accuracy": ours["test_accuracy"],
        "target": record["target"],
        "machine": ours["machine"],
    }


def load_model_swap() -> dict | None:
    """`MODEL_SWAP_RECORD`, or None before that race has run."""
    return json.loads(MODEL_SWAP_RECORD.read_text(encoding="utf-8")) if MODEL_SWAP_RECORD.is_file() else None


def vm_image(machine: dict) -> str:
    """The VM image a record's machine names (`fc-v1300` of its platform string), or its whole platform."""
    found = re.search(r"fc-v\d+", machine.get("platform", ""))
    return found.group(0) if found else machine.get("platform", "an unnamed machine")


def model_swap_reading(record: dict, fast: dict | None = None) -> str:
    """`model_swap_factors` as notebook 09 prints it: each side's seconds an epoch, the split of the per-epoch factor,
    and how far the script's model got in fast's 7 epochs, read by the rule stated before the runs
    (benchmarks/RESULTS.md), with what weakens it. `fast`: fast's record with the race (`fast.json`), to set this
    machine's per-epoch factor beside the race's."""
    factors = model_swap_factors(record)
    script, ours, theirs = (
        factors[key] for key in ("script_epoch_seconds", "our_epoch_seconds", "reference_epoch_seconds")
    )
    rows = [
        ("the script, unchanged: its model, its pipeline, a 10,000-image test pass", script),
        ("the script's model in `fast`'s recipe, a 5,000-image validation pass", theirs),
        ("`fast`'s model in `fast`'s recipe", ours),
    ]
    lines = ["| an epoch: training and its evaluation pass | seconds, mean | each run |", "| --- | ---: | --- |"]
    lines += [
        f"| {label} | {statistics.fmean(values):.2f} | {', '.join(f'{value:.1f}' for value in values)} |"
        for label, values in rows
    ]
    where = f"on VM image `{vm_image(factors['machine'])}`"
    if fast is not None and (race := race_factors(fast)) is not None:
        here = (
            statistics.fmean(script) / race["script_epoch_seconds"],
            statistics.fmean(ours) / race["our_epoch_seconds"],
        )
        where += f"; the first race, `fast.json`, ran on `{vm_image(fast['machine'])}`, at {race['epoch_seconds']:.2f}x"
        if min(here) > 1:
            where += f", each side's epochs {(min(here) - 1) * 100:.0f}-{(max(here) - 1) * 100:.0f} % longer here"
    model = f"`fast`'s model {factors['model']:.2f}x (the script's model's epoch over `fast`'s, both in its recipe)"
    if not factors["model_apart"]:
        model += (
            f"; the two models' runs overlap (`fast`'s {min(ours):.1f}-{max(ours):.1f} s, the script's model's "
            f"{min(theirs):.1f}-{max(theirs):.1f} s), so by the rule the model's share is not told apart from noise"
        )
    elif factors["model"] < 1:
        model += ": `fast`'s model costs more an epoch than the script's, and the rest of the recipe makes up for it"
    # The script's run-to-run spread, set beside the model's share when it is the larger.
    spread, share = max(script) / min(script), max(factors["model"], 1 / factors["model"])
    noise = (
        f" The script's own runs differ by more than that share: its epochs took {min(script):.1f}-{max(script):.1f} s."
        if spread > share
        else ""
    )
    tests, target = factors["reference_test_accuracy"], factors["target"]
    reached = sum(value >= target for value in tests)
    accuracies, scored = (", ".join(f"{value:.2f}" for value in row) for row in (tests, factors["our_test_accuracy"]))
    if reached == len(tests):
        epochs = (
            f"every one of {len(tests)} seeds at or above {target} %. So, by the rule, `fast`'s {factors['epochs']} "
            "epochs do not need `fast`'s model: the script's own gets there in them"
        )
    else:
        epochs = (
            f"{reached} of {len(tests)} seeds at or above {target} %. So, by the rule, `fast`'s model is part of the "
            f"epoch-count factor, by an amount these runs do not measure (they train it {factors['epochs']} epochs "
            "only)"
        )
    lines += [
        "",
        f"Here the script's epoch takes {factors['epoch_seconds']:.2f}x `fast`'s (the per-epoch factor, {where}). Of "
        f"that, the rest of `fast`'s recipe makes {factors['recipe']:.2f}x (the script's epoch over its model's in "
        f"`fast`'s recipe) and {model}.{noise} In {factors['epochs']} epochs of `fast`'s recipe, the script's model "
        f"reached {accuracies} % test (`fast`'s model, on the same seeds: {scored} %), {epochs}.",
    ]
    return "\n".join(lines)
