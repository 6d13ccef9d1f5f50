"""Notebook 09's "What mattered", what its index of every test (`every_test`) cannot say: each claim a sentence
generated from the records it rests on.

A sentence whose truth depends on a number says the number, and its verdict (helped, within seed noise,
borderline) follows from a rule applied to it here, so that neither can go stale when a record changes.
The rules: a paired or Welch t-test below `SIGNIFICANCE_LEVEL` counts as an effect; anything else is
within seed noise, and the sentence says how large an effect that many seeds could have found.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.anatomy import count_parameters
from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.config import AT_CHANCE_BELOW
from mnist_nb.lab.ablation import MACHINE, pairings, same_machine, seed_machine, trained_differences, untrained
from mnist_nb.lab.frontier import ABLATION_BASE, component, seed_differences
from mnist_nb.lab.records import signed_points
from mnist_nb.lab.t_tests import interval, paired_t_p_value, student_t_critical, student_t_p_value
from mnist_nb.models import build_model
from mnist_nb.support.variants import ABLATIONS

TEST_IMAGES = 10_000  # one test image is 0.01 points


def ablation_differences(results: dict[str, dict], reruns: dict[str, dict] | None = None):
    """The ablation's test differences (removal minus base, points) per component: as recorded, and with every pair
    on one machine (`reruns`, `load_results(ablation.ONE_MACHINE_DIR)`), runs at chance left out; and those runs,
    as (removal's entry, pairing, (seed, removal, base)) from `ablation.pairings`."""
    removals, one_machine, failures = {}, {}, []
    for name in results if ABLATION_BASE in results else []:
        if name not in ABLATIONS:
            continue
        # A run stuck at chance is a failure to report, not a difference to average.
        found = pairings(name, results, reruns or {})
        recorded, on_one = (trained_differences(found.get(label, [])) for label in ("as recorded", "one machine"))
        if len(recorded) > 1:
            removals[component(name)] = recorded
        if len(on_one) > 1:
            one_machine[component(name)] = on_one
        failures += [(name, label, pair) for label, pairs in found.items() for pair in untrained(pairs)]
    return removals, one_machine, failures


def component_pairings(
    name: str, removals: dict[str, list[float]], one_machine: dict[str, list[float] | None]
) -> list[list[float]]:
    """A component's differences in each pairing: as recorded, then with every pair on one machine where that
    pairing exists and differs from the recorded one."""
    again = one_machine.get(name)
    return [removals[name]] + ([again] if again and again != removals[name] else [])


def what_mattered(results: dict[str, dict], reruns: dict[str, dict] | None = None) -> str:
    """The bullets under notebook 09's index of every test, from `frontier.load_results()` and the crossed seeds
    re-run on one machine (`reruns`): the runs at chance, the ablation's verdicts with how often chance alone gives
    such a p among its components, and the size of effect its seeds could miss. Every difference is said as a
    gain: with minus without."""
    removals, one_machine, failures = ablation_differences(results, reruns)
    bullets = [untrained_bullet(failures, results, reruns)] if failures else []
    if removals:
        bullets += ablation_bullets(removals, len(results[ABLATION_BASE]["seeds"]), one_machine)
    return "\n".join(bullets)


def gap_trade(results: dict[str, dict], reruns: dict[str, dict] | None = None) -> str:
    """What the GAP head trades (notebook 09, before its replication): parameters saved against GAP's gain in each
    pairing of the ablation."""
    removals, one_machine, _ = ablation_differences(results, reruns)
    if "gap" not in removals:
        return ""
    pairs = component_pairings("gap", removals, one_machine)
    dense, pooled = (
        count_parameters(build_model(f"{ABLATION_BASE}-no-gap")),
        count_parameters(build_model(ABLATION_BASE)),
    )
    readings, gap_p = [], [paired_t_p_value(values) for values in pairs]
    labels = ("", " with every pair on one machine, over")
    for values, p_value, where in zip(pairs, gap_p, labels, strict=False):
        below_level = p_value < SIGNIFICANCE_LEVEL  # at the ablation's level, each component tested at it alone
        verdict = f"below {SIGNIFICANCE_LEVEL} in this pairing" if below_level else "within seed noise"
        readings.append(  # `values`: the removal minus the base; in the page's sign, GAP's gain is their negative
            f"{where} {len(values)} seeds: {signed_points(-statistics.fmean(values))} points "
            f"({format_p_value(p_value)}), {verdict}"
        )
    smallest, beyond = min(gap_p), max(gap_p) < SIGNIFICANCE_LEVEL
    status = "beyond seed noise in every pairing" if beyond else "judged borderline (the rule read the other way)"
    cost = (
        f". A component {status}: the dense head scored higher, and GAP traded about "
        f"{round(statistics.fmean(pairs[-1]) * TEST_IMAGES / 100)} test images in {TEST_IMAGES:,} for "
        f"{dense - pooled:,} fewer parameters; if no component did anything, a p of {smallest:.4f} or less would "
        f"turn up among the {len(removals)} components about {by_chance(smallest, len(removals)):.1%} of the time"
        if smallest < SIGNIFICANCE_LEVEL and statistics.fmean(pairs[-1]) > 0
        else ""
    )
    return (
        f"**What bought size: the GAP head.** `{ABLATION_BASE}` has {pooled:,} parameters, {dense:,} with a dense "
        "head instead (notebook 04). GAP's gain (test accuracy with it minus without), as recorded over"
        + ";".join(readings)
        + f"{cost}."
    )


def untrained_bullet(
    failures: list[tuple[str, str, tuple]], results: dict[str, dict], reruns: dict[str, dict] | None = None
) -> str:
    """Each run that stayed at chance, once (a base run fails every removal's pair): (removal's entry, pairing,
    (seed, removal, base)) from `ablation.pairings`; a run on one machine beside its recorded run, if any,
    and what differs between the two machines (`reruns`: where the runs on one machine are recorded)."""
    runs = {}
    for name, label, (seed, value, base_value) in failures:
        for entry, accuracy in ((name, value), (ABLATION_BASE, base_value)):
            if accuracy >= AT_CHANCE_BELOW:
                continue
            record, where = results[entry], f"as recorded, {accuracy:.2f} %"
            if label == "one machine":
                where = f"on one machine, {accuracy:.2f} %"
            if label == "one machine" and seed in record["seeds"]:
                index, rerun = record["seeds"].index(seed), (reruns or {}).get(entry)
                machine = seed_machine(rerun, rerun["seeds"].index(seed)) if rerun and seed in rerun["seeds"] else {}
                recorded = seed_machine(record, index)
                same = machine and same_machine(recorded, machine, keys=MACHINE[:2])  # the VM image apart
                name = machine.get("device_name", "")
                elsewhere = f"another {name} VM image with the same torch release" if same else "another machine"
                where += f" (its recorded run, on {elsewhere}: {record['test_accuracy'][index]:.2f} %)"
            runs[(entry, label, seed)] = f"`{entry}`, seed {seed}, {where}"
    return (
        f"- **Runs that did not train** (test accuracy below {AT_CHANCE_BELOW:.0f} %, at chance): "
        f"{'; '.join(runs.values())}. Such a run is reported, not averaged: the pairings leave it out."
    )


def by_chance(p_value: float, tests: int) -> float:
    """How often, if no component did anything, at least one of `tests` independent tests gives a p of
    `p_value` or less: 1 - (1 - p)^tests."""
    return 1 - (1 - p_value) ** tests


def detectable(differences: list[float]) -> float:
    """The smallest mean a paired t-test on these differences' spread calls significant: t(n-1) * sd / sqrt(n),
    the half-width of the mean's 95% interval."""
    low, high = interval(differences)
    return (high - low) / 2


def ablation_bullets(
    removals: dict[str, list[float]], base_seeds: int, one_machine: dict[str, list[float] | None] | None = None
) -> list[str]:
    """Helped, borderline, and the rest with what they could hide (GAP's trade: `gap_trade`).

    `removals`: component -> removal minus base, one test difference per seed (points), as recorded;
    `one_machine`: the same with every pair on one machine, where re-runs give it (runs at chance left out).
    The rule: lower without it and p < SIGNIFICANCE_LEVEL in every pairing measured: it helped; in one of
    two paired only: borderline; otherwise within seed noise. GAP, higher without it, is read the same way."""
    one_machine = {name: (one_machine or {}).get(name) for name in removals}
    p_values = {name: paired_t_p_value(differences) for name, differences in removals.items()}
    paired = {name: component_pairings(name, removals, one_machine) for name in removals}
    shown = {
        name: [paired_t_p_value(values) < SIGNIFICANCE_LEVEL and statistics.fmean(values) < 0 for values in pairs]
        for name, pairs in paired.items()
    }

    def reading(name: str) -> str:
        """In the page's sign, a gain (with the component minus without: the differences turned round)."""
        differences = removals[name]
        lower = sum(value < 0 for value in differences)
        text = (
            f"with it minus without, {signed_points(-statistics.fmean(differences))} points on average, higher with "
            f"it on {lower} of {len(differences)} seeds ({format_p_value(p_values[name])}"
        )
        if len(paired[name]) > 1:
            other = paired[name][1]
            text += (
                f" as recorded, where some pairs cross machines; {signed_points(-statistics.fmean(other))} points, "
                f"{format_p_value(paired_t_p_value(other))}, higher with it on {sum(value < 0 for value in other)} "
                f"of {len(other)}, with every pair on one machine"
            )
        return text + ")"

    helped = [name for name in removals if all(shown[name])]
    borderline = [name for name in removals if any(shown[name]) and not all(shown[name])]
    bullets = []
    if helped:
        bullets.append(
            "- **What measurably helped.** " + "; ".join(f"{name}, {reading(name)}" for name in helped) + "."
        )
    if borderline:
        smallest = min(paired_t_p_value(values) for name in borderline for values in paired[name])
        bullets.append(
            f"- **Borderline** (lower without it, p < {SIGNIFICANCE_LEVEL} in one pairing, not the other): "
            + "; ".join(f"{name}, {reading(name)}" for name in borderline)
            + f". If no component did anything, {len(removals)} components tested at {SIGNIFICANCE_LEVEL} each would "
            f"give some p below {SIGNIFICANCE_LEVEL} about {by_chance(SIGNIFICANCE_LEVEL, len(removals)):.0%} of the "
            f"time, and a p of {smallest:.4f} or less would turn up among them about "
            f"{by_chance(smallest, len(removals)):.1%} of the time (1 - (1 - p)^{len(removals)}, one test per "
            "component)."
        )
    if not helped and not borderline:
        closest = min(removals, key=p_values.get)
        bullets.append(
            f"- **What measurably helped: nothing beyond seed noise (every p >= {SIGNIFICANCE_LEVEL}).** Closest, "
            f"{closest}: {reading(closest)}; with its spread a mean of {detectable(removals[closest]):.2f} points "
            "would have counted."
        )
    # Given above; GAP's trade is read with its replication (`gap_trade`).
    named = (set(helped) | set(borderline) or {min(removals, key=p_values.get)}) | {"gap"}
    unseen = [name for name in removals if name not in named and p_values[name] >= SIGNIFICANCE_LEVEL]
    if unseen:
        more = {  # where the pairing on one machine has more seeds and shows nothing either
            name: values
            for name in unseen
            if len(values := one_machine[name] or []) > len(removals[name])
            and paired_t_p_value(values) >= SIGNIFICANCE_LEVEL
        }
        counts = sorted({base_seeds} | {len(values) for values in more.values()})
        critical = ", ".join(f"{student_t_critical(count - 1):.3f} for {count} seeds" for count in counts)
        text = (
            f"- **What did not show, and what the seeds could miss.** A paired t-test on n differences calls their "
            f"mean significant (p < {SIGNIFICANCE_LEVEL}) once it is at least t<sub>0.975, n-1</sub> · sd / √n, sd "
            f"being the differences' standard deviation (t = {critical}): the half-width of the mean's 95 % "
            "interval. That size, in points, over the "
            f"{base_seeds} recorded seeds: " + ", ".join(f"{name} {detectable(removals[name]):.2f}" for name in unseen)
        )
        if more:  # the pairing on one machine, over more seeds, sees smaller effects
            text += "; with every pair on one machine, over more seeds: " + ", ".join(
                f"{name} {detectable(values):.2f} ({len(values)} seeds)" for name, values in more.items()
            )
        # The smallest sizes measured, in test images: what could still hide.
        images = [round(detectable(more.get(name, removals[name])) * TEST_IMAGES / 100) for name in unseen]
        bullets.append(
            text + ". An effect of exactly that size is found only about half the time, a smaller one less often, a "
            f"larger one more often. On the most seeds measured that size is about {min(images)}"
            f"{f' to {max(images)}' if max(images) > min(images) else ''} test images in {TEST_IMAGES:,}: effects "
            "that large, and sometimes larger, could be there unseen."
        )
    return bullets


def replaced_reading(fast: dict, before: dict) -> str:
    """`fast` against the recipe it replaced (`load_results(RESULTS_DIR / "previous")["fast"]`), paired by seed, on
    test and on validation: notebook 09's "How `fast` was reached"."""
    splits = {split: seed_differences(fast, before, split) for split in ("test", "val")}
    test = splits["test"]
    same = same_machine(fast.get("machine", {}), before.get("machine", {}))
    where = "on the same machine" if same else "on different machines"
    figures = {
        split: f"{signed_points(statistics.fmean(values))} points ({format_p_value(paired_t_p_value(values))})"
        for split, values in splits.items()
    }
    text = (
        f"**The time saved, spent on width.** `fast` moved its first max-pool up to right "
        'after the stem (its shapes are printed under "Where `fast`\'s step time goes", next) and spent the time '
        f"saved on width, {before['params']:,} -> {fast['params']:,} parameters. Against the recipe it replaced, "
        f"at the same {fast['epochs']} epochs, "
        f"{where}, seed for seed ({len(test)} seeds): test accuracy higher on {sum(value > 0 for value in test)} "
        f"of {len(test)}, "
        f"{figures['test']}; validation {figures['val']}."
    )
    shown = {split: paired_t_p_value(values) < SIGNIFICANCE_LEVEL for split, values in splits.items()}
    if shown["test"] and not shown["val"]:
        text += (
            f" On the {fast['config']['validation_size']:,} validation images that chose it, the lead is within seed "
            "noise over these seeds: the choice turned out well on test, but validation alone would not have shown "
            "it. The test set did not pick among the candidates, though a test figure started the search and kept "
            "it going (above)."
        )
    return text


def welch_t(first: list[float], second: list[float]) -> tuple[float, float]:
    """Welch's t and its Welch-Satterthwaite degrees of freedom, for two sets of independent runs."""
    variances = [statistics.variance(values) / len(values) for values in (first, second)]
    t = (statistics.fmean(first) - statistics.fmean(second)) / math.sqrt(sum(variances))
    freedom = sum(variances) ** 2 / sum(
        value**2 / (len(values) - 1) for value, values in zip(variances, (first, second), strict=True)
    )
    return t, freedom


def welch_p_value(first: list[float], second: list[float]) -> tuple[float, float, int, float]:
    """Welch's t-test: t, its Welch-Satterthwaite degrees of freedom, the whole number below them (the tail at
    fewer degrees of freedom is the cautious one) and the two-sided p at that number."""
    t, freedom = welch_t(first, second)
    floor = max(1, math.floor(freedom))
    return t, freedom, floor, student_t_p_value(t, floor)
