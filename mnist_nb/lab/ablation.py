"""What each component of the series' last model buys at the full budget, read from the recorded
seed-paired ablation (`python -m mnist_nb frontier --ablation`): each removal minus the base on the same
seed, the noise such a difference has (Student's t and the paired t-test, which the lab's other readings
import from here), notebook 09's table, and the sentences notebooks 02-06 close with.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.config import AT_CHANCE_BELOW
from mnist_nb.lab.frontier import ABLATION_BASE, RESULTS_DIR, component, load_results, seed_pairs
from mnist_nb.lab.records import signed_points
from mnist_nb.models import SERIES_MODEL
from mnist_nb.support.variants import ABLATIONS

# Fewer paired seeds than this and the sentence says it is a first reading.
ENOUGH_SEEDS = 5
# What one machine is, in a record's machine description: the processor's name as the OS gives it (a family such
# as "AMD EPYC": the exact CPU model is not recorded), the torch release, the VM image.
MACHINE = ("device_name", "torch", "platform")
# The crossed seeds re-run on one machine, the base and each removal (benchmarks/one_machine.py).
ONE_MACHINE_DIR = RESULTS_DIR / "one-machine"


def student_t_p_value(t: float, freedom: int) -> float:
    """Two-sided tail of Student's t: the chance of a |T| at least |t| with `freedom` degrees of freedom."""
    # P(|T| < t) for integer degrees of freedom, in closed form (Abramowitz and Stegun 26.7.3-4).
    angle = math.atan(abs(t) / math.sqrt(freedom))
    sine, cosine = math.sin(angle), math.cos(angle)
    power, coefficient, total = freedom % 2, 1.0, 0.0
    while power <= freedom - 2:  # the series runs over cos^power, power = freedom - 2, freedom - 4, ... >= 0
        total += coefficient * cosine**power
        coefficient *= (power + 1) / (power + 2)
        power += 2
    inside = (2 / math.pi) * (angle + sine * total) if freedom % 2 else sine * total
    return min(1.0, max(0.0, 1.0 - inside))


def student_t_critical(freedom: int, level: float = SIGNIFICANCE_LEVEL) -> float:
    """The t that |T| exceeds with probability `level` (2.776 for 4 degrees of freedom at 0.05)."""
    low, high = 0.0, 1000.0
    for _ in range(100):  # bisection: the tail falls as t grows
        middle = (low + high) / 2
        if student_t_p_value(middle, freedom) > level:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def paired_t_p_value(differences: list[float]) -> float:
    """Two-sided paired t-test: the chance, if neither model were better, of a mean difference this far
    from 0 measured against the spread of the differences.

    `differences` are one model's accuracy minus another's, one per seed, each pair trained on the
    same seed. With n pairs, t = mean / (sd / sqrt(n)) follows Student's t with n - 1 degrees of freedom
    when neither model is better; the p-value is the chance of a |t| at least this large. (Five seeds
    are too few for a two-sided sign test, whose smallest p-value is 2 / 2**5 = 0.0625.)
    """
    count = len(differences)
    if count < 2:
        raise ValueError("a paired t-test needs at least two pairs")
    mean, spread = statistics.fmean(differences), statistics.stdev(differences)  # sample sd, n - 1
    if spread == 0:
        return 1.0 if mean == 0 else 0.0
    return student_t_p_value(mean / (spread / math.sqrt(count)), count - 1)


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
        f"{ABLATION_BASE}'s {len(base['seeds'])} seeds); {outside} of {len(gains)} outside",
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
    return "\n".join([*lines, verdict + "."])


def _weighed(gains: list[float]) -> str:
    """The verdict's words for `gains` (with minus without, points): the paired t-test, what it means, the interval."""
    if len(gains) < 2:
        return ", too few for a test"
    p_value, (low, high) = paired_t_p_value(gains), interval(gains)
    meaning = f"not shown to be larger than seed noise (p >= {SIGNIFICANCE_LEVEL})"
    if p_value < SIGNIFICANCE_LEVEL:
        meaning = "larger than seed noise: " + ("it buys accuracy" if statistics.fmean(gains) > 0 else "it costs")
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


def interval(differences: list[float]) -> tuple[float, float]:
    """The 95% confidence interval of the differences' mean: mean +- t(n-1) * sd / sqrt(n)."""
    mean, count = statistics.fmean(differences), len(differences)
    half = student_t_critical(count - 1) * statistics.stdev(differences) / math.sqrt(count)
    return mean - half, mean + half


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
