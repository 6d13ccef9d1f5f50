"""Notebook 09's index of every test the series reads, one row each, in one sign: what a change buys, with it
minus without it, in points of test accuracy (positive: it helps). The row gives the seeds and pairing, that
mean, its interval at the level its rule asked (so that the interval misses 0 where a paired test passes), its
p, that level and the rule's reading; `figures.plot_every_test` draws the same rows. The tables above give each
study in full, and "What the table cannot say" the sentences a row cannot hold.
"""

from __future__ import annotations

import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL
from mnist_nb.lab.ablation import paired_gains, rule_reading
from mnist_nb.lab.frontier import ABLATION_BASE, seed_differences
from mnist_nb.lab.recipe_changes import LESS_BOTH, less_one_readings, level, readings
from mnist_nb.lab.records import bare_p_value, signed_points
from mnist_nb.lab.replication import SEEDS, replication
from mnist_nb.lab.t_tests import interval, paired_t_p_value, student_t_critical
from mnist_nb.lab.verdicts import welch_p_value

# The four changes of `final`, by the names that add one to `residual` and take one out of `final`: the change,
# then where it was tested (the two together name the index's row).
CHANGE_OF = {
    "residual-width-20": ("width 20", ", added to `residual`"),
    "residual-channel-only-7x7": ("spatial gate dropped after stage 3", ", on `residual`"),
    "residual-clean-2": ("clean last 2 epochs", ", added to `residual`"),
    "residual-recalibrated": ("recalibrated BatchNorm", ", added to `residual`"),
    "final-width-16": ("width 20", " (16 without it), in `final`"),
    "final-spatial-7x7": ("spatial gate dropped after stage 3", ", in `final`"),
    "final-clean-0": ("clean last 2 epochs", ", in `final`"),
    "final-not-recalibrated": ("recalibrated BatchNorm", ", in `final`"),
    LESS_BOTH.name: ("clean last epochs and recalibration together", ", in `final`"),
}


def _reading(gain: float, shown: bool) -> str:
    """A single test's reading in the table's sign."""
    return ("it helps" if gain > 0 else "it costs") if shown else "not shown"


def _pairing(label: str, gains: list[float], level: float = SIGNIFICANCE_LEVEL) -> dict:
    """One pairing of a test: its label, mean gain, p and interval at the rule's `level` (95% at 0.05: at that
    level the interval misses 0 exactly when p is below it)."""
    return {"label": label, "gain": statistics.fmean(gains), "p_value": paired_t_p_value(gains),
            "interval": interval(gains, level), "seeds": len(gains)}  # fmt: skip


def every_test_rows(
    results: dict[str, dict], previous: dict[str, dict] | None = None, reruns: dict[str, dict] | None = None
) -> list[dict]:
    """Every test, one dict each: "test" (what is tested, where), "tested" (what alone: a component, a change of
    `final`, "final", "gap again", "fast", "final, as recorded"), "seeds" (how many, how paired), "pairings"
    (`_pairing`s: the ablation's two, one elsewhere), "study" (the rows read together), "level" (the p its rule
    asked), "rule" and "reading". From `frontier.load_results()` and, where given, the record `fast` replaced
    (`previous`) and the seeds re-run on one machine (`reruns`); each study's own records are read where they are
    kept (the replication, the recipe's changes)."""
    rows = []

    def add(test: str, seeds: str, pairings: list[dict], level: float, rule: str, reading: str, tested: str) -> None:
        rows.append({"test": test, "seeds": seeds, "pairings": pairings, "level": level, "rule": rule,
                     "reading": reading, "study": study, "tested": tested})  # fmt: skip

    study = f"the ablation: one component removed from `{ABLATION_BASE}`, seeds 0-4 as recorded, 0-9 on one machine"

    # The ablation: each component over its two pairings, read together.
    for name, item in paired_gains(results, reruns=reruns or {}).items():
        gains, one = item["test"], item.get("one machine", [])
        found = [_pairing(label, values) for label, values in (("as recorded", gains), ("one machine", one))
                 if len(values) > 1]  # fmt: skip
        add(
            f"{name}, in `{ABLATION_BASE}`",
            " / ".join(str(pairing["seeds"]) for pairing in found) + " (as recorded / one machine)",
            found,
            SIGNIFICANCE_LEVEL,
            f"< {SIGNIFICANCE_LEVEL} in both",
            reading if (reading := rule_reading(gains, one)) != "borderline" else
            # The rule as written named what helps: a borderline cost was read after the results were seen.
            "borderline (a gain)" if found[-1]["gain"] > 0 else "borderline (a cost, read after)",
            name,
        )  # fmt: skip
    study = f"GAP's cost on fresh seeds {SEEDS[0]}-{SEEDS[-1]}"
    replicated = replication()
    if replicated is not None:  # dense head minus GAP: GAP's gain is its negative
        add(
            "gap again, fresh seeds",
            f"{len(replicated['differences'])}, seeds {SEEDS[0]}-{SEEDS[-1]} (one machine)",
            [_pairing("", [-value for value in replicated["differences"]])],
            SIGNIFICANCE_LEVEL,
            f"< {SIGNIFICANCE_LEVEL}",
            "it costs (replicated)" if replicated["replicated"] else "not replicated",
            "gap again",
        )
    study = "`fast` against the recipe it replaced, after the choice"
    if previous and "fast" in previous and "fast" in results:
        gains = seed_differences(results["fast"], previous["fast"])
        found = _pairing("", gains)
        add(
            "`fast`'s pool moved up, width 20, against the recipe it replaced",
            f"{len(gains)} (one machine)",
            [found],
            SIGNIFICANCE_LEVEL,
            f"< {SIGNIFICANCE_LEVEL}, read after the choice",
            # Tested after `fast` was chosen: a p below the level describes, it does not decide.
            f"{'higher' if found['gain'] > 0 else 'lower'}, after the fact: no verdict"
            if found["p_value"] < SIGNIFICANCE_LEVEL
            else "not shown",
            "fast",
        )
    study = f"`final` against `{ABLATION_BASE}` as recorded: independent runs"
    if "final" in results and ABLATION_BASE in results:  # independent runs, two machines: Welch's t-test
        final, base = results["final"]["test_accuracy"], results[ABLATION_BASE]["test_accuracy"]
        t, _, freedom, p_value = welch_p_value(final, base)
        gain = statistics.fmean(final) - statistics.fmean(base)
        half = student_t_critical(freedom) * abs(gain / t)  # t = gain / its standard error
        welch = {"label": "", "gain": gain, "p_value": p_value, "interval": (gain - half, gain + half)}
        add(
            f"`final` against `{ABLATION_BASE}`, as recorded",
            f"{len(final)} and {len(base)} (independent, two machines)",
            [welch | {"seeds": len(final)}],
            SIGNIFICANCE_LEVEL,
            f"< {SIGNIFICANCE_LEVEL} (Welch)",
            _reading(t, p_value < SIGNIFICANCE_LEVEL),
            "final, as recorded",
        )
    # The recipe's changes on fresh seeds: each alone on residual (its minus residual's), and each out of final
    # (final's minus the one without it), by the rules stated before the runs.
    studies = [(name, test, 1) for name, test in readings().items()]
    studies += [(name, test, -1) for name, test in less_one_readings().items()]
    for name, found_readings, sign in studies:
        study = f"seeds {SEEDS[0]}-{SEEDS[-1]}: " + (
            "`final`, and each change added to `residual`" if sign > 0 else "each change taken out of `final`"
        )
        test = found_readings["test"]
        if test is None:
            continue
        found = _pairing("", [sign * value for value in test["differences"]], level(name))
        change, where = CHANGE_OF.get(name, (f"`{name}`", f", against `{ABLATION_BASE}`"))
        add(
            change + where,
            f"{len(test['differences'])}, seeds {SEEDS[0]}-{SEEDS[-1]} (one machine)",
            [found],
            level(name),
            f"< {level(name):.4g}",
            _reading(found["gain"], test["verdict"] != "not shown to differ"),
            name if name == "final" else change,
        )
    return rows


def every_test(
    results: dict[str, dict], previous: dict[str, dict] | None = None, reruns: dict[str, dict] | None = None
) -> str:
    """`every_test_rows` as a Markdown table (the same arguments); where a test has two pairings, each column
    gives both, as recorded first."""

    def both(pairings: list[dict], cell) -> str:
        return " / ".join(cell(pairing) for pairing in pairings)

    lines = [
        "| tested | seeds (pairing) | with the change minus without, points | interval at the rule's level | p "
        "| rule: p | reading |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for row in every_test_rows(results, previous, reruns):
        pairings = row["pairings"]
        gain = both(pairings, lambda pairing: signed_points(pairing["gain"]))
        bounds = both(pairings, lambda pairing: " to ".join(signed_points(end) for end in pairing["interval"]))
        p_value = both(pairings, lambda pairing: bare_p_value(pairing["p_value"]))
        lines.append(f"| {row['test']} | {row['seeds']} | {gain} | {bounds} | {p_value} | {row['rule']} | "
                     f"{row['reading']} |")  # fmt: skip
    return "\n".join(lines)
