"""What each component of the series' last model buys at the full budget, read from the recorded
seed-paired ablation (`python -m mnist_nb frontier --ablation`): each removal minus the base on the same
seed, the noise such a difference has (`lab.t_tests`), notebook 09's table, and the sentences notebooks 02-06
close with.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.config import AT_CHANCE_BELOW
from mnist_nb.lab.frontier import ABLATION_BASE, RESULTS_DIR, component, load_results, seed_pairs
from mnist_nb.lab.records import signed_points
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

    A table of test accuracy with and without the component on each seed, the noise band under it, then the
    verdict: the mean gain (with minus without, so positive means the component helps), what a paired t-test
    over the seeds makes of it and the 95% interval of the mean; and, where some pairs cross machines and
    `reruns` holds those seeds re-run on one machine, the same test with every pair on one machine.
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
    gains = [-difference for difference in trained_differences(found["as recorded"])]
    band = noise_band(base)
    outside = sum(abs(gain) > band for gain in gains)
    lines = [
        f"{ABLATION_BASE} at {base['epochs']} epochs, test accuracy (%) with and without {removed}, same seed:",
        f"{'seed':>4} {'with':>6} {'without':>7} {'gain':>6}",
        *(
            f"{seed:>4} {with_it:>6.2f} {without:>7.2f} {signed_points(with_it - without):>6}"
            for seed, without, with_it in found["as recorded"]
        ),
        f"noise band of one seed's gain: +-{band:.2f} (19 in 20 differences of two runs of one recipe, from "
        f"{ABLATION_BASE}'s {len(base['seeds'])} seeds; a band for one gain: their mean strays less, tested next); "
        f"{outside} of {len(gains)} outside",
    ]
    verdict = f"{removed}: {_failures(found['as recorded'], removed)}"
    if gains:
        verdict += f"{signed_points(statistics.fmean(gains))} points on average over {len(gains)} seed"
        verdict += "s" if len(gains) != 1 else ""
    verdict += _weighed(gains)
    if len(gains) < ENOUGH_SEEDS:
        verdict += f"; only {len(gains)} seed{'s' if len(gains) != 1 else ''}: a first reading"
    if "one machine" in found:
        one_gains = [-difference for difference in trained_differences(found["one machine"])]
        crossed = sum(crossed_machines(results[name], base))
        more = len(found["one machine"]) - len(found["as recorded"])
        verdict += f".\nWith every pair on one machine ({crossed} seeds whose two runs crossed machines, re-run on one"
        verdict += f"{f', {more} more seeds' if more else ''}, benchmarks/results/one-machine/): "
        verdict += _failures(found["one machine"], removed)
        if one_gains:
            verdict += f"{signed_points(statistics.fmean(one_gains))} points over {len(one_gains)} seeds"
        verdict += _weighed(one_gains)
        trained = [pair for pair in found["one machine"] if pair not in untrained(found["one machine"])]
        by_seed = ", ".join(f"{seed} {signed_points(with_it - without)}" for seed, without, with_it in trained)
        verdict += f".\nGain by seed, every pair on one machine: {by_seed}"  # a mean can hide a pattern
        verdict += (
            f".\nBy the series' rule (p < {SIGNIFICANCE_LEVEL} in both pairings: an effect; in one: on the line; in "
            f"neither: within seed noise): {rule_reading(gains, one_gains)}"
        )
    return "\n".join([*lines, verdict + "."])


def rule_reading(gains: list[float], one_gains: list[float]) -> str:
    """The series' reading of a component's two pairings together (notebook 09), gains being with minus without:
    p below SIGNIFICANCE_LEVEL in both, one sign: "it buys accuracy" or "it costs"; in one of the two: "on the
    line"; in neither: "within seed noise"."""
    shown = [len(values) > 1 and paired_t_p_value(values) < SIGNIFICANCE_LEVEL for values in (gains, one_gains)]
    signs = {statistics.fmean(values) > 0 for values in (gains, one_gains) if values}
    if all(shown) and len(signs) == 1:
        return "it buys accuracy" if signs == {True} else "it costs"
    return "on the line" if any(shown) else "within seed noise"


def _weighed(gains: list[float]) -> str:
    """The verdict's words for `gains` (with minus without, points): the paired t-test, what it means, the interval."""
    if len(gains) < 2:
        return ", too few for a test"
    p_value, (low, high) = paired_t_p_value(gains), interval(gains)
    meaning = f"not shown to be larger than seed noise (p >= {SIGNIFICANCE_LEVEL})"
    if p_value < SIGNIFICANCE_LEVEL:
        meaning = "larger than seed noise in this pairing: " + ("a gain" if statistics.fmean(gains) > 0 else "a cost")
    interval_text = f"95% interval of the mean gain {signed_points(low)} to {signed_points(high)} points"
    return f", paired t-test {format_p_value(p_value)}: {meaning}; {interval_text}"


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


def failure_phrase(pair: tuple, removed: str) -> str:
    """'seed 2, the run without batchnorm (11.35%)': each run of an `untrained` pair that stayed at chance."""
    seed, value, base_value = pair
    runs = [f"without {removed} ({value:.2f}%)"] if value < AT_CHANCE_BELOW else []
    runs += [f"with {removed} ({base_value:.2f}%)"] if base_value < AT_CHANCE_BELOW else []
    return f"seed {seed}, the run{'s' if len(runs) > 1 else ''} {' and '.join(runs)}"


def _failures(pairs: list[tuple], removed: str) -> str:
    """The verdict's opening for pairs with a run at chance: each named, the rest weighed without them."""
    named = "; ".join(failure_phrase(pair, removed) for pair in untrained(pairs))
    return f"{named}: did not train (at chance), reported, not averaged; the others: " if named else ""


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


def paired_differences(
    results: dict[str, dict], base: str = ABLATION_BASE, reruns: dict[str, dict] | None = None
) -> dict[str, dict[str, list[float]]]:
    """component -> {"test": [...], "val": [...]}: each removal's differences to the base on the same seed,
    for `figures.plot_ablation`; a removal that shares no seed with the base is left out. Where some pair
    crosses machines and `reruns` holds those seeds re-run on one machine, "one machine" adds the test
    differences with every pair on one machine (`one_machine_pairs`); "at chance" names (pairing, seed) of each
    pair left out of them because a run stayed at chance (`untrained`)."""
    paired = {}
    for name in results:
        if name not in ABLATIONS or not seed_pairs(results[name], results[base]):
            continue
        found = pairings(name, results, reruns or {}, base)
        item = {
            "test": trained_differences(found["as recorded"]),
            "val": trained_differences(seed_pairs(results[name], results[base], "val")),
        }
        if "one machine" in found:
            item["one machine"] = trained_differences(found["one machine"])
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
    """Each removal minus the ablation's base on the same seed (points): per seed, their mean, the paired
    t-test's p-value on the test differences, and how many of them are outside the noise band."""
    band, differences = noise_band(results[base]), paired_differences(results, base)
    width = max([14, *(7 * len(values["test"]) for values in differences.values())])  # "+0.03, " per seed
    lines = [
        f"{'removed':<14} {'test, per seed':<{width}} {'mean':>6} {'p':>6} {'outside':>8}   "
        f"{'val, per seed':<{width}} mean"
    ]
    for name, values in differences.items():
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
        f"{name}, {label}, seed {seed}: a run at chance, left out"
        for name, values in differences.items()
        for label, seed in values["at chance"]
    ]
    notes += [
        f"removal minus {base} on the same seed, in points; p: paired t-test of the test differences",
        f"noise band +-{band:.2f}: where 19 in 20 two-run differences fall, from {base}'s {seeds} seeds",
    ]
    return "\n".join([*lines, *(f"({note})" for note in notes)])
