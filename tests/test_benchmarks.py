"""The benchmark scripts (benchmarks/*.py), run for real in smoke mode, and the rules they encode."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

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
    """benchmarks/tiny_probes.py: the probes that chose the tiny recipe, run for real in smoke mode."""
    probes = load_benchmark("tiny_probes")
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
    probes = load_benchmark("tiny_probes")
    for name, (_, _, why) in probes.PROBES.items():
        config = probes.probe_config(name)
        models.build_model(config.model, **dict(config.model_options))  # every probe is a buildable variant
        assert config == TrainConfig.from_dict(config.to_dict())  # and survives its checkpoint's round trip
        assert why
    removed = ("expand-16", "expand-24-no-attention", "funnel-16", "funnel-16-attention", "separable-24", "distill-0.5")
    assert not set(removed) & set(probes.PROBES)
    assert not hasattr(probes, "registered")


def test_tiny_probes_saved_model_is_checked_again_as_the_same_variant(mnist_root, tmp_path, monkeypatch, capsys):
    probes = load_benchmark("tiny_probes")
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
