"""Training loop, determinism, the one-cycle schedule, clean epochs, BatchNorm recalibration, devices.

Seconds each, on the CPU, on the synthetic digits of conftest.
"""

from __future__ import annotations

import pytest
import torch

from mnist_nb.checkpoint import load_checkpoint
from mnist_nb.config import TrainConfig, epoch_seed
from mnist_nb.data import ImageSet, Normalization, TensorLoader
from mnist_nb.inspection import predict
from mnist_nb.models import build_model
from mnist_nb.training import (
    epoch_row,
    fit,
    format_epoch,
    make_optimizer,
    make_scheduler,
    one_cycle_factor,
    recalibrate_batchnorm,
    start_epoch,
    training_loader,
)

from .conftest import QUICK, fit_interrupted, quick_fit, synthetic_digits, without_seconds


def test_loss_falls_within_seconds_on_cpu():
    result = quick_fit()
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.5 * losses[0], losses
    assert result.final["val_accuracy"] > 50  # chance is 10%
    assert set(result.final) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}
    assert result.device.type == "cpu"
    assert [row["epoch"] for row in result.history] == [1, 2, 3]
    assert not result.model.training  # returned ready to evaluate
    # Per batch, for the curves: one loss and one accuracy per step, whose mean is the epoch's (equal batches).
    for row in result.history:
        steps = row["train_step_losses"]
        assert len(steps) == len(row["train_step_accuracies"]) > 1
        assert sum(steps) / len(steps) == pytest.approx(row["train_loss"], rel=1e-5)
        accuracies = row["train_step_accuracies"]
        assert sum(accuracies) / len(accuracies) == pytest.approx(row["train_accuracy"], rel=1e-5)


def test_same_seed_gives_identical_metrics_on_cpu():
    first, second = quick_fit(), quick_fit()
    assert without_seconds(first.history) == without_seconds(second.history)
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key
    other = quick_fit(QUICK.replace(seed=1))
    assert without_seconds(other.history) != without_seconds(first.history)


def test_one_cycle_factor_exact_values():
    total, warmup = 1000, 0.2  # 200 warm-up steps
    assert one_cycle_factor(0, total, warmup) == pytest.approx(0.1)
    assert one_cycle_factor(100, total, warmup) == pytest.approx(0.55)  # linear: halfway up
    assert one_cycle_factor(200, total, warmup) == pytest.approx(1.0)  # the peak, at the end of warm-up
    assert one_cycle_factor(600, total, warmup) == pytest.approx(0.001 + 0.999 * 0.5)  # cosine: halfway down
    assert one_cycle_factor(total, total, warmup) == pytest.approx(0.001)  # after the last step
    assert one_cycle_factor(total - 1, total, warmup) == pytest.approx(0.001, abs=1e-4)  # the last step
    factors = [one_cycle_factor(step, total, warmup) for step in range(total + 1)]
    assert max(factors) == pytest.approx(1.0) and factors.index(max(factors)) == 200
    assert all(a < b for a, b in zip(factors[:200], factors[1:201], strict=True))  # warming up
    assert all(a > b for a, b in zip(factors[200:-1], factors[201:], strict=True))  # annealing
    # No warm-up asked for: the peak rate from the first step, then straight down.
    assert one_cycle_factor(0, 10, 0.0) == pytest.approx(1.0) and one_cycle_factor(1, 10, 0.0) < 1.0


def test_scheduler_steps_the_optimizer_through_one_cycle():
    config = QUICK.replace(num_epochs=2, warmup_fraction=0.25)
    optimizer = make_optimizer(build_model("tiny"), config)
    scheduler = make_scheduler(optimizer, config, steps_per_epoch=10)  # 20 steps, 5 of warm-up
    rates = []
    for _ in range(20):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert rates[0] == pytest.approx(0.2 * 0.1) and rates[5] == pytest.approx(0.2)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.2 * 0.001)  # after the last batch
    assert [group["lr"] for group in optimizer.param_groups] == [optimizer.param_groups[0]["lr"]] * 2


def test_learning_rate_follows_one_cycle():
    result = quick_fit(QUICK.replace(num_epochs=5, warmup_fraction=0.4))
    rates = [row["learning_rate"] for row in result.history]  # at the start of each epoch
    assert rates[0] == pytest.approx(0.2 / 10)
    assert max(rates) > rates[0] and rates[-1] < max(rates)
    # 20 batches per epoch, 100 steps, 40 of warm-up: epoch k starts at step 20 (k - 1).
    assert rates == pytest.approx([0.2 * one_cycle_factor(20 * k, 100, 0.4) for k in range(5)])


def test_make_optimizer_decays_only_the_weights():
    model = build_model("residual")
    optimizer = make_optimizer(model, TrainConfig())
    decayed, not_decayed = optimizer.param_groups
    # Weight decay on conv and linear weights only; biases and BatchNorm's scale and shift are 1-D.
    assert decayed["weight_decay"] == 5e-4 and not_decayed["weight_decay"] == 0.0
    assert all(p.ndim > 1 for p in decayed["params"]) and all(p.ndim == 1 for p in not_decayed["params"])
    assert len(decayed["params"]) + len(not_decayed["params"]) == len(list(model.parameters()))
    assert decayed["lr"] == 0.1 and decayed["nesterov"] and decayed["momentum"] == 0.9


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
    fit(config, synthetic_digits(640), synthetic_digits(100, seed=1), log=log)
    assert warped_per_epoch[:3] == [64, 0, 0]
    # The first epochs are the augmented recipe's, image for image (same seed, same draws); the
    # clean ones are not.
    augmented = quick_fit(config.replace(clean_epochs=0))
    clean = quick_fit(config)
    assert without_seconds(augmented.history[:1]) == without_seconds(clean.history[:1])
    assert augmented.history[1]["train_loss"] != clean.history[1]["train_loss"]
    # Interrupted inside the clean epochs, a run resumes to the straight result.
    path = tmp_path / "model.pt"
    straight = quick_fit(config)
    fit_interrupted(config, path, 2)
    assert load_checkpoint(path)["epoch"] == 2
    assert without_seconds(quick_fit(config, checkpoint_path=path, resume=True).history) == without_seconds(
        straight.history
    )


def test_start_epoch_seeds_dropout_and_the_loader_with_epoch_seed():
    config = QUICK.replace(seed=4, num_epochs=3, clean_epochs=1, augment=True)
    loader = training_loader(synthetic_digits(64), Normalization(0.2, 0.3), config)
    for epoch in (1, 2):
        start_epoch(loader, config, epoch)
        dropout_draws = torch.rand(3)  # what the global generator (dropout) gives next
        loader_draws = torch.rand(3, generator=loader.generator)
        torch.manual_seed(epoch_seed(4, epoch))
        assert torch.equal(dropout_draws, torch.rand(3))
        assert torch.equal(loader_draws, torch.rand(3, generator=torch.Generator().manual_seed(epoch_seed(4, epoch))))
        assert loader.augmentation is not None
    start_epoch(loader, config, 3)  # the one clean epoch
    assert loader.augmentation is None


def test_fit_does_not_read_the_smoke_environment_variable(monkeypatch):
    """Smoke mode is the caller's: the same call trains the same way in any shell."""
    config = QUICK.replace(num_epochs=1)
    monkeypatch.delenv("MNIST_NB_SMOKE", raising=False)
    full = quick_fit(config)
    monkeypatch.setenv("MNIST_NB_SMOKE", "1")
    in_smoke_shell = quick_fit(config)
    assert in_smoke_shell.config.max_batches_per_epoch is None
    assert without_seconds(in_smoke_shell.history) == without_seconds(full.history)
    # What a smoke run would have trained (5 batches of the 20) is a different run.
    smoke = quick_fit(config.replace(max_batches_per_epoch=5))
    assert without_seconds(smoke.history) != without_seconds(full.history)


def test_fit_returns_its_config_and_trains_a_variant():
    config = QUICK.replace(model="residual", model_options={"attention": False}, num_epochs=1, max_batches_per_epoch=2)
    result = quick_fit(config)
    assert result.config == config
    assert {key: value.shape for key, value in result.model.state_dict().items()} == {
        key: value.shape for key, value in build_model("residual-no-attention").state_dict().items()
    }
    assert result.parameter_count == 10_786


def test_epoch_line_format():
    row = epoch_row(1, {"loss": 0.5, "accuracy": 90.0}, {"loss": 0.25, "accuracy": 95.0}, None, 0.02, 1.5)
    assert format_epoch(row, 15) == (
        "epoch  1/15  train loss 0.5000 acc  90.00%  val loss 0.2500 acc  95.00%  lr 0.0200  1.5s"
    )
    no_validation = epoch_row(12, {"loss": 0.5, "accuracy": 90.0}, None, None, 0.02, 1.5)
    assert no_validation["val_accuracy"] is None and "no validation" in format_epoch(no_validation, 15)
    assert format_epoch(no_validation, 15).startswith("epoch 12/15")


def test_predict_returns_labels_in_loader_order():
    torch.manual_seed(0)
    model = build_model("tiny").eval()
    dataset = synthetic_digits(50)
    loader = TensorLoader(dataset, 16, shuffle=False, normalization=Normalization(0.2, 0.3))
    predictions, targets = predict(model, loader)
    assert torch.equal(targets, dataset.labels)
    with torch.no_grad():
        expected = torch.cat([model(images).argmax(1) for images, _ in loader])
    assert torch.equal(predictions, expected) and predictions.shape == (50,)


def test_recalibrated_batchnorm_holds_the_statistics_of_the_whole_loader_with_dropout_off():
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
    before, after = final["val_accuracy_before_recalibration"], final["val_accuracy"]
    assert lines[-1].endswith(f"acc {before:.2f}% -> {after:.2f}%")  # read in the order it happened
    assert not torch.equal(recalibrated.model.stem.norm.running_var, plain.model.stem.norm.running_var)


def test_fit_refuses_half_a_split_and_a_training_set_smaller_than_a_batch():
    with pytest.raises(ValueError, match="pass both train_set and validation_set, or neither"):
        fit(QUICK, synthetic_digits(640), None, log=None)
    with pytest.raises(ValueError, match="20 images make no full batch of 32: lower batch_size"):
        fit(QUICK, synthetic_digits(20), synthetic_digits(100, seed=1), log=None)


def test_recalibration_of_a_model_without_batchnorm_claims_nothing():
    config = QUICK.replace(model="baseline", num_epochs=1, max_batches_per_epoch=2, recalibrate_batchnorm=True)
    lines = []
    result = fit(config, synthetic_digits(640), synthetic_digits(100, seed=1), log=lines.append)
    assert "val_accuracy_before_recalibration" not in result.final
    assert not any("recalibrated" in line for line in lines)
