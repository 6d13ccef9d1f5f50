"""A plain training loop: `train_one_epoch` and `evaluate` return metrics, `fit` strings them together.

No framework. The same code runs on CUDA, MPS and CPU; on CUDA the forward pass runs under
bfloat16 autocast. Runs are seeded, and on the CPU two runs with one seed give identical metrics.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.augment import Augmentation
from mnist_nb.checkpoint import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint, training_state
from mnist_nb.config import TrainConfig
from mnist_nb.data import ImageSet, Normalization, TensorLoader, load_training_split
from mnist_nb.models import MnistNet, build_model, model_spec
from mnist_nb.summary import count_parameters


class DeviceError(ValueError):
    """The requested device does not exist on this machine."""


def select_device(requested: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; anything else must exist here."""
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise DeviceError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(f"device {requested!r} requested but CUDA is not available here: use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {requested!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)"
            )
    elif device.type == "mps":
        if not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
            raise DeviceError(f"device {requested!r} requested but MPS is not available here: use --device cpu")
    elif device.type != "cpu":
        raise DeviceError(f"unsupported device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def seed_everything(seed: int) -> None:
    """Seed torch's CPU and CUDA generators (weights init, dropout)."""
    torch.manual_seed(seed)


def autocast_for(device: torch.device):
    """bfloat16 autocast on CUDA (no loss scaling needed); a no-op context elsewhere."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _progress_bar(total: int, description: str, enabled: bool):
    """A plain-text tqdm bar on stdout (never a widget), or None."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=description, file=sys.stdout, ascii=True, ncols=100, leave=False)


def train_one_epoch(
    model: nn.Module,
    loader: TensorLoader,
    optimizer: torch.optim.Optimizer,
    scheduler,
    *,
    label_smoothing: float = 0.0,
    teacher: nn.Module | None = None,
    distillation_weight: float = 0.5,
    distillation_temperature: float = 4.0,
    progress: bool = False,
    description: str = "train",
) -> dict:
    """One pass over `loader`; steps the scheduler every batch. Returns loss and accuracy (%).

    With a `teacher` (eval mode, frozen), the loss mixes in `distillation_loss` against its
    logits on the same augmented batch, with weight `distillation_weight`.
    """
    model.train()
    device = next(model.parameters()).device
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    total_seen = 0
    bar = _progress_bar(len(loader), description, progress)
    for batch_index, (images, labels) in enumerate(loader):
        with autocast_for(device):
            logits = model(images)  # [B, 10]
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=label_smoothing)
        if teacher is not None:
            with torch.no_grad(), autocast_for(device):
                teacher_logits = teacher(images)  # [B, 10]
            soft = distillation_loss(logits.float(), teacher_logits.float(), distillation_temperature)
            loss = (1 - distillation_weight) * loss + distillation_weight * soft
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        # Accumulate on the device: no host sync per batch.
        total_loss += loss.detach() * len(labels)
        total_correct += (logits.argmax(1) == labels).sum()
        total_seen += len(labels)
        if bar is not None:
            bar.update(1)
            if batch_index % 20 == 0 or batch_index == len(loader) - 1:
                bar.set_postfix(
                    loss=f"{total_loss.item() / total_seen:.4f}",
                    accuracy=f"{100 * total_correct.item() / total_seen:.2f}%",
                )
    if bar is not None:
        bar.close()
    return {"loss": total_loss.item() / total_seen, "accuracy": 100 * total_correct.item() / total_seen}


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """T^2 * KL(softmax(teacher / T) || softmax(student / T)), averaged over the batch.

    Dividing the logits by T > 1 spreads the teacher's probability over the wrong classes too (a
    4 that looks a bit like a 9): that is the knowledge passed on. The gradients of the softened
    loss shrink as 1 / T^2, so T^2 puts them back on the scale of the cross-entropy's.
    """
    return (
        F.kl_div(
            F.log_softmax(student_logits / temperature, dim=1),
            F.log_softmax(teacher_logits / temperature, dim=1),
            reduction="batchmean",
            log_target=True,
        )
        * temperature**2
    )


def load_teacher(config: TrainConfig, normalization: Normalization, device: torch.device) -> nn.Module:
    """The frozen, eval-mode teacher of `config.teacher`, checked to share our training split."""
    path = Path(config.teacher)
    if not path.is_file():
        raise CheckpointError(
            f"no teacher checkpoint at {path}: train the teacher first, on the same split (for example "
            f"`python -m mnist_nb train --out runs/teacher` writes runs/teacher/model.pt)."
        )
    checkpoint = load_checkpoint(path)
    teacher_config = TrainConfig.from_dict(checkpoint["config"])
    if (teacher_config.validation_size, teacher_config.split_seed) != (config.validation_size, config.split_seed):
        raise ValueError(
            f"the teacher {path} was trained with validation_size={teacher_config.validation_size}, "
            f"split_seed={teacher_config.split_seed}, this run uses {config.validation_size}, {config.split_seed}: "
            f"it has seen this run's validation images, so distilling from it would leak them into training."
        )
    teacher, teacher_normalization = model_from_checkpoint(checkpoint, device)
    if teacher_normalization != normalization:
        raise ValueError(f"the teacher {path} normalizes images differently ({teacher_normalization})")
    if config.channels_last:
        teacher = teacher.to(memory_format=torch.channels_last)
    teacher.requires_grad_(False)
    return teacher.eval()


@torch.no_grad()
def evaluate(model: nn.Module, loader: TensorLoader) -> dict:
    """Loss and accuracy (%) of `model` over `loader`, in eval mode (BatchNorm statistics fixed)."""
    model.eval()
    device = next(model.parameters()).device
    total_loss = torch.zeros((), device=device)
    total_correct = torch.zeros((), device=device, dtype=torch.long)
    total_seen = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)  # no-op when the loader is on the device
        with autocast_for(device):
            logits = model(images)
        total_loss += F.cross_entropy(logits.float(), labels, reduction="sum")
        total_correct += (logits.argmax(1) == labels).sum()
        total_seen += len(labels)
    return {"loss": total_loss.item() / total_seen, "accuracy": 100 * total_correct.item() / total_seen}


def clean_loader(images: ImageSet, batch_size: int, normalization: Normalization, config: TrainConfig) -> TensorLoader:
    """`images` in order and unaugmented, as the model meets them at test time (evaluation, recalibration)."""
    return TensorLoader(
        images,
        batch_size,
        shuffle=False,
        normalization=normalization,
        max_batches=config.max_batches_per_epoch,
        channels_last=config.channels_last,
    )


@torch.no_grad()
def recalibrate_batchnorm(model: nn.Module, loader: TensorLoader) -> int:
    """Recompute every BatchNorm's running mean and variance over `loader`, the rest in eval mode.

    During training the running statistics are an exponential average (momentum 0.1, so about the
    last 10 batches), taken on augmented images and with dropout on. At test time the model sees
    clean images with dropout off. One pass over clean training images with dropout off and a
    cumulative average (momentum None) gives the statistics of what the model will see ("precise
    BN", Wu and Johnson, "Rethinking Batch in BatchNorm", 2021). Weights are untouched; returns
    the number of BatchNorm layers recalibrated.
    """
    norms = [module for module in model.modules() if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    model.eval()  # dropout off
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over all batches
        norm.train()  # normalize with batch statistics and update the running ones
    device = next(model.parameters()).device
    try:
        for images, _ in loader:
            with autocast_for(device):
                model(images.to(device))
    finally:
        for norm, momentum in zip(norms, momenta, strict=True):
            norm.momentum = momentum
        model.eval()
    return len(norms)


@torch.no_grad()
def predict(model: nn.Module, loader: TensorLoader) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted labels [N], true labels [N]) on the CPU, in loader order (use shuffle=False)."""
    model.eval()
    device = next(model.parameters()).device
    predictions, targets = [], []
    for images, labels in loader:
        with autocast_for(device):
            predictions.append(model(images.to(device)).argmax(1).cpu())
        targets.append(labels.cpu())
    return torch.cat(predictions), torch.cat(targets)


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """SGD with Nesterov momentum; no weight decay on biases and BatchNorm parameters (1-D)."""
    decayed = [p for p in model.parameters() if p.ndim > 1]
    not_decayed = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.SGD(
        [{"params": decayed, "weight_decay": config.weight_decay}, {"params": not_decayed, "weight_decay": 0.0}],
        lr=config.learning_rate,
        momentum=config.momentum,
        nesterov=True,
    )


def one_cycle_factor(step: int, total_steps: int, warmup_fraction: float) -> float:
    """Learning-rate multiplier at `step`: linear 0.1 -> 1 over the warm-up, then cosine 1 -> 0.001.

    A high rate in the middle explores; the long anneal at the end settles into a minimum, so
    the final-epoch model is a good one and no epoch has to be picked.
    """
    warmup_steps = max(1, round(warmup_fraction * total_steps))
    if step < warmup_steps:
        return 0.1 + 0.9 * step / warmup_steps
    progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
    return 0.001 + (1 - 0.001) * 0.5 * (1 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int):
    """One-cycle schedule, stepped once per batch (see `one_cycle_factor`)."""
    total_steps = config.num_epochs * steps_per_epoch
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: one_cycle_factor(step, total_steps, config.warmup_fraction)
    )


def with_model_defaults(config: TrainConfig) -> TrainConfig:
    """Fill the settings left to the model (None) with its defaults, so saved configs are concrete."""
    spec = model_spec(config.model)
    return config.replace(
        learning_rate=spec.learning_rate if config.learning_rate is None else config.learning_rate,
        augment=spec.augment if config.augment is None else config.augment,
    )


def augmentation_for(config: TrainConfig) -> Augmentation | None:
    if not with_model_defaults(config).augment:
        return None
    return Augmentation(config.rotation_degrees, config.translate_pixels, config.scale_range)


@dataclass
class TrainingResult:
    model: MnistNet
    config: TrainConfig
    normalization: Normalization
    device: torch.device
    history: list[dict] = field(default_factory=list)

    @property
    def parameters(self) -> int:
        return count_parameters(self.model)

    @property
    def train_seconds(self) -> float:
        return sum(row["seconds"] for row in self.history)

    @property
    def final(self) -> dict:
        return self.history[-1]


def format_epoch(row: dict, num_epochs: int) -> str:
    validation = (
        f"val loss {row['val_loss']:.4f} acc {row['val_accuracy']:6.2f}%"
        if row["val_accuracy"] is not None
        else "no validation"
    )
    line = (
        f"epoch {row['epoch']:>2}/{num_epochs}  train loss {row['train_loss']:.4f} acc {row['train_accuracy']:6.2f}%  "
        f"{validation}  lr {row['learning_rate']:.4f}  {row['seconds']:.1f}s"
    )
    if "val_accuracy_before_recalibration" in row:
        line += (
            f"\n  BatchNorm statistics recalibrated on clean training images: validation before "
            f"loss {row['val_loss_before_recalibration']:.4f} acc {row['val_accuracy_before_recalibration']:6.2f}%"
        )
    return line


def fit(
    config: TrainConfig,
    train_set: ImageSet | None = None,
    validation_set: ImageSet | None = None,
    *,
    data_root: Path | None = None,
    checkpoint_path: Path | str | None = None,
    resume: bool = False,
    stop_after_epoch: int | None = None,
    log: Callable[[str], None] | None = print,
    progress: bool | str = "auto",
) -> TrainingResult:
    """Train `config.model` from scratch (or resume it), for exactly `config.num_epochs` epochs.

    The final-epoch model is returned: nothing is picked by an accuracy, and the test set is not
    touched here. Validation metrics are computed every epoch for the curves. With
    `checkpoint_path`, a checkpoint is written after every epoch; `resume=True` continues from it.
    `stop_after_epoch` ends early (to simulate an interruption); smoke mode limits batches.
    """
    config = with_model_defaults(config.with_smoke_mode())
    device = select_device(config.device)
    if progress == "auto":
        progress = sys.stdout.isatty()
    if train_set is None or validation_set is None:
        train_set, validation_set = load_training_split(
            data_root, validation_size=config.validation_size, split_seed=config.split_seed
        )
    train_set, validation_set = train_set.to(device), validation_set.to(device)
    normalization = Normalization.of(train_set)

    seed_everything(config.seed)
    model = build_model(config.model).to(device)
    if config.channels_last:
        model = model.to(memory_format=torch.channels_last)
    train_loader = TensorLoader(
        train_set,
        config.batch_size,
        shuffle=True,
        normalization=normalization,
        augmentation=augmentation_for(config),
        seed=config.seed,
        max_batches=config.max_batches_per_epoch,
        drop_last=True,  # equal-sized batches keep BatchNorm statistics well-behaved
        channels_last=config.channels_last,
    )
    validation_loader = clean_loader(validation_set, 1000, normalization, config)
    optimizer = make_optimizer(model, config)
    scheduler = make_scheduler(optimizer, config, len(train_loader))
    teacher = load_teacher(config, normalization, device) if config.teacher else None
    # The compiled module shares the parameters of `model`; checkpoints save `model` itself.
    step_model = torch.compile(model) if config.compile else model
    result = TrainingResult(model, config, normalization, device)

    start_epoch = 1
    if resume and checkpoint_path is not None and Path(checkpoint_path).is_file():
        checkpoint = load_checkpoint(checkpoint_path)
        # Any device: a GPU run may resume on a CPU.
        if not TrainConfig.from_dict(checkpoint["config"]).same_recipe(config):
            raise CheckpointError(
                f"{checkpoint_path} was trained with a different config; resume with the same settings "
                f"or choose another --out directory."
            )
        model.load_state_dict(checkpoint["model_state"])
        optimizer.load_state_dict(checkpoint["optimizer_state"])
        scheduler.load_state_dict(checkpoint["scheduler_state"])
        result.history = list(checkpoint["history"])
        start_epoch = checkpoint["epoch"] + 1
        if log:
            log(f"resumed from {Path(checkpoint_path).name} after epoch {checkpoint['epoch']}")

    for epoch in range(start_epoch, config.num_epochs + 1):
        # Reseed per epoch (dropout, shuffling, augmentation): epoch k is identical whether the
        # run went straight through or resumed from the checkpoint of epoch k - 1.
        torch.manual_seed(config.seed * 100_003 + epoch)
        train_loader.set_epoch(epoch)
        if epoch > config.num_epochs - config.clean_epochs:
            train_loader.augmentation = None  # the last epochs see the images unaugmented
        started = time.perf_counter()
        learning_rate = optimizer.param_groups[0]["lr"]
        train_metrics = train_one_epoch(
            step_model,
            train_loader,
            optimizer,
            scheduler,
            label_smoothing=config.label_smoothing,
            teacher=teacher,
            distillation_weight=config.distillation_weight,
            distillation_temperature=config.distillation_temperature,
            progress=progress,
            description=f"epoch {epoch}/{config.num_epochs}",
        )
        before_recalibration = None
        if config.recalibrate_batchnorm and epoch == config.num_epochs:
            # The final model's BatchNorm statistics from the clean training images, dropout off;
            # validation before it is kept in the row, to show what it changed.
            if len(validation_set):
                before_recalibration = evaluate(step_model, validation_loader)
            recalibrate_batchnorm(model, clean_loader(train_set, 500, normalization, config))
        validation_metrics = evaluate(step_model, validation_loader) if len(validation_set) else None
        row = {
            "epoch": epoch,
            "train_loss": train_metrics["loss"],
            "train_accuracy": train_metrics["accuracy"],
            "val_loss": validation_metrics["loss"] if validation_metrics else None,
            "val_accuracy": validation_metrics["accuracy"] if validation_metrics else None,
            "learning_rate": learning_rate,
            "seconds": time.perf_counter() - started,
        }
        if before_recalibration is not None:
            row["val_loss_before_recalibration"] = before_recalibration["loss"]
            row["val_accuracy_before_recalibration"] = before_recalibration["accuracy"]
        result.history.append(row)
        if log:
            log(format_epoch(row, config.num_epochs))
        if checkpoint_path is not None:
            save_checkpoint(
                checkpoint_path,
                training_state(
                    model=model,
                    optimizer=optimizer,
                    scheduler=scheduler,
                    config=config,
                    normalization=normalization,
                    epoch=epoch,
                    history=result.history,
                ),
            )
        if stop_after_epoch is not None and epoch >= stop_after_epoch:
            break
    model.eval()
    return result


def train_models(names: list[str], config: TrainConfig, **fit_options) -> dict[str, TrainingResult]:
    """Train each named model with the same recipe and budget (`config` with its model replaced).

    Each model's own augmentation default applies unless `config.augment` says otherwise.
    The train and validation images are loaded once and shared.
    """
    if "train_set" not in fit_options:
        fit_options["train_set"], fit_options["validation_set"] = load_training_split(
            validation_size=config.validation_size, split_seed=config.split_seed
        )
    log = fit_options.get("log", print)
    results = {}
    for name in names:
        if log:
            log(f"--- {name} ---")
        results[name] = fit(config.replace(model=name), **fit_options)
    return results


def comparison_table(results: dict[str, TrainingResult]) -> str:
    """One line per run: parameters, final train and validation accuracy, their gap, seconds."""
    width = max([12] + [len(name) for name in results])
    lines = [f"{'model':<{width}} {'params':>8} {'train %':>8} {'val %':>7} {'gap':>6} {'seconds':>8}"]
    for name, result in results.items():
        final = result.final
        gap = final["train_accuracy"] - final["val_accuracy"] if final["val_accuracy"] is not None else float("nan")
        lines.append(
            f"{name:<{width}} {result.parameters:>8,} {final['train_accuracy']:>8.2f} {final['val_accuracy']:>7.2f} "
            f"{gap:>+6.2f} {result.train_seconds:>8.1f}"
        )
    return "\n".join(lines)
