"""The benchmark scripts (benchmarks/*.py), run for real in smoke mode, and the rules they encode."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mnist_nb import models
from mnist_nb.config import TrainConfig
from mnist_nb.support import mnist_files as mnist

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
        assert probe.why and probe.base in ("tiny", "fast", "series")


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


def test_the_step_profile_splits_a_probes_step_by_layer_kind(capsys):
    profile = load_benchmark("profile_step")
    profile.main(["fast-early-pooling-width20-7", "--steps", "2"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("fast-early-pooling-width20-7: fast with {'early_pooling': True, 'widths': (8, 20)}")
    assert re.search(r"ms a step, \d+ us an image \(1 x 2 steps; warm-up [\d.]+ s\)", lines[0])
    shares = {line.split()[0]: float(line.split()[1].rstrip("%")) for line in lines[1:5]}
    assert set(shares) == {"convolution", "BatchNorm", "ReLU", "max-pooling"} and 50 < sum(shares.values()) <= 100
    assert any("aten::convolution_backward" in line for line in lines[6:])
    profile.main(["fast-early-pooling-width20-7", "--steps", "2", "--batch-size", "32", "--bfloat16"])
    line = capsys.readouterr().out.splitlines()[0]
    assert "batch 32, bfloat16, channels_last, " in line
    profile.main(["fast-early-pooling-width20-7", "--steps", "2", "--contiguous"])
    assert "batch 128, contiguous, " in capsys.readouterr().out.splitlines()[0]


def test_the_step_profile_times_probes_in_turn_and_records_every_timing(capsys, tmp_path):
    profile = load_benchmark("profile_step")
    record = tmp_path / "step-times.json"
    probes = ["fast-7", "fast-early-pooling-width20-7"]
    profile.main([*probes, "--steps", "2", "--repeats", "3", "--batch-size", "16", "--record", str(record)])
    out = capsys.readouterr().out
    # One report per probe, its mean +- std over the three timings.
    assert len(re.findall(r"ms a step, \d+ us an image \(3 x 2 steps", out)) == 2
    assert re.search(r"fast-7: .* [\d.]+ \+- [\d.]+ ms a step", out)
    saved = json.loads(record.read_text())
    assert list(saved["probes"]) == probes and saved["steps"] == 2 and saved["repeats"] == 3
    assert saved["probes"]["fast-7"]["model_options"] == {"early_pooling": False, "widths": [8, 16]}
    assert all(len(row["milliseconds"]) == 3 and min(row["milliseconds"]) > 0 for row in saved["probes"].values())
    assert [row["parameters"] for row in saved["probes"].values()] == [10_786, 16_338]
    shares = saved["probes"]["fast-7"]["shares"]
    assert set(shares) == {"convolution", "BatchNorm", "ReLU", "max-pooling"} and 0.5 < sum(shares.values()) <= 1
    assert saved["machine"]["cpu_threads"] == torch.get_num_threads() and saved["command"]
    with pytest.raises(SystemExit):
        profile.main(["fast-7", "--repeats", "0"])
    assert "--steps and --repeats take a positive count" in capsys.readouterr().err


@pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("clang++")), reason="torch.compile on a CPU needs a C++ compiler"
)
def test_the_step_profile_can_time_a_compiled_model(capsys):
    profile = load_benchmark("profile_step")
    profile.main(["fast-early-pooling-width20-7", "--steps", "2", "--batch-size", "16", "--compile"])
    assert "batch 16, compiled, channels_last, " in capsys.readouterr().out.splitlines()[0]


def test_gpu_sweep_rule_takes_the_fastest_recipe_that_qualifies_on_validation():
    sweep = load_benchmark("gpu_sweep")
    slow, fast, fastest_but_short = (TrainConfig(batch_size=size) for size in (256, 512, 1024))
    grid = [(slow, 99.40, 3.0), (fast, 99.31, 1.5), (fastest_but_short, 99.20, 0.9)]
    assert sweep.choose(grid, 99.30) == (fast, 99.31, 1.5)
    assert sweep.choose(grid, 99.35) == (slow, 99.40, 3.0)
    assert sweep.choose(grid, 99.50) is None


def test_gpu_sweep_default_grid_is_its_pairs_and_flags_make_a_product():
    sweep = load_benchmark("gpu_sweep")
    assert sweep.parse_arguments([]).pairs == list(sweep.GRID)
    assert (256, 0.2) in sweep.GRID and (512, 0.2) not in sweep.GRID  # a pair, not a product
    both = sweep.parse_arguments(["--batch-sizes", "32,64", "--learning-rates", "0.1"]).pairs
    assert both == [(32, 0.1), (64, 0.1)]
    rates = sorted({rate for _, rate in sweep.GRID})
    assert sweep.parse_arguments(["--batch-sizes", "32"]).pairs == [(32, rate) for rate in rates]


def test_gpu_sweep_reads_the_test_set_only_for_the_chosen_recipe(mnist_root, tmp_path, monkeypatch, capsys):
    """benchmarks/gpu_sweep.py for real, in smoke mode on the CPU: the code path a GPU run takes."""
    sweep = load_benchmark("gpu_sweep")
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    test_reads = count_test_reads(monkeypatch)
    report = tmp_path / "RESULTS.md"
    common = ["--device", "cpu", "--batch-sizes", "32", "--learning-rates", "0.05,0.1", "--epochs", "1",
              "--autocast", "off", "--selection-seeds", "1", "--out", str(tmp_path / "runs"),
              "--results", str(report)]  # fmt: skip

    # Nothing reaches an impossible validation target: no recipe is chosen, the test set is not read.
    assert sweep.main([*common, "--validation-target", "100.01"]) == 0
    assert test_reads == [] and not (tmp_path / "runs").exists()
    assert "no recipe of the grid reached 100.01% validation: no test run" in report.read_text()

    # --test-seeds 0: the sweep alone; a recipe is chosen and the test set is still not read.
    assert sweep.main([*common, "--validation-target", "0", "--test-seeds", "0"]) == 0
    assert test_reads == [] and not (tmp_path / "runs").exists()
    assert "validation): batch 32, lr 0." in report.read_text()
    assert "; --test-seeds 0: no test run" in report.read_text()

    record = tmp_path / "results" / "fast-gpu.json"
    assert sweep.main([*common, "--validation-target", "0", "--test-seeds", "2", "--record", str(record)]) == 0
    text = report.read_text()
    assert text.count("GPU sweep, CUDA graphs (SMOKE RUN") == 3
    assert "Command: `python benchmarks/gpu_sweep.py --device cpu" in text
    assert "chosen (least time at >= 0.0% validation): batch 32, lr 0." in text
    assert "test, 2 seeds: " in text and "seed 0 with eager steps" in text
    assert "one training step of fast (eager):" in text and "batch    32, autocast off: eager" in text
    for seed in (0, 1):
        metrics = metrics_of(tmp_path, seed)
        assert metrics["smoke"] and metrics["config"]["batch_size"] == 32 and metrics["seed"] == seed
        assert metrics["config"]["max_batches_per_epoch"] == 5  # smoke mode reached fit through the config
        assert metrics["autocast"] is False and metrics["warmup_seconds"] >= 0
    assert len(test_reads) == 1  # loaded once, after the choice; each test seed evaluates it once
    summary = json.loads(record.read_text())  # the test seeds' summary, as benchmarks/results/ holds one
    assert summary["name"] == "fast-gpu" and summary["seeds"] == [0, 1] and summary["smoke"]
    assert summary["description"].startswith("`fast` on ") and "batch 32, lr 0." in summary["description"]
    assert summary["test_accuracy"] == [metrics_of(tmp_path, seed)["test_accuracy"] for seed in (0, 1)]
    assert summary["autocast"] is False and summary["graphs"] and len(summary["warmup_seconds"]) == 2
    assert "recorded in fast-gpu.json" in text
    with pytest.raises(SystemExit):
        sweep.main(["--batch-sizes", "0"])
    assert "expected positive numbers" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # refused before any training: a record needs test seeds
        sweep.main([*common, "--test-seeds", "0", "--record", str(record)])
    assert "--record needs test seeds" in capsys.readouterr().err


def metrics_of(root, seed: int) -> dict:
    return json.loads((root / "runs" / f"seed-{seed}" / "metrics.json").read_text())


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


# The script's own output (tusharpatidar/erav3-session6, src/train.py at 3208171), captured on this project's
# VM with one thread: its start-up lines and its first epoch's line, as they arrived (seconds since its start).
SCRIPT_OUTPUT = [
    (3.30, ""),
    (3.30, "Total Model Parameters: 10,550"),
    (3.30, ""),
    (3.30, "Dataset Split:"),
    (3.30, "Training samples: 50,000"),
    (3.30, "Validation/Test samples: 10,000"),
    (3.30, "Split ratio: 50000/10000"),
    (35.24, "Epoch 1: Test set: Average loss: 0.1078, Accuracy: 96.50%"),
]
# Its later lines, in the format its source prints them (`print(f'Epoch {epoch}: Test set: ...')`, then
# the summary after its first epoch >= 99.4%, where it stops).
SCRIPT_LATER_OUTPUT = [
    (69.30, "Epoch 2: Test set: Average loss: 0.0521, Accuracy: 98.41%"),
    (103.40, "Epoch 3: Test set: Average loss: 0.0190, Accuracy: 99.39%"),
    (137.54, "Epoch 4: Test set: Average loss: 0.0183, Accuracy: 99.40%"),
    (137.54, ""),
    (137.54, "Reached target accuracy of 99.4% at epoch 4"),
    (137.55, "Best Validation/Test Accuracy: 99.40%"),
    (137.55, "Training stopped at epoch: 4/19"),
]


def test_the_scripts_output_is_read_to_its_first_epoch_at_the_target():
    race = load_benchmark("script_race")
    assert race.parse_epochs(SCRIPT_OUTPUT) == [{"epoch": 1, "accuracy": 96.5, "seconds": 35.24}]
    result = race.script_result(SCRIPT_OUTPUT + SCRIPT_LATER_OUTPUT, 138.9, 0, 99.4)
    assert [row["epoch"] for row in result["epochs"]] == [1, 2, 3, 4]  # the summary lines are not epochs
    assert (result["epoch"], result["accuracy"], result["seconds"]) == (4, 99.40, 137.54)
    assert result["per_epoch_seconds"] == pytest.approx((137.54 - 35.24) / 3)
    # Cut short after its first epoch (as the smoke check does): not reached, its time a lower bound.
    short = race.script_result(SCRIPT_OUTPUT, 35.29, -15, 99.4)
    assert short["epoch"] is None and short["seconds"] == 35.29 and short["per_epoch_seconds"] == 35.24
    # Tolerant of the count-and-percent form other versions of such scripts print.
    assert race.parse_epochs([(1.0, "Epoch 12 Test set: Average loss: 0.0200, Accuracy: 9941/10000 (99.41%)")]) == [
        {"epoch": 12, "accuracy": 99.41, "seconds": 1.0}
    ]
    stop = race.reached_target(99.4)
    assert [stop(line) for _, line in SCRIPT_OUTPUT + SCRIPT_LATER_OUTPUT].index(True) == 10


def test_the_scripts_data_folder_is_seeded_from_ours(mnist_root, tmp_path):
    race = load_benchmark("script_race")
    checkout = tmp_path / "erav3-session6"
    with pytest.raises(race.ScriptError, match="src/train.py does not exist"):
        race.script_path(checkout)
    (checkout / "src").mkdir(parents=True)
    (checkout / "src" / "train.py").write_text("print('a script')\n")
    assert race.script_path(checkout) == (checkout / "src" / "train.py").resolve()
    assert race.checkout_state(checkout) == "not a git checkout: its version is unknown"

    data = race.seed_script_data(checkout, mnist_root)
    assert data == (checkout / "data").resolve()  # the script's '../data', seen from src/
    for name, md5 in mnist.MNIST_FILES:
        assert race.md5_of(data / "MNIST" / "raw" / name) == md5
        assert (data / "MNIST" / "raw" / name.removesuffix(".gz")).is_file()  # extracted, offline
    race.seed_script_data(checkout, mnist_root)  # again: kept as it is

    broken = tmp_path / "ours"
    (broken / "MNIST" / "raw").mkdir(parents=True)
    for name, _ in mnist.MNIST_FILES:
        (broken / "MNIST" / "raw" / name).write_bytes(b"not an archive")
    (data / "MNIST" / "raw" / mnist.MNIST_FILES[0][0]).unlink()
    with pytest.raises(race.ScriptError, match="corrupt or truncated"):
        race.seed_script_data(checkout, broken)


FAKE_SCRIPT = """\
import os, sys, time
assert os.path.isdir('../data/MNIST/raw'), 'the data folder is ../data, seen from src/'
cores = sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else []
print(f"threads {os.environ.get('OMP_NUM_THREADS')} cores {cores} cuda '{os.environ.get('CUDA_VISIBLE_DEVICES')}'")
for epoch, accuracy in enumerate(ACCURACIES, 1):
    time.sleep(0.05)
    print(f'Epoch {epoch}: Test set: Average loss: 0.0200, Accuracy: {accuracy:.2f}%')
    if accuracy >= 99.4:
        print(f'\\nReached target accuracy of 99.4% at epoch {epoch}')
        time.sleep(SLEEP_AFTER)
        break
"""


def fake_checkout(path: Path, accuracies: list[float], sleep_after: float = 0.0) -> Path:
    (path / "src").mkdir(parents=True)
    (path / "data" / "MNIST" / "raw").mkdir(parents=True)
    script = FAKE_SCRIPT.replace("ACCURACIES", repr(accuracies)).replace("SLEEP_AFTER", repr(sleep_after))
    (path / "src" / "train.py").write_text(script)
    return path


def fake_ours(calls: list):
    def run_ours(seed, *, threads, core, device, out_root, log_dir, model=None):
        calls.append((seed, threads, core, device) + ((model,) if model else ()))
        metrics = {"test_accuracy": [99.45, 99.37][seed % 2], "train_seconds": 1.0, "smoke": False}
        if model:  # what `summarize` reads of a run's metrics.json
            train_seconds = {"fast": 7.0, "reference": 14.0}[model] + seed
            metrics |= {
                "model": model, "params": 100, "epochs": 7, "seed": seed, "device": device,
                "val_accuracy": 99.3, "train_seconds": train_seconds, "config": {}, "machine": {}, "command": "c",
                "out_root": str(out_root),
            }  # fmt: skip
        return {"seed": seed, "seconds": 2.0 + seed, "metrics": metrics}

    return run_ours


@pytest.mark.parametrize("parallel", [False, True])
def test_the_race_runs_the_script_unchanged_beside_ours(tmp_path, monkeypatch, parallel):
    """The race's mechanics with a stand-in for the script (it prints as the script does) and for our runs."""
    race = load_benchmark("script_race")
    if parallel:
        try:
            race.check_parallel()
        except race.ScriptError as error:
            pytest.skip(f"no two cores to pin to: {error}")
    checkout = fake_checkout(tmp_path / "checkout", [97.0, 99.0, 99.41, 99.5])
    calls = []
    monkeypatch.setattr(race, "run_ours", fake_ours(calls))
    result = race.race(
        checkout, runs=3, seeds=2, threads=1 if parallel else 2, parallel=parallel, device="cpu",
        out_root=tmp_path / "runs", log_dir=tmp_path / "logs", target=99.4, log=lambda line: None,
    )  # fmt: skip
    runs = result["script_runs"]
    assert [run["run"] for run in runs] == [1, 2, 3] and {run["epoch"] for run in runs} == {3}
    assert all(run["accuracy"] == 99.41 and run["returncode"] == 0 and run["epochs"][-1]["epoch"] == 3 for run in runs)
    assert all(0 < run["seconds"] <= run["end_seconds"] for run in runs)
    log = (tmp_path / "logs" / "script-run-1.log").read_text()
    expected = "threads 1 cores [0]" if parallel else "threads 2 cores"
    assert expected in log and "cuda ''" in log and "Epoch 3: Test set:" in log
    assert calls == ([(0, 1, 1, "cpu"), (1, 1, 1, "cpu")] if parallel else [(0, 2, None, "cpu"), (1, 2, None, "cpu")])

    lines = race.race_lines(result, threads=2, parallel=parallel, target=99.4)
    text = "\n".join(lines)
    assert "not a git checkout" in text and ("taskset -c 0" in text) == parallel
    assert sum(line.startswith("| 1 | 3 | 99.41 |") for line in lines) == 1
    assert "| 1 | 3.0 | 1.0 | 99.37 (below 99.4) |" in lines
    mean = statistics.fmean(run["seconds"] for run in runs)
    assert f"ratio of mean times (the script / ours): {mean / 2.5:.2f}x" in text
    low, high = min(run["seconds"] for run in runs) / 3.0, max(run["seconds"] for run in runs) / 2.0
    assert f"spread {low:.2f}x-{high:.2f}x" in text
    assert "NOT every seed >= 99.4% (lowest 99.37%)" in text

    # The record the fast entry keeps: the same ratio, and which of our seeds shared the machine with the script.
    record = race.race_record(result, parallel=parallel, target=99.4)
    assert record["ratio"] == pytest.approx(mean / 2.5) and record["ratio_spread"] == pytest.approx([low, high])
    assert [row["beside_script"] for row in record["ours"]] == [parallel, parallel] and record["reached"]
    assert record["ratio_beside"] == (pytest.approx(mean / 2.5) if parallel else None)
    assert json.loads(json.dumps(record)) == record

    # Read back from the stamped logs; ours stand in here, so their logs and metrics are written as a real run's.
    for seed in range(2):
        log = f"# python -m mnist_nb train\n     1.50  epoch  1/7\n# exit 0 after {2.0 + seed:.2f} s\n"
        (tmp_path / "logs" / f"fast-seed-{seed}.log").write_text(log)
        (tmp_path / "runs" / f"seed-{seed}").mkdir(parents=True)
        metrics = {"test_accuracy": [99.45, 99.37][seed], "train_seconds": 1.0, "smoke": False}
        (tmp_path / "runs" / f"seed-{seed}" / "metrics.json").write_text(json.dumps(metrics))
    again = race.race_from_logs(tmp_path / "logs", tmp_path / "runs", runs=3, seeds=2, directory=checkout, target=99.4)
    assert [run["epoch"] for run in again["script_runs"]] == [3, 3, 3]
    assert [run["seconds"] for run in again["script_runs"]] == pytest.approx([run["seconds"] for run in runs], abs=0.01)
    assert [row["seconds"] for row in again["ours"]] == [2.0, 3.0]
    # The stamps keep 0.01 s: the script's mean moves by at most that, ours (2.5 s on average) not at all.
    assert race.race_record(again, parallel=parallel, target=99.4)["ratio"] == pytest.approx(record["ratio"], abs=0.004)
    with pytest.raises(race.ScriptError, match="script-run-4.log is missing"):
        race.race_from_logs(tmp_path / "logs", tmp_path / "runs", runs=4, seeds=2, directory=checkout, target=99.4)


def test_the_race_with_several_models_trains_each_in_turn_beside_the_same_script_run(tmp_path, monkeypatch):
    """`bench.py --models fast reference`: fast's recipe with each model, seed k of each beside the script's run k."""
    race = load_benchmark("script_race")
    checkout = fake_checkout(tmp_path / "checkout", [97.0, 99.0, 99.41, 99.5])
    calls = []
    monkeypatch.setattr(race, "run_ours", fake_ours(calls))
    result = race.race(
        checkout, runs=2, seeds=2, threads=2, parallel=False, device="cpu", out_root=tmp_path / "runs",
        log_dir=tmp_path / "logs", target=99.4, log=lambda line: None, models=["fast", "reference"],
    )  # fmt: skip
    assert calls == [(0, 2, None, "cpu", "fast"), (0, 2, None, "cpu", "reference")] + [
        (1, 2, None, "cpu", "fast"),
        (1, 2, None, "cpu", "reference"),
    ]
    # Each model's runs in a folder of its own, so that one model's seed k never overwrites another's.
    assert [row["metrics"]["out_root"] for row in result["ours"][:2]] == [
        str(tmp_path / "runs" / "fast"),
        str(tmp_path / "runs" / "reference"),
    ]
    record = race.model_swap_record(result, parallel=False, target=99.4)
    assert list(record["models"]) == ["fast", "reference"] and len(record["script_runs"]) == 2
    reference = record["models"]["reference"]
    assert (
        reference["seeds"] == [0, 1]
        and reference["train_seconds"] == [14.0, 15.0]
        and reference["seconds"]
        == [
            2.0,
            3.0,
        ]
    )
    assert reference["test_accuracy"] == [99.45, 99.37] and json.loads(json.dumps(record)) == record
    lines = race.model_swap_lines(record)
    per_epoch = statistics.fmean(run["per_epoch_seconds"] for run in record["script_runs"])
    assert any(line.startswith(f"| the script, unchanged (the mean gap between its epoch lines) | | {per_epoch:.1f} (")
               for line in lines)  # fmt: skip
    assert "| fast's recipe with the reference model (7 epochs) | 100 | 2.1 (2.0, 2.1) | 99.45, 99.37 |" in lines
    assert "| fast's recipe with the fast model (7 epochs) | 100 | 1.1 (1.0, 1.1) | 99.45, 99.37 |" in lines


def test_a_script_that_does_not_stop_at_the_target_is_stopped(tmp_path, monkeypatch):
    race = load_benchmark("script_race")
    monkeypatch.setattr(race, "GRACE_SECONDS", 0.5)
    checkout = fake_checkout(tmp_path / "checkout", [99.0, 99.42], sleep_after=60)
    result = race.run_script(checkout, 1, threads=1, core=None, cpu_only=True, log_dir=tmp_path, target=99.4)
    assert result["epoch"] == 2 and result["returncode"] != 0 and result["end_seconds"] < 30
    never = fake_checkout(tmp_path / "never", [98.0, 99.1])
    result = race.run_script(never, 1, threads=1, core=None, cpu_only=True, log_dir=tmp_path, target=99.4)
    assert result["epoch"] is None and result["seconds"] == result["end_seconds"] and result["accuracy"] == 99.1
    text = "\n".join(race.race_lines({"script_runs": [result], "ours": [], "directory": "d", "checkout": "c"},
                                     threads=1, parallel=False, target=99.4))  # fmt: skip
    assert "| 1 | not reached in 2 epochs | 99.1 | > " in text


def test_the_rebuild_headlines_only_where_it_matches_the_script():
    race = load_benchmark("script_race")
    script = [{"epoch": 14, "per_epoch_seconds": 35.0}, {"epoch": 13, "per_epoch_seconds": 36.0}]
    assert race.rebuild_matches_script([{"epoch": 14, "seconds": 14 * 37.0}], script)[0]
    assert not race.rebuild_matches_script([{"epoch": 16, "seconds": 16 * 36.0}], script)[0]  # two epochs later
    assert not race.rebuild_matches_script([{"epoch": 14, "seconds": 14 * 68.0}], script)[0]  # twice as slow
    assert not race.rebuild_matches_script([{"epoch": None, "seconds": 900.0}], script)[0]


def test_bench_refuses_what_the_race_cannot_do(capsys, monkeypatch, tmp_path):
    bench = load_benchmark("bench")
    monkeypatch.setattr(bench, "FAST_RECORD", tmp_path / "fast.json")  # no record: any seed count
    for argv, message in [
        (["--parallel"], "--parallel races the script"),
        (["--reference-script", "x", "--throughput-only"], "does not race the script"),
        (["--reference-script", "x", "--parallel", "--threads", "2"], "leave --threads out"),
        (["--reference-runs", "0"], "expected a positive number"),
        (["--from-logs"], "--from-logs rebuilds a race"),
        (["--models", "fast", "reference"], "--models races the script"),
        (["--reference-script", "x", "--models", "fast", "--from-logs"], "without --from-logs or --rebuild-seeds"),
        (["--reference-script", "x", "--models", "fastest"], "invalid choice: 'fastest'"),
        (["--reference-script", "x", "--models", "fast", "fast"], "name each model once"),
    ]:
        with pytest.raises(SystemExit):
            bench.parse_arguments(argv)
        assert message in capsys.readouterr().err
    assert bench.parse_arguments([]).rebuild_seeds == 1
    assert bench.parse_arguments(["--reference-script", "x"]).rebuild_seeds == 0
    assert bench.parse_arguments(["--reference-seeds", "2"]).rebuild_seeds == 2  # the rebuild's old option name
    arguments = bench.parse_arguments(["--reference-script", "x"])
    assert arguments.reference_runs == 3 and not arguments.parallel and arguments.reference_script == Path("x")


def test_a_race_never_cuts_the_record_of_fast(capsys, monkeypatch, tmp_path):
    bench = load_benchmark("bench")
    monkeypatch.delenv("MNIST_NB_SMOKE", raising=False)
    monkeypatch.setattr(bench, "FAST_RECORD", tmp_path / "fast.json")
    (tmp_path / "fast.json").write_text(json.dumps({"seeds": list(range(10))}), encoding="utf-8")
    with pytest.raises(SystemExit):
        bench.parse_arguments(["--reference-script", "x"])  # 3 seeds by default, before any run
    assert "holds 10 seeds and a race of 3 would replace it with fewer: pass --seeds 10" in capsys.readouterr().err
    assert bench.parse_arguments(["--reference-script", "x", "--seeds", "10"]).seeds == 10
    assert bench.parse_arguments(["--seeds", "2"]).seeds == 2  # without the race, fast.json is not written
    assert bench.parse_arguments(["--reference-script", "x", "--models", "fast", "reference"]).seeds == 3  # nor here
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")  # a smoke race writes no record
    assert bench.parse_arguments(["--reference-script", "x"]).seeds == 3


def test_the_checkout_says_whether_the_script_is_as_published(tmp_path):
    race = load_benchmark("script_race")
    checkout = fake_checkout(tmp_path / "checkout", [99.5])

    def git(*arguments):
        identity = ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
        subprocess.run(["git", "-C", str(checkout), *identity, *arguments], check=True)

    git("init", "-q")
    git("add", "src")
    git("commit", "-q", "-m", "the script")
    state = race.checkout_state(checkout)
    assert state.startswith("commit ") and state.endswith("src/ unchanged")
    (checkout / "src" / "models").mkdir()
    (checkout / "src" / "models" / "best_model.pth").write_bytes(b"")  # what the script writes: not a change
    assert race.checkout_state(checkout) == state
    with open(checkout / "src" / "train.py", "a") as script:
        script.write("# changed\n")
    assert "src/ CHANGED from it (1 paths)" in race.checkout_state(checkout)


def test_the_gpu_checks_refuse_a_wrong_stage_or_a_machine_without_a_gpu(tmp_path):
    """benchmarks/gpu_checks.sh checks its stages, then the GPU, before any work, and writes nothing then."""
    script, out = ROOT / "benchmarks" / "gpu_checks.sh", tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin", "PYTHON": sys.executable}

    def run(*arguments: str) -> subprocess.CompletedProcess:
        return subprocess.run(["bash", str(script), *arguments], cwd=ROOT, env=env, capture_output=True, text=True)

    wrong = run(str(out), "sweep", "fnal")
    assert wrong.returncode == 2 and "unknown stage 'fnal': name sweep, final or notebooks" in wrong.stderr
    assert run().returncode == 2 and "name a folder for the results" in run().stderr
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU: the stages would run")
    no_gpu = run(str(out), "final")
    assert no_gpu.returncode == 2 and "sees no CUDA GPU" in no_gpu.stderr
    assert not out.exists()
