"""The final recipe's four changes, each alone on residual: what they are, and the rule stated before they ran."""

from __future__ import annotations

import json
import re

import pytest

from mnist_nb.config import recipe
from mnist_nb.lab import recipe_changes
from mnist_nb.lab.frontier import SERIES_RECIPE
from mnist_nb.lab.recipe_changes import (
    CHANGES,
    LESS_BOTH,
    LESS_ONE,
    LESS_ONE_NAMES,
    NAMES,
    additivity,
    changes_table,
    less_one_readings,
    less_one_table,
    level,
    readings,
)
from mnist_nb.lab.replication import SEEDS
from mnist_nb.lab.t_tests import paired_t_p_value
from mnist_nb.models import build_model, model_spec
from tests.test_ablation import unwrap
from tests.test_frontier import fake_summary
from tests.test_replication import AMD

BASE = [99.45 + 0.01 * (index % 4) for index in range(len(SEEDS))]
CLEAR = [0.06, 0.02, 0.10, 0.04, 0.08, 0.03, 0.07, 0.05, 0.09, 0.01]  # p well under 0.0125
NOISY = [0.10, -0.08, 0.05, -0.06, 0.02, -0.01, 0.07, -0.09, 0.04, -0.03]
BETWEEN = [-0.06, 0.02, -0.05, 0.01, -0.04, -0.03, 0.01, -0.05, -0.01, -0.03]  # p = 0.032: under 0.05, over 0.0125


def summary(name: str, differences: list[float], machines: list[dict] | None = None) -> dict:
    found = fake_summary(name, 0, [b + d for b, d in zip(BASE, differences, strict=True)])
    return found | {"seeds": list(SEEDS), "machine": AMD} | ({"seed_machines": machines} if machines else {})


def base_records() -> dict[str, dict]:
    return {"residual": fake_summary("residual", 11_280, BASE) | {"seeds": list(SEEDS), "machine": AMD}}


def test_the_four_changes_are_residual_one_step_each_towards_final_and_together_are_final():
    assert NAMES == ("final", *(entry.name for entry in CHANGES)) and len(CHANGES) == 4
    series = SERIES_RECIPE.to_dict()
    model_options = {}
    for entry in CHANGES:
        changed = {key for key, value in entry.config.to_dict().items() if series[key] != value}
        assert len(changed) == 1, (entry.name, changed)  # one change each
        model_options |= dict(entry.config.model_options)
        build_model(entry.config.model, **dict(entry.config.model_options))  # a real model
    together = SERIES_RECIPE.replace(model_options=model_options, clean_epochs=2, recalibrate_batchnorm=True)
    assert together == recipe("final")
    widths = build_model("residual", **dict(CHANGES[0].config.model_options))
    assert sum(parameter.numel() for parameter in widths.parameters()) == 16_986  # final's width, both gates


def test_final_is_one_test_and_each_change_one_of_four():
    assert level("final") == 0.05
    assert all(level(entry.name) == pytest.approx(0.0125) for entry in CHANGES)


def test_the_rule_reads_each_name_against_residual_on_the_same_seeds():
    between = [0.09, -0.01, 0.06, 0.01, 0.07, -0.02, 0.08, 0.02, 0.05, 0.0]  # p between 0.0125 and 0.05
    assert 0.0125 < paired_t_p_value(between) < 0.05
    records = {
        "final": summary("final", between),
        "residual-width-20": summary("residual-width-20", between),
        "residual-channel-only-7x7": summary("residual-channel-only-7x7", [-value for value in CLEAR]),
        "residual-clean-2": summary("residual-clean-2", NOISY),
        "residual-recalibrated": summary("residual-recalibrated", CLEAR),
    }
    found = readings(records, base_records())
    verdicts = {name: found[name]["test"]["verdict"] for name in NAMES}
    assert verdicts == {
        "final": "higher",  # one test at 0.05
        "residual-width-20": "not shown to differ",  # the same p, one test of four
        "residual-channel-only-7x7": "lower",
        "residual-clean-2": "not shown to differ",
        "residual-recalibrated": "higher",
    }
    assert found["final"]["test"]["differences"] == pytest.approx(between)
    assert found["final"]["validation"]["differences"] == pytest.approx(between)  # fake val = test - 0.2
    table = changes_table(records, base_records())
    assert "residual-recalibrated" in table and "+0.06" in table and "10 of 10" in table


def test_pairs_across_machines_and_missing_seeds_are_not_read():
    other = AMD | {"platform": "Linux-fc-v1045"}
    records = {"final": summary("final", CLEAR, [other] + [AMD] * 9)}
    partial = summary("residual-clean-2", CLEAR)
    records["residual-clean-2"] = partial | {
        "seeds": list(SEEDS[:5]),
        "test_accuracy": partial["test_accuracy"][:5],
        "val_accuracy": partial["val_accuracy"][:5],
    }
    found = readings(records, base_records())
    assert found["final"]["test"]["crossed"] == [10] and found["final"]["test"]["verdict"] == "not shown to differ"
    assert found["residual-clean-2"]["test"] is None and found["residual-width-20"]["test"] is None
    assert "residual-clean-2           5 of 10 seeds recorded so far" in changes_table(records, base_records())
    assert all(value == {"test": None, "validation": None} for value in readings(records, {}).values())


def test_additivity_weighs_the_four_changes_summed_against_final_seed_by_seed():
    records = {name: summary(name, CLEAR if name != "residual-clean-2" else NOISY) for name in NAMES}
    text = unwrap(additivity(records, base_records()))
    assert text.startswith(
        "The four alone add up to +0.17 points, `final` +0.05; their difference, seed by seed, +0.11"
    )
    assert text.endswith("beyond seed noise, the changes do not simply add")  # p = 0.013 for the excess
    # final gains the four singles' sum, give or take noise: these seeds cannot tell.
    adding = {name: summary(name, CLEAR) for name in NAMES}
    adding["final"] = summary("final", [4 * value + noise for value, noise in zip(CLEAR, NOISY, strict=True)])
    assert unwrap(additivity(adding, base_records())).endswith("so these seeds cannot tell whether the changes add")
    del records["residual-width-20"]
    missing = unwrap(additivity(records, base_records()))
    assert missing.endswith("not all recorded yet for residual-width-20; read when they are")


def test_the_records_on_disk_are_read_by_their_names(tmp_path, monkeypatch):
    for name in NAMES:  # as benchmarks/one_machine.py --study final-changes writes them
        (tmp_path / f"{name}.json").write_text(json.dumps(summary(name, CLEAR)), encoding="utf-8")
    monkeypatch.setattr(recipe_changes, "CHANGES_DIR", tmp_path)
    found = readings(base_records=base_records())
    assert all(found[name]["test"]["verdict"] == "higher" for name in NAMES)
    assert "seeds recorded so far" not in changes_table(base_records=base_records())


def test_final_less_one_undoes_exactly_one_change_each_back_to_residual():
    final, series = recipe("final").to_dict(), SERIES_RECIPE.to_dict()
    undone = []
    for entry in LESS_ONE:
        config = entry.config.to_dict()
        changed = {key for key, value in config.items() if final[key] != value}
        assert len(changed) == 1, (entry.name, changed)
        (key,) = changed
        if key == "model_options":  # one model option, set back to residual's
            options, final_options = dict(entry.config.model_options), dict(recipe("final").model_options)
            (option,) = [name for name in options if options[name] != final_options[name]]
            assert options[option] == getattr(model_spec("residual"), option), (entry.name, option)
            undone.append(option)
        else:
            assert config[key] == series[key], (entry.name, key)
            undone.append(key)
        build_model(entry.config.model, **dict(entry.config.model_options))  # a real model
    assert sorted(undone) == ["clean_epochs", "recalibrate_batchnorm", "spatial_attention_stages", "widths"]
    assert all(level(name) == pytest.approx(0.0125) for name in LESS_ONE_NAMES)


def test_final_less_both_undoes_the_two_end_of_training_changes_and_is_one_test():
    final, series, config = recipe("final").to_dict(), SERIES_RECIPE.to_dict(), LESS_BOTH.config.to_dict()
    changed = {key for key, value in config.items() if final[key] != value}
    assert changed == {"clean_epochs", "recalibrate_batchnorm"}
    assert all(config[key] == series[key] for key in changed)
    assert level(LESS_BOTH.name) == pytest.approx(0.05)  # one test at the series' level, not a fifth of four


def test_final_less_one_is_read_against_final_and_counts_the_seeds_lower():
    final_records = {"final": summary("final", [0.0] * len(SEEDS))}
    records = {
        "final-width-16": summary("final-width-16", [-value for value in CLEAR]),
        "final-spatial-7x7": summary("final-spatial-7x7", NOISY),
        "final-clean-0": summary("final-clean-0", CLEAR[:5] + [-value for value in CLEAR[5:]]),
    }
    found = less_one_readings(records, final_records)
    assert found["final-width-16"]["test"]["verdict"] == "lower"
    assert found["final-width-16"]["test"]["differences"] == pytest.approx([-value for value in CLEAR])
    assert found["final-spatial-7x7"]["test"]["verdict"] == "not shown to differ"
    assert found["final-not-recalibrated"]["test"] is None
    table = less_one_table(records, final_records)
    assert "lower" in table.splitlines()[1] and "10 of 10" in table  # width 16 lower on every seed
    assert re.search(r"^final-not-recalibrated +0 of 10 seeds recorded so far", table, re.MULTILINE)
    # Both end-of-training changes out: one test, so p = 0.032 is lower, where one of four changes would not be.
    records[LESS_BOTH.name] = summary(LESS_BOTH.name, BETWEEN)
    records["final-not-recalibrated"] = summary("final-not-recalibrated", BETWEEN)
    found = less_one_readings(records, final_records)
    assert found[LESS_BOTH.name]["test"]["verdict"] == "lower"
    assert found["final-not-recalibrated"]["test"]["verdict"] == "not shown to differ"
    table = unwrap(less_one_table(records, final_records)).splitlines()  # its key unwrapped
    assert table[-2].startswith(LESS_BOTH.name) and table[-2].endswith("lower (0.05)")
    assert "not adjusted" in table[-1]  # the key under the table: why an interval and a verdict can disagree
    assert all(value == {"test": None, "validation": None} for value in less_one_readings(records, {}).values())


def test_notebook_09_prints_the_additivity_the_records_give_now():
    from tests.test_notebooks import code_cells, read

    (printed,) = [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in code_cells(read("09_frontier"))
        if "print(additivity())" in cell.source
    ]
    assert printed.endswith("\n\n" + additivity() + "\n")
