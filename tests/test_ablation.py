"""mnist_nb.lab.ablation: the sentence each step notebook ends with, generated from the records."""

from __future__ import annotations

import math
import statistics

import pytest

from mnist_nb.lab.ablation import full_budget_verdict
from mnist_nb.lab.frontier import ABLATION_BASE, load_results, noise_band

from .test_frontier import fake_summary

# The base varies by sd 0.05 over its seeds: the band is 2 * sqrt(2) * 0.05 = 0.14 points.
BASE = fake_summary(ABLATION_BASE, 11_280, [99.50, 99.55, 99.45, 99.50, 99.60])
BAND = 2 * math.sqrt(2) * statistics.stdev(BASE["test_accuracy"])


def verdict(removal_accuracies: list[float]) -> str:
    removal = fake_summary(f"{ABLATION_BASE}-no-batchnorm", 11_192, removal_accuracies)
    return full_budget_verdict("batchnorm", {ABLATION_BASE: BASE, removal["name"]: removal})


def test_the_band_is_two_sd_of_a_two_run_difference_of_the_base():
    assert noise_band(BASE) == pytest.approx(BAND)


def test_the_verdict_reads_the_paired_gains_against_the_band():
    # Seeds 0 and 1 of the base score 99.50 and 99.55: removals far below, far above, near, and split.
    assert "scored +0.30 and +0.35 points" in verdict([99.20, 99.20]) and "it buys accuracy" in verdict([99.20, 99.20])
    assert "it costs accuracy" in verdict([99.80, 99.85])
    assert "Within the noise on every seed: no effect shown" in verdict([99.48, 99.57])
    assert "Beyond the noise on 1 of 2 seeds: not settled" in verdict([99.20, 99.55])
    assert "(seeds 0, 1)" in verdict([99.20, 99.20]) and "a first reading" in verdict([99.20, 99.20])
    assert "a first reading" not in verdict([99.20] * 5)  # five paired seeds: no caveat


def test_an_unrecorded_removal_says_which_command_records_it():
    assert "python -m mnist_nb frontier" in full_budget_verdict("batchnorm", {ABLATION_BASE: BASE})


def test_every_step_notebook_component_has_a_recorded_verdict():
    results = load_results()
    for removed in ("batchnorm", "dropout", "augmentation", "gap", "attention", "skip"):
        assert "not recorded" not in full_budget_verdict(removed, results)
