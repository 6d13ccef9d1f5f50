"""A finding tested again on fresh seeds, by a rule written before they ran.

Over seeds 0-9 with every pair on one machine, removing GAP raised test accuracy beyond seed noise (notebook
09), a reading made after the results were seen. So `residual` and `residual-no-gap` trained seeds 10-19 on one
machine (`benchmarks/one_machine.py residual residual-no-gap --seeds 10 ... 19 --study gap-replication`),
kept apart from the ablation's pairing. The rule, committed before they ran (`benchmarks/RESULTS.md`, ninth
session): replicated if, over those seeds alone, the mean difference (removal minus base, test) is above 0
with a paired t-test p below `SIGNIFICANCE_LEVEL`; otherwise not replicated.
"""

from __future__ import annotations

import statistics

from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.lab.ablation import same_machine, seed_machine
from mnist_nb.lab.frontier import ABLATION_BASE, RESULTS_DIR, load_results, seed_pairs
from mnist_nb.lab.records import signed_points
from mnist_nb.lab.t_tests import interval, paired_t_p_value

REPLICATION_DIR = RESULTS_DIR / "gap-replication"
REMOVAL = f"{ABLATION_BASE}-no-gap"
SEEDS = tuple(range(10, 20))  # fresh: the ablation's pairings read seeds 0-9


def paired_reading(summary: dict, base: dict, split: str = "test") -> dict | None:
    """`summary` against `base` over `SEEDS`: the pairs (seed, its, base's), the differences (its minus base's),
    their mean, paired t-test p and 95% interval, and the seeds whose pair crossed machines (a pair across
    machines acts like two seeds); None until both hold every seed. `split`: "test" or "val"."""
    pairs = [pair for pair in seed_pairs(summary, base, split) if pair[0] in SEEDS]
    if len(pairs) < len(SEEDS):
        return None
    crossed = [
        seed
        for seed, *_ in pairs
        if not same_machine(
            seed_machine(summary, summary["seeds"].index(seed)), seed_machine(base, base["seeds"].index(seed))
        )
    ]
    differences = [value - base_value for _, value, base_value in pairs]
    return {
        "pairs": pairs,
        "differences": differences,
        "mean": statistics.fmean(differences),
        "p_value": paired_t_p_value(differences),
        "interval": interval(differences),
        "crossed": crossed,
    }


def replication(records: dict[str, dict] | None = None) -> dict | None:
    """GAP's cost on the fresh seeds (`paired_reading` of the removal against the base) and whether the rule
    calls it replicated; None until both records hold every seed of `SEEDS`.
    `records`: `load_results(REPLICATION_DIR)`, read when not given."""
    records = load_results(REPLICATION_DIR) if records is None else records
    if not {ABLATION_BASE, REMOVAL} <= records.keys():
        return None
    found = paired_reading(records[REMOVAL], records[ABLATION_BASE])
    if found is None:
        return None
    # Every pair on one machine, as the rule asks.
    return found | {"replicated": found["mean"] > 0 and found["p_value"] < SIGNIFICANCE_LEVEL and not found["crossed"]}


def replication_sentence(records: dict[str, dict] | None = None) -> str:
    """The replication's reading in one sentence, or what is missing."""
    found = replication(records)
    if found is None:
        return f"GAP's cost on fresh seeds {SEEDS[0]}-{SEEDS[-1]}: not recorded yet ({REPLICATION_DIR.name})"
    # In the series' one sign, a gain (with GAP minus without it): the differences (removal minus base) turned round.
    low, high = found["interval"]
    higher = sum(difference > 0 for difference in found["differences"])
    verdict = "replicated" if found["replicated"] else "not replicated"
    return (
        f"GAP's cost on fresh seeds {SEEDS[0]}-{SEEDS[-1]}, every pair on one machine, by a rule stated before they "
        f"ran (replicated if the dense head scores higher with p < {SIGNIFICANCE_LEVEL}): GAP's gain (with GAP minus "
        f"the dense head) {signed_points(-found['mean'])} points on average, the dense head higher on {higher} of "
        f"{len(found['differences'])} seeds, paired t-test {format_p_value(found['p_value'])}, 95% interval "
        f"{signed_points(-high)} to {signed_points(-low)}: {verdict}"
        + (f" (seeds {found['crossed']} crossed machines)" if found["crossed"] else "")
    )
