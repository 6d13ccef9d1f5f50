"""mnist_nb.lab.race: the race against the script read from its records, in factors."""

from __future__ import annotations

import pytest

from mnist_nb.lab.race import model_swap_factors, model_swap_reading, race_factors


def test_race_factors_split_the_ratio_into_epochs_and_seconds_an_epoch():
    script_runs = [
        {"epoch": 14, "per_epoch_seconds": 20.0, "seconds": 281.0},
        {"epoch": 12, "per_epoch_seconds": 22.0, "seconds": 267.0},
        {"epoch": None, "per_epoch_seconds": 99.0, "seconds": 400.0},  # never reached the target: left out
    ]
    fast = {"epochs": 7, "train_seconds_mean": 84.0, "race": {"script_runs": script_runs, "our_seconds_mean": 89.0}}
    factors = race_factors(fast)
    assert factors["script_epochs"] == 13 and factors["our_epochs"] == 7
    assert factors["script_epoch_seconds"] == pytest.approx(21.0) and factors["our_epoch_seconds"] == 12.0
    assert factors["epochs"] == pytest.approx(13 / 7) and factors["epoch_seconds"] == pytest.approx(1.75)
    assert factors["script_outside_seconds"] == pytest.approx(2.0) and factors["our_outside_seconds"] == 5.0
    never = fast | {"race": {"script_runs": script_runs[2:], "our_seconds_mean": 89.0}}
    assert race_factors(never) is None  # no epoch count to split: the script's time is only a bound


def swap_record(reference_seconds: list[float], reference_tests: list[float]) -> dict:
    """race-models.json as `bench.py --models fast reference` writes it, the fields the reading uses."""
    script_runs = [{"per_epoch_seconds": 20.0}, {"per_epoch_seconds": 22.0}]
    machine = {"platform": "Linux-6.18.44-fc-v1300-x86_64-with-glibc2.36"}
    fast = {"epochs": 7, "train_seconds": [70.0, 84.0], "test_accuracy": [99.45, 99.5], "machine": machine}
    reference = {"epochs": 7, "train_seconds": reference_seconds, "test_accuracy": reference_tests}
    return {"target": 99.4, "script_runs": script_runs, "models": {"fast": fast, "reference": reference}}


def test_the_model_swap_splits_the_epochs_seconds_at_the_scripts_model_in_fasts_recipe():
    factors = model_swap_factors(swap_record([112.0, 126.0], [99.41, 99.3]))
    # The script 21 s an epoch; the script's model in fast's recipe 17; fast's model 11.
    assert factors["epoch_seconds"] == pytest.approx(21 / 11)
    assert factors["recipe"] == pytest.approx(21 / 17) and factors["model"] == pytest.approx(17 / 11)
    assert factors["recipe"] * factors["model"] == pytest.approx(factors["epoch_seconds"])
    assert factors["model_apart"] and factors["reference_epoch_seconds"] == [16.0, 18.0]
    assert factors["reference_test_accuracy"] == [99.41, 99.3] and factors["target"] == 99.4
    # A seed of the script's model as quick as one of fast's: the model's share is not told apart from noise.
    assert not model_swap_factors(swap_record([77.0, 126.0], [99.5, 99.5]))["model_apart"]
    cheaper = model_swap_factors(swap_record([56.0, 63.0], [99.5, 99.5]))  # fast's model the dearer one
    assert cheaper["model_apart"] and cheaper["model"] < 1 < cheaper["recipe"]
    other = swap_record([56.0, 63.0], [99.5, 99.5])
    other["models"] = {"fast": other["models"]["fast"], "tiny": other["models"]["reference"]}
    with pytest.raises(ValueError, match="holds fast, tiny, not reference: the split needs both; run python"):
        model_swap_factors(other)


def test_the_model_swap_reading_follows_the_rule_stated_before_the_runs():
    # The race, on another VM image: the script 15 s an epoch over 14 epochs, fast 70 s in its 7 (10 s an epoch).
    race = {"script_runs": [{"epoch": 14, "per_epoch_seconds": 15.0, "seconds": 215.0}], "our_seconds_mean": 75.0}
    fast = {"epochs": 7, "train_seconds_mean": 70.0, "race": race, "machine": {"platform": "Linux-fc-v1272-x86_64"}}
    text = model_swap_reading(swap_record([112.0, 126.0], [99.41, 99.3]), fast)
    assert "| the script, unchanged: its model, its pipeline, a 10,000-image test pass | 21.00 | 20.0, 22.0 |" in text
    assert "| the script's model in `fast`'s recipe, a 5,000-image validation pass | 17.00 | 16.0, 18.0 |" in text
    assert "| `fast`'s model in `fast`'s recipe | 11.00 | 10.0, 12.0 |" in text
    # 21 s against the race's 15, 11 against its 10: 40 % and 10 % longer on this machine.
    assert "takes 1.91x `fast`'s (the per-epoch factor, on VM image `fc-v1300`; the first race, `fast.json`," in text
    assert "ran on `fc-v1272`, at 1.50x, each side's epochs 10-40 % longer here). Of that, the rest of" in text
    assert "the rest of `fast`'s recipe makes 1.24x" in text
    assert "and `fast`'s model 1.55x (the script's model's epoch over `fast`'s, both in its recipe)." in text
    assert "runs differ" not in text  # the script's spread (10 %) is smaller than the model's share
    assert "reached 99.41, 99.30 % test (`fast`'s model, on the same seeds: 99.45, 99.50 %), 1 of 2 seeds" in text
    assert "1 of 2 seeds at or above 99.4 %. So, by the rule, `fast`'s model is part of the epoch-count factor" in text
    every = model_swap_reading(swap_record([77.0, 84.0], [99.5, 99.42]))  # 11 and 12 s an epoch: a share of 1.05
    assert "the two models' runs overlap (`fast`'s 10.0-12.0 s, the script's model's 11.0-12.0 s), so by the" in every
    assert "The script's own runs differ by more than that share: its epochs took 20.0-22.0 s." in every
    assert "the race ran" not in every  # no race given: no comparison
    assert "every one of 2 seeds at or above 99.4 %. So, by the rule, `fast`'s 7 epochs do not need" in every
    cheaper = model_swap_reading(swap_record([56.0, 63.0], [99.5, 99.5]))
    assert "`fast`'s model costs more an epoch than the script's" in cheaper
