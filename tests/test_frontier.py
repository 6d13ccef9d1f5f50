"""Recipes, seed sweeps that resume, the frontier's records, tables and plots."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from mnist_nb import experiments, frontier, models  # noqa: E402
from mnist_nb.cli import _config_from as config_from  # noqa: E402
from mnist_nb.cli import build_parser, main  # noqa: E402
from mnist_nb.config import RECIPES, TrainConfig, recipe  # noqa: E402
from mnist_nb.models import ABLATION_SPECS, build_model  # noqa: E402
from mnist_nb.summary import count_parameters  # noqa: E402
from mnist_nb.visualize import plot_ablation, plot_frontier  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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


def test_recipes_are_valid_and_named_as_the_cli_offers_them():
    assert set(RECIPES) == {"final", "fast", "tiny"}
    assert recipe("final") == TrainConfig()
    assert recipe("fast").model == "fast" and recipe("fast").num_epochs < recipe("final").num_epochs
    assert count_parameters(build_model(recipe("tiny").model)) <= 5_000
    with pytest.raises(ValueError, match="valid names: final, fast, tiny"):
        recipe("quick")


def test_cli_recipe_sets_defaults_and_flags_override_them():
    parser = build_parser()
    fast = config_from(parser.parse_args(["train", "--recipe", "fast"]), seed=3)
    assert fast == recipe("fast").replace(seed=3)
    longer = config_from(parser.parse_args(["train", "--recipe", "fast", "--epochs", "7", "--lr", "0.2"]), seed=0)
    assert (longer.model, longer.num_epochs, longer.learning_rate) == ("fast", 7, 0.2)
    assert config_from(parser.parse_args(["train"]), seed=0) == TrainConfig()
    distilled = config_from(parser.parse_args(["train", "--recipe", "tiny", "--teacher", "runs/t/model.pt"]), seed=0)
    assert distilled == recipe("tiny").replace(teacher="runs/t/model.pt")


def test_frontier_entries_cover_every_ablation():
    assert {entry.name for entry in frontier.ABLATION} == set(ABLATION_SPECS)
    for entry in frontier.FRONTIER + frontier.ABLATION:
        build_model(entry.config.model)  # every entry names a real model
        assert entry.num_seeds >= 2


def test_seed_sweep_records_and_resumes_without_retraining(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    config = recipe("tiny").replace(num_epochs=1, device="cpu")
    first = experiments.run_seeds(config, 2, tmp_path / "runs", log=None)
    assert first["seeds"] == [0, 1] and first["model"] == "tiny" and first["smoke"]
    assert json.loads((tmp_path / "runs" / "summary.json").read_text())["test_accuracy"] == first["test_accuracy"]

    def no_training(*args, **kwargs):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(experiments, "train_and_report", no_training)
    again = experiments.run_seeds(config, 2, tmp_path / "runs", reuse=True, log=None)
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["command"] == experiments.command_line()  # the command that wrote the summary...
    assert again["seed_commands"] == first["seed_commands"]  # ... and the ones that ran each seed
    # Another config is not the same run: it would be trained, not reused.
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config.replace(num_epochs=2)) is None
    # Nor is the same config of a model whose spec changed behind its name.
    original = models.MODEL_SPECS["tiny"]
    wider = dataclasses.replace(original, widths=(original.widths[0] + 2, original.widths[1]))
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", wider)
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config) is None
    # A record from before a spec field existed is the model that field's default builds.
    metrics_path = tmp_path / "runs" / "seed-0" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    del metrics["model_spec"]["head_width"]
    metrics_path.write_text(json.dumps(metrics))
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config) is None  # still the wider spec
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", original)
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config) is not None
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", wider)
    # Records from before the spec was saved are matched by their parameter count.
    del metrics["model_spec"]
    metrics_path.write_text(json.dumps(metrics))
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config) is None
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", original)
    assert experiments.finished_run(tmp_path / "runs" / "seed-0", config) is not None


def test_a_sweep_resumes_an_interrupted_seed_and_never_overwrites_another_run(mnist_root, tmp_path, monkeypatch):
    from mnist_nb.training import fit

    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    config = recipe("tiny").replace(num_epochs=2, device="cpu")
    # seed 0 was interrupted after its first epoch: the sweep resumes it.
    fit(config, checkpoint_path=tmp_path / "runs" / "seed-0" / "model.pt", stop_after_epoch=1, log=None)
    # seed 1's directory holds a finished run of another recipe: it is kept, moved aside.
    other = experiments.run_seeds(config.replace(num_epochs=1), 2, tmp_path / "other", log=None)
    (tmp_path / "other" / "seed-1").rename(tmp_path / "runs" / "seed-1")
    lines = []
    summary = experiments.run_seeds(config, 2, tmp_path / "runs", reuse=True, log=lines.append)
    assert summary["epochs"] == 2 and summary["seeds"] == [0, 1]
    assert any("resumed from model.pt after epoch 1" in line for line in lines), lines
    kept = json.loads((tmp_path / "runs" / "seed-1.previous-1" / "metrics.json").read_text())
    assert kept["epochs"] == 1 and kept["test_accuracy"] == other["test_accuracy"][1]
    assert any("moved it to" in line for line in lines)


def test_smoke_runs_are_never_recorded_as_results(mnist_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    entry = frontier.Entry("tiny", recipe("tiny").replace(num_epochs=1, device="cpu"), 1, "test")
    summary = frontier.run_entry(entry, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", log=None)
    assert summary["name"] == "tiny" and summary["smoke"]
    assert not (tmp_path / "results").exists()


def test_results_load_in_entry_order_and_tables_compare_against_final(tmp_path):
    for name, params, accuracies in (
        ("tiny", 4_844, [99.40, 99.44]),
        ("final", 11_280, [99.5, 99.6]),
        ("residual-no-attention", 10_786, [99.45, 99.45]),
    ):
        (tmp_path / f"{name}.json").write_text(json.dumps(fake_summary(name, params, accuracies)))
    (tmp_path / "not-an-entry.json").write_text("{}")
    results = frontier.load_results(tmp_path)
    assert list(results) == ["final", "tiny", "residual-no-attention"]
    table = frontier.frontier_table(results)
    assert "99.42 +- 0.05" in table and "4,844" in table
    ablation = frontier.ablation_table(results)
    assert "attention" in ablation and "-0.10" in ablation and "tiny" not in ablation


def test_removals_are_compared_with_the_final_model_on_the_same_seeds():
    final = fake_summary("final", 11_280, [99.6, 99.6, 99.0])  # seed 2 drags the 3-seed mean down
    removal = fake_summary("residual-no-skip", 11_280, [99.5, 99.4])  # seeds 0 and 1
    assert frontier.change_against(removal, final) == pytest.approx(-0.15)  # not 99.45 - 99.40 = +0.05
    assert frontier.change_against(removal, final, "val") == pytest.approx(-0.15)
    elsewhere = {**removal, "seeds": [7, 8]}  # no shared seed: the means are compared
    assert frontier.change_against(elsewhere, final) == pytest.approx(99.45 - 99.4)
    tables = frontier.markdown_tables({"final": final, "residual-no-skip": removal})
    assert "| skip | 2 | 99.45 +- 0.05 | -0.15 |" in tables


def test_markdown_tables_quote_the_records():
    results = {
        "final": fake_summary("final", 11_280, [99.5, 99.6]),
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
        "final": fake_summary("final", 11_280, [99.5, 99.6]),
        "tiny": fake_summary("tiny", 4_844, [99.40, 99.44, 99.38]),
        "residual-no-dropout": fake_summary("residual-no-dropout", 11_280, [99.4, 99.45]),
        "residual-no-skip": fake_summary("residual-no-skip", 11_280, [99.5, 99.52]),
    }
    fig = plot_frontier(results)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    points = [collection.get_offsets() for collection in ax.collections if hasattr(collection, "get_offsets")]
    assert sum(len(offsets) for offsets in points) >= 9  # 7 single seeds + their means
    assert any("tiny (4,844 params" in text.get_text() for text in ax.get_legend().get_texts())
    fig = plot_ablation(results)
    labels = [label.get_text() for label in fig.axes[0].get_xticklabels()]
    assert labels == ["dropout", "skip"]
    assert len(fig.axes[0].patches) == 4  # test and validation bars for each removal


def test_frontier_command_lists_entries_and_rejects_unknown_ones(capsys):
    assert main(["frontier", "--list"]) == 0
    listing = capsys.readouterr().out
    for name in ("final", "fast", "tiny", "small", "micro", "reference", "residual-no-batchnorm"):
        assert name in listing
    with pytest.raises(SystemExit) as exit_info:
        main(["frontier", "huge"])
    assert exit_info.value.code == 2
    assert "unknown entries huge; valid: final" in capsys.readouterr().err


def test_tiny_probes_train_on_validation_only_and_leave_no_model_behind(mnist_root, monkeypatch, capsys):
    """benchmarks/tiny_probes.py: the probes that chose the tiny recipe, run for real in smoke mode."""
    from mnist_nb import data

    probes = load_benchmark("tiny_probes")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")

    read_split = data._read_split

    def training_images_only(root, train):
        assert train, "a probe read the test set"
        return read_split(root, train)

    monkeypatch.setattr(data, "_read_split", training_images_only)
    before = dict(models.MODEL_SPECS)
    probes.main(["expand-16", "--epochs", "1"])
    table = capsys.readouterr().out.splitlines()[-1].split()
    assert table[:3] == ["expand-16", "4,970", "1"] and 0 <= float(table[3]) <= 100
    assert models.MODEL_SPECS == before
    with pytest.raises(SystemExit):
        probes.main(["no-such-probe"])
    assert "valid names: tiny-20" in capsys.readouterr().err


def test_conclusions_quote_the_records_and_judge_each_small_entry_on_its_own():
    results = {
        "final": fake_summary("final", 11_280, [99.5, 99.6]),
        "tiny": fake_summary("tiny", 4_718, [99.30, 99.20], epochs=20),
        "tiny-clean": fake_summary("tiny-clean", 4_718, [99.42, 99.40], epochs=20),
        "small": fake_summary("small", 3_088, [99.10, 99.00]),
        "micro": fake_summary("micro", 1_922, [98.33]),
        "residual-no-skip": fake_summary("residual-no-skip", 11_280, [99.4, 99.5]),
    }
    text = frontier.conclusions(results)
    assert "`tiny` (4,718 parameters, 20 epochs, 2 seeds): test **99.25 +- 0.05 %** (99.30, 99.20)" in text
    assert "does not reach 99.4 % on average" in text.split("`tiny` (")[1].splitlines()[0]
    assert "**reaches** 99.4 % on average" in text.split("`tiny-clean` (")[1].splitlines()[0]
    # The smallest at >= 99.0 % is small (mean 99.05), not micro (98.33, listed below it).
    assert "smallest entry at >= 99.0 % on average is `small` (3,088" in text and "weakest seed 99.00 %" in text
    assert "Below it: `micro` (1,922 parameters, 15 epochs, 1 seed): test **98.33 %**, validation" in text
    assert "skip -0.10 (validation -0.10)" in text
    assert "reference" not in text and "Time." not in text  # not recorded: not claimed


def test_entries_of_one_model_are_drawn_apart():
    results = {
        "tiny": fake_summary("tiny", 4_718, [99.30, 99.20]),
        "tiny-clean": fake_summary("tiny-clean", 4_718, [99.42, 99.40]),
    }
    ax = plot_frontier(results).axes[0]
    xs = {round(float(offsets[0][0])) for collection in ax.collections for offsets in [collection.get_offsets()]}
    assert {4_718, round(4_718 * 1.05)} <= xs


def load_benchmark(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gpu_sweep_rule_takes_the_fastest_recipe_that_qualifies_on_validation():
    sweep = load_benchmark("gpu_sweep")
    slow, fast, fastest_but_short = (TrainConfig(batch_size=size) for size in (256, 512, 1024))
    grid = [(slow, 99.40, 3.0), (fast, 99.31, 1.5), (fastest_but_short, 99.20, 0.9)]
    assert sweep.choose(grid, 99.30) == (fast, 99.31, 1.5)
    assert sweep.choose(grid, 99.35) == (slow, 99.40, 3.0)
    assert sweep.choose(grid, 99.50) is None


def test_gpu_sweep_reads_the_test_set_only_for_the_chosen_recipe(mnist_root, tmp_path, monkeypatch, capsys):
    """benchmarks/gpu_sweep.py for real, in smoke mode on the CPU: the code path a GPU run takes."""
    from mnist_nb import data

    sweep = load_benchmark("gpu_sweep")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    read_split = data._read_split
    test_reads = []

    def counting_reads(root, train):
        if not train:
            test_reads.append(root)
        return read_split(root, train)

    monkeypatch.setattr(data, "_read_split", counting_reads)
    report = tmp_path / "RESULTS.md"
    common = ["--device", "cpu", "--batch-sizes", "32", "--learning-rates", "0.05,0.1", "--epochs", "1",
              "--selection-seeds", "1", "--out", str(tmp_path / "runs"), "--results", str(report)]  # fmt: skip

    # Nothing reaches an impossible validation target: no recipe is chosen, the test set is not read.
    assert sweep.main([*common, "--validation-target", "100.01"]) == 0
    assert test_reads == [] and not (tmp_path / "runs").exists()
    assert "no recipe of the grid reached 100.01% validation: no test run" in report.read_text()

    assert sweep.main([*common, "--validation-target", "0", "--test-seeds", "2"]) == 0
    text = report.read_text()
    assert text.count("GPU sweep (SMOKE RUN") == 2 and "Command: `python benchmarks/gpu_sweep.py --device cpu" in text
    assert "chosen (least time at >= 0.0% validation): batch 32, lr 0." in text
    assert "test, 2 seeds: " in text and "seed 0 with channels_last off" in text
    for seed in (0, 1):
        metrics = json.loads((tmp_path / "runs" / f"seed-{seed}" / "metrics.json").read_text())
        assert metrics["smoke"] and metrics["config"]["batch_size"] == 32 and metrics["seed"] == seed
    assert len(test_reads) == 2  # once per test seed
    with pytest.raises(SystemExit):
        sweep.main(["--batch-sizes", "0"])
    assert "expected positive numbers" in capsys.readouterr().err
