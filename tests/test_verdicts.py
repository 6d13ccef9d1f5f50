"""mnist_nb.lab.verdicts: notebook 09's "What mattered", each verdict following from the records' numbers."""

from __future__ import annotations

import math
import statistics

import pytest

from mnist_nb.comparison import format_p_value
from mnist_nb.lab.ablation import ONE_MACHINE_DIR, paired_gains
from mnist_nb.lab.frontier import RESULTS_DIR, load_results
from mnist_nb.lab.t_tests import paired_t_p_value, student_t_critical
from mnist_nb.lab.verdicts import (
    detectable,
    gap_trade,
    replaced_reading,
    untrained_bullet,
    welch_t,
    what_mattered,
)

from .test_frontier import fake_summary
from .test_notebooks import markdown_printed

AMD = {"device_name": "AMD EPYC", "torch": "2.14.1"}
INTEL = {"device_name": "Intel(R) Xeon(R) Processor", "torch": "2.15.0"}
BASE = [99.50, 99.60, 99.45, 99.55, 99.52]


def ablation(**removals: list[float]) -> dict[str, dict]:
    """The base and each removal's records, the removal given as its differences to the base on seeds 0-4."""
    records = {"residual": fake_summary("residual", 11_280, BASE)}
    for name, differences in removals.items():
        accuracies = [round(base + difference, 2) for base, difference in zip(BASE, differences, strict=True)]
        records[f"residual-no-{name}"] = fake_summary(f"residual-no-{name}", 11_280, accuracies)
    return records


def test_welch_t_and_its_degrees_of_freedom_by_hand():
    first, second = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0]
    a, b = statistics.variance(first) / 4, statistics.variance(second) / 3  # 5/12 and 4/3
    t, freedom = welch_t(first, second)
    assert t == pytest.approx((2.5 - 4.0) / math.sqrt(a + b))
    assert freedom == pytest.approx((a + b) ** 2 / (a**2 / 3 + b**2 / 2))


def test_a_removal_lower_on_every_seed_beyond_noise_is_named_as_helping():
    text = what_mattered(
        ablation(batchnorm=[-0.30, -0.35, -0.25, -0.40, -0.30], dropout=[0.03, -0.02, -0.05, 0.07, 0.02])
    )
    helped = text.splitlines()[0]
    # In the page's sign, a gain: with it minus without, so a removal that lowers accuracy reads positive.
    assert helped.startswith("- **What measurably helped.** batchnorm, with it minus without, +0.32 points on average")
    assert "higher with it on 5 of 5 seeds (p < 0.001)" in helped
    unseen = text.splitlines()[1]
    assert "dropout" in unseen and "batchnorm" not in unseen
    sizes = [0.03, -0.02, -0.05, 0.07, 0.02]
    assert f"over the 5 recorded seeds: dropout {detectable(sizes):.2f}. An effect" in unseen
    images = round(detectable(sizes) * 100)
    assert "found only about half the time, a smaller one less often, a larger one more often." in unseen
    assert f"that size is about {images} test images in 10,000: effects that large, and sometimes larger," in unseen
    assert "(t = 2.776 for 5 seeds)" in unseen  # no pairing with more seeds here


def test_without_an_effect_the_closest_is_named_with_the_size_it_would_have_needed():
    differences = [-0.10, -0.39, -0.18, -0.01, -0.55]  # the recorded BatchNorm pairing: p = 0.067
    text = what_mattered(ablation(batchnorm=differences, skip=[-0.08, -0.15, 0.08, 0.20, -0.06]))
    first = text.splitlines()[0]
    assert "nothing beyond seed noise (every p >= 0.05).** Closest, batchnorm" in first
    assert "+0.25 points on average, higher with it on 5 of 5 seeds (p = 0.067)" in first
    assert f"a mean of {2.776 * statistics.stdev(differences) / math.sqrt(5):.2f} points would have counted" in first


def test_a_removal_shown_in_one_pairing_only_is_borderline():
    """Recorded pairs cross machines on seeds 2-4 (p >= 0.05); the base re-run on the removals' machine (same
    processor name and release, no VM image named) pairs them on one machine, where p < 0.05: borderline."""
    records = ablation(batchnorm=[-0.10, -0.39, -0.18, -0.01, -0.55], skip=[-0.08, -0.15, 0.08, 0.20, -0.06])
    intel, amd = {"device_name": "Intel", "torch": "2.15"}, {"device_name": "AMD", "torch": "2.14"}
    records["residual"]["machine"] = intel
    for name in ("residual-no-batchnorm", "residual-no-skip"):
        records[name] |= {"machine": intel, "seed_machines": [intel, intel, amd, amd, amd]}
    rerun = fake_summary("residual", 11_280, [99.48, 99.61, 99.47]) | {"seeds": [2, 3, 4], "machine": amd}
    text = what_mattered(records, reruns={"residual": rerun})
    line = text.splitlines()[0]
    one_machine = [-0.10, -0.39, -0.21, -0.07, -0.50]  # made up so that p = 0.038
    assert paired_t_p_value(one_machine) < 0.05 <= paired_t_p_value([-0.10, -0.39, -0.18, -0.01, -0.55])
    assert line.startswith("- **Borderline** (lower without it, p < 0.05 in one pairing, not the other): batchnorm,")
    assert (
        "(p = 0.067 as recorded, where some pairs cross machines;" in line and "with every pair on one machine)" in line
    )
    assert "skip" not in line and "nothing beyond seed noise" not in text
    # How often seed noise alone gives a p this small somewhere among the 2 components tested.
    smallest = paired_t_p_value(one_machine)
    assert f"a p of {smallest:.4f} or less would turn up among them about {1 - (1 - smallest) ** 2:.1%}" in line
    assert "nothing beyond seed noise" in what_mattered(records)  # without the re-run: the recorded pairing only
    # The ablation figure's data: the recorded pairs, and with the re-run the pairs on one machine as well.
    paired = paired_gains(records, reruns={"residual": rerun})  # with minus without: the removals' turned round
    assert paired["batchnorm"]["test"] == pytest.approx([0.10, 0.39, 0.18, 0.01, 0.55])
    assert paired["batchnorm"]["one machine"] == pytest.approx([-value for value in one_machine])
    assert all("one machine" not in item for item in paired_gains(records).values())


def test_more_seeds_on_one_machine_give_the_smaller_size_a_component_could_hide():
    """Seeds 2-4 of `skip` crossed machines; base and removal re-run there on seeds 2-9: ten pairs on one
    machine, and the size the t-test would have called, from those ten, beside the five recorded."""
    records = ablation(batchnorm=[-0.30, -0.35, -0.25, -0.40, -0.30], skip=[-0.08, -0.15, 0.08, 0.20, -0.06])
    records["residual"]["machine"] = INTEL
    old, new = AMD | {"platform": "Linux-fc-v1045"}, AMD | {"platform": "Linux-fc-v1272"}  # two VM images
    records["residual-no-skip"] |= {"machine": INTEL, "seed_machines": [INTEL, INTEL, old, old, old]}
    base = [99.48, 99.61, 99.47, 99.50, 99.52, 99.46, 99.55, 99.49]
    skip = [99.50, 99.55, 99.49, 99.47, 99.56, 99.44, 99.50, 99.52]
    reruns = {
        "residual": fake_summary("residual", 11_280, base) | {"seeds": list(range(2, 10)), "machine": new},
        "residual-no-skip": fake_summary("residual-no-skip", 11_280, skip)
        | {"seeds": list(range(2, 10)), "machine": new},
    }
    unseen = [line for line in what_mattered(records, reruns=reruns).splitlines() if "could miss" in line][0]
    ten = [-0.08, -0.15] + [round(a - b, 2) for a, b in zip(skip, base, strict=True)]
    assert f"; with every pair on one machine, over more seeds: skip {detectable(ten):.2f} (10 seeds). An" in unseen
    # What could still hide is read from the pairing with more seeds.
    assert f"that size is about {round(detectable(ten) * 100)} test images" in unseen
    assert f"(t = 2.776 for 5 seeds, {student_t_critical(9):.3f} for 10 seeds)" in unseen
    assert detectable(ten) < detectable([-0.08, -0.15, 0.08, 0.20, -0.06])


def test_the_gap_bullet_reads_both_pairings_and_names_a_cost_below_the_level_in_one_pairing():
    """GAP's removal within seed noise as recorded, higher on every seed on one machine: the bullet gives both,
    and the cost in test images of the dense head's lead, with how often noise alone gives such a p."""
    records = ablation(batchnorm=[-0.30, -0.35, -0.25, -0.40, -0.30], gap=[0.02, -0.03, 0.08, 0.23, -0.02])
    records["residual"]["machine"] = INTEL
    old, new = AMD | {"platform": "Linux-fc-v1045"}, AMD | {"platform": "Linux-fc-v1272"}
    records["residual-no-gap"] |= {"machine": INTEL, "seed_machines": [INTEL, INTEL, old, old, old]}
    base = [99.48, 99.61, 99.47, 99.50, 99.52, 99.46, 99.55, 99.49]
    gains = [0.06, 0.05, 0.08, 0.07, 0.05, 0.09, 0.06, 0.04]
    reruns = {
        name: fake_summary(name, 11_280, values) | {"seeds": list(range(2, 10)), "machine": new}
        for name, values in (
            ("residual", base),
            ("residual-no-gap", [round(b + g, 2) for b, g in zip(base, gains, strict=True)]),
        )
    }
    line = gap_trade(records, reruns=reruns)
    assert "GAP" not in what_mattered(records, reruns=reruns)  # read with its replication, not under the index
    recorded, ten = [0.02, -0.03, 0.08, 0.23, -0.02], [0.02, -0.03, *gains]
    # In the page's sign, a gain: with GAP minus without, so the dense head's lead prints negative.
    assert "GAP's gain (test accuracy with it minus without), as recorded over 5 seeds: -0.06 points" in line
    assert f"-0.06 points ({format_p_value(paired_t_p_value(recorded))}), within" in line
    assert (
        f"with every pair on one machine, over 10 seeds: -{statistics.fmean(ten):.2f} points "
        f"({format_p_value(paired_t_p_value(ten))}), below 0.05 in this pairing" in line
    )
    assert "GAP traded about 5 test images in 10,000 for 7,680 fewer parameters" in line
    assert "A component judged borderline (the rule read the other way): the dense head scored higher" in line
    assert "a p of 0.0014 or less would turn up among the 2 components about 0.3% of the time." in line
    assert "replicated" not in line  # the replication prints its own sentence beside it


def test_a_rerun_stuck_at_chance_is_reported_beside_its_recorded_run_and_left_out_of_the_pairing():
    records = ablation(batchnorm=[-0.10, -0.39, -0.18, -0.01, -0.55])
    intel, amd = {"device_name": "Intel", "torch": "2.15"}, {"device_name": "AMD", "torch": "2.14"}
    records["residual"]["machine"] = intel
    records["residual-no-batchnorm"] |= {"machine": intel, "seed_machines": [intel, intel, amd, amd, amd]}
    other_amd = amd | {"platform": "another VM image"}
    reruns = {
        "residual": fake_summary("residual", 11_280, [99.48, 99.61, 99.47]) | {"seeds": [2, 3, 4]},
        "residual-no-batchnorm": fake_summary("residual-no-batchnorm", 11_192, [11.35, 99.34, 99.32]),
    }
    reruns["residual"]["machine"] = other_amd
    reruns["residual-no-batchnorm"] |= {"seeds": [2, 3, 4], "machine": other_amd}
    text = what_mattered(records, reruns=reruns)
    recorded = records["residual-no-batchnorm"]["test_accuracy"][2]
    assert text.splitlines()[0] == (
        "- **Runs that did not train** (test accuracy below 20 %, at chance): `residual-no-batchnorm`, seed 2, "
        "on one machine, 11.35 % (its recorded run, on another AMD VM image with the same torch release: "
        f"{recorded:.2f} %). Such a run is reported, not averaged: the pairings leave it out."
    )
    # On another CPU the recorded run is on another machine; a seed beyond the record has no recorded run.
    reruns["residual-no-batchnorm"]["machine"] = reruns["residual"]["machine"] = intel | {"platform": "new"}
    assert "(its recorded run, on another machine: " in what_mattered(records, reruns=reruns).splitlines()[0]
    failure = [("residual-no-batchnorm", "one machine", (5, 11.35, 99.50))]
    beyond = untrained_bullet(failure, records, reruns)
    assert "`residual-no-batchnorm`, seed 5, on one machine, 11.35 %. Such" in beyond
    # A base run at chance fails every removal's pair, and is named once.
    records = ablation(batchnorm=[-0.10, -0.39, -0.18, -0.01, -0.55], skip=[-0.08, -0.15, 0.08, 0.20, -0.06])
    records["residual"]["test_accuracy"][3] = 9.80
    first = what_mattered(records).splitlines()[0]
    assert first.count("`residual`, seed 3, as recorded, 9.80 %") == 1 and "residual-no-" not in first
    # The pairing on one machine: seeds 0, 1, 3 and 4 (-0.10, -0.39, -0.27, -0.15).
    assert "+0.23 points, p = " in text and "higher with it on 4 of 4, with every pair on one machine" in text


def test_the_replaced_recipe_is_paired_by_seed_and_the_machines_are_compared():
    old = fake_summary("fast", 10_786, [99.43, 99.37, 99.45], epochs=7) | {"machine": AMD}
    new = fake_summary("fast", 16_338, [99.53, 99.46, 99.55], epochs=7) | {"machine": AMD}
    new["val_accuracy"] = [value - 0.2 for value in old["test_accuracy"]]  # validation unmoved
    new["config"] = {"validation_size": 5000}
    text = replaced_reading(new, old)
    assert "10,786 -> 16,338 parameters" in text and "on the same machine, seed for seed (3 seeds)" in text
    assert "test accuracy higher on 3 of 3, +0.10 points (p = " in text and "validation +0.00 points" in text
    assert "On the 5,000 validation images that chose it, the lead is within seed noise" in text
    assert "on different machines" in replaced_reading(new | {"machine": INTEL}, old)


def test_the_committed_notebook_reads_the_current_records():
    """09's committed "What mattered" is what the records give now: a record that changes without 09
    re-executed would leave the page reading old verdicts."""
    results, reruns = load_results(), load_results(ONE_MACHINE_DIR)
    assert markdown_printed("09_frontier", "what_mattered(") == [what_mattered(results, reruns=reruns)]
    assert markdown_printed("09_frontier", "gap_trade(") == [gap_trade(results, reruns=reruns)]
    replaced = replaced_reading(results["fast"], load_results(RESULTS_DIR / "previous")["fast"])
    assert markdown_printed("09_frontier", "replaced_reading(") == [replaced]
