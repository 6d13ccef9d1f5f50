"""mnist_nb.lab.experiments: seed sweeps that record, reuse, resume, and never overwrite a run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from mnist_nb import models
from mnist_nb.config import SMOKE_BATCHES_PER_EPOCH, recipe
from mnist_nb.lab import experiments
from mnist_nb.lab.records import command_line
from mnist_nb.training import fit


def smoke(config):
    """`config` as a smoke run: a few batches per epoch, passed in (fit reads no environment)."""
    return config.replace(max_batches_per_epoch=SMOKE_BATCHES_PER_EPOCH)


def test_seed_sweep_records_and_resumes_without_retraining(mnist_root, tmp_path, monkeypatch):
    config = smoke(recipe("tiny").replace(num_epochs=1, device="cpu"))
    first = experiments.run_seeds(config, 2, tmp_path / "runs", log=None)
    assert first["seeds"] == [0, 1] and first["model"] == "tiny" and first["smoke"]
    assert json.loads((tmp_path / "runs" / "summary.json").read_text())["test_accuracy"] == first["test_accuracy"]
    seed_0 = tmp_path / "runs" / "seed-0"
    assert json.loads((seed_0 / "metrics.json").read_text())["architecture"] == str(models.build_model("tiny"))

    def no_training(*args, **kwargs):
        raise AssertionError("a finished seed was trained again")

    monkeypatch.setattr(experiments, "train_and_report", no_training)
    again = experiments.run_seeds(config, 2, tmp_path / "runs", reuse=True, log=None)
    assert again["test_accuracy"] == first["test_accuracy"]
    assert again["command"] == command_line()  # the command that wrote the summary...
    assert again["seed_commands"] == first["seed_commands"]  # ... and the ones that ran each seed
    # Another config is not the same run: it would be trained, not reused.
    assert experiments.finished_run(seed_0, config.replace(num_epochs=2)) is None
    # Nor is a full run the same as a smoke run, nor a variant the same as its named model.
    assert experiments.finished_run(seed_0, config.replace(max_batches_per_epoch=None)) is None
    assert experiments.finished_run(seed_0, config.replace(model_options={"dropout": 0.0})) is None
    # Nor is the same config of a model whose spec changed behind its name.
    original = models.MODEL_SPECS["tiny"]
    wider = dataclasses.replace(original, widths=(original.widths[0] + 2, original.widths[1]))
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", wider)
    assert experiments.finished_run(seed_0, config) is None
    monkeypatch.setitem(models.MODEL_SPECS, "tiny", original)
    # A record without the architecture (a recorded summary's seeds hold none) is matched by its config.
    metrics_path = seed_0 / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    del metrics["architecture"]
    metrics_path.write_text(json.dumps(metrics))
    assert experiments.finished_run(seed_0, config) is not None
    assert experiments.finished_run(seed_0, config.replace(learning_rate=0.05)) is None


def test_a_recorded_summary_is_extended_without_its_run_directories(mnist_root, tmp_path, monkeypatch):
    config = smoke(recipe("tiny").replace(num_epochs=1, device="cpu"))
    recorded = experiments.run_seeds(config, 2, tmp_path / "elsewhere", log=None)
    trained = []
    real_train_and_report = experiments.train_and_report

    def counting(seed_config, out, **kwargs):
        trained.append(seed_config.seed)
        return real_train_and_report(seed_config, out, **kwargs)

    monkeypatch.setattr(experiments, "train_and_report", counting)
    lines = []
    extended = experiments.run_seeds(config, 3, tmp_path / "here", reuse=True, recorded=recorded, log=lines.append)
    assert trained == [2]  # the recorded seeds are read, only the new one trains
    assert "--- seed 0: reusing the recorded summary ---" in lines
    assert extended["seeds"] == [0, 1, 2] and extended["test_accuracy"][:2] == recorded["test_accuracy"]
    assert extended["seed_commands"][:2] == recorded["seed_commands"]
    # A record of another recipe is not this one's: its seeds are trained.
    trained.clear()
    experiments.run_seeds(config.replace(num_epochs=2), 1, tmp_path / "other", reuse=True, recorded=recorded, log=None)
    assert trained == [0]


def test_a_finished_variant_is_reused_as_that_variant(mnist_root, tmp_path):
    config = smoke(recipe("tiny").replace(num_epochs=1, device="cpu", model_options={"widths": (8, 10)}))
    experiments.run_seeds(config, 1, tmp_path / "runs", log=None)
    seed_0 = tmp_path / "runs" / "seed-0"
    assert experiments.finished_run(seed_0, config) is not None
    assert experiments.finished_run(seed_0, config.replace(model_options=())) is None
    assert experiments.finished_run(seed_0, config.replace(model="tiny-stem8", model_options=())) is None


def test_a_sweep_resumes_an_interrupted_seed_and_never_overwrites_another_run(mnist_root, tmp_path):
    config = smoke(recipe("tiny").replace(num_epochs=2, device="cpu"))

    def interrupt_after_epoch_1(line: str) -> None:
        if line.startswith("epoch  1/"):  # the checkpoint of epoch 1 is saved before its line
            raise KeyboardInterrupt

    # seed 0 was interrupted after its first epoch: the sweep resumes it.
    with pytest.raises(KeyboardInterrupt):
        fit(config, checkpoint_path=tmp_path / "runs" / "seed-0" / "model.pt", log=interrupt_after_epoch_1)
    assert (tmp_path / "runs" / "seed-0" / "model.pt").is_file()
    # seed 1's directory holds a finished run of another recipe: it is kept, moved aside.
    other = experiments.run_seeds(config.replace(num_epochs=1), 2, tmp_path / "other", log=None)
    (tmp_path / "other" / "seed-1").rename(tmp_path / "runs" / "seed-1")
    lines = []
    summary = experiments.run_seeds(config, 2, tmp_path / "runs", reuse=True, log=lines.append)
    assert summary["epochs"] == 2 and summary["seeds"] == [0, 1]
    assert any("resumed the unfinished run in" in line and "after epoch 1 of 2" in line for line in lines), lines
    seed_0_lines = lines[lines.index("--- seed 0 ---") : lines.index("--- seed 1 ---")]
    assert [line[:9] for line in seed_0_lines if line.startswith("epoch")] == ["epoch  2/"]  # epoch 1 not retrained
    kept = json.loads((tmp_path / "runs" / "seed-1.previous-1" / "metrics.json").read_text())
    assert kept["epochs"] == 1 and kept["test_accuracy"] == other["test_accuracy"][1]
    assert any("moved it to" in line for line in lines)


def test_a_sweeps_seeds_are_its_seed_folders_not_the_runs_moved_aside(tmp_path):
    for name in ("seed-0", "seed-3", "seed-3.previous-1", "seed-12", "summary.json"):
        (tmp_path / name).mkdir()
    assert experiments.seeds_in(tmp_path) == [0, 3, 12]
    assert experiments.seed_directory(tmp_path, 12) == tmp_path / "seed-12"
    assert experiments.seeds_in(tmp_path / "missing") == []


def test_prepare_run_directory_moves_aside_what_it_cannot_resume(tmp_path):
    config = recipe("tiny")
    assert experiments.prepare_run_directory(tmp_path / "fresh", config, log=None) is False
    assert not (tmp_path / "fresh").exists()
    # Not a checkpoint of ours: kept, moved aside, never deleted; the next one goes beside it.
    for number in (1, 2):
        out = tmp_path / "run"
        out.mkdir()
        (out / "model.pt").write_bytes(b"not a checkpoint")
        lines = []
        assert experiments.prepare_run_directory(out, config, log=lines.append) is False
        assert not out.exists()
        assert (tmp_path / f"run.previous-{number}" / "model.pt").read_bytes() == b"not a checkpoint"
        assert lines == [f"{out} held another run: moved it to {tmp_path / f'run.previous-{number}'}"]
