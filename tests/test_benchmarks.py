"""The benchmark scripts (benchmarks/*.py), run for real in smoke mode, and the rules they encode."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from mnist_nb import mnist, models
from mnist_nb.config import TrainConfig

ROOT = Path(__file__).resolve().parents[1]


def load_benchmark(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def count_test_reads(monkeypatch) -> list:
    """Record every read of the test set (through `data.read_split`, which both data loaders use)."""
    from mnist_nb import data

    read_split = mnist.read_split
    test_reads = []

    def counting_reads(root, train):
        if not train:
            test_reads.append(root)
        return read_split(root, train)

    monkeypatch.setattr(data, "read_split", counting_reads)
    return test_reads


def test_tiny_probes_train_on_validation_only_and_leave_no_model_behind(mnist_root, monkeypatch, capsys):
    """benchmarks/probes.py: the probes that chose the tiny and fast recipes, run for real in smoke mode."""
    probes = load_benchmark("probes")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    test_reads = count_test_reads(monkeypatch)
    before = (dict(models.MODEL_SPECS), dict(models.ABLATIONS), models.MODEL_NAMES)
    probes.main(["stem8-no-dropout-30", "--epochs", "1"])
    printed = capsys.readouterr().out
    table = printed.splitlines()[-1].split()
    assert table[:3] == ["stem8-no-dropout-30", "4,920", "1"] and 0 <= float(table[3]) <= 100
    assert "epoch  1/1" in printed and "epoch  2/" not in printed
    assert test_reads == []  # the probes choose on validation; the test set is never loaded
    assert (dict(models.MODEL_SPECS), dict(models.ABLATIONS), models.MODEL_NAMES) == before
    # The probe's model is the variant its config names, built without the registry.
    config = probes.probe_config("stem8-no-dropout-30", max_batches_per_epoch=5)
    assert config.model == "tiny" and dict(config.model_options) == {"widths": (8, 10), "dropout": 0.0}
    assert config.num_epochs == 30 and config.max_batches_per_epoch == 5
    variant = models.build_model("tiny", **dict(config.model_options))
    assert str(variant) == str(models.build_model("tiny-stem8", dropout=0.0))
    with pytest.raises(SystemExit):
        probes.main(["no-such-probe"])
    assert "valid names: tiny-20" in capsys.readouterr().err


def test_tiny_probes_list_only_what_can_be_built():
    probes = load_benchmark("probes")
    for name, probe in probes.PROBES.items():
        config = probes.probe_config(name)
        models.build_model_of(config)  # every probe is a buildable variant
        assert config == TrainConfig.from_dict(config.to_dict())  # and survives its checkpoint's round trip
        assert probe.why and probe.base in ("tiny", "fast")
    removed = ("expand-16", "expand-24-no-attention", "funnel-16", "funnel-16-attention", "separable-24", "distill-0.5")
    assert not set(removed) & set(probes.PROBES)
    assert not hasattr(probes, "registered")


def test_tiny_probes_saved_model_is_checked_again_as_the_same_variant(mnist_root, tmp_path, monkeypatch, capsys):
    probes = load_benchmark("probes")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    probes.main(["stem8-30", "--epochs", "1", "--save", str(tmp_path)])
    validation = float(capsys.readouterr().out.splitlines()[-1].split()[3])
    assert (tmp_path / "stem8-30" / "seed-0" / "model.pt").is_file()
    probes.main(["stem8-30", "--save", str(tmp_path), "--check"])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    # The checkpoint loads into the variant (a wrong architecture would not load) and scores as it did
    # (up to the rounding of another memory layout).
    assert line.startswith("stem8-30 seed 0: validation ") and "with precise BatchNorm statistics" in line
    assert float(line.split()[4].rstrip("%")) == pytest.approx(validation, abs=0.1)


def test_gpu_sweep_rule_takes_the_fastest_recipe_that_qualifies_on_validation():
    sweep = load_benchmark("gpu_sweep")
    slow, fast, fastest_but_short = (TrainConfig(batch_size=size) for size in (256, 512, 1024))
    grid = [(slow, 99.40, 3.0), (fast, 99.31, 1.5), (fastest_but_short, 99.20, 0.9)]
    assert sweep.choose(grid, 99.30) == (fast, 99.31, 1.5)
    assert sweep.choose(grid, 99.35) == (slow, 99.40, 3.0)
    assert sweep.choose(grid, 99.50) is None


def test_gpu_sweep_reads_the_test_set_only_for_the_chosen_recipe(mnist_root, tmp_path, monkeypatch, capsys):
    """benchmarks/gpu_sweep.py for real, in smoke mode on the CPU: the code path a GPU run takes."""
    sweep = load_benchmark("gpu_sweep")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    test_reads = count_test_reads(monkeypatch)
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
        assert metrics["config"]["max_batches_per_epoch"] == 5  # smoke mode reached fit through the config
    assert len(test_reads) == 2  # once per test seed
    with pytest.raises(SystemExit):
        sweep.main(["--batch-sizes", "0"])
    assert "expected positive numbers" in capsys.readouterr().err


def test_the_reference_trains_as_its_script_does(mnist_root, monkeypatch):
    """benchmarks/reference.py: the script's split, optimizer and plateau schedule; bench.py stops at its first
    epoch >= 99.4% and steps the schedule on the test accuracy of every epoch."""
    reference = load_benchmark("reference")
    train_loader, test_loader = reference.reference_loaders(mnist_root, num_workers=0)
    split = torch.randperm(60_000, generator=torch.Generator().manual_seed(42))[:50_000].tolist()
    assert train_loader.dataset.indices == split and len(test_loader.dataset) == 10_000
    model = reference.ReferenceNet()
    optimizer = reference.reference_optimizer(model)
    scheduler = reference.reference_scheduler(optimizer)
    assert (scheduler.mode, scheduler.patience, scheduler.factor) == ("max", 2, 0.1)
    assert optimizer.defaults["lr"] == 0.05 and optimizer.defaults["momentum"] == 0.9

    bench = load_benchmark("bench")
    accuracies = iter([98.0, 99.0, 98.9, 98.9, 98.9, 99.41, 99.6])  # lr drops after 3 epochs without a new best
    rates = []
    monkeypatch.setattr(bench, "train_reference_epoch", lambda model, loader, optimizer, device: {"seconds": 1.0})
    monkeypatch.setattr(bench, "test_accuracy", lambda model, loader, device: next(accuracies))
    monkeypatch.setattr(bench, "reference_loaders", lambda root, num_workers, seed: (None, None))
    real_scheduler = bench.reference_scheduler

    def watched(optimizer):
        scheduler = real_scheduler(optimizer)
        step = scheduler.step
        scheduler.step = lambda metric: (step(metric), rates.append(optimizer.param_groups[0]["lr"]))
        return scheduler

    monkeypatch.setattr(bench, "reference_scheduler", watched)
    result = bench.reference_time_to_target(mnist_root, torch.device("cpu"), 0, max_epochs=20, num_workers=0)
    assert result["epoch"] == 6 and result["accuracy"] == 99.41 and result["training_seconds"] == 6.0
    assert rates == pytest.approx([0.05, 0.05, 0.05, 0.05, 0.005, 0.005])
