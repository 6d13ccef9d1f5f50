"""GAP's cost on fresh seeds: the rule stated before they ran, applied to records."""

from __future__ import annotations

import statistics

import pytest

from mnist_nb.lab.records import signed_points
from mnist_nb.lab.replication import REMOVAL, SEEDS, replication, replication_sentence
from mnist_nb.lab.t_tests import paired_t_p_value
from tests.test_frontier import fake_summary

AMD = {"device_name": "AMD EPYC", "torch": "2.14.1", "platform": "Linux-fc-v1272"}


def records(differences: list[float], machines: list[dict] | None = None) -> dict[str, dict]:
    base = [99.50 + 0.01 * (index % 3) for index in range(len(SEEDS))]
    found = {
        "residual": fake_summary("residual", 11_280, base) | {"seeds": list(SEEDS), "machine": AMD},
        REMOVAL: fake_summary(REMOVAL, 18_960, [b + d for b, d in zip(base, differences, strict=True)]),
    }
    found[REMOVAL] |= {"seeds": list(SEEDS), "machine": AMD}
    if machines:
        found[REMOVAL]["seed_machines"] = machines
    return found


def test_a_dense_head_higher_beyond_seed_noise_is_replicated():
    differences = [0.06, 0.02, 0.10, 0.04, 0.08, 0.03, 0.07, 0.05, 0.09, 0.01]
    found = replication(records(differences))
    assert found["differences"] == pytest.approx(differences)
    assert found["p_value"] == pytest.approx(paired_t_p_value(differences)) and found["p_value"] < 0.05
    assert found["replicated"]
    sentence = replication_sentence(records(differences))
    assert found["mean"] == pytest.approx(statistics.fmean(differences))
    # The sentence speaks in the series' sign, a gain (with GAP minus without): the dense head's lead turned round.
    assert f"GAP's gain (with GAP minus the dense head) {signed_points(-found['mean'])} points on average" in sentence
    low, high = found["interval"]
    assert f"95% interval {signed_points(-high)} to {signed_points(-low)}" in sentence
    assert "the dense head higher on 10 of 10 seeds" in sentence and sentence.endswith(": replicated")


def test_a_mean_within_seed_noise_or_the_other_way_is_not_replicated():
    noisy = [0.10, -0.08, 0.05, -0.06, 0.02, -0.01, 0.07, -0.09, 0.04, -0.03]
    assert not replication(records(noisy))["replicated"]
    assert replication_sentence(records(noisy)).endswith(": not replicated")
    lower = [-value for value in [0.06, 0.02, 0.10, 0.04, 0.08, 0.03, 0.07, 0.05, 0.09, 0.01]]
    assert replication(records(lower))["p_value"] < 0.05 and not replication(records(lower))["replicated"]


def test_pairs_across_machines_do_not_count_and_missing_seeds_wait():
    differences = [0.06, 0.02, 0.10, 0.04, 0.08, 0.03, 0.07, 0.05, 0.09, 0.01]
    other = AMD | {"platform": "Linux-fc-v1045"}
    found = replication(records(differences, [other] + [AMD] * 9))
    assert found["crossed"] == [10] and not found["replicated"]
    partial = records(differences)
    partial[REMOVAL] |= {"seeds": list(SEEDS[:5]), "test_accuracy": partial[REMOVAL]["test_accuracy"][:5]}
    assert replication(partial) is None
    assert "not recorded yet" in replication_sentence(partial)
    assert replication({}) is None
