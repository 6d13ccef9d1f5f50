"""What each component of the series' last model buys at the full budget, read from the recorded seed-paired
ablation (`python -m mnist_nb frontier --ablation`): each component's gain on the same seed (with it minus
without: the base minus the removal), the noise such a difference has (`lab.t_tests`), notebook 09's table, and
the table notebooks 02-06 close with.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL
from mnist_nb.config import AT_CHANCE_BELOW
from mnist_nb.lab.frontier import ABLATION_BASE, RESULTS_DIR, component, load_results, seed_pairs
from mnist_nb.lab.records import bare_p_value, note, signed_points
from mnist_nb.lab.t_tests import interval, paired_t_p_value, student_t_critical
from mnist_nb.models import SERIES_MODEL
from mnist_nb.support.variants import ABLATIONS

# Fewer paired seeds than this and the sentence says it is a first reading.
ENOUGH_SEEDS = 5
# What one machine is, in a record's machine description: the processor's name as the OS gives it (a family such
# as "AMD EPYC": the exact CPU model is not recorded), the torch release, the VM image.
MACHINE = ("device_name", "torch", "platform")
# The crossed seeds re-run on one machine, the base and each removal (benchmarks/one_machine.py).
ONE_MACHINE_DIR = RESULTS_DIR / "one-machine"


def full_budget_verdict(
    removed: str, results: dict[str, dict] | None = None, reruns: dict[str, dict] | None = None
) -> str:
    """What one component buys the series' last model at its full budget, from the recorded seed-paired
    ablation (notebooks 02-06 close with it). `removed`: "batchnorm", ...

    One table: each seed's test accuracy with and without the component and its gain (with minus without, so
    positive means the component helps), as recorded and, where some recorded pairs cross machines and `reruns`
    holds those seeds re-run on one machine, with every pair on one machine. Under each pairing: its seeds, mean
    gain, paired t-test p, 95% interval of the mean and reading. Then a run at chance (reported, not averaged),
    the noise band of one seed's gain, and the series' rule reading the two pairings together.
    """
    if results is None:  # the records, and the crossed seeds re-run on one machine
        results, reruns = load_results(), load_results(ONE_MACHINE_DIR) if reruns is None else reruns
    name = f"{SERIES_MODEL}-no-{removed}"
    if ABLATION_BASE not in results or name not in results:
        return f"{removed}: not recorded yet (python -m mnist_nb frontier {ABLATION_BASE} {name})"
    base, reruns = results[ABLATION_BASE], reruns or {}
    found = pairings(name, results, reruns)
    if not found["as recorded"]:
        return f"{removed}: no seed in common with {ABLATION_BASE} yet (python -m mnist_nb frontier {name})"
    columns = {"as recorded": found["as recorded"]}
    if "one machine" in found:
        columns["each pair on one machine"] = found["one machine"]
    # Per pairing: seed -> (with, without); the gains of the pairs in which both runs trained.
    by_seed = {
        label: {seed: (with_it, without) for seed, without, with_it in pairs} for label, pairs in columns.items()
    }
    gains = {label: [-difference for difference in trained_differences(pairs)] for label, pairs in columns.items()}
    width = 21  # "  with without   gain" under each pairing's name

    def cell(label: str, seed: int) -> str:
        if seed not in by_seed[label]:
            return " " * width
        with_it, without = by_seed[label][seed]
        gain = signed_points(with_it - without) if min(with_it, without) >= AT_CHANCE_BELOW else "*"
        return f"{with_it:>6.2f} {without:>7.2f} {gain:>6}"

    def summary_row(label: str, values: list[str]) -> str:
        # The label starts the row; each value ends where its pairing's gain column ends.
        first = 4 + 3 + width
        return label.ljust(first - len(values[0])) + values[0] + "".join(f"   {value:>{width}}" for value in values[1:])

    def weighed(values: list[float]) -> list[str]:
        if len(values) < 2:
            return [signed_points(statistics.fmean(values)) if values else "-", "-", "-", "too few for a test"]
        p_value, (low, high) = paired_t_p_value(values), interval(values)
        reading = (
            "not shown" if p_value >= SIGNIFICANCE_LEVEL else "a gain" if statistics.fmean(values) > 0 else "a cost"
        )
        return [signed_points(statistics.fmean(values)), bare_p_value(p_value),
                f"{signed_points(low)} to {signed_points(high)}", reading]  # fmt: skip

    seeds = sorted(set().union(*by_seed.values()))
    readings = [weighed(values) for values in gains.values()]
    lines = [
        f"{ABLATION_BASE} at {base['epochs']} epochs, test accuracy (%) with and without {removed}, same seed; "
        "gain: with minus without",
        "    " + "".join(f"   {label:<{width}}" for label in columns),
        "seed" + "".join(f"   {'with':>6} {'without':>7} {'gain':>6}" for _ in columns),
        *(f"{seed:>4}" + "".join(f"   {cell(label, seed)}" for label in columns) for seed in seeds),
        summary_row("seeds", [str(len(values)) for values in gains.values()]),
        *(
            summary_row(label, [reading[index] for reading in readings])
            for index, label in enumerate(["mean gain", "p", "95% interval", "reading"])
        ),
    ]
    notes = [  # each run that stayed at chance, named: a failure to report, not a difference to average
        f"* seed {seed}, {pairing}: the run {side} {removed} stayed at chance ({value:.2f}%, below "
        f"{AT_CHANCE_BELOW:.0f}%): reported, not averaged"
        for pairing, pairs in columns.items()
        for seed, without, with_it in untrained(pairs)
        for side, value in (("without", without), ("with", with_it))
        if value < AT_CHANCE_BELOW
    ]
    if "one machine" in found:
        moved = crossed_machines(results[name], base)  # per recorded seed: did its two runs cross machines?
        crossed = [seed for seed, apart in zip(results[name]["seeds"], moved, strict=True) if apart]
        added = [seed for seed in by_seed["each pair on one machine"] if seed not in by_seed["as recorded"]]
        notes.append(
            f"each pair on one machine: seeds {_seed_list(crossed)} of the record had their two runs on different "
            "machines and were run again on one"
            + (f", seeds {_seed_list(added)} added" if added else "")
            + f" ({ONE_MACHINE_DIR.relative_to(RESULTS_DIR.parent.parent).as_posix()}/)"
        )
    band = noise_band(base)
    outside = ", ".join(f"{sum(abs(gain) > band for gain in values)} of {len(values)} {label}"
                        for label, values in gains.items())  # fmt: skip
    notes.append(
        f"noise band of one seed's gain: +-{band:.2f} (19 in 20 differences of two runs of one recipe, from "
        f"{ABLATION_BASE}'s {len(base['seeds'])} seeds; the mean strays less: the t-test weighs it); outside: {outside}"
    )
    if len(gains["as recorded"]) < ENOUGH_SEEDS:
        count = len(gains["as recorded"])
        notes.append(f"only {count} seed{'s' if count != 1 else ''} as recorded: a first reading")
    if "one machine" in found:
        notes.append(
            f"by the series' rule (p < {SIGNIFICANCE_LEVEL} in both pairings: an effect; in one: borderline; in "
            f"neither: within seed noise): {rule_reading(gains['as recorded'], gains['each pair on one machine'])}"
        )
    return "\n".join([line.rstrip() for line in lines] + [note(text) for text in notes])


def _seed_list(seeds: list[int]) -> str:
    """'2-4' for consecutive seeds, '2, 5, 7' otherwise."""
    consecutive = len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1))
    return f"{seeds[0]}-{seeds[-1]}" if consecutive else ", ".join(map(str, seeds))


def rule_reading(gains: list[float], one_gains: list[float]) -> str:
    """The series' reading of a component's two pairings together (notebook 09), gains being with minus without:
    p below SIGNIFICANCE_LEVEL in both, one sign: "it buys accuracy" or "it costs"; in one of the two: "borderline";
    in neither: "within seed noise"."""
    shown = [len(values) > 1 and paired_t_p_value(values) < SIGNIFICANCE_LEVEL for values in (gains, one_gains)]
    signs = {statistics.fmean(values) > 0 for values in (gains, one_gains) if values}
    if all(shown) and len(signs) == 1:
        return "it buys accuracy" if signs == {True} else "it costs"
    return "borderline" if any(shown) else "within seed noise"


def same_machine(first: dict, second: dict, keys: tuple[str, ...] = MACHINE) -> bool:
    """Two machine descriptions with one processor name, torch release and VM image (the platform string): a
    run repeats exactly only there, and another of any of the three acts like another seed. `keys`: a part of
    `MACHINE` to compare instead (`MACHINE[:2]`: the processor name and torch release only)."""
    return all(first.get(key) == second.get(key) for key in keys)


def seed_machine(summary: dict, index: int) -> dict:
    """Where the summary's `index`-th seed ran (`seed_machines`; older records give one machine for all)."""
    machines = summary.get("seed_machines") or [summary.get("machine", {})] * len(summary["seeds"])
    return machines[index]


def crossed_machines(summary: dict, base: dict) -> list[bool]:
    """Each of `summary`'s seeds: did it run on another machine than the recorded `base`?"""
    return [not same_machine(seed_machine(summary, i), base.get("machine", {})) for i in range(len(summary["seeds"]))]


def one_machine_pairs(runs: list[dict], bases: list[dict], split: str = "test") -> list[tuple] | None:
    """(seed, removal's accuracy, base's accuracy), both trained on one machine, for each seed of the removal's
    record (`runs[0]`) and each further seed re-run with the base: the first such pair among the removal's
    `runs` and the base's `bases` (`records_of`); None where some seed of the record has none."""

    def by_seed(records: list[dict]) -> dict[int, list[tuple[dict, float]]]:
        found: dict[int, list[tuple[dict, float]]] = {}
        for record in records:
            for index, seed in enumerate(record["seeds"]):
                found.setdefault(seed, []).append((seed_machine(record, index), record[f"{split}_accuracy"][index]))
        return found

    if not runs:
        return None
    removal, base = by_seed(runs), by_seed(bases)
    pairs = []
    for seed in sorted(removal):
        matches = [
            (seed, value, base_value)
            for machine, value in removal[seed]
            for base_machine, base_value in base.get(seed, [])
            if same_machine(machine, base_machine)
        ]
        if matches:
            pairs.append(matches[0])
        elif seed in runs[0]["seeds"]:
            return None
    return pairs


def untrained(pairs: list[tuple]) -> list[tuple]:
    """The (seed, removal, base) pairs in which a run did not learn at all (below AT_CHANCE_BELOW): such a pair
    is a failure to report, not a difference to average with the others."""
    return [pair for pair in pairs if min(pair[1], pair[2]) < AT_CHANCE_BELOW]


def trained_differences(pairs: list[tuple]) -> list[float]:
    """Removal minus base (points) over the (seed, removal, base) pairs in which both runs learned."""
    return [pair[1] - pair[2] for pair in pairs if pair not in untrained(pairs)]


def pairings(name: str, results: dict[str, dict], reruns: dict[str, dict], base: str = ABLATION_BASE) -> dict:
    """Removal `name` against the base, (seed, removal's test accuracy, base's) per seed: "as recorded", and
    "one machine" where some recorded pair crosses machines and `reruns` put every pair on one machine."""
    found = {"as recorded": seed_pairs(results[name], results[base])}
    one_machine = one_machine_pairs(records_of(name, results, reruns), records_of(base, results, reruns))
    if one_machine is not None and any(crossed_machines(results[name], results[base])):
        found["one machine"] = one_machine
    return found


def records_of(name: str, results: dict[str, dict], reruns: dict[str, dict]) -> list[dict]:
    """`name`'s record, then its seeds re-run on one machine (`reruns`: `load_results(ONE_MACHINE_DIR)`)."""
    return [record for record in (results.get(name), reruns.get(name)) if record]


def paired_gains(
    results: dict[str, dict], base: str = ABLATION_BASE, reruns: dict[str, dict] | None = None
) -> dict[str, dict[str, list[float]]]:
    """component -> {"test": [...], "val": [...]}: each component's gain on the same seed, with it minus without
    it (the base minus the removal; positive: it helped), for `ablation_table` and `figures.plot_ablation`; a
    removal that shares no seed with the base is left out. Where some pair crosses machines and `reruns` holds
    those seeds re-run on one machine, "one machine" adds the test gains with every pair on one machine
    (`one_machine_pairs`); "at chance" names (pairing, seed) of each pair left out of them because a run stayed
    at chance (`untrained`)."""
    paired = {}
    for name in results:
        if name not in ABLATIONS or not seed_pairs(results[name], results[base]):
            continue
        found = pairings(name, results, reruns or {}, base)
        differences = {  # removal minus base, seed by seed, the runs at chance left out
            "test": trained_differences(found["as recorded"]),
            "val": trained_differences(seed_pairs(results[name], results[base], "val")),
        }
        if "one machine" in found:
            differences["one machine"] = trained_differences(found["one machine"])
        item = {key: [-value for value in values] for key, values in differences.items()}
        item["at chance"] = [(label, pair[0]) for label, pairs in found.items() for pair in untrained(pairs)]
        paired[component(name)] = item
    return paired


def noise_band(summary: dict) -> float:
    """Half-width (points) of the band the test-accuracy difference of two new runs of one recipe stays in
    19 times in 20. Each run varies by sd s over seeds, so their difference by sqrt(2) * s; s is itself
    estimated from the summary's n seeds, so the band is Student's t (n - 1 degrees of freedom), not 2, times
    that: 2.776 * sqrt(2) * s for five seeds."""
    seeds = len(summary["test_accuracy"])
    return student_t_critical(seeds - 1) * math.sqrt(2) * statistics.stdev(summary["test_accuracy"])


def ablation_table(results: dict[str, dict], base: str = ABLATION_BASE) -> str:
    """Each component's gain on the same seed (with it minus without, points): per seed, their mean, the paired
    t-test's p-value on the test gains, and how many of them are outside the noise band."""
    band, gains = noise_band(results[base]), paired_gains(results, base)
    width = max([14, *(7 * len(values["test"]) for values in gains.values())])  # "+0.03, " per seed
    lines = [
        f"{'component':<14} {'test, per seed':<{width}} {'mean':>6} {'p':>6} {'outside':>8}   "
        f"{'val, per seed':<{width}} mean"
    ]
    for name, values in gains.items():
        test, val = (", ".join(map(signed_points, values[split])) for split in ("test", "val"))
        mean = {split: statistics.fmean(values[split]) for split in ("test", "val")}
        p_value = f"{paired_t_p_value(values['test']):.3f}" if len(values["test"]) > 1 else "-"
        outside = f"{sum(abs(value) > band for value in values['test'])} of {len(values['test'])}"
        lines.append(
            f"{name:<14} {test:<{width}} {signed_points(mean['test']):>6} {p_value:>6} {outside:>8}   "
            f"{val:<{width}} {signed_points(mean['val'])}"
        )
    seeds = len(results[base]["seeds"])
    notes = [
        f"{name}, {label}, seed {seed}: a run at chance, left out" for name, values in gains.items()
        for label, seed in values["at chance"]
    ]  # fmt: skip
    notes += [
        f"gain: with the component minus without it ({base} minus the removal) on the same seed, in points; p: "
        "paired t-test of the test gains",
        f"noise band +-{band:.2f}: where 19 in 20 two-run differences fall, from {base}'s {seeds} seeds",
    ]
    return "\n".join([*lines, *(note(f"({text})") for text in notes)])
