"""The final recipe's four changes, each alone, and the recipe whole, against `residual` on fresh seeds.

`final` is notebook 06's `residual` with four changes (width 20, channel-only attention after stage 3,
the last 2 of 15 epochs on clean images, BatchNorm recalibrated at the end), adopted together. Its lead
over `residual` in their records compares runs made on different machines (notebook 09 weighs it by
Welch's t-test), and no change was measured alone. Here `final` and each change alone train seeds 10-19
on one machine, paired by seed with `residual`'s runs of those seeds (the GAP replication's,
`replication.REPLICATION_DIR`):

    OMP_NUM_THREADS=1 python benchmarks/one_machine.py final residual-width-20 residual-channel-only-7x7 \
        residual-clean-2 residual-recalibrated --seeds 10 11 12 13 14 15 16 17 18 19 --study final-changes

The rule, committed before they ran (`benchmarks/RESULTS.md`, tenth session): a name raises (lowers) test
accuracy if its mean difference from `residual` over the ten pairs, every pair on one machine, is above
(below) 0 with a paired t-test p below its level: `SIGNIFICANCE_LEVEL` for `final`, one test; that level
divided by four for each single change, four tests (Bonferroni). Otherwise it is not shown to differ.
Nothing is chosen by it: the recipes stay as they are, whatever it says.

The other way round, `final` less one change each (`LESS_ONE`) asks whether a change still matters beside the
other three; each trains the same seeds and is paired with `final`'s runs above, by a rule of the same form
(twelfth session, committed before the runs; four tests at `SIGNIFICANCE_LEVEL` / 4):

    OMP_NUM_THREADS=1 python benchmarks/one_machine.py final-width-16 final-spatial-7x7 final-clean-0 \
        final-not-recalibrated --seeds 10 11 12 13 14 15 16 17 18 19 --study final-less-one

and `LESS_BOTH` (thirteenth session, committed before its runs) takes both end-of-training changes out at once,
one test at `SIGNIFICANCE_LEVEL`, by the same command with its name.
"""

from __future__ import annotations

import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.config import recipe
from mnist_nb.lab.frontier import ABLATION_BASE, RESULTS_DIR, SERIES_RECIPE, Entry, load_results
from mnist_nb.lab.records import bare_p_value, note, signed_points
from mnist_nb.lab.replication import REPLICATION_DIR, SEEDS, paired_reading
from mnist_nb.lab.t_tests import interval, paired_t_p_value

CHANGES_DIR = RESULTS_DIR / "final-changes"
# `residual` (the series recipe) with one of `final`'s changes each; all four together make `final`.
CHANGES: tuple[Entry, ...] = (
    Entry("residual-width-20", SERIES_RECIPE.replace(model_options={"widths": (8, 20)}), 10, "residual at width 20"),
    Entry(
        "residual-channel-only-7x7",
        SERIES_RECIPE.replace(model_options={"spatial_attention_stages": (2,)}),
        10,
        "residual with channel-only attention after stage 3 (7x7)",
    ),
    Entry("residual-clean-2", SERIES_RECIPE.replace(clean_epochs=2), 10, "residual, its last 2 of 15 epochs clean"),
    Entry(
        "residual-recalibrated",
        SERIES_RECIPE.replace(recalibrate_batchnorm=True),
        10,
        "residual with BatchNorm recalibrated after the last epoch",
    ),
)
NAMES = ("final",) + tuple(entry.name for entry in CHANGES)

# The other way round: `final` less one of its changes each, against `final`'s runs of seeds 10-19 above
# (`final`'s record in `CHANGES_DIR`), trained by the same command with `--study final-less-one`.
LESS_ONE_DIR = RESULTS_DIR / "final-less-one"
FINAL_RECIPE = recipe("final")
LESS_ONE: tuple[Entry, ...] = (
    Entry(
        "final-width-16",
        FINAL_RECIPE.replace(model_options={"widths": (8, 16), "spatial_attention_stages": (2,)}),
        10,
        "final at width 16",
    ),
    Entry(
        "final-spatial-7x7",
        FINAL_RECIPE.replace(model_options={"widths": (8, 20), "spatial_attention_stages": (2, 3)}),
        10,
        "final with spatial attention after stage 3 too (7x7)",
    ),
    Entry("final-clean-0", FINAL_RECIPE.replace(clean_epochs=0), 10, "final with all 15 epochs augmented"),
    Entry(
        "final-not-recalibrated",
        FINAL_RECIPE.replace(recalibrate_batchnorm=False),
        10,
        "final without BatchNorm recalibration after the last epoch",
    ),
)
LESS_ONE_NAMES = tuple(entry.name for entry in LESS_ONE)
# Neither end-of-training change is shown to matter alone inside `final`, and both end training on BatchNorm
# statistics of clean images: do they do one job? Both taken out at once, one test at the series' level against
# `final` (thirteenth session's rule, committed before the runs). Lower means that together they matter though
# neither alone is shown to (consistent with each standing in for the other, which this test does not show);
# otherwise neither is shown to matter inside `final`, alone or together.
LESS_BOTH = Entry(
    "final-clean-0-not-recalibrated",
    FINAL_RECIPE.replace(clean_epochs=0, recalibrate_batchnorm=False),
    10,
    "final with all 15 epochs augmented and without BatchNorm recalibration",
)
LESS_ONE_STUDY = LESS_ONE_NAMES + (LESS_BOTH.name,)  # the names trained and read with --study final-less-one


def level(name: str) -> float:
    """The p a name must beat: the series' level for `final` and for `final` less both end-of-training changes
    (one test each), a quarter of it for each change alone and each `final` less one change (four tests in each)."""
    if name in ("final", LESS_BOTH.name):
        return SIGNIFICANCE_LEVEL
    return SIGNIFICANCE_LEVEL / len(LESS_ONE if name in LESS_ONE_NAMES else CHANGES)


def reading(name: str, records: dict[str, dict], base: dict, split: str = "test") -> dict | None:
    """One name against `base` over `SEEDS` (`replication.paired_reading`) with the rule's verdict: "higher",
    "lower" or "not shown to differ"; None until every seed is there."""
    found = paired_reading(records[name], base, split) if name in records else None
    if found is None:
        return None
    verdict = "not shown to differ"
    if found["p_value"] < level(name) and not found["crossed"]:  # every pair on one machine, as the rule asks
        verdict = "higher" if found["mean"] > 0 else "lower"
    return found | {"verdict": verdict}


def readings(records: dict[str, dict] | None = None, base_records: dict[str, dict] | None = None) -> dict:
    """Every name's test and validation readings against `residual` (None where seeds are missing).
    `records`: `load_results(CHANGES_DIR, NAMES)`; `base_records`: `load_results(REPLICATION_DIR)`."""
    records = load_results(CHANGES_DIR, NAMES) if records is None else records
    base_records = load_results(REPLICATION_DIR) if base_records is None else base_records
    if ABLATION_BASE not in base_records:
        return {name: {"test": None, "validation": None} for name in NAMES}
    base = base_records[ABLATION_BASE]
    return {
        name: {"test": reading(name, records, base), "validation": reading(name, records, base, "val")}
        for name in NAMES
    }


def _count(test: dict, counted: str) -> int:
    """The seeds whose difference is `counted`: "higher" (above 0) or "lower" (below 0); a tie is neither."""
    sign = 1 if counted == "higher" else -1
    return sum(sign * difference > 0 for difference in test["differences"])


def _table(heading: str, names: tuple[str, ...], found: dict, records: dict[str, dict], counted: str) -> str:
    """Readings as a table, test first, then the rule's verdict; a name not yet run says what is missing.
    `counted`: "higher" or "lower", the seeds counted in the third column."""
    width = max(27, max(len(name) for name in names) + 2)
    lines = [
        heading,
        f"{'':<{width}}{'test':>7}{counted:>9}{'p':>8}{'95% interval':>17}{'validation':>12}  verdict (p below)",
    ]
    for name in names:
        test, validation = found[name]["test"], found[name]["validation"]
        if test is None:
            done = len(set(records.get(name, {}).get("seeds", [])) & set(SEEDS))
            lines.append(f"{name:<{width}}{done} of {len(SEEDS)} seeds recorded so far: read when all are")
            continue
        low, high = test["interval"]
        count = f"{_count(test, counted)} of {len(test['differences'])}"
        p_value = bare_p_value(test["p_value"])
        bounds = f"{signed_points(low)} to {signed_points(high)}"
        lines.append(
            f"{name:<{width}}{signed_points(test['mean']):>7}{count:>9}{p_value:>8}{bounds:>17}"
            f"{signed_points(validation['mean']):>12}"
            f"  {test['verdict']} ({level(name):.4g})"
            + (f", seeds {test['crossed']} crossed machines" if test["crossed"] else "")
        )
    # The interval is the usual 95% one while a verdict may be held to a lower level: say so under the table.
    lines.append(
        note(
            f"(test: the mean difference in test accuracy; {counted}: the seeds on that side; p: paired t-test on "
            "the seed-by-seed differences; the 95% interval of the mean is not adjusted for the number of tests, so "
            "a change tested at 0.0125 can read 'not shown to differ' although that interval excludes 0; "
            "validation: the same mean on the validation split, not tested)"
        )
    )
    return "\n".join(lines)


def changes_table(records: dict[str, dict] | None = None, base_records: dict[str, dict] | None = None) -> str:
    """The readings against `residual` as a table (`_table`)."""
    records = load_results(CHANGES_DIR, NAMES) if records is None else records
    heading = (
        f"name minus {ABLATION_BASE}, seeds {SEEDS[0]}-{SEEDS[-1]}, every pair on one machine (points; positive: the "
        "change raised test accuracy):"
    )
    return _table(heading, NAMES, readings(records, base_records), records, "higher")


def additivity(records: dict[str, dict] | None = None, base_records: dict[str, dict] | None = None) -> str:
    """Do the four changes add up to `final`? Seed by seed, the four single differences summed minus `final`'s
    (0 where they add exactly), tested after the fact (no rule was written for it); what is missing, while
    seeds are. The arguments as for `readings`."""
    found = {name: reading["test"] for name, reading in readings(records, base_records).items()}
    missing = [name for name, test in found.items() if test is None]
    if missing:
        return f"Seeds {SEEDS[0]}-{SEEDS[-1]}: not all recorded yet for {', '.join(missing)}; read when they are"
    total = sum(found[entry.name]["mean"] for entry in CHANGES)
    excess = [
        sum(found[entry.name]["differences"][index] for entry in CHANGES) - final_difference
        for index, final_difference in enumerate(found["final"]["differences"])
    ]
    low, high = interval(excess)
    excess_p = paired_t_p_value(excess)
    return note(
        f"The four alone add up to {signed_points(total)} points, `final` {signed_points(found['final']['mean'])}; "
        f"their difference, seed by seed, {signed_points(statistics.fmean(excess))} points "
        f"({format_p_value(excess_p)}, 95% interval {signed_points(low)} to {signed_points(high)}, no rule written "
        "first): "
        + (
            "beyond seed noise, the changes do not simply add"
            if excess_p < SIGNIFICANCE_LEVEL
            else "not beyond seed noise, so these seeds cannot tell whether the changes add"
        )
    )


def less_one_readings(records: dict[str, dict] | None = None, final_records: dict[str, dict] | None = None) -> dict:
    """Each `LESS_ONE_STUDY` name's test and validation readings against `final` (name minus `final`; None where
    seeds are missing). `records`: `load_results(LESS_ONE_DIR)`; `final_records`: `load_results(CHANGES_DIR,
    ("final",))`."""
    records = load_results(LESS_ONE_DIR, LESS_ONE_STUDY) if records is None else records
    final_records = load_results(CHANGES_DIR, ("final",)) if final_records is None else final_records
    if "final" not in final_records:
        return {name: {"test": None, "validation": None} for name in LESS_ONE_STUDY}
    final = final_records["final"]
    return {
        name: {"test": reading(name, records, final), "validation": reading(name, records, final, "val")}
        for name in LESS_ONE_STUDY
    }


def less_one_table(records: dict[str, dict] | None = None, final_records: dict[str, dict] | None = None) -> str:
    """The readings against `final` as a table (`_table`), both end-of-training changes out last; each record
    holds its seconds a run."""
    records = load_results(LESS_ONE_DIR, LESS_ONE_STUDY) if records is None else records
    heading = (
        f"name minus final, seeds {SEEDS[0]}-{SEEDS[-1]}, every pair on one machine (points; negative: what the name "
        "takes out had helped):"
    )
    return _table(heading, LESS_ONE_STUDY, less_one_readings(records, final_records), records, "lower")
