"""What a run leaves on disk: checkpoints that load anywhere and resume, and the metrics.json record."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import pytest
import torch

from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint, resume_from, save_checkpoint
from mnist_nb.config import TrainConfig
from mnist_nb.data import TensorLoader
from mnist_nb.models import build_model
from mnist_nb.support.checkpoint_files import (
    CheckpointError,
    atomic_file,
    default_file_mode,
    export_weights,
    write_json,
)
from mnist_nb.training import evaluate, load_result, make_optimizer, make_scheduler

from .conftest import QUICK, Interrupted, fit_interrupted, interrupt_after, quick_fit, synthetic_digits, without_seconds


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "run" / "model.pt"
    result = quick_fit(checkpoint_path=path)
    checkpoint = load_checkpoint(path)
    assert checkpoint["epoch"] == QUICK.num_epochs
    assert TrainConfig.from_dict(checkpoint["config"]) == QUICK
    assert checkpoint["history"] == result.history
    assert "model_name" not in checkpoint  # the model's name has one home: the config (`config["model"]`)
    model, normalization = model_from_checkpoint(checkpoint)
    assert normalization == result.normalization
    assert not model.training
    loader = TensorLoader(synthetic_digits(100, seed=1), 50, shuffle=False, normalization=normalization)
    images, _ = next(iter(loader))
    torch.testing.assert_close(model(images), result.model.eval()(images))
    assert evaluate(model, loader) == pytest.approx(evaluate(result.model, loader), rel=1e-5)
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any file the user writes


def test_the_checkpoint_of_an_epoch_is_saved_before_its_line_is_logged(tmp_path):
    path = tmp_path / "model.pt"
    with pytest.raises(Interrupted):
        quick_fit(checkpoint_path=path, log=interrupt_after(1))
    checkpoint = load_checkpoint(path)
    assert checkpoint["epoch"] == 1 and len(checkpoint["history"]) == 1
    assert checkpoint["history"][0]["epoch"] == 1


def test_interrupted_training_resumes_to_the_same_result(tmp_path):
    path = tmp_path / "model.pt"
    straight = quick_fit()
    fit_interrupted(QUICK, path, 1)
    assert load_checkpoint(path)["epoch"] == 1
    lines = []
    resumed = quick_fit(checkpoint_path=path, resume=True, log=lines.append)
    assert lines[0] == f"resumed the unfinished run in {tmp_path.as_posix()} after epoch 1 of 3"
    assert [line.split()[1] for line in lines[1:]] == ["2/3", "3/3"]  # only the missing epochs trained
    assert without_seconds(resumed.history) == without_seconds(straight.history)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    # Without resume=True the same path starts over (and overwrites the checkpoint as it goes).
    lines.clear()
    fresh = quick_fit(checkpoint_path=path, log=lines.append)
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]
    assert without_seconds(fresh.history) == without_seconds(straight.history)


def test_resume_with_another_config_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    fit_interrupted(QUICK, path, 1)
    with pytest.raises(CheckpointError, match="different config"):
        quick_fit(QUICK.replace(learning_rate=0.01), checkpoint_path=path, resume=True)
    with pytest.raises(CheckpointError, match="different config"):
        quick_fit(QUICK.replace(model_options={"attention": False}), checkpoint_path=path, resume=True)
    # The device is not part of the recipe: a run saved on one device resumes on another.
    resumed = quick_fit(QUICK.replace(device="auto"), checkpoint_path=path, resume=True)
    assert len(resumed.history) == QUICK.num_epochs


def test_resume_from_loads_model_optimizer_and_scheduler(tmp_path):
    path = tmp_path / "model.pt"
    fit_interrupted(QUICK, path, 2)
    config = QUICK
    model = build_model(config.model)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=20)
    history = resume_from(path, config=config, model=model, optimizer=optimizer, scheduler=scheduler)
    checkpoint = load_checkpoint(path)
    assert history == checkpoint["history"] and len(history) == 2
    assert scheduler.last_epoch == 2 * 20  # two epochs of 20 batches
    for key, value in checkpoint["model_state"].items():
        assert torch.equal(model.state_dict()[key], value), key
    assert len(optimizer.state) == len(list(model.parameters()))  # momentum buffers restored


def test_a_variant_trained_with_model_options_is_rebuilt_from_its_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    options = {"attention": False, "widths": (6, 10)}
    config = QUICK.replace(model_options=options, num_epochs=1, max_batches_per_epoch=3)
    result = quick_fit(config, checkpoint_path=path)
    checkpoint = load_checkpoint(path)
    assert TrainConfig.from_dict(checkpoint["config"]).model_options == (("attention", False), ("widths", (6, 10)))
    model, normalization = model_from_checkpoint(checkpoint)
    assert {key: value.shape for key, value in model.state_dict().items()} == {
        key: value.shape for key, value in build_model("residual", **options).state_dict().items()
    }
    images = next(iter(TensorLoader(synthetic_digits(8, seed=2), 8, shuffle=False, normalization=normalization)))[0]
    torch.testing.assert_close(model(images), result.model.eval()(images))
    # The named model alone would not hold these weights.
    with pytest.raises(RuntimeError, match="size mismatch"):
        build_model("residual").load_state_dict(checkpoint["model_state"])


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})
    good = path.read_bytes()
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        save_checkpoint(path, {"epoch": 2, "unpicklable": lambda: None})
    assert path.read_bytes() == good
    assert not list(tmp_path.glob("*.tmp"))


def test_failed_json_write_keeps_the_previous_record(tmp_path):
    path = tmp_path / "results" / "metrics.json"
    write_json(path, {"accuracy": 99.5, "history": [1, 2]})
    good = path.read_text()
    assert json.loads(good) == {"accuracy": 99.5, "history": [1, 2]} and good.endswith("\n")
    with pytest.raises(TypeError):
        write_json(path, {"accuracy": 99.6, "model": object()})  # fails halfway through the dump
    assert path.read_text() == good
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(RuntimeError, match="stop"), atomic_file(tmp_path / "other.txt") as file:
        file.write("half")
        raise RuntimeError("stop")
    assert not (tmp_path / "other.txt").exists() and not list(tmp_path.glob(".*.tmp"))
    assert (path.stat().st_mode & 0o777) == default_file_mode()


def test_checkpoint_saved_with_cuda_tensors_loads_on_cpu(tmp_path, monkeypatch):
    """A checkpoint written on a GPU loads, evaluates and resumes on a CPU-only machine."""
    path = tmp_path / "model.pt"
    if torch.cuda.is_available():
        fit_interrupted(QUICK.replace(device="cuda"), path, 1)
        assert TrainConfig.from_dict(load_checkpoint(path)["config"]).device == "cuda"
    else:
        # No GPU here, so write the file a GPU run writes: torch.save records each storage's
        # device as a location tag ("cuda:0") that torch.load restores. Tagging every storage
        # (the optimizer's momentum included) as CUDA gives a real GPU checkpoint, byte for byte
        # in format, whose tensors this machine cannot place where the file says.
        fit_interrupted(QUICK, path, 1)
        checkpoint = load_checkpoint(path)
        with monkeypatch.context() as patch:
            patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
            torch.save(checkpoint, path)
        # What a naive torch.load says on a CPU (an UnpicklingError before torch 2.5 or so).
        with pytest.raises((RuntimeError, pickle.UnpicklingError), match="CUDA"):
            torch.load(path, weights_only=True)
    checkpoint = load_checkpoint(path)
    model, _ = model_from_checkpoint(checkpoint, "cpu")
    assert next(model.parameters()).device.type == "cpu"
    images = torch.randn(2, 1, 28, 28)
    assert model(images).shape == (2, 10)
    # ... and training resumes from it on the CPU, to the same end as an uninterrupted CPU run.
    resumed = quick_fit(checkpoint_path=path, resume=True)
    assert resumed.device.type == "cpu"
    assert len(resumed.history) == QUICK.num_epochs


def test_loading_a_missing_or_foreign_file_names_it(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "absent.pt")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"garbage.pt is not a checkpoint \(not a file written by torch.save\)"):
        load_checkpoint(garbage)
    other_zip = tmp_path / "other.zip"  # a zip archive, but not one torch.save wrote
    with zipfile.ZipFile(other_zip, "w") as archive:
        archive.writestr("notes.txt", "hello")
    with pytest.raises(CheckpointError, match="other.zip is not a readable checkpoint"):
        load_checkpoint(other_zip)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an mnist_nb checkpoint"):
        load_checkpoint(foreign)


def test_a_text_file_or_a_folder_is_refused_with_the_fix(tmp_path):
    (tmp_path / "notes.txt").write_text("hello\n")
    with pytest.raises(CheckpointError, match=r"notes.txt is not a checkpoint \(not a file written by torch.save\)"):
        load_checkpoint(tmp_path / "notes.txt")
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint\.$"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"is a folder, not a checkpoint; its checkpoint is .*model.pt"):
        load_checkpoint(tmp_path)


def test_exported_weights_are_smaller_evaluate_the_same_and_refuse_to_resume(tmp_path):
    path = tmp_path / "run" / "model.pt"
    result = quick_fit(checkpoint_path=path)
    exported = tmp_path / "shipped.pt"
    export_weights(path, exported)
    assert exported.stat().st_size < path.stat().st_size
    assert "optimizer_state" not in load_checkpoint(exported) and "scheduler_state" not in load_checkpoint(exported)
    loaded = load_result(exported, "cpu")
    assert loaded.config == QUICK and loaded.history == result.history and not loaded.model.training
    images = synthetic_digits(64, seed=5)
    loader = TensorLoader(images, 64, shuffle=False, normalization=result.normalization)
    loaded_figures, trained_figures = evaluate(loaded.model, loader), evaluate(result.model.eval(), loader)
    assert loaded_figures["accuracy"] == trained_figures["accuracy"]
    assert loaded_figures["loss"] == pytest.approx(trained_figures["loss"], rel=1e-5)  # another memory layout
    model = build_model("residual")
    optimizer = make_optimizer(model, QUICK)
    scheduler = make_scheduler(optimizer, QUICK, 1)
    with pytest.raises(CheckpointError, match="weights only"):
        resume_from(exported, config=QUICK, model=model, optimizer=optimizer, scheduler=scheduler)
