"""mnist_nb.lab.every_test: notebook 09's index of every test, one row each, in one sign, from the records."""

from __future__ import annotations

import pytest

from mnist_nb.lab.ablation import ONE_MACHINE_DIR, full_budget_verdict
from mnist_nb.lab.every_test import every_test, every_test_rows
from mnist_nb.lab.figures import REACH, plot_every_test
from mnist_nb.lab.frontier import RESULTS_DIR, load_results
from mnist_nb.lab.recipe_changes import changes_table, less_one_table
from mnist_nb.lab.replication import replication
from mnist_nb.lab.t_tests import student_t_critical
from mnist_nb.lab.verdicts import welch_p_value

from .test_notebooks import markdown_printed


def rows_of(table: str) -> dict[str, list[str]]:
    """The table's rows by their first cell, each row's cells after it."""
    rows = {}
    for line in table.splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        rows[cells[0]] = cells[1:]
    return rows


def test_every_recorded_test_is_one_row_in_the_sign_of_what_a_change_buys():
    results = load_results()
    table = every_test(results, previous=load_results(RESULTS_DIR / "previous"), reruns=load_results(ONE_MACHINE_DIR))
    header, rule, *lines = table.splitlines()
    assert header.count("|") == rule.count("|") == 8
    assert header.startswith("| tested |") and "with the change minus without" in header and rule.startswith("| ---")
    rows = rows_of(table)
    assert len(rows) == len(lines) == 6 + 1 + 1 + 1 + 5 + 5  # ablation, replication, fast, Welch, changes, less one
    # The ablation row says what its component's full-budget verdict says, with the gain's sign.
    assert rows["batchnorm, in `residual`"][1:] == [
        "+0.25 / +0.25",
        "-0.03 to +0.52 / +0.10 to +0.40",
        "0.067 / 0.004",
        "< 0.05 in both",
        "borderline (a gain)",
    ]
    assert "borderline" in full_budget_verdict("batchnorm").splitlines()[-1]
    assert rows["gap, in `residual`"][-1] == "borderline (a cost, read after)"  # the rule named what helps
    # `fast` was tested after it was chosen: its p describes, it does not decide.
    fast = rows["`fast`'s pool moved up, width 20, against the recipe it replaced"]
    assert fast[1] == "+0.09" and fast[-1] == "higher, after the fact: no verdict"
    # A row names the change it tests, so that its sign reads the same as every other row's.
    assert rows["spatial gate dropped after stage 3, on `residual`"][1] == "+0.04"
    assert less_one_table().startswith("name minus final") and changes_table().startswith("name minus residual")
    # The replication's dense head minus GAP, turned round: GAP's gain is negative.
    assert rows["gap again, fresh seeds"][1] == f"{-replication()['mean']:+.2f}"
    # Taken out of `final`, the sign turns: final-width-16 scored 0.07 lower, so width 20 buys +0.07.
    assert "-0.07" in less_one_table().splitlines()[2] and rows["width 20 (16 without it), in `final`"][1] == "+0.07"
    assert rows["width 20 (16 without it), in `final`"][-1] == "it helps"
    # Added to `residual`, the sign stays: the clean epochs' +0.04, shown at the level of four tests.
    assert "residual-clean-2" in changes_table() and rows["clean last 2 epochs, added to `residual`"][1:] == [
        "+0.04",
        "+0.00 to +0.08",  # at the level of four tests: wider than the 95% interval changes_table prints
        "0.011",
        "< 0.0125",
        "it helps",
    ]


def test_notebook_09_prints_the_index_the_records_give_now():
    """A record that changes without 09 re-executed would leave its index reading old numbers."""
    printed = markdown_printed("09_frontier", "every_test(")
    expected = every_test(
        load_results(), previous=load_results(RESULTS_DIR / "previous"), reruns=load_results(ONE_MACHINE_DIR)
    )
    assert printed == [expected]


def test_each_interval_is_at_its_rules_level_so_it_misses_zero_exactly_where_p_is_below_it():
    rows = every_test_rows(
        load_results(), previous=load_results(RESULTS_DIR / "previous"), reruns=load_results(ONE_MACHINE_DIR)
    )
    assert {row["level"] for row in rows} == {0.05, 0.0125}
    for row in rows:
        for pairing in row["pairings"]:
            low, high = pairing["interval"]
            assert low < pairing["gain"] < high, row["test"]
            assert (low > 0 or high < 0) == (pairing["p_value"] < row["level"]), row["test"]
    # Width 20 added to residual: p = 0.020 passes 0.05, not 0.0125; its interval here crosses 0 where the
    # 95% interval of changes_table does not.
    (width,) = [row for row in rows if row["test"] == "width 20, added to `residual`"]
    low, high = width["pairings"][0]["interval"]
    assert low < 0 < high and width["reading"] == "not shown"
    assert "+0.02 to +0.14" in [line for line in changes_table().splitlines() if "residual-width-20" in line][0]
    # Welch's row, at the cautious whole degrees of freedom: the interval from its own t.
    (welch,) = [row for row in rows if "(Welch)" in row["rule"]]
    final, base = load_results()["final"]["test_accuracy"], load_results()["residual"]["test_accuracy"]
    t, _, freedom, _ = welch_p_value(final, base)
    low, high = welch["pairings"][0]["interval"]
    gain = welch["pairings"][0]["gain"]
    assert (high - low) / 2 == pytest.approx(student_t_critical(freedom) * gain / t)


def test_the_forest_plot_draws_every_pairing_under_its_study_at_its_rules_level():
    rows = every_test_rows(
        load_results(), previous=load_results(RESULTS_DIR / "previous"), reruns=load_results(ONE_MACHINE_DIR)
    )
    fig = plot_every_test(rows)
    ax = fig.axes[0]
    assert ax.get_position().width * fig.get_figwidth() >= 3.5  # inches left for the intervals beside the labels
    ticks = ax.get_yticklabels()
    studies = [tick.get_text() for tick in ticks if tick.get_fontweight() == "bold"]
    labels = [tick.get_text() for tick in ticks if tick.get_fontweight() != "bold"]
    assert len(labels) == len(rows) and labels[0] == "batchnorm, in residual  [95%]"
    assert len(studies) == 6
    assert studies[0] == "the ablation: one component removed from residual, seeds 0-4 as recorded, 0-9 on one machine"
    assert labels[-1].endswith("[95%]") and labels[-2].endswith("[98.75%]")  # both end-of-training changes: one test
    bars = [segment for collection in ax.collections if hasattr(collection, "get_segments")
            for segment in collection.get_segments()]  # fmt: skip
    spans = sorted((round(a[0], 6), round(b[0], 6)) for a, b in bars)
    # The axis runs at most REACH past the outermost markers: BatchNorm's intervals run past it, cut at its edge.
    gains = [pairing["gain"] for row in rows for pairing in row["pairings"]]
    left, right = min(gains) - REACH, max(gains) + REACH
    intervals = [pairing["interval"] for row in rows for pairing in row["pairings"]]
    expected = sorted((round(max(low, left), 6), round(min(high, right), 6)) for low, high in intervals)
    assert spans == expected  # every pairing's interval, the ablation's two per row
    cut = [high for low, high in intervals if high > right]
    assert cut == [pairing["interval"][1] for pairing in rows[0]["pairings"]]  # batchnorm's two
    assert [text.get_text() for text in ax.texts] == [f"to {high:+.2f}" for high in cut]
    assert all(low >= left for low, _ in intervals)  # nothing is cut on the left
    assert ax.get_xlim()[1] < min(cut)  # the scale is no longer set by them
    ylow, yhigh = ax.get_ylim()
    assert ylow > yhigh  # the first row on top, as in the table
    # Filled where that pairing's own p is below the level: GAP as recorded (p = 0.305) hollow, on one machine filled.
    gap = [collection for collection in ax.collections if collection.get_offsets().shape == (1, 2)
           and abs(collection.get_offsets()[0][0] - rows[3]["pairings"][0]["gain"]) < 1e-9]  # fmt: skip
    assert rows[3]["test"] == "gap, in `residual`" and gap and tuple(gap[0].get_facecolor()[0][:3]) == (1.0, 1.0, 1.0)
