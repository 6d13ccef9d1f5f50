"""mnist_nb.lab.frontier: the entries, their records, the tables, conclusions and plots read from them."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402

from mnist_nb.config import SMOKE_BATCHES_PER_EPOCH, TrainConfig, recipe  # noqa: E402
from mnist_nb.lab import ablation, frontier  # noqa: E402
from mnist_nb.lab.figures import plot_ablation, plot_frontier  # noqa: E402
from mnist_nb.lab.records import summarize  # noqa: E402
from mnist_nb.models import MODEL_SPECS, build_model_of  # noqa: E402
from mnist_nb.support.variants import ABLATIONS  # noqa: E402


def fake_summary(name: str, params: int, accuracies: list[float], epochs: int = 15) -> dict:
    mean = sum(accuracies) / len(accuracies)
    return {
        "name": name,
        "params": params,
        "epochs": epochs,
        "seeds": list(range(len(accuracies))),
        "test_accuracy": accuracies,
        "val_accuracy": [a - 0.2 for a in accuracies],
        "test_accuracy_mean": mean,
        "test_accuracy_std": 0.05,
        "val_accuracy_mean": mean - 0.2,
        "val_accuracy_std": 0.04,
        "train_seconds_mean": 100.0,
    }


def test_frontier_entries_cover_every_ablation():
    assert {entry.name for entry in frontier.ABLATION} == set(ABLATIONS)
    for entry in frontier.FRONTIER + frontier.ABLATION:
        build_model_of(entry.config)  # every entry names a real model
        assert entry.num_seeds >= 2
        assert entry.config.max_batches_per_epoch is None  # the recorded recipes are full runs
    changed = {}  # the series' last model, one component short, at its 15-epoch recipe
    for entry in frontier.ABLATION:
        series = frontier.SERIES_RECIPE.replace(model=entry.name).to_dict()
        changed[entry.name] = {key for key, value in entry.config.to_dict().items() if value != series[key]}
        assert entry.description == MODEL_SPECS[entry.name].description
        assert frontier.component(entry.name) in entry.name and "-no-" not in frontier.component(entry.name)
    assert frontier.component("residual-no-batchnorm") == "batchnorm"
    # Two removals are in how residual is trained: the plain stack's learning rate, no augmentation.
    assert {name: keys for name, keys in changed.items() if keys} == {
        "residual-no-batchnorm": {"learning_rate"},
        "residual-no-augmentation": {"augment"},
    }
    assert frontier.ENTRIES["residual-no-batchnorm"].config.learning_rate == 0.05
    assert frontier.ENTRIES["residual-no-augmentation"].config.augment is False


def test_every_record_is_a_run_of_its_entry():
    """The recorded seeds are reused by `frontier` only when their config is the entry's (`TrainConfig.same_run`)."""
    recorded = frontier.load_results()
    assert set(recorded) == set(frontier.ENTRIES)
    for name, record in recorded.items():
        config = frontier.ENTRIES[name].config
        saved = TrainConfig.from_dict({**record["config"], "seed": 0})
        assert saved.same_run(config.replace(seed=0)), name
        assert record["epochs"] == config.num_epochs and record["description"] == frontier.ENTRIES[name].description


def test_smoke_runs_are_never_recorded_as_results(mnist_root, tmp_path):
    entry = frontier.Entry("tiny", recipe("tiny").replace(num_epochs=1, device="cpu"), 1, "test")
    summary = frontier.run_entry(
        entry,
        max_batches_per_epoch=SMOKE_BATCHES_PER_EPOCH,
        results_dir=tmp_path / "results",
        runs_dir=tmp_path / "runs",
        log=None,
    )
    assert summary["name"] == "tiny" and summary["description"] == "test" and summary["smoke"]
    assert summary["config"]["max_batches_per_epoch"] == SMOKE_BATCHES_PER_EPOCH
    assert (tmp_path / "runs" / "tiny" / "summary.json").is_file()
    assert not (tmp_path / "results").exists()


def test_a_record_grows_and_is_never_cut_and_keeps_the_race_of_its_runs(tmp_path):
    entry = frontier.Entry("tiny", recipe("tiny").replace(device="cpu"), 2, "test")
    rows = [
        {
            "model": "tiny", "params": 4_844, "epochs": 20, "seed": seed, "device": "cpu", "test_accuracy": 99.4,
            "val_accuracy": 99.2, "train_seconds": 100.0 + seed, "smoke": False,
            "config": entry.config.replace(seed=seed).to_dict(), "machine": {"device_name": "AMD EPYC"},
            "command": "python -m mnist_nb train",
        }
        for seed in range(3)
    ]  # fmt: skip
    recorded = {"name": "tiny", **summarize(rows), "race": {"ratio": 3.0}}
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "tiny.json").write_text(json.dumps(recorded))
    # One seed asked for, three recorded: the three are read back from the record, nothing trains.
    summary = frontier.run_entry(entry, num_seeds=1, results_dir=tmp_path / "results", runs_dir=tmp_path, log=None)
    written = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert summary["seeds"] == written["seeds"] == [0, 1, 2] and written["race"] == {"ratio": 3.0}
    # A run other than the one the race timed (seed 1, in its run folder) drops the race, not the seeds.
    (tmp_path / "tiny" / "seed-1").mkdir(parents=True)
    (tmp_path / "tiny" / "seed-1" / "metrics.json").write_text(json.dumps(rows[1] | {"train_seconds": 50.0}))
    frontier.run_entry(entry, results_dir=tmp_path / "results", runs_dir=tmp_path, log=None)
    written = json.loads((tmp_path / "results" / "tiny.json").read_text())
    assert written["train_seconds"] == [100.0, 50.0, 102.0] and "race" not in written


def test_results_load_in_entry_order_and_tables_compare_against_the_base(tmp_path):
    for name, params, accuracies in (
        ("tiny", 4_844, [99.40, 99.44]),
        ("residual", 11_280, [99.5, 99.6]),
        ("residual-no-attention", 10_786, [99.45, 99.45]),
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(fake_summary(name, params, accuracies)))
    (tmp_path / "not-an-entry.json").write_text("{}")
    results = frontier.load_results(tmp_path)
    assert list(results) == ["residual", "tiny", "residual-no-attention"]
    table = frontier.frontier_table(results)
    assert "99.42 +- 0.05" in table and "4,844" in table
    removals = ablation.ablation_table(results)
    assert "tiny" not in removals and "+0.05, +0.15" in removals and "+0.10" in removals  # gains per seed, their mean
    assert "0 of 2" in removals and "noise band +-1.27" in removals  # 12.706 (t, 1 df) sqrt(2) x 0.07, sd of 99.5, 99.6
    assert " 0.295 " in removals  # paired t of -0.05, -0.15: t = 2 with 1 degree of freedom


def test_removals_are_compared_with_the_base_on_the_same_seeds():
    base = fake_summary("residual", 11_280, [99.6, 99.6, 99.0])  # seed 2 drags the 3-seed mean down
    removal = fake_summary("residual-no-skip", 11_280, [99.5, 99.4])  # seeds 0 and 1
    assert frontier.seed_differences(removal, base) == pytest.approx([-0.1, -0.2])  # not 99.45 - 99.40 = +0.05
    assert frontier.change_against(removal, base) == frontier.change_against(removal, base, "val") == "-0.15"
    elsewhere = {**removal, "seeds": [7, 8]}  # no shared seed: no difference, never a comparison of means
    assert frontier.seed_differences(elsewhere, base) == [] and frontier.change_against(elsewhere, base) == "-"
    tables = frontier.markdown_tables({"residual": base, "residual-no-skip": removal})
    assert "| skip | 2 | 99.45 +- 0.05 | -0.15 |" in tables
    paired = ablation.paired_gains({"residual": base, "residual-no-skip": removal})  # with the skips minus without
    assert paired == {"skip": {"test": pytest.approx([0.1, 0.2]), "val": pytest.approx([0.1, 0.2]), "at chance": []}}
    assert ablation.paired_gains({"residual": base, "residual-no-skip": elsewhere}) == {}
    assert "no seed in common" in ablation.full_budget_verdict(
        "skip", {"residual": base, "residual-no-skip": elsewhere}
    )


def test_markdown_tables_quote_the_records():
    results = {
        "residual": fake_summary("residual", 11_280, [99.5, 99.6]),
        "tiny": fake_summary("tiny", 4_718, [99.30, 99.20], epochs=20),
        "residual-no-batchnorm": fake_summary("residual-no-batchnorm", 11_200, [99.3, 99.4]),
        "micro": fake_summary("micro", 1_922, [98.33]),
    }
    tables = frontier.markdown_tables(results).splitlines()
    assert "| `tiny` | 4,718 | 20 | 2 | 99.25 +- 0.05 | 99.05 +- 0.04 | 99.30, 99.20 |" in tables
    assert "| batchnorm | 2 | 99.35 +- 0.05 | -0.20 | 99.15 +- 0.04 | -0.20 |" in tables
    assert "| `micro` | 1,922 | 15 | 1 | 98.33 | 98.13 | 98.33 |" in tables  # one seed: no spread claimed
    assert not any(line.startswith("| `residual-no-") for line in tables)  # removals only in the second table


def test_frontier_and_ablation_plots():
    results = {
        "residual": fake_summary("residual", 11_280, [99.5, 99.6]),
        "tiny": fake_summary("tiny", 4_844, [99.40, 99.44, 99.38]),
        "tiny-clean": fake_summary("tiny-clean", 4_844, [99.42, 99.40]),
        "residual-no-dropout": fake_summary("residual-no-dropout", 11_280, [99.4, 99.45]),
        "residual-no-skip": fake_summary("residual-no-skip", 11_280, [99.5, 99.52]),
    }
    main, strip = plot_frontier({"residual": results["residual"]}, {"tiny": results["tiny"]}).axes
    assert main.get_xscale() == "log"
    assert [text.get_text() for text in main.texts if "\n" in text.get_text()] == ["residual\n15 ep, n=2"]
    assert [label.get_text() for label in strip.get_xticklabels()] == ["tiny\n4,844 params\n15 ep, n=3"]
    gains = ablation.paired_gains(results)
    assert list(gains) == ["dropout", "skip"]
    assert gains["dropout"]["test"] == pytest.approx([0.1, 0.15])
    assert gains["skip"]["val"] == pytest.approx([0.0, 0.08])
    fig = plot_ablation(gains, ablation.noise_band(results["residual"]), "residual", 2)
    assert [label.get_text() for label in fig.axes[0].get_xticklabels()] == ["dropout\nn=2", "skip\nn=2"]
    assert "n: recorded seeds; ◆: pairs on one machine" in fig.axes[0].get_title()  # the tick labels explained
    bars = [line for line in fig.axes[0].collections if type(line).__name__ == "LineCollection" and line.get_label()]
    assert bars and all(width >= 2 for bar in bars for width in bar.get_linewidths())  # visible at GitHub's width


def test_size_conclusions_quote_the_records_and_judge_each_small_entry_on_its_own():
    results = {
        "residual": fake_summary("residual", 11_280, [99.5, 99.6]),
        "tiny": fake_summary("tiny", 4_718, [99.30, 99.20], epochs=20),
        "tiny-clean": fake_summary("tiny-clean", 4_718, [99.42, 99.40], epochs=20),
        "small": fake_summary("small", 3_088, [99.10, 99.00]),
        "micro": fake_summary("micro", 1_922, [98.33]),
        "residual-no-skip": fake_summary("residual-no-skip", 11_280, [99.4, 99.5]),
        "fast": fake_summary("fast", 16_338, [99.47, 99.45], epochs=7),
    }
    text = frontier.size_conclusions(results)
    assert "`tiny` (4,718 parameters, 20 epochs, 2 seeds): test **99.25 +- 0.05 %** (99.30, 99.20)" in text
    assert "does not reach 99.4 % on average" in text.split("`tiny` (")[1].splitlines()[0]
    # 0.01 points above the line, 1.0 standard error of its mean: level with it, not past it.
    assert "**level with** 99.4 % on average" in text.split("`tiny-clean` (")[1].splitlines()[0]
    # The smallest at >= 99.0 % is small (mean 99.05), not micro (98.33, listed below it).
    assert "smallest entry at >= 99.0 % on average is `small` (3,088 parameters, test 99.05 %)" in text
    assert "weakest seed 99.00 %" in text and "Below it: `micro` (1,922 parameters, test 98.33 %)." in text
    assert "skip" not in text and "fast" not in text  # the ablation and the time are answered apart
    assert "reference" not in text  # not recorded: not claimed


def test_the_time_bullet_says_which_seeds_miss_and_quotes_the_race_record():
    machine = {"device_name": "AMD EPYC", "cpu_threads": 1}
    fast = fake_summary("fast", 16_338, [99.47, 99.38, 99.45], epochs=7) | {"machine": machine}
    text = frontier.time_conclusion(fast)
    assert "`fast`: 99.43 +- 0.05 % (1 of 3 seeds below 99.4 %), 100 s of training (AMD EPYC, 1 thread a run)" in text
    race = {
        "reached": True, "target": 99.4, "script_runs": [{}, {}, {}], "script_seconds_mean": 316.5,
        "our_seconds_mean": 90.0, "ratio": 3.517, "ratio_spread": [2.9, 3.9], "ratio_beside": 3.2,
    }  # fmt: skip
    text = frontier.time_conclusion(fast | {"test_accuracy": [99.47, 99.41, 99.45], "race": race})
    assert "(no seed below 99.4 %), 90.0 s a run from start to exit; the script itself, run unchanged, 316.5 s" in text
    assert "(mean of 3 runs): **3.52x** faster (2.90-3.90x from its fastest run against our slowest" in text
    assert "3.20x on the seeds that ran beside it" in text
    assert "(AMD EPYC, 1 thread a run, 100 s of `fast`'s run training; `benchmarks/bench.py`)" in text
    missed = frontier.time_conclusion(fast | {"race": race | {"reached": False, "ratio_beside": None}})
    assert "more than 316.5 s" in missed and "**more than 3.52x** faster (2.90-3.90x from" in missed
    assert "against our fastest) (AMD EPYC" in missed
    fresh = fake_summary("fast", 16_338, [99.50, 99.39, 99.47], epochs=7) | {"seeds": [10, 11, 12]}
    text = frontier.time_conclusion(fast, fresh)
    assert (
        "(on seeds 0-2, 1 below 99.4 %; on seeds 10-12, which no choice saw, 99.45 +- 0.05 %, 1 below: 2 of 6 "
        "seeds below 99.4 %)" in text
    )


def test_recipes_of_one_model_are_drawn_apart():
    variants = {
        "tiny": fake_summary("tiny", 4_718, [99.30, 99.20]),
        "tiny-clean": fake_summary("tiny-clean", 4_718, [99.42, 99.40]),
    }
    strip = plot_frontier({"tiny-clean": variants["tiny-clean"]}, variants).axes[1]
    dots = [collection for collection in strip.collections if isinstance(collection, PathCollection)]
    assert {float(x) for collection in dots for x, _ in collection.get_offsets()} == {0, 1}


def test_the_shipped_final_weights_are_the_final_recipe_and_score_as_recorded(mnist_root):
    """benchmarks/results/final-seed-0.pt: what notebooks 07 and 08 load on a fresh clone, < 100 KB."""
    from mnist_nb.data import TensorLoader, load_test_set
    from mnist_nb.training import evaluate, load_result

    path = frontier.RESULTS_DIR / "final-seed-0.pt"
    assert path.stat().st_size < 100_000
    result = load_result(path, "cpu")
    assert result.config.same_run(recipe("final").replace(seed=0))
    assert len(result.history) == result.config.num_epochs
    record = json.loads((frontier.RESULTS_DIR / "final.json").read_text(encoding="utf-8"))
    loader = TensorLoader(load_test_set(), 1000, shuffle=False, normalization=result.normalization)
    test = evaluate(result.model, loader)
    assert round(test["accuracy"], 2) == record["test_accuracy"][record["seeds"].index(0)]
    assert result.final["val_accuracy"] == pytest.approx(record["val_accuracy"][record["seeds"].index(0)], abs=0.005)
