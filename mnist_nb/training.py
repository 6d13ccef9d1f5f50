"""A plain training loop: `train_one_epoch` and `evaluate` return metrics, `fit` strings them together.

No framework: one code on CUDA (bfloat16 autocast), MPS and CPU. Seeded: on the CPU, one seed, one result.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.anatomy import count_parameters
from mnist_nb.checkpoint import load_checkpoint, model_from_checkpoint, resume_from, save_checkpoint, training_state
from mnist_nb.config import TrainConfig, epoch_seed
from mnist_nb.data import ImageSet, Normalization, TensorLoader, clean_loader, load_training_split, training_loader
from mnist_nb.devices import autocast_for, select_device
from mnist_nb.models import MnistNet, build_model_of

# Clean batches: evaluation's size is bound by memory alone; recalibration's sets the statistics, like training's.
EVALUATION_BATCH_SIZE = 1000
RECALIBRATION_BATCH_SIZE = 500
WARMUP_START, ANNEAL_END = 0.1, 0.001  # the one-cycle schedule's ends, as multiples of the peak rate


def train_one_epoch(model: nn.Module, loader, optimizer, scheduler) -> dict:
    """One pass over `loader`, one optimizer and scheduler step per batch: loss and accuracy (%), epoch and batches."""
    model.train()
    device = next(model.parameters()).device
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    total_seen, steps = 0, {"step_losses": [], "step_accuracies": []}  # one value per batch, on the device
    for images, labels in loader:  # [B, 1, 28, 28], [B], already on the device
        optimizer.zero_grad(set_to_none=True)
        with autocast_for(device):
            logits = model(images)  # [B, 10]
        # The loss in float32 even when the forward pass ran in bfloat16 (CUDA).
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        optimizer.step()
        scheduler.step()
        correct = (logits.argmax(1) == labels).sum()
        total_loss += loss.detach() * len(labels)  # summed on the device: no host sync per batch
        total_correct += correct
        total_seen += len(labels)
        steps["step_losses"].append(loss.detach())
        steps["step_accuracies"].append(100 * correct / len(labels))
    # Read back once, here: reading a value every batch would wait for the GPU every batch.
    per_batch = {key: torch.stack(values).tolist() if values else [] for key, values in steps.items()}
    return {"loss": total_loss.item() / total_seen, "accuracy": 100 * total_correct.item() / total_seen, **per_batch}


@torch.no_grad()
def evaluate(model: nn.Module, loader) -> dict:
    """Loss and accuracy (%) of `model` over `loader`, in eval mode (BatchNorm statistics fixed)."""
    model.eval()
    device = next(model.parameters()).device
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    total_seen = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)  # no-op when the loader is on the device
        with autocast_for(device):
            logits = model(images)  # [B, 10]
        total_loss += F.cross_entropy(logits.float(), labels, reduction="sum")
        total_correct += (logits.argmax(1) == labels).sum()
        total_seen += len(labels)
    return {"loss": total_loss.item() / total_seen, "accuracy": 100 * total_correct.item() / total_seen}


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader, *, autocast: bool | None = None) -> int:
    """Recompute every BatchNorm's running mean and variance over `loader`, the rest in eval mode.

    Training averages the last ~10 batches (momentum 0.1), dropout on (and augmented unless the last epochs are
    clean); the test set is clean, dropout off. A cumulative average (momentum None) over clean images gives the
    statistics the model will meet ("precise BN", Wu and Johnson, 2021). Weights untouched; returns the count.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    model.eval()  # dropout off
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all batches
        norm.train()  # normalize with batch statistics and update the running ones
    device = next(model.parameters()).device
    try:
        for images, _ in loader:
            with autocast_for(device, enabled=autocast):
                model(images.to(device))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()
    return len(norms)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on biases and BatchNorm parameters (1-D)."""
    decayed = [p for p in model.parameters() if p.ndim > 1]
    not_decayed = [p for p in model.parameters() if p.ndim <= 1]
    groups = [{"params": decayed, "weight_decay": config.weight_decay}, {"params": not_decayed, "weight_decay": 0.0}]
    return torch.optim.SGD(groups, lr=config.learning_rate, momentum=config.momentum, nesterov=True)


def one_cycle_factor(step: int, total_steps: int, warmup_fraction: float) -> float:
    """Learning-rate multiplier at `step`: linear 0.1 -> 1 over the warm-up, then cosine 1 -> 0.001.

    A high rate explores; the long anneal settles into a minimum, so the final epoch's model is the one to keep.
    """
    warmup_steps = round(warmup_fraction * total_steps)  # 0: no warm-up, the peak rate from the first step
    if step < warmup_steps:
        return WARMUP_START + (1 - WARMUP_START) * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return ANNEAL_END + (1 - ANNEAL_END) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """One-cycle schedule, stepped once per batch (see `one_cycle_factor`)."""
    total_steps = config.num_epochs * steps_per_epoch
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: one_cycle_factor(step, total_steps, config.warmup_fraction)
    )


@dataclass
class TrainingResult:
    model: MnistNet
    config: TrainConfig  # what the run trained with
    normalization: Normalization
    device: torch.device
    history: list[dict] = field(default_factory=list)  # one row per epoch

    @property
    def parameter_count(self) -> int:
        return count_parameters(self.model)

    @property
    def train_seconds(self) -> float:
        """The epochs' seconds: training, each epoch's validation and the recalibration (the test set apart)."""
        return sum(row["seconds"] for row in self.history)

    @property
    def final(self) -> dict:
        return self.history[-1]


def fit(
    config: TrainConfig,
    train_set: ImageSet | None = None,
    validation_set: ImageSet | None = None,
    *,
    checkpoint_path: Path | str | None = None,
    resume: bool = False,
    log: Callable[[str], None] | None = print,
) -> TrainingResult:
    """Train `config.model` from scratch (or resume it) for exactly `config.num_epochs` epochs; return the
    final epoch's model, the test set untouched. With `checkpoint_path`, a checkpoint after every epoch, and
    `resume=True` continues from it. Without data, the standard split is loaded."""
    device = select_device(config.device)
    train_set, validation_set = training_data(config, train_set, validation_set, device)
    normalization = Normalization.of(train_set)
    model = build_for_training(config, device)
    train_loader = training_loader(train_set, normalization, config)
    if len(train_loader) == 0:
        raise ValueError(f"{len(train_set)} images make no full batch of {config.batch_size}: lower batch_size")
    validation = clean_loader(validation_set, EVALUATION_BATCH_SIZE, normalization, config) if validation_set else None
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, len(train_loader))
    result = TrainingResult(model, config, normalization, device)
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        resume_run(checkpoint_path, result, optimizer, scheduler, log)

    for epoch in range(len(result.history) + 1, config.num_epochs + 1):
        row = run_epoch(epoch, result, train_loader, validation, train_set, optimizer, scheduler)
        result.history.append(row)
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path, training_state(model, optimizer, scheduler, config, normalization, result.history)
            )
        if log:
            log(format_epoch(row, config.num_epochs))
    model.eval()
    return result


def training_data(
    config: TrainConfig, train_set: ImageSet | None, validation_set: ImageSet | None, device: torch.device
) -> tuple[ImageSet, ImageSet]:
    """The (train, validation) images on `device`: the ones passed in, or else the standard split of `config`."""
    if (train_set is None) != (validation_set is None):
        raise ValueError("pass both train_set and validation_set, or neither (the standard split is then loaded)")
    if train_set is None:
        train_set, validation_set = load_training_split(
            validation_size=config.validation_size, split_seed=config.split_seed
        )
    return train_set.to(device), validation_set.to(device)


def resume_run(checkpoint_path: Path | str, result: TrainingResult, optimizer, scheduler, log) -> None:
    """Continue `result` from its checkpoint: weights, optimizer, schedule and the epochs done so far."""
    result.history = resume_from(
        checkpoint_path, config=result.config, model=result.model, optimizer=optimizer, scheduler=scheduler
    )
    done, folder = len(result.history), Path(checkpoint_path).parent.as_posix()
    if log and done < result.config.num_epochs:
        log(f"resumed the unfinished run in {folder} after epoch {done} of {result.config.num_epochs}")
    elif log:  # nothing left to train: the log of when it trained, so that a reader sees the same lines either way
        log(f"the same run as an earlier one, loaded from {folder}; its training log:")
        for row in result.history:
            log(format_epoch(row, result.config.num_epochs))


def run_epoch(
    epoch: int,
    result: TrainingResult,
    train_loader: TensorLoader,
    validation_loader: TensorLoader | None,
    train_set: ImageSet,
    optimizer,
    scheduler,
) -> dict:
    """Epoch `epoch`, seeded: training, BatchNorm recalibrated after the last (if the config says so),
    validation. Returns its row of the history."""
    config = result.config
    started = time.perf_counter()
    learning_rate = optimizer.param_groups[0]["lr"]
    start_epoch(train_loader, config, epoch)
    train = train_one_epoch(result.model, train_loader, optimizer, scheduler)
    before = None  # validation before recalibration, kept in the row to show what it changed
    if config.recalibrate_batchnorm and epoch == config.num_epochs:
        before = evaluate(result.model, validation_loader) if validation_loader is not None else None
        clean_train_loader = clean_loader(train_set, RECALIBRATION_BATCH_SIZE, result.normalization, config)
        if recalibrate_batchnorm(result.model, clean_train_loader) == 0:
            before = None  # a model without BatchNorm: nothing was recalibrated
    validation = evaluate(result.model, validation_loader) if validation_loader is not None else None
    return epoch_row(epoch, train, validation, before, learning_rate, time.perf_counter() - started)


def load_result(path: Path | str, device: str = "auto") -> TrainingResult:
    """A finished run read back from its checkpoint (full or exported), as `fit` returned it."""
    checkpoint, device = load_checkpoint(path), select_device(device)
    model, normalization = model_from_checkpoint(checkpoint, device)
    config = TrainConfig.from_dict(checkpoint["config"])
    return TrainingResult(model, config, normalization, device, list(checkpoint["history"]))


def build_for_training(config: TrainConfig, device: torch.device) -> MnistNet:
    """The model of `config`, its weights initialized from `config.seed`, on `device`."""
    torch.manual_seed(config.seed)  # seeds the CPU and CUDA generators alike
    model = build_model_of(config).to(device)
    return model.to(memory_format=torch.channels_last) if config.channels_last else model


def start_epoch(train_loader: TensorLoader, config: TrainConfig, epoch: int) -> None:
    """Seed epoch `epoch` (dropout, shuffling, augmentation); the last `clean_epochs` see the images as they are."""
    torch.manual_seed(epoch_seed(config.seed, epoch))
    train_loader.set_epoch(epoch)
    if config.is_clean_epoch(epoch):
        train_loader.augmentation = None


def epoch_row(epoch: int, train: dict, validation: dict | None, before: dict | None, learning_rate, seconds) -> dict:
    """One row of `TrainingResult.history` (and of metrics.json): what epoch `epoch` measured."""
    row = {
        "epoch": epoch,
        "train_loss": train["loss"],
        "train_accuracy": train["accuracy"],
        "val_loss": validation["loss"] if validation else None,
        "val_accuracy": validation["accuracy"] if validation else None,
        "learning_rate": learning_rate,
        "seconds": seconds,
        **{f"train_{key}": train.get(key, []) for key in ("step_losses", "step_accuracies")},  # per batch
    }
    if before is not None:  # validation before recalibrate_batchnorm
        row |= {f"val_{key}_before_recalibration": value for key, value in before.items()}  # loss, accuracy
    return row


def format_epoch(row: dict, num_epochs: int) -> str:
    validation = "no validation"
    if row["val_accuracy"] is not None:
        validation = f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:6.2f}%"
    line = (
        f"epoch {row['epoch']:>2}/{num_epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:6.2f}%  "
        f"{validation}  lr {row['learning_rate']:.4f}  {row['seconds']:.1f}s"
    )
    if "val_accuracy_before_recalibration" in row:  # the epoch's figures are the recalibrated model's
        loss, accuracy = row["val_loss_before_recalibration"], row["val_accuracy_before_recalibration"]
        line += f"\n  BatchNorm statistics recalibrated on clean training images: validation loss {loss:.4f} -> "
        line += f"{row['val_loss']:.4f}, acc {accuracy:.2f}% -> {row['val_accuracy']:.2f}%"
    return line
