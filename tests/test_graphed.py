"""The graph path's training step, run eagerly on the CPU, against the plain loop's (the capture itself needs CUDA)."""

from __future__ import annotations

import pytest
import torch

from mnist_nb.data import Normalization, training_loader
from mnist_nb.lab.graphed import TrainStep, fit_graphed, one_cycle_on_device
from mnist_nb.training import (
    build_for_training,
    make_optimizer,
    make_scheduler,
    one_cycle_factor,
    start_epoch,
    train_one_epoch,
)
from tests.conftest import QUICK, synthetic_digits

# `fast`: BatchNorm, dropout and augmentation all in the step; 20 steps an epoch of 32 images.
CONFIG = QUICK.replace(model="fast", augment=True, num_epochs=2, clean_epochs=1, recalibrate_batchnorm=True)
STEPS_PER_EPOCH = 20


def plain_steps(train, normalization, steps: int):
    """`steps` steps of `training.train_one_epoch` from epoch 1's seed: (model, optimizer, result)."""
    model = build_for_training(CONFIG, torch.device("cpu"))
    loader = training_loader(train, normalization, CONFIG.replace(max_batches_per_epoch=steps))
    optimizer = make_optimizer(model, CONFIG)
    scheduler = make_scheduler(optimizer, CONFIG, STEPS_PER_EPOCH)
    start_epoch(loader, CONFIG, 1)
    return model, optimizer, train_one_epoch(model, loader, optimizer, scheduler)


def graph_path_steps(train, normalization, steps: int):
    """The same steps through `TrainStep`, eagerly: (model, step)."""
    model = build_for_training(CONFIG, torch.device("cpu"))
    step = TrainStep(model, CONFIG, train, normalization, STEPS_PER_EPOCH, autocast=False)
    step.start_epoch(1)
    run = step.run_eagerly(augment=True)
    for _ in range(steps):
        run()
    return model, step


@pytest.mark.parametrize("steps", [1, 5])
def test_the_graph_paths_step_trains_as_the_plain_loop(one_thread, steps):
    train = synthetic_digits(640)
    normalization = Normalization.of(train)
    plain_model, optimizer, plain = plain_steps(train, normalization, steps)
    model, step = graph_path_steps(train, normalization, steps)
    seen = steps * CONFIG.batch_size
    # The same batches, augmentation and dropout: the same loss, to float32's last bits.
    assert step.loss_sum.item() / seen == pytest.approx(plain["loss"], rel=1e-6)
    assert 100 * step.correct.item() / seen == plain["accuracy"]
    # The same parameters and BatchNorm statistics (fused SGD rounds its update once, the plain one twice).
    for (name, value), plain_value in zip(model.state_dict().items(), plain_model.state_dict().values(), strict=True):
        torch.testing.assert_close(value, plain_value, rtol=1e-5, atol=1e-6, msg=name)
    assert step.learning_rate.item() == pytest.approx(optimizer.param_groups[0]["lr"], rel=1e-6)
    assert step.step.item() == steps


def test_the_device_schedule_is_one_cycle_factor():
    total = 97
    for warmup in (0.2, 0.0):  # 0.0: no warm-up at all
        for step in (0, 1, 19, 20, 21, 50, 96, 97):
            on_device = one_cycle_on_device(torch.tensor(step), total, warmup).item()
            assert on_device == pytest.approx(one_cycle_factor(step, total, warmup), rel=1e-12)


def test_fit_graphed_on_the_cpu_follows_fit(one_thread):
    """Two epochs (the last one clean) and BatchNorm recalibration, as `fit` trains them.

    The steps agree to rounding (above); over 40 steps at a peak rate of 0.2 on 32 images a batch,
    rounding grows (a max-pool tie broken the other way routes a gradient elsewhere), so the
    epochs' figures agree closely, not exactly.
    """
    from mnist_nb.training import fit

    train, validation = synthetic_digits(640), synthetic_digits(100, seed=1)
    plain = fit(CONFIG, train, validation, log=None)
    graphed = fit_graphed(CONFIG, train, validation, log=None)
    assert graphed.warmup_seconds >= 0
    assert [set(row) for row in graphed.history] == [set(row) for row in plain.history]
    assert "val_accuracy_before_recalibration" in graphed.final
    for row, plain_row in zip(graphed.history, plain.history, strict=True):
        assert row["learning_rate"] == pytest.approx(plain_row["learning_rate"], rel=1e-6)
        assert row["train_loss"] == pytest.approx(plain_row["train_loss"], rel=0.01)
        assert row["val_accuracy"] == pytest.approx(plain_row["val_accuracy"], abs=1.0)
    assert graphed.final["val_loss"] == pytest.approx(plain.final["val_loss"], rel=0.05)


def test_graphs_need_cuda():
    with pytest.raises(ValueError, match="pass graphs=False"):
        fit_graphed(CONFIG, synthetic_digits(64), synthetic_digits(10, seed=1), graphs=True, log=None)


def test_fit_graphed_recalibrates_batchnorm_without_validation_images(one_thread):
    """As `fit` does: recalibration needs the training images only (it once also needed validation images)."""
    import copy

    from mnist_nb.data import ImageSet, clean_loader
    from mnist_nb.training import RECALIBRATION_BATCH_SIZE, recalibrate_batchnorm

    train = synthetic_digits(640)
    none = ImageSet(torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0, dtype=torch.long))
    result = fit_graphed(CONFIG, train, none, log=None)
    assert result.final["val_accuracy"] is None
    # Recalibrated: a second recalibration over the same clean images finds the statistics already there.
    again = copy.deepcopy(result.model)
    recalibrate_batchnorm(again, clean_loader(train, RECALIBRATION_BATCH_SIZE, result.normalization, CONFIG))
    for (name, value), recalibrated in zip(result.model.state_dict().items(), again.state_dict().values(), strict=True):
        if "running" in name:
            torch.testing.assert_close(value, recalibrated, msg=name)
