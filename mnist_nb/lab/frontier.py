"""The accuracy-per-parameter frontier and the ablation of the series' last model (residual), as recorded results.

Each entry is a recipe trained over several seeds (`experiments.run_seeds`); its summary (test
and validation accuracy per seed, mean +- std, seconds, config, machine, command) is written to
`benchmarks/results/<name>.json`, which notebook 09 reads and the README quotes.

    python -m mnist_nb frontier                       # every entry not yet recorded
    python -m mnist_nb frontier tiny reference        # just these
    python -m mnist_nb frontier --ablation            # residual minus one component each

Runs land in runs/frontier/<name>/seed-K and are reused when their config matches, as are the seeds
already in an entry's record: a sweep interrupted halfway resumes, and a record grows by new seeds.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass
from pathlib import Path

from mnist_nb.config import SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET, TrainConfig, recipe
from mnist_nb.lab.experiments import run_seeds
from mnist_nb.lab.race import race_phrase
from mnist_nb.lab.records import RESULTS_DIR, margin_phrase, signed_points
from mnist_nb.models import MODEL_SPECS, SERIES_MODEL
from mnist_nb.support.checkpoint_files import write_json
from mnist_nb.support.variants import ABLATIONS

RUNS_DIR = Path("runs") / "frontier"
FAST_FRESH_SEEDS_DIR = RESULTS_DIR / "fast-fresh-seeds"  # `fast` on seeds 10-19, which no choice saw


@dataclass(frozen=True)
class Entry:
    name: str
    config: TrainConfig
    num_seeds: int
    description: str


# The series' last model at 15 epochs: the recipe of the ablation (each removal is this model minus one
# component) and of the reference with our recipe.
SERIES_RECIPE = recipe("series")
# The entry the ablation is measured against.
ABLATION_BASE = "residual"

FRONTIER: tuple[Entry, ...] = (
    # Chosen on validation (benchmarks/RESULTS.md, 2026-12-02) by the rule fixed before its runs.
    Entry("final", recipe("final"), 10, "the final recipe: width 20, channel-only attention at 7x7, 15 epochs"),
    Entry(ABLATION_BASE, SERIES_RECIPE, 5, "the series' last model (width 16), 15 epochs: the ablation's base"),
    # Chosen on validation (benchmarks/RESULTS.md, 2026-12-04) by the rule fixed before its probes.
    Entry(
        "fast",
        recipe("fast"),
        10,
        "residual without attention, pooled after the stem, width 20, 7 epochs, the last clean (benchmarks/bench.py)",
    ),
    Entry("tiny", recipe("tiny"), 5, "residual at width 10, a 6-channel stem, <= 5,000 parameters, 20 epochs"),
    # Chosen on validation (benchmarks/RESULTS.md, 2026-11-28): paired by seed with the tiny recipe,
    # +0.14 and -0.04 points, validation loss lower on both seeds.
    Entry(
        "tiny-clean",
        recipe("tiny").replace(clean_epochs=3),
        5,
        "tiny, its last 3 of 20 epochs without augmentation",
    ),
    # Chosen on validation (benchmarks/RESULTS.md, 2026-11-28, second session) by the rule fixed before
    # its runs: lower validation loss than tiny-clean on both of seeds 0 and 1.
    Entry(
        "tiny-stem8",
        recipe("tiny").replace(model="tiny-stem8", clean_epochs=3, recalibrate_batchnorm=True),
        5,
        "tiny-clean with an 8-channel stem and recalibrated BatchNorm statistics",
    ),
    # Chosen on validation (benchmarks/RESULTS.md, 2026-11-29) by the rule fixed before its seed-1
    # probe: lower validation loss than tiny-stem8 on both of seeds 0 and 1 (after recalibration).
    Entry(
        "tiny-stem8-30",
        recipe("tiny").replace(model="tiny-stem8", num_epochs=30, clean_epochs=3, recalibrate_batchnorm=True),
        5,
        "tiny-stem8 at 30 epochs instead of 20",
    ),
    Entry("small", recipe("tiny").replace(model="small"), 5, "residual at width 8, a 4-channel stem, 20 epochs"),
    Entry("micro", recipe("tiny").replace(model="micro"), 5, "residual at width 6, a 4-channel stem, 20 epochs"),
    # At the script repository's own SGD learning rate, 0.05 (it augments too).
    Entry(
        "reference",
        SERIES_RECIPE.replace(model="reference", learning_rate=0.05),
        5,
        "the reference model, trained with our recipe",
    ),
)
# The removals that change how residual is trained: without BatchNorm at the plain stack's learning rate
# (as notebook 01's baseline); without augmentation, the model is residual itself.
ABLATION_TRAINING: dict[str, dict] = {
    "residual-no-batchnorm": {"learning_rate": 0.05},
    "residual-no-augmentation": {"augment": False},
}
# The series' last model, one component removed each time: what each one buys at the full budget.
ABLATION: tuple[Entry, ...] = tuple(
    Entry(name, SERIES_RECIPE.replace(model=name, **ABLATION_TRAINING.get(name, {})), 5, MODEL_SPECS[name].description)
    for name in ABLATIONS
)
ENTRIES = {entry.name: entry for entry in FRONTIER + ABLATION}


def run_entry(
    entry: Entry,
    *,
    num_seeds: int | None = None,
    max_batches_per_epoch: int | None = None,
    results_dir: Path = RESULTS_DIR,
    runs_dir: Path = RUNS_DIR,
    log=print,
) -> dict:
    """Train (or reuse, from its runs or its record) the entry's seeds; write and return its named summary.

    A record grows and is never cut: its seeds are kept when fewer are asked for, and so is the race that
    timed its runs (`benchmarks/bench.py`) while they are the same runs. `max_batches_per_epoch` makes it a
    smoke run, whose summary is never recorded.
    """
    config = entry.config.replace(max_batches_per_epoch=max_batches_per_epoch)
    record = Path(results_dir) / f"{entry.name}.json"
    recorded = json.loads(record.read_text(encoding="utf-8")) if record.is_file() and not max_batches_per_epoch else {}
    count = max(num_seeds or entry.num_seeds, max(recorded.get("seeds", []), default=-1) + 1)
    summary = run_seeds(config, count, Path(runs_dir) / entry.name, reuse=True, recorded=recorded, log=log)
    summary = {"name": entry.name, "description": entry.description, **summary}
    if "race" in recorded and summary["train_seconds"] == recorded["train_seconds"]:  # the race's own runs
        summary["race"] = recorded["race"]
    if not summary["smoke"]:
        write_json(record, summary)
    return summary


def load_results(results_dir: Path = RESULTS_DIR, names=None) -> dict[str, dict]:
    """Every recorded summary, by entry name, in the order of FRONTIER then ABLATION (or of `names`)."""
    found = {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in Path(results_dir).glob("*.json")}
    return {name: found[name] for name in names or ENTRIES if name in found}


def frontier_table(results: dict[str, dict]) -> str:
    """One line per entry: parameters, epochs, seeds, test and validation mean +- std. No seconds: the entries
    ran on different machines, alone or side by side (each record names its own), so their times do not compare."""
    lines = [f"{'entry':<26} {'params':>7} {'epochs':>6} {'seeds':>5} {'test %':>14} {'val %':>14}"]
    for name, summary in results.items():
        lines.append(
            f"{name:<26} {summary['params']:>7,} {summary['epochs']:>6} {len(summary['seeds']):>5} "
            f"{_mean_and_spread(summary, 'test'):>14} {_mean_and_spread(summary, 'val'):>14}"
        )
    return "\n".join(lines)


def _mean_and_spread(summary: dict, split: str) -> str:
    """'99.50 +- 0.08', or just '99.24' for one seed: a single run has no spread to claim."""
    mean = f"{summary[f'{split}_accuracy_mean']:.2f}"
    return mean if len(summary["seeds"]) == 1 else f"{mean} +- {summary[f'{split}_accuracy_std']:.2f}"


def _single_seeds(summary: dict) -> str:
    """'99.40, 99.34, ...': each seed's test accuracy, in seed order."""
    return ", ".join(f"{value:.2f}" for value in summary["test_accuracy"])


def seed_pairs(summary: dict, base: dict, split: str = "test") -> list[tuple[int, float, float]]:
    """(seed, `summary`'s accuracy, `base`'s accuracy) for each seed both ran, in `summary`'s order.

    The one pairing of the frontier and the ablation: the same seed gives the same data order, so a removal
    run on seeds 0 and 1 is compared with the base's seeds 0 and 1, not with its 5-seed mean. Summaries that
    share no seed give no pair.
    """
    base_by_seed = dict(zip(base["seeds"], base[f"{split}_accuracy"], strict=True))
    pairs = zip(summary["seeds"], summary[f"{split}_accuracy"], strict=True)
    return [(seed, value, base_by_seed[seed]) for seed, value in pairs if seed in base_by_seed]


def seed_differences(summary: dict, base: dict, split: str = "test") -> list[float]:
    """`summary`'s accuracy minus `base`'s on the same seed (points), one per `seed_pairs` pair."""
    return [value - base_value for _, value, base_value in seed_pairs(summary, base, split)]


def change_against(summary: dict, base: dict, split: str = "test") -> str:
    """The mean of `seed_differences`, signed ('-0.15'), or '-' where the two share no seed."""
    differences = seed_differences(summary, base, split)
    return signed_points(statistics.fmean(differences)) if differences else "-"


def component(name: str) -> str:
    """'batchnorm' for the ablation entry 'residual-no-batchnorm'."""
    return name.removeprefix(f"{SERIES_MODEL}-no-")


def markdown_tables(results: dict[str, dict], base: str = ABLATION_BASE) -> str:
    """The frontier and ablation tables of docs/benchmarks.md, from the records (`frontier --markdown`)."""
    lines = [
        "| entry | parameters | epochs | seeds | test % | validation % | single seeds, test % |",
        "| --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for name, summary in results.items():
        if name in ABLATIONS:
            continue
        lines.append(
            f"| `{name}` | {summary['params']:,} | {summary['epochs']} | {len(summary['seeds'])} | "
            f"{_mean_and_spread(summary, 'test')} | {_mean_and_spread(summary, 'val')} | {_single_seeds(summary)} |"
        )
    removals = [name for name in results if name in ABLATIONS]
    if removals and base in results:
        based_on = results[base]
        lines += [
            "",
            "| removed | seeds | test % | change, same seeds | validation % | change, same seeds |",
            "| --- | ---: | --- | ---: | --- | ---: |",
        ]
        for name in removals:
            summary = results[name]
            lines.append(
                f"| {component(name)} | {len(summary['seeds'])} | "
                f"{_mean_and_spread(summary, 'test')} | {change_against(summary, based_on, 'test')} | "
                f"{_mean_and_spread(summary, 'val')} | {change_against(summary, based_on, 'val')} |"
            )
    return "\n".join(lines)


def size_conclusions(results: dict[str, dict]) -> str:
    """Notebook 09's answer to "How small can it get?" as markdown bullets, every number read from the records:
    the entries under the parameter budget, the smallest at 99.0 %, and the reference."""

    def measured(name: str) -> str:
        summary = results[name]
        return (
            f"`{name}` ({summary['params']:,} parameters, {summary['epochs']} epochs, {len(summary['seeds'])} "
            f"seed{'s' if len(summary['seeds']) > 1 else ''}): test **{_mean_and_spread(summary, 'test')} %**"
            + (f" ({_single_seeds(summary)}), " if len(summary["seeds"]) > 1 else ", ")
            + f"validation {_mean_and_spread(summary, 'val')} %"
        )

    def briefly(name: str) -> str:  # for an entry whose full line is printed above
        summary = results[name]
        return f"`{name}` ({summary['params']:,} parameters, test {summary['test_accuracy_mean']:.2f} %)"

    bullets = []
    under = sorted(
        (name for name, summary in results.items() if summary["params"] <= TINY_BUDGET),
        key=lambda name: -results[name]["params"],
    )
    if under:
        # Every entry under the budget, largest first, each with its own verdict: none is picked by
        # its test score (the candidate for the target was chosen on validation, RESULTS.md says how).
        lines = [f"  - {measured(name)}: {_target_verdict(results[name])}" for name in under]
        bullets.append(f"- **Under {TINY_BUDGET:,} parameters**:\n" + "\n".join(lines))
    reaching = [name for name, summary in results.items() if summary["test_accuracy_mean"] >= SMALL_ACCURACY]
    if reaching:
        smallest = min(reaching, key=lambda name: results[name]["params"])
        below = [
            briefly(name)
            for name, summary in results.items()
            if summary["params"] < results[smallest]["params"] and name not in reaching
        ]
        bullets.append(
            f"- **How small for {SMALL_ACCURACY} %.** The smallest entry at >= {SMALL_ACCURACY} % on average is "
            f"{briefly(smallest)}, its weakest seed {min(results[smallest]['test_accuracy']):.2f} %."
            + (f" Below it: {'; '.join(below)}." if below else "")
        )
    if "reference" in results:
        bullets.append(f"- **The reference**: {measured('reference')}: {_target_verdict(results['reference'])}.")
    return "\n".join(bullets)


def _target_verdict(summary: dict) -> str:
    """Past the line only by a margin beyond seed noise; above it by less, level with it."""
    phrase = margin_phrase(summary)
    verdict = "**reaches**" if phrase.endswith("beyond seed noise") else "**level with**"
    verdict = verdict if summary["test_accuracy_mean"] >= TARGET_ACCURACY else "does not reach"
    return f"{verdict} {TARGET_ACCURACY} % on average: {phrase}"


def time_conclusion(fast: dict, fresh: dict | None = None) -> str:
    """Notebook 09's answer to "How little time?" as one markdown bullet: `fast`'s accuracy, how many seeds miss
    the target (also on `fresh` seeds, if recorded), and its race against the script (`fast.json`'s "race")."""
    below = sum(value < TARGET_ACCURACY for value in fast["test_accuracy"])
    if not fresh:
        seeds = (f"{below} of {len(fast['seeds'])} seeds" if below else "no seed") + f" below {TARGET_ACCURACY} %"
    else:  # each set's seeds named, then "k of n seeds" over both
        missed = sum(value < TARGET_ACCURACY for value in fresh["test_accuracy"])
        total = len(fast["seeds"] + fresh["seeds"])
        seeds = (
            f"on seeds {fast['seeds'][0]}-{fast['seeds'][-1]}, {below or 'none'} below {TARGET_ACCURACY} %; on seeds "
            f"{fresh['seeds'][0]}-{fresh['seeds'][-1]}, which no choice saw, {_mean_and_spread(fresh, 'test')} %, "
            f"{missed or 'none'} below: {below + missed} of {total} seeds below {TARGET_ACCURACY} %"
        )
    threads = fast["machine"]["cpu_threads"]
    where = f"{fast['machine']['device_name']}, {threads} thread{'s' if threads != 1 else ''} a run"
    head = f"- **Time.** `fast`: {_mean_and_spread(fast, 'test')} % ({seeds}), "
    if "race" not in fast:
        return head + f"{fast['train_seconds_mean']:.0f} s of training ({where})."
    training = f"{fast['train_seconds_mean']:.0f} s of `fast`'s run training"
    return head + f"{race_phrase(fast['race'])} ({where}, {training}; `benchmarks/bench.py`)."
