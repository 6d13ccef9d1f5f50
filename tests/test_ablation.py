"""mnist_nb.lab.ablation: the table each step notebook ends with, generated from the records."""

from __future__ import annotations

import math
import random
import re

import pytest

from mnist_nb.lab.ablation import (
    ablation_table,
    full_budget_verdict,
    noise_band,
    one_machine_pairs,
    paired_gains,
    pairings,
    records_of,
    rule_reading,
    trained_differences,
    untrained,
)
from mnist_nb.lab.frontier import ABLATION_BASE, load_results
from mnist_nb.lab.t_tests import interval, paired_t_p_value, student_t_critical

from .test_frontier import fake_summary

# The base varies by sd 0.0570 over its 5 seeds: the band is 2.776 (Student's t, 4 degrees of freedom, from a
# table) x sqrt(2) x 0.0570 = 0.224 points.
BASE = fake_summary(ABLATION_BASE, 11_280, [99.50, 99.55, 99.45, 99.50, 99.60])
BAND = 0.2238


def verdict(removal_accuracies: list[float]) -> str:
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, removal_accuracies)
    return full_budget_verdict("batchnorm", {ABLATION_BASE: BASE, removal["name"]: removal})


def test_the_band_is_student_t_times_the_sd_of_a_two_run_difference_of_the_base():
    assert noise_band(BASE) == pytest.approx(BAND, abs=1e-4)


def test_the_band_holds_19_in_20_new_two_run_differences():
    """Simulated seeds: a band from 5 runs' sd covers the difference of two further runs 95% of the time
    (2 sd, the band without Student's t, would cover about 88%)."""
    generator = random.Random(0)
    trials, covered = 20_000, 0
    for _ in range(trials):
        runs = [generator.gauss(99.5, 0.08) for _ in range(7)]
        covered += abs(runs[5] - runs[6]) < noise_band({"test_accuracy": runs[:5]})
    assert covered / trials == pytest.approx(0.95, abs=0.01)


def summary_rows(text: str) -> dict[str, list[str]]:
    """The verdict's rows under its seeds, by label: one value per pairing ("95% interval": "-0.03 to +0.52")."""
    found = {}
    for line in text.splitlines():
        for label in ("seeds", "mean gain", "p", "95% interval", "reading"):
            if line.startswith(label + " "):
                rest = line[len(label) :].strip()
                found[label] = re.findall(r"[-+]\d\.\d\d to [-+]\d\.\d\d|not shown|\S+(?: \S+)*?(?=\s{2,}|$)", rest)
    return found


def unwrap(text: str) -> str:
    """The verdict with its notes' wrapped lines joined back (`records.note` indents continuations by two)."""
    return re.sub(r"\n  (?=\S)", " ", text)


def test_the_verdict_is_a_table_of_seeds_and_under_it_a_paired_t_test_on_the_mean_gain():
    # The base's seeds 0-4 score 99.50, 99.55, 99.45, 99.50, 99.60: removals far below, far above, near, split.
    below = verdict([99.20, 99.30, 99.20, 99.25, 99.30])
    lines = below.splitlines()
    assert lines[1].split() == ["as", "recorded"] and lines[2].split() == ["seed", "with", "without", "gain"]
    assert lines[3].split() == ["0", "99.50", "99.20", "+0.30"] and lines[7].split() == ["4", "99.60", "99.30", "+0.30"]
    # Gains 0.30, 0.25, 0.25, 0.25, 0.30 (sd 0.0274): 0.27 +- 2.776 * 0.0274 / sqrt(5) = 0.236 to 0.304.
    assert summary_rows(below) == {
        "seeds": ["5"],
        "mean gain": ["+0.27"],
        "p": ["< 0.001"],
        "95% interval": ["+0.24 to +0.30"],
        "reading": ["a gain"],
    }
    assert max(len(line) for line in lines) <= 110  # reads on GitHub without scrolling
    band = [line for line in unwrap(below).splitlines() if line.startswith("noise band")][0]
    assert "+-0.22" in band and band.endswith("outside: 5 of 5 as recorded")  # the band is 0.22
    assert summary_rows(verdict([99.80, 99.85, 99.75, 99.80, 99.90]))["reading"] == ["a cost"]
    assert summary_rows(verdict([99.48, 99.57, 99.45, 99.46, 99.62]))["reading"] == ["not shown"]
    # One seed far off, the others not: the mean moves, the t-test weighs it against the pairs' spread.
    split = verdict([99.20, 99.55, 99.45, 99.50, 99.60])
    assert "outside: 1 of 5 as recorded" in split and summary_rows(split)["reading"] == ["not shown"]
    assert "a first reading" not in below and "rule" not in below  # five seeds, one pairing: no caveat, no rule
    two = verdict([99.20, 99.30])
    assert "only 2 seeds as recorded: a first reading" in two and summary_rows(two)["seeds"] == ["2"]
    assert "-0.00" not in verdict([99.50, 99.55, 99.45, 99.50, 99.60 + 1e-9])  # a nothing reads +0.00
    single = summary_rows(verdict([99.20]))  # one seed: no test to run, the band alone
    assert single["p"] == ["-"] and single["reading"] == ["too few for a test"]
    assert "only 1 seed as recorded: a first reading" in verdict([99.20])


def test_an_unrecorded_removal_says_which_command_records_it():
    assert "python -m mnist_nb frontier" in full_budget_verdict("batchnorm", {ABLATION_BASE: BASE})


def test_every_step_notebook_component_has_a_recorded_verdict():
    results = load_results()
    for removed in ("batchnorm", "dropout", "augmentation", "gap", "attention", "skip"):
        assert "not recorded" not in full_budget_verdict(removed, results)


def with_t(t: float, count: int) -> list[float]:
    """`count` paired differences whose t statistic, mean / (sd / sqrt(count)), is `t`."""
    signs = [(-1.0) ** index for index in range(count - count % 2)] + [0.0] * (count % 2)
    spread = math.sqrt(sum(value**2 for value in signs) / (count - 1))
    return [value + t * spread / math.sqrt(count) for value in signs]


def test_paired_t_p_value_matches_students_t_table():
    # Two-sided 5 % critical values of Student's t (any statistics table), for 1, 2, 4, 5 and 10 degrees of freedom.
    for t, freedom in [(12.706, 1), (4.303, 2), (2.776, 4), (2.571, 5), (2.228, 10)]:
        assert math.isclose(paired_t_p_value(with_t(t, freedom + 1)), 0.05, abs_tol=1e-4)
    assert math.isclose(paired_t_p_value(with_t(1.0, 5)), 0.3739, abs_tol=1e-4)  # t = 1, 4 degrees of freedom
    assert paired_t_p_value(with_t(-2.776, 5)) == paired_t_p_value(with_t(2.776, 5))  # two-sided
    assert paired_t_p_value([0.1, -0.1, 0.0]) == 1.0  # mean 0: no evidence
    assert paired_t_p_value([0.2, 0.2, 0.2]) == 0.0  # no spread at all around a nonzero mean
    with pytest.raises(ValueError, match="at least two pairs"):  # one pair has no spread to test against
        paired_t_p_value([0.3])
    assert [round(student_t_critical(freedom), 3) for freedom in (1, 4, 10)] == [12.706, 2.776, 2.228]


INTEL = {"device_name": "Intel(R) Xeon(R) Processor", "torch": "2.15.0+cu132"}
AMD = {"device_name": "AMD EPYC", "torch": "2.14.1+cu130"}


def test_with_the_base_rerun_where_the_removal_ran_every_pair_is_on_one_machine():
    """Seeds 0-1 of the removal ran where the base ran, seeds 2-4 elsewhere; the base's seeds 2-4 re-run there
    give a second pairing, reported beside the recorded one."""
    base = BASE | {"machine": INTEL}
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, [99.20, 99.30, 99.20, 99.25, 99.30])
    removal |= {"machine": INTEL, "seed_machines": [INTEL, INTEL, AMD, AMD, AMD]}
    rerun = fake_summary(ABLATION_BASE, 11_280, [99.40, 99.30, 99.35]) | {"seeds": [2, 3, 4], "machine": AMD}
    results = {ABLATION_BASE: base, removal["name"]: removal}
    reruns = {ABLATION_BASE: rerun}
    pairs = trained_differences(one_machine_pairs([removal], records_of(ABLATION_BASE, results, reruns)))
    assert pairs == pytest.approx([-0.30, -0.25, -0.20, -0.05, -0.05])  # seeds 2-4 against the re-run
    assert one_machine_pairs([removal], [base]) is None  # seeds 2-4 have no base run on their machine
    text = unwrap(full_budget_verdict("batchnorm", results, reruns))
    expected = paired_t_p_value([-value for value in pairs])
    assert text.splitlines()[1].split() == ["as", "recorded", "each", "pair", "on", "one", "machine"]
    # Seed 2, side by side: as recorded (99.45 with, 99.20 without) and on one machine (with re-run: 99.40).
    assert "   2    99.45   99.20  +0.25    99.40   99.20  +0.20" in text  # seed by seed: a mean can hide a pattern
    found = summary_rows(text)
    assert found["seeds"] == ["5", "5"] and found["mean gain"][1] == "+0.17"
    assert found["p"][1] == f"{expected:.3f}" and found["reading"] == ["a gain", "a gain"]
    assert "each pair on one machine: seeds 2-4 of the record had their two runs on different machines and were run " \
        "again on one (benchmarks/results/one-machine/)" in text  # fmt: skip
    # Both pairings below 0.05, one sign: the series' rule, which reads the two together, calls it an effect.
    assert text.splitlines()[-1].endswith("in neither: within seed noise): it buys accuracy")
    assert "one machine" not in full_budget_verdict("batchnorm", results)  # no re-run: the recorded pairing only
    same = {ABLATION_BASE: base, removal["name"]: removal | {"seed_machines": [INTEL] * 5}}
    assert "one machine" not in full_budget_verdict("batchnorm", same, {ABLATION_BASE: rerun})  # nothing crossed


def test_the_rule_reads_both_pairings_together():
    shown, noise = [0.30, 0.25, 0.25, 0.25, 0.30], [0.10, -0.05, 0.02, 0.08, -0.03]
    assert rule_reading(shown, shown) == "it buys accuracy"
    assert rule_reading([-value for value in shown], [-value for value in shown]) == "it costs"
    assert rule_reading(noise, shown) == "borderline"  # below 0.05 in one pairing only
    assert rule_reading(shown, [-value for value in shown]) == "borderline"  # both shown, opposite signs
    assert rule_reading(noise, noise) == "within seed noise"


def test_a_vm_image_apart_is_another_machine_and_both_sides_rerun_on_one_pair_there():
    """Seeds 2-4 of the removal ran on an AMD VM, the base's re-run on another AMD VM image (same processor name and
    torch): not one machine. Both re-run on that second image: every pair of seeds 2-4 is there."""
    old_image, new_image = AMD | {"platform": "Linux-fc-v1045"}, AMD | {"platform": "Linux-fc-v1272"}
    base = BASE | {"machine": INTEL}
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, [99.20, 99.30, 99.20, 99.25, 99.30])
    removal |= {"machine": INTEL, "seed_machines": [INTEL, INTEL, old_image, old_image, old_image]}
    base_rerun = fake_summary(ABLATION_BASE, 11_280, [99.40, 99.30, 99.35]) | {"seeds": [2, 3, 4]}
    base_rerun["machine"] = new_image
    removal_rerun = fake_summary(removal["name"], 11_192, [99.10, 99.28, 99.33]) | {"seeds": [2, 3, 4]}
    removal_rerun["machine"] = new_image
    results = {ABLATION_BASE: base, removal["name"]: removal}
    base_only = {ABLATION_BASE: base_rerun}
    assert one_machine_pairs(records_of(removal["name"], results, base_only), [base, base_rerun]) is None
    both = {ABLATION_BASE: base_rerun, removal["name"]: removal_rerun}
    pairs = one_machine_pairs(records_of(removal["name"], results, both), records_of(ABLATION_BASE, results, both))
    differences = trained_differences(pairs)
    assert differences == pytest.approx([-0.30, -0.25, -0.30, -0.02, -0.02])  # seeds 0-1 as recorded, 2-4 re-run
    assert "each pair on one machine: seeds 2-4 of the record" in full_budget_verdict("batchnorm", results, both)
    assert "one machine" not in full_budget_verdict("batchnorm", results, base_only)
    # A re-run stuck at chance (it answers one digit for every image) is reported, not averaged.
    removal_rerun["test_accuracy"] = [11.35, 99.28, 99.33]
    pairs = one_machine_pairs(records_of(removal["name"], results, both), records_of(ABLATION_BASE, results, both))
    assert untrained(pairs) == [(2, 11.35, 99.40)]
    assert trained_differences(pairs) == pytest.approx([-0.30, -0.25, -0.02, -0.02])
    gains = [0.30, 0.25, 0.02, 0.02]
    text = unwrap(full_budget_verdict("batchnorm", results, both))
    chance = "* seed 2, each pair on one machine: the run without batchnorm stayed at chance (11.35%, below 20%)"
    assert chance in text
    assert "   2    99.45   99.20  +0.25    99.40   11.35      *" in text  # shown in the table, not averaged
    found = summary_rows(text)
    assert found["seeds"] == ["5", "4"] and found["mean gain"][1] == "+0.15"
    assert found["p"][1] == f"{paired_t_p_value(gains):.3f}"
    item = paired_gains(results, reruns=both)["batchnorm"]
    assert item["at chance"] == [("one machine", 2)]
    assert item["one machine"] == pytest.approx([0.30, 0.25, 0.02, 0.02])  # gains: with minus without


def test_further_seeds_rerun_on_one_machine_join_that_pairing_only():
    """Seeds 5-6 trained on the re-runs' machine, base and removal: the pairing on one machine gains two pairs,
    the recorded pairing keeps its five; a further seed the base lacks there, or ran elsewhere, is left out."""
    image = AMD | {"platform": "Linux-fc-v1272"}
    base = BASE | {"machine": INTEL}
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, [99.20, 99.30, 99.20, 99.25, 99.30])
    removal |= {"machine": INTEL, "seed_machines": [INTEL, INTEL, AMD, AMD, AMD]}
    base_rerun = fake_summary(ABLATION_BASE, 11_280, [99.40, 99.30, 99.35, 99.50, 99.45]) | {"seeds": [2, 3, 4, 5, 6]}
    removal_rerun = fake_summary(removal["name"], 11_192, [99.10, 99.28, 99.33, 99.40, 99.35, 99.0])
    removal_rerun |= {"seeds": [2, 3, 4, 5, 6, 7], "machine": image}
    base_rerun["machine"] = image
    results = {ABLATION_BASE: base, removal["name"]: removal}
    reruns = {ABLATION_BASE: base_rerun, removal["name"]: removal_rerun}
    found = pairings(removal["name"], results, reruns)
    assert [pair[0] for pair in found["as recorded"]] == [0, 1, 2, 3, 4]
    assert [pair[0] for pair in found["one machine"]] == [0, 1, 2, 3, 4, 5, 6]  # seed 7 has no base run there
    assert trained_differences(found["one machine"])[5:] == pytest.approx([-0.10, -0.10])
    text = unwrap(full_budget_verdict("batchnorm", results, reruns))
    assert "seeds 2-4 of the record had their two runs on different machines and were run again on one, seeds 5, " \
        "6 added" in text  # fmt: skip
    assert summary_rows(text)["seeds"] == ["5", "7"]
    assert len(paired_gains(results, reruns=reruns)["batchnorm"]["one machine"]) == 7


def test_runs_at_chance_are_named_on_either_side_and_in_the_recorded_pairing_too():
    base = BASE | {"test_accuracy": [99.50, 99.55, 9.80, 99.50, 99.60]}  # the base's seed 2 stayed at chance
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, [11.35, 99.30, 9.90, 99.25, 99.30])
    results = {ABLATION_BASE: base, removal["name"]: removal}
    assert untrained(pairings(removal["name"], results, {})["as recorded"]) == [
        (0, 11.35, 99.50),
        (2, 9.90, 9.80),
    ]
    text = unwrap(full_budget_verdict("batchnorm", results))
    assert "\n   0    99.50   11.35      *\n" in text  # the table shows every seed as it was, a run at chance starred
    assert "* seed 0, as recorded: the run without batchnorm stayed at chance (11.35%" in text
    assert "* seed 2, as recorded: the run without batchnorm stayed at chance (9.90%" in text
    assert "* seed 2, as recorded: the run with batchnorm stayed at chance (9.80%" in text
    assert summary_rows(text)["seeds"] == ["3"]  # the other three, weighed without them
    item = paired_gains(results)["batchnorm"]
    assert item["at chance"] == [("as recorded", 0), ("as recorded", 2)] and len(item["test"]) == 3
    assert "batchnorm, as recorded, seed 0: a run at chance, left out" in ablation_table(results)


def test_the_interval_is_students_t_around_the_mean():
    low, high = interval([0.1, 0.2, 0.3])
    half = 4.303 * 0.1 / math.sqrt(3)  # t(2) = 4.303
    assert (low, high) == pytest.approx((0.2 - half, 0.2 + half), abs=1e-3)
