"""Notebook 09's "What we learned": each sentence's number and verdict follow the records it reads."""

from __future__ import annotations

import json

from mnist_nb.lab import lessons
from mnist_nb.lab.ablation import ONE_MACHINE_DIR
from mnist_nb.lab.every_test import every_test_rows
from mnist_nb.lab.frontier import RESULTS_DIR, load_results
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
    assert f"{candidate['params']:,} parameters (`{lessons.CANDIDATE}`) for a mean of " in text
    assert f"{candidate['test_accuracy_mean']:.2f} % over {len(candidate['seeds'])} seeds" in text
    # Each component's verdict is the index's, not a second reading: the same words as its row.
    ablation = {row["test"].split(",")[0]: row for row in rows if row["study"].startswith("the ablation")}
    most = max(ablation, key=lambda name: ablation[name]["pairings"][0]["gain"])
    assert f'"{ablation[most]["reading"]}" by the ablation\'s rule' in text
    unseen = [name for name, row in ablation.items() if row["reading"] == "within seed noise"]
    assert all(lessons._named(name).lower() in text.lower() for name in unseen)
    assert f"{results['fast']['race']['ratio']:.2f} times faster" in text
    means = [sum(row["milliseconds"]) / len(row["milliseconds"]) for row in step_times["probes"].values()]
    assert f"({means[2]:.1f} against {means[0]:.1f} ms, {step_times['repeats']} timings each" in text
    assert text.startswith("1. **How small can it get?**") and "\n\nAnd why:\n\n- **Width sets the size.**" in text


def test_the_candidates_verdict_follows_its_margin_against_two_standard_errors():
    def verdict(accuracies: list[float]) -> str:
        return lessons._how_small({lessons.CANDIDATE: fake_summary(lessons.CANDIDATE, 4_920, accuracies)})

    # std 0.05 over 4 seeds: a standard error of 0.025 points, two of them 0.05.
    assert "within seed noise: level with the line" in verdict([99.42, 99.42, 99.42, 99.42])
    assert "past the line by 0.060 points, beyond seed noise" in verdict([99.46, 99.46, 99.46, 99.46])
    assert "short of the line by 0.100 points" in verdict([99.30, 99.30, 99.30, 99.30])
    assert lessons._how_small({}) == ""  # not recorded: not claimed


def test_students_t_would_change_a_verdict_between_two_standard_errors_and_its_critical_value():
    # Five seeds, std 0.05: a standard error of 0.0224; 2.776 of them is 0.062 points, two of them 0.045.
    between = fake_summary("tiny", 4_718, [99.455] * 5)  # 0.055 above the line: past at 2, level at 2.776
    assert "the verdict on tiny would change" in lessons._level_with({"tiny": between})
    assert "no verdict here changes" in lessons._level_with({"tiny": fake_summary("tiny", 4_718, [99.41] * 5)})
    assert "Student's t for 5 seeds, 2.776" in lessons._level_with({"tiny": between})


def test_the_step_time_sentence_needs_the_three_probes_in_order():
    results, _, step_times = shipped()
    assert "stepped in" in lessons._step_time(results, step_times)
    reordered = step_times | {"probes": dict(reversed(list(step_times["probes"].items())))}
    assert lessons._step_time(results, reordered) == ""
    assert lessons._step_time(results, None) == ""
