"""Notebook 09's "What we learned": each sentence's number and verdict follow the records it reads."""

from __future__ import annotations

import json

from mnist_nb.lab import lessons, race
from mnist_nb.lab.ablation import ONE_MACHINE_DIR
from mnist_nb.lab.every_test import every_test_rows
from mnist_nb.lab.frontier import RESULTS_DIR, load_results
from mnist_nb.lab.race import load_model_swap
from tests.test_frontier import fake_summary


def shipped():
    results = load_results()
    rows = every_test_rows(results, load_results(RESULTS_DIR / "previous"), load_results(ONE_MACHINE_DIR))
    step_times = json.loads((RESULTS_DIR / "step-times.json").read_text(encoding="utf-8"))
    return results, rows, step_times


def test_the_summary_restates_the_records_readings():
    results, rows, step_times = shipped()
    text = lessons.what_we_learned(results, rows, step_times)
    candidate = results[lessons.CANDIDATE]
    assert f"`{lessons.CANDIDATE}`, with {candidate['params']:,} parameters, averages " in text
    assert f"{candidate['test_accuracy_mean']:.2f} % over {len(candidate['seeds'])} seeds" in text
    # Each component's verdict is the index's, not a second reading: the same words as its row.
    ablation = {row["tested"]: row for row in rows if row["study"].startswith("the ablation")}
    most = max(ablation, key=lambda name: ablation[name]["pairings"][0]["gain"])
    assert f'by the ablation\'s rule "{ablation[most]["reading"]}"' in text
    unseen = [name for name, row in ablation.items() if row["reading"] == "within seed noise"]
    assert all(lessons._named(name).lower() in text.lower() for name in unseen)
    assert f"{results['fast']['race']['ratio']:.2f}x less time" in text
    means = [sum(row["milliseconds"]) / len(row["milliseconds"]) for row in step_times["probes"].values()]
    assert f"brought it back to {means[2] / means[0]:.0%}" in text
    assert text.startswith("1. **How small can it get?**") and "\n2. **How little time?** `fast`" in text
    assert f"{results['fast']['epochs']} epochs against 14 (2.00x)" in text  # the script's first 99.4 % epoch
    assert "\n\nWhy, and how to read these figures:\n\n- **Width sets the size.**" in text
    assert "On one machine" not in text  # no record of the race with the script's model: no claim


def test_the_time_answer_splits_the_epoch_at_the_scripts_model_in_fasts_recipe():
    results, rows, step_times = shipped()
    swap = load_model_swap()
    factors = race.model_swap_factors(swap)
    text = lessons.what_we_learned(results, rows, step_times, swap)
    first = race.race_factors(results["fast"])["epoch_seconds"]
    assert f"In a second race, on another VM image (per-epoch factor {factors['epoch_seconds']:.2f}x there, " in text
    assert f"against {first:.2f}x in the first), the script's model trained in `fast`'s recipe splits it: " in text
    assert (
        f"{factors['recipe']:.2f}x for the rest of the recipe, {factors['model']:.2f}x for `fast`'s model (the" in text
    )
    reached = sum(value >= 99.4 for value in swap["models"]["reference"]["test_accuracy"])
    assert f"the script's model reached the line on {reached} of 3 seeds, `fast`'s on 3 of 3.\n3. **What" in text


def test_the_candidates_verdict_follows_its_margin_against_students_t():
    def verdict(accuracies: list[float]) -> str:
        return lessons._how_small({lessons.CANDIDATE: fake_summary(lessons.CANDIDATE, 4_920, accuracies)})

    # std 0.05 over 4 seeds: a standard error of 0.025 points; Student's t for 3 degrees of freedom, 3.182 of them.
    assert "only 0.050 points above the line, within seed noise" in verdict([99.45] * 4)  # past 2, not past t
    assert "past the line by 0.090 points, beyond seed noise" in verdict([99.49] * 4)
    assert "short of the line by 0.100 points" in verdict([99.30] * 4)
    assert "the fourth recipe tried, after test results had steered the search" in verdict([99.45] * 4)
    assert lessons._how_small({}) == ""  # not recorded: not claimed


def test_the_answers_keep_the_pages_sign_and_both_studies_of_the_final_recipe():
    results, rows, _ = shipped()
    component = lessons._what_each_component_buys(results, rows)
    assert "The largest mean gain is BatchNorm's: with it minus without, +0.25 points as recorded" in component
    assert 'by the ablation\'s rule "borderline (a gain)" (without it the model trains at a peak rate' in component
    again = next(row for row in rows if row["tested"] == "gap again")["pairings"][0]
    assert f"The GAP head's gain is {again['gain']:+.2f} points on 10 fresh seeds (a cost, replicated)" in component
    final = lessons._what_final_bought(rows)
    assert "Added alone to `residual`, shown to help: clean last 2 epochs; not shown: width 20" in final
    assert "Taken out of `final`, shown to matter: width 20; clean last epochs and recalibration together" in final
    assert [row["tested"] for row in rows if row["test"] == "width 20 (16 without it), in `final`"] == ["width 20"]


def test_the_step_time_sentence_needs_the_three_probes_in_order_and_counts_the_turns():
    _, _, step_times = shipped()
    text = lessons._step_time(step_times)
    before, _, fast = step_times["probes"].values()
    turns = sum(late < early for late, early in zip(fast["milliseconds"], before["milliseconds"], strict=True))
    assert f"the faster of the two in {turns} of {len(fast['milliseconds'])} turns" in text
    reordered = step_times | {"probes": dict(reversed(list(step_times["probes"].items())))}
    assert lessons._step_time(reordered) == "" and lessons._step_time(None) == ""


def test_level_with_the_line_names_students_t_for_the_seeds_recorded():
    text = lessons._level_with({"tiny": fake_summary("tiny", 4_718, [99.41] * 5)})
    assert "(Student's t, 2.776 for 5 seeds" in text
    assert lessons._level_with({"residual": fake_summary("residual", 11_280, [99.5] * 5)}) == ""  # over the budget


def test_the_time_answer_splits_the_race_only_when_the_script_reached_the_line():
    results, _, _ = shipped()
    fast = results["fast"]
    text = lessons._how_fast({"fast": fast})
    assert "Two factors give" in text and f"bring it to {fast['race']['ratio']:.2f}x." in text
    never = [run | {"epoch": None} for run in fast["race"]["script_runs"]]
    assert lessons._how_fast({"fast": fast | {"race": fast["race"] | {"script_runs": never}}}) == ""
