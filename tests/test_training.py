"""Training loop, determinism, checkpoints and resume, devices: seconds each, on the CPU."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from mnist_nb.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from mnist_nb.config import TrainConfig
from mnist_nb.data import TensorLoader
from mnist_nb.training import DeviceError, distillation_loss, evaluate, fit, select_device

from .conftest import synthetic_digits

QUICK = TrainConfig(num_epochs=3, batch_size=32, learning_rate=0.2, augment=False, device="cpu", validation_size=100)


def quick_fit(config: TrainConfig = QUICK, **kwargs):
    return fit(config, synthetic_digits(640), synthetic_digits(100, seed=1), log=None, progress=False, **kwargs)


def without_seconds(history: list[dict]) -> list[dict]:
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


def test_loss_falls_within_seconds_on_cpu():
    result = quick_fit()
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.final["val_accuracy"] > 50  # chance is 10%
    assert set(result.final) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}
    assert result.device.type == "cpu"


def test_compiled_training_runs_on_cpu_and_checkpoints_the_plain_model(tmp_path):
    """The torch.compile fast path (real inductor, C++ on the CPU): trains, and saves loadable weights."""
    config = QUICK.replace(num_epochs=1, max_batches_per_epoch=2, compile=True)
    result = quick_fit(config, checkpoint_path=tmp_path / "model.pt")
    assert result.final["train_loss"] > 0 and result.final["val_accuracy"] is not None
    model, _ = model_from_checkpoint(load_checkpoint(tmp_path / "model.pt"))
    assert not any(key.startswith("_orig_mod") for key in model.state_dict())


def test_same_seed_gives_identical_metrics_on_cpu():
    first, second = quick_fit(), quick_fit()
    assert without_seconds(first.history) == without_seconds(second.history)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = quick_fit(QUICK.replace(seed=1))
    assert without_seconds(other.history) != without_seconds(first.history)


def test_learning_rate_follows_one_cycle():
    result = quick_fit(QUICK.replace(num_epochs=5, warmup_fraction=0.4))
    rates = [row["learning_rate"] for row in result.history]  # at the start of each epoch
    assert rates[0] == pytest.approx(0.2 / 10)
    assert max(rates) > rates[0] and rates[-1] < max(rates)


def test_checkpoint_round_trip(tmp_path):
    path = tmp_path / "run" / "model.pt"
    result = quick_fit(checkpoint_path=path)
    checkpoint = load_checkpoint(path)
    assert checkpoint["epoch"] == QUICK.num_epochs
    assert TrainConfig.from_dict(checkpoint["config"]) == QUICK
    model, normalization = model_from_checkpoint(checkpoint)
    assert normalization == result.normalization
    loader = TensorLoader(synthetic_digits(100, seed=1), 50, shuffle=False, normalization=normalization)
    images, _ = next(iter(loader))
    torch.testing.assert_close(model(images), result.model.eval()(images))
    assert evaluate(model, loader) == pytest.approx(evaluate(result.model, loader), rel=1e-5)
    assert not list(path.parent.glob("*.tmp"))  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any file the user writes


def test_interrupted_training_resumes_to_the_same_result(tmp_path):
    path = tmp_path / "model.pt"
    straight = quick_fit()
    interrupted = quick_fit(checkpoint_path=path, stop_after_epoch=1)
    assert len(interrupted.history) == 1
    resumed = quick_fit(checkpoint_path=path, resume=True)
    assert without_seconds(resumed.history) == without_seconds(straight.history)
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_resume_with_another_config_is_refused(tmp_path):
    path = tmp_path / "model.pt"
    quick_fit(checkpoint_path=path, stop_after_epoch=1)
    with pytest.raises(CheckpointError, match="different config"):
        quick_fit(QUICK.replace(learning_rate=0.01), checkpoint_path=path, resume=True)
    # The device is not part of the recipe: a run saved on one device resumes on another.
    resumed = quick_fit(QUICK.replace(device="auto"), checkpoint_path=path, resume=True)
    assert len(resumed.history) == QUICK.num_epochs


def test_failed_save_keeps_the_previous_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"epoch": 1, "weights": torch.ones(3)})
    good = path.read_bytes()
    with pytest.raises((AttributeError, TypeError, pickle.PicklingError)):
        save_checkpoint(path, {"epoch": 2, "unpicklable": lambda: None})
    assert path.read_bytes() == good
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_saved_with_cuda_tensors_loads_on_cpu(tmp_path, monkeypatch):
    """A checkpoint written on a GPU loads, evaluates and resumes on a CPU-only machine."""
    path = tmp_path / "model.pt"
    if torch.cuda.is_available():
        result = quick_fit(QUICK.replace(device="cuda"), checkpoint_path=path, stop_after_epoch=1)
        assert result.device.type == "cuda"
    else:
        # No GPU here, so write the file a GPU run writes: torch.save records each storage's
        # device as a location tag ("cuda:0") that torch.load restores. Tagging every storage
        # (the optimizer's momentum included) as CUDA gives a real GPU checkpoint, byte for byte
        # in format, whose tensors this machine cannot place where the file says.
        quick_fit(checkpoint_path=path, stop_after_epoch=1)
        checkpoint = load_checkpoint(path)
        with monkeypatch.context() as patch:
            patch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
            torch.save(checkpoint, path)
        with pytest.raises(RuntimeError, match="CUDA"):  # what a naive torch.load says on a CPU
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
    with pytest.raises(CheckpointError, match="garbage.pt is not a readable checkpoint"):
        load_checkpoint(garbage)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    with pytest.raises(CheckpointError, match="not an mnist_nb checkpoint"):
        load_checkpoint(foreign)


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        select_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            select_device("cuda")


def test_clean_epochs_turn_augmentation_off_for_the_last_epochs_only(monkeypatch, tmp_path):
    import mnist_nb.data

    warped_per_epoch: list[int] = []
    real_random_affine = mnist_nb.data.random_affine

    def counting_random_affine(images, augmentation, generator):
        warped_per_epoch[-1] += len(images)
        return real_random_affine(images, augmentation, generator)

    monkeypatch.setattr(mnist_nb.data, "random_affine", counting_random_affine)
    config = QUICK.replace(num_epochs=3, augment=True, clean_epochs=2, max_batches_per_epoch=2)

    def log(line):  # one counter per epoch, opened before the epoch's batches
        if line.startswith("epoch"):
            warped_per_epoch.append(0)

    warped_per_epoch.append(0)
    fit(config, synthetic_digits(640), synthetic_digits(100, seed=1), log=log, progress=False)
    assert warped_per_epoch[:3] == [64, 0, 0]
    # The first epochs are the augmented recipe's, image for image (same seed, same draws).
    augmented = quick_fit(config.replace(clean_epochs=0), stop_after_epoch=1)
    clean = quick_fit(config, stop_after_epoch=1)
    assert without_seconds(augmented.history) == without_seconds(clean.history)
    # Interrupted inside the clean epochs, a run resumes to the straight result.
    path = tmp_path / "model.pt"
    straight = quick_fit(config)
    quick_fit(config, checkpoint_path=path, stop_after_epoch=2)
    assert without_seconds(quick_fit(config, checkpoint_path=path, resume=True).history) == without_seconds(
        straight.history
    )
    with pytest.raises(ValueError, match=r"clean_epochs must be in \[0, num_epochs\]"):
        QUICK.replace(clean_epochs=4)


def test_invalid_config_values_are_refused():
    with pytest.raises(ValueError, match="num_epochs must be >= 1"):
        TrainConfig(num_epochs=0)
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        TrainConfig(learning_rate=-0.1)


def test_smoke_mode_limits_batches(monkeypatch):
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    result = quick_fit(QUICK.replace(num_epochs=1))
    assert result.config.max_batches_per_epoch == 5
    monkeypatch.setenv("MNIST_NB_SMOKE", "0")
    assert TrainConfig().with_smoke_mode().max_batches_per_epoch is None


def test_distillation_loss_matches_the_kl_divergence_written_out():
    generator = torch.Generator().manual_seed(0)
    student, teacher = torch.randn(8, 10, generator=generator), 3 * torch.randn(8, 10, generator=generator)
    temperature = 4.0
    p_teacher = torch.softmax(teacher / temperature, dim=1)
    log_p_student = torch.log_softmax(student / temperature, dim=1)
    expected = (p_teacher * (p_teacher.log() - log_p_student)).sum(1).mean() * temperature**2
    torch.testing.assert_close(distillation_loss(student, teacher, temperature), expected)
    assert distillation_loss(teacher, teacher, temperature).abs() < 1e-6  # agreeing with the teacher costs nothing


def test_distilled_training_learns_and_leaves_the_teacher_untouched(tmp_path):
    teacher_path = tmp_path / "teacher.pt"
    quick_fit(checkpoint_path=teacher_path)
    before = teacher_path.read_bytes()
    config = QUICK.replace(num_epochs=6, teacher=str(teacher_path))
    result = quick_fit(config)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.final["val_accuracy"] > 50
    assert teacher_path.read_bytes() == before
    # The same config and seed give the same run (the teacher adds no randomness).
    assert without_seconds(quick_fit(config).history) == without_seconds(result.history)


def test_a_teacher_that_saw_the_validation_images_or_is_missing_is_refused(tmp_path):
    teacher_path = tmp_path / "teacher.pt"
    quick_fit(QUICK.replace(num_epochs=1, validation_size=50), checkpoint_path=teacher_path)
    with pytest.raises(ValueError, match="leak them into training"):
        quick_fit(QUICK.replace(teacher=str(teacher_path)))
    with pytest.raises(CheckpointError, match="train the teacher first"):
        quick_fit(QUICK.replace(teacher=str(tmp_path / "absent.pt")))


@pytest.mark.parametrize("changes", [{"distillation_weight": 1.5}, {"distillation_temperature": 0.0}])
def test_nonsense_distillation_settings_are_refused(changes):
    with pytest.raises(ValueError, match="distillation_"):
        TrainConfig(**changes)


def test_recalibrated_batchnorm_holds_the_statistics_of_the_whole_loader_with_dropout_off():
    from mnist_nb.data import ImageSet, Normalization
    from mnist_nb.models import build_model
    from mnist_nb.training import recalibrate_batchnorm

    torch.manual_seed(0)
    model = build_model("residual").eval()
    images = torch.randint(0, 256, (300, 28, 28), dtype=torch.uint8)
    dataset = ImageSet(images, torch.randint(0, 10, (300,)))
    normalization = Normalization(mean=0.13, std=0.31)
    weights_before = {
        name: value.clone()
        for name, value in model.state_dict().items()
        if "running" not in name and "num_batches" not in name
    }
    # The input of the first BatchNorm, the reference: the stem's conv output, dropout off.
    loader = TensorLoader(dataset, 100, shuffle=False, normalization=normalization)
    first_norm = model.stem.norm
    with torch.no_grad():
        conv_outputs = torch.cat([model.stem.conv(batch) for batch, _ in loader])  # [300, C, 28, 28]
    momentum = first_norm.momentum

    assert recalibrate_batchnorm(model, loader) == sum(
        isinstance(module, torch.nn.BatchNorm2d) for module in model.modules()
    )
    # Equal batches: the cumulative average of batch means is the mean over every image.
    torch.testing.assert_close(first_norm.running_mean, conv_outputs.mean((0, 2, 3)), rtol=1e-4, atol=1e-5)
    # One batch of everything: the running variance is its unbiased variance.
    recalibrate_batchnorm(model, TensorLoader(dataset, 300, shuffle=False, normalization=normalization))
    torch.testing.assert_close(
        first_norm.running_var, conv_outputs.transpose(0, 1).flatten(1).var(1, unbiased=True), rtol=1e-4, atol=1e-5
    )
    assert first_norm.momentum == momentum and not model.training
    assert all(torch.equal(model.state_dict()[name], value) for name, value in weights_before.items())
    # Dropout was off: the same pass again gives the same statistics.
    running_var = first_norm.running_var.clone()
    later_norm = [module for module in model.modules() if isinstance(module, torch.nn.BatchNorm2d)][-1]
    later_mean = later_norm.running_mean.clone()
    recalibrate_batchnorm(model, TensorLoader(dataset, 300, shuffle=False, normalization=normalization))
    torch.testing.assert_close(first_norm.running_var, running_var)
    torch.testing.assert_close(later_norm.running_mean, later_mean)


def test_recalibrate_batchnorm_option_recomputes_the_final_statistics_and_keeps_validation_before(tmp_path):
    train_set, validation_set = synthetic_digits(256), synthetic_digits(128, seed=1)
    config = TrainConfig(model="tiny", num_epochs=2, batch_size=32, device="cpu")
    plain = fit(config, train_set, validation_set, log=None)
    lines = []
    recalibrated = fit(config.replace(recalibrate_batchnorm=True), train_set, validation_set, log=lines.append)
    # Training itself is the same run; only the final statistics differ.
    without_time = [
        {key: value for key, value in row.items() if key != "seconds"}
        for row in (recalibrated.history[0], plain.history[0])
    ]
    assert without_time[0] == without_time[1]
    final = recalibrated.final
    assert final["val_accuracy_before_recalibration"] == plain.final["val_accuracy"]
    assert final["val_loss_before_recalibration"] == plain.final["val_loss"]
    assert final["val_loss"] != plain.final["val_loss"]
    assert "recalibrated on clean training images" in lines[-1]
    assert not torch.equal(recalibrated.model.stem.norm.running_var, plain.model.stem.norm.running_var)
