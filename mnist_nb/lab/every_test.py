"""Notebook 09's index of every test the series reads, one row each, in one sign: what a change buys, with it
minus without it, in points of test accuracy (positive: it helps). The row gives the seeds and pairing, that
mean, its p, the level its rule asked and the rule's reading; "What mattered" and the tables above give each
test in full, with the sentences a row cannot hold.
"""

from __future__ import annotations

import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL
from mnist_nb.lab.ablation import paired_differences, rule_reading
from mnist_nb.lab.frontier import ABLATION_BASE, seed_differences
from mnist_nb.lab.recipe_changes import LESS_BOTH, less_one_readings, level, readings
from mnist_nb.lab.records import bare_p_value, signed_points
from mnist_nb.lab.replication import SEEDS, replication
from mnist_nb.lab.t_tests import paired_t_p_value
from mnist_nb.lab.verdicts import welch_p_value

# The four changes of `final`, by the names that add one to `residual` and take one out of `final`.
CHANGE_OF = {
    "residual-width-20": "width 20, added to `residual`",
    "residual-channel-only-7x7": "spatial gate dropped after stage 3, on `residual`",
    "residual-clean-2": "clean last 2 epochs, added to `residual`",
    "residual-recalibrated": "recalibrated BatchNorm, added to `residual`",
    "final-width-16": "width 20 (16 without it), in `final`",
    "final-spatial-7x7": "spatial gate dropped after stage 3, in `final`",
    "final-clean-0": "clean last 2 epochs, in `final`",
    "final-not-recalibrated": "recalibrated BatchNorm, in `final`",
    LESS_BOTH.name: "clean last epochs and recalibration together, in `final`",
}


def _reading(gain: float, shown: bool) -> str:
    """A single test's reading in the table's sign."""
    return ("it helps" if gain > 0 else "it costs") if shown else "not shown"


def every_test(
    results: dict[str, dict], previous: dict[str, dict] | None = None, reruns: dict[str, dict] | None = None
) -> str:
    """The index as a Markdown table, from `frontier.load_results()` and, where given, the record `fast`
    replaced (`previous`) and the seeds re-run on one machine (`reruns`); each study's own records are read
    where they are kept (the replication, the recipe's changes)."""
    rows = []

    def add(test: str, seeds: str, gain: str, p_value: str, rule: str, reading: str) -> None:
        rows.append(f"| {test} | {seeds} | {gain} | {p_value} | {rule} | {reading} |")

    # The ablation: removal minus residual, turned round; each component over its two pairings, read together.
    for name, item in paired_differences(results, reruns=reruns or {}).items():
        gains = [-value for value in item["test"]]
        one = [-value for value in item.get("one machine", [])]
        pairings = [values for values in (gains, one) if len(values) > 1]
        add(
            f"{name}, in `{ABLATION_BASE}`",
            " / ".join(f"{len(values)}" for values in pairings) + " (as recorded / one machine)",
            " / ".join(signed_points(statistics.fmean(values)) for values in pairings),
            " / ".join(bare_p_value(paired_t_p_value(values)) for values in pairings),
            f"< {SIGNIFICANCE_LEVEL} in both",
            reading if (reading := rule_reading(gains, one)) != "on the line" else
            # The rule as written named what helps: a cost on the line was read after the results were seen.
            "on the line (a gain)" if statistics.fmean(pairings[-1]) > 0 else "on the line (a cost, read after)",
        )  # fmt: skip
    found = replication()
    if found is not None:  # dense head minus GAP: GAP's gain is its negative
        add(
            "gap again, fresh seeds",
            f"{len(found['differences'])}, seeds {SEEDS[0]}-{SEEDS[-1]} (one machine)",
            signed_points(-found["mean"]),
            bare_p_value(found["p_value"]),
            f"< {SIGNIFICANCE_LEVEL}",
            "it costs (replicated)" if found["replicated"] else "not replicated",
        )
    if previous and "fast" in previous and "fast" in results:
        gains = seed_differences(results["fast"], previous["fast"])
        p_value = paired_t_p_value(gains)
        add(
            "`fast`'s pool moved up, width 20, against the recipe it replaced",
            f"{len(gains)} (one machine)",
            signed_points(statistics.fmean(gains)),
            bare_p_value(p_value),
            f"< {SIGNIFICANCE_LEVEL}, read after the choice",
            # Tested after `fast` was chosen: a p below the level describes, it does not decide.
            f"{'higher' if statistics.fmean(gains) > 0 else 'lower'}, after the fact: no verdict"
            if p_value < SIGNIFICANCE_LEVEL
            else "not shown",
        )
    if "final" in results and ABLATION_BASE in results:  # independent runs, two machines: Welch's t-test
        final, base = results["final"]["test_accuracy"], results[ABLATION_BASE]["test_accuracy"]
        t, _, _, p_value = welch_p_value(final, base)
        add(
            f"`final` against `{ABLATION_BASE}`, as recorded",
            f"{len(final)} and {len(base)} (independent, two machines)",
            signed_points(statistics.fmean(final) - statistics.fmean(base)),
            bare_p_value(p_value),
            f"< {SIGNIFICANCE_LEVEL} (Welch)",
            _reading(t, p_value < SIGNIFICANCE_LEVEL),
        )
    # The recipe's changes on fresh seeds: each alone on residual (its minus residual's), and each out of final
    # (final's minus the one without it), by the rules stated before the runs.
    studies = [(name, test, 1) for name, test in readings().items()]
    studies += [(name, test, -1) for name, test in less_one_readings().items()]
    for name, found_readings, sign in studies:
        test = found_readings["test"]
        if test is None:
            continue
        gain = sign * test["mean"]
        add(
            CHANGE_OF.get(name, f"`{name}`, against `{ABLATION_BASE}`"),
            f"{len(test['differences'])}, seeds {SEEDS[0]}-{SEEDS[-1]} (one machine)",
            signed_points(gain),
            bare_p_value(test["p_value"]),
            f"< {level(name):.4g}",
            _reading(gain, test["verdict"] != "not shown to differ"),
        )
    header = [
        "| tested | seeds (pairing) | with the change minus without, points | p | rule: p | reading |",
        "| --- | --- | ---: | ---: | --- | --- |",
    ]
    return "\n".join(header + rows)
