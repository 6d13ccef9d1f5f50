"""`fit`, with the whole training step captured once as a CUDA graph and replayed: the GPU's loop.

On a GPU, `training.fit` is launch-bound: a step of `fast` is a few hundred small kernels
(augmentation, forward, backward, optimizer), each launched from Python at a few microseconds of
CPU time, while the GPU finishes each in about as long. A CUDA graph records every kernel of one
step once; a replay launches them all with one call. What that asks of the step:

- static shapes and addresses: full batches only; the batch is gathered inside the step from a
  fixed buffer holding the epoch's shuffled order, indexed by a step counter that lives on the GPU;
- no host work inside: the one-cycle learning rate is computed on the GPU from a step counter and
  read by the fused SGD kernel from a tensor (`torch.optim.SGD(lr=tensor, fused=True)`);
- random numbers from the device's generator (augmentation, dropout), which graphs replay with a
  fresh offset each time.

Two graphs are captured per run, one with augmentation and one without (the clean last epochs).
Evaluation is one batch of all validation images, read back once per epoch. On the CPU and MPS the
same `TrainStep` runs eagerly, step by step: that is how its logic is tested without a GPU
(`tests/test_graphed.py`: one step equals `training.train_one_epoch`'s).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from mnist_nb.augmentation import augmentation_for, random_affine
from mnist_nb.config import TrainConfig, epoch_seed
from mnist_nb.data import ImageSet, Normalization, clean_loader
from mnist_nb.devices import select_device
from mnist_nb.training import (
    ANNEAL_END,
    RECALIBRATION_BATCH_SIZE,
    WARMUP_START,
    TrainingResult,
    build_for_training,
    epoch_row,
    format_epoch,
    make_optimizer,
    recalibrate_batchnorm,
    training_data,
)


def one_cycle_on_device(step: torch.Tensor, total_steps: int, warmup_fraction: float) -> torch.Tensor:
    """`training.one_cycle_factor` computed from a step counter on the device (float64, 0-dim)."""
    warmup_steps = round(warmup_fraction * total_steps)
    step = step.double()
    warming = WARMUP_START + (1 - WARMUP_START) * step / max(1, warmup_steps)
    progress = ((step - warmup_steps) / max(1, total_steps - warmup_steps)).clamp(max=1.0)
    annealing = ANNEAL_END + (1 - ANNEAL_END) * 0.5 * (1 + torch.cos(math.pi * progress))
    return torch.where(step < warmup_steps, warming, annealing)


class TrainStep:
    """One training step whose every input lives in a fixed buffer, so that it can be captured.

    State (all on the device, allocated once): the training images [N, 28, 28] uint8 and labels
    [N]; the epoch's order [steps, B]; the step counters; the learning rate; the summed loss and
    correct count of the epoch. `__call__` runs one step eagerly; `capture` records it as a graph.
    """

    def __init__(self, model, config: TrainConfig, train_set: ImageSet, normalization: Normalization,
                 steps_per_epoch: int, *, autocast: bool) -> None:  # fmt: skip
        device = train_set.device
        self.model, self.config, self.normalization = model, config, normalization
        self.train_set, self.autocast = train_set, autocast
        self.augmentation = augmentation_for(config)
        self.steps_per_epoch, self.total_steps = steps_per_epoch, steps_per_epoch * config.num_epochs
        self.order = torch.zeros(steps_per_epoch, config.batch_size, dtype=torch.long, device=device)
        self.step = torch.zeros((), dtype=torch.long, device=device)  # over the run: the schedule's clock
        self.step_in_epoch = torch.zeros((), dtype=torch.long, device=device)
        # The rate of step 0 (the schedule's first factor, 0.1); each step then sets the next one's.
        self.learning_rate = config.learning_rate * one_cycle_on_device(self.step, self.total_steps,
                                                                        config.warmup_fraction).float()  # fmt: skip
        self.loss_sum = torch.zeros((), device=device)
        self.correct = torch.zeros((), dtype=torch.long, device=device)
        # SGD with Nesterov momentum and `training.make_optimizer`'s groups (weight decay on weights only),
        # but fused (one kernel for all tensors) and reading its learning rate from `self.learning_rate`.
        groups = [
            {"params": group["params"], "weight_decay": group["weight_decay"]}
            for group in make_optimizer(model, config).param_groups
        ]
        self.optimizer = torch.optim.SGD(
            groups, lr=self.learning_rate, momentum=config.momentum, nesterov=True, fused=True
        )
        for p in model.parameters():  # zero momentum: the first step then sets it to the gradient, as SGD's does
            self.optimizer.state[p]["momentum_buffer"] = torch.zeros_like(p)
        # On the CPU the step draws augmentation from the loader's generator (as `TensorLoader` does);
        # on CUDA from the device's default generator, the one a graph can replay.
        self.generator = torch.Generator(device=device) if device.type != "cuda" else None
        self.shuffle_generator = torch.Generator(device=device)

    def start_epoch(self, epoch: int) -> None:
        """The epoch's shuffled order into its buffer, the counters and sums back to zero."""
        seed = epoch_seed(self.config.seed, epoch)
        torch.manual_seed(seed)  # dropout
        generator = self.generator if self.generator is not None else self.shuffle_generator
        generator.manual_seed(seed)
        order = torch.randperm(len(self.train_set), generator=generator, device=self.train_set.device)
        self.order.copy_(order[: self.order.numel()].view_as(self.order))
        self.step_in_epoch.zero_()
        self.loss_sum.zero_()
        self.correct.zero_()

    def __call__(self, augment: bool) -> None:
        """One step: gather the batch, augment, forward, loss, backward, SGD, the schedule's next rate."""
        index = self.order.index_select(0, self.step_in_epoch.view(1)).view(-1)  # [B]
        images = self.train_set.images.index_select(0, index).unsqueeze(1).float().div_(255.0)  # [B, 1, 28, 28]
        labels = self.train_set.labels.index_select(0, index)  # [B]
        if augment and self.augmentation is not None:
            images = random_affine(images, self.augmentation, self.generator)
        images = self.normalization(images)
        if self.config.channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        # No autocast weight cache: a graph must not keep casts made outside it.
        with torch.autocast(images.device.type, torch.bfloat16, enabled=self.autocast, cache_enabled=False):
            logits = self.model(images)  # [B, 10]
        loss = F.cross_entropy(logits.float(), labels)
        loss.backward()
        self.optimizer.step()
        self.step.add_(1)
        self.step_in_epoch.add_(1)
        self.learning_rate.copy_(
            self.config.learning_rate * one_cycle_on_device(self.step, self.total_steps, self.config.warmup_fraction)
        )
        self.loss_sum.add_(loss.detach() * len(index))
        self.correct.add_((logits.argmax(1) == labels).sum())

    def run_eagerly(self, augment: bool) -> Callable[[], None]:
        def step() -> None:
            self.optimizer.zero_grad(set_to_none=True)
            self(augment)

        return step

    def capture(self, augment: bool, eager_steps: int = 3) -> Callable[[], None]:
        """The step recorded as a CUDA graph; returns its replay. Leaves every state as it found it.

        Capture needs a few eager steps first (cuDNN picks its kernels, autograd sets up its
        streams), on a side stream; they change the weights, so all state is restored after.
        """
        saved = self._state()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(eager_steps):
                self.step_in_epoch.zero_()  # any epoch length will do
                self.run_eagerly(augment)()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        self.optimizer.zero_grad(set_to_none=True)  # the gradients are allocated inside the graph
        with torch.cuda.graph(graph):
            self(augment)
        self._restore(saved)
        return graph.replay

    def _tensors(self) -> list[torch.Tensor]:
        momentum = [self.optimizer.state[p]["momentum_buffer"] for p in self.model.parameters()]
        counters = [self.step, self.step_in_epoch, self.learning_rate, self.loss_sum, self.correct]
        return [*self.model.state_dict().values(), *momentum, *counters]

    def _state(self) -> list[torch.Tensor]:
        return [tensor.clone() for tensor in self._tensors()]

    def _restore(self, saved: list[torch.Tensor]) -> None:
        with torch.no_grad():
            for tensor, value in zip(self._tensors(), saved, strict=True):
                tensor.copy_(value)


@torch.no_grad()
def evaluate_at_once(
    model, images: ImageSet, normalization: Normalization, *, channels_last: bool, autocast: bool
) -> dict:
    """Loss and accuracy (%) of `model` in eval mode on all of `images` as one batch, read back with one sync."""
    inputs = normalization(images.images.unsqueeze(1).float().div(255.0))  # [N, 1, 28, 28]
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    with torch.autocast(inputs.device.type, torch.bfloat16, enabled=autocast, cache_enabled=False):
        logits = model(inputs)  # [N, 10]
    model.train(was_training)
    loss = F.cross_entropy(logits.float(), images.labels, reduction="sum")
    correct = (logits.argmax(1) == images.labels).sum()
    return {"loss": loss.item() / len(images), "accuracy": 100 * correct.item() / len(images)}


def fit_graphed(
    config: TrainConfig,
    train_set: ImageSet | None = None,
    validation_set: ImageSet | None = None,
    *,
    autocast: bool | None = None,
    graphs: bool | None = None,
    log: Callable[[str], None] | None = print,
) -> TrainingResult:
    """Train `config` as `training.fit` does (same model, schedule, optimizer, clean epochs and BatchNorm
    recalibration), each step replayed from a CUDA graph (`graphs`, default: on CUDA).

    `autocast` (default: on CUDA) runs the forward pass in bfloat16. The result's `warmup_seconds`
    is the capture's cost, kept apart from the epochs' `seconds`. Full batches only: the last
    partial batch of an epoch is dropped, as `training_loader` does.
    """
    device = select_device(config.device)
    graphs = device.type == "cuda" if graphs is None else graphs
    autocast = device.type == "cuda" if autocast is None else autocast
    if graphs and device.type != "cuda":
        raise ValueError(f"CUDA graphs need a CUDA device, not {device.type}: pass graphs=False")
    train_set, validation_set = training_data(config, train_set, validation_set, device)
    normalization = Normalization.of(train_set)
    steps_per_epoch = len(train_set) // config.batch_size
    if config.max_batches_per_epoch is not None:
        steps_per_epoch = min(steps_per_epoch, config.max_batches_per_epoch)
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(train_set)} training images make no full batch of {config.batch_size}: lower batch_size"
        )
    model = build_for_training(config, device)
    model.train()
    step = TrainStep(model, config, train_set, normalization, steps_per_epoch, autocast=autocast)

    def validate() -> dict | None:
        if not len(validation_set):
            return None
        return evaluate_at_once(
            model, validation_set, normalization, channels_last=config.channels_last, autocast=autocast
        )

    started = time.perf_counter()
    augmented = step.capture(True) if graphs else step.run_eagerly(True)
    clean = step.capture(False) if graphs else step.run_eagerly(False)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    result = TrainingResult(model, config, normalization, device)
    result.warmup_seconds = time.perf_counter() - started

    for epoch in range(1, config.num_epochs + 1):
        started = time.perf_counter()
        learning_rate = step.learning_rate.item()
        step.start_epoch(epoch)
        run_step = clean if config.is_clean_epoch(epoch) else augmented
        for _ in range(steps_per_epoch):
            run_step()
        seen = steps_per_epoch * config.batch_size
        train = {"loss": step.loss_sum.item() / seen, "accuracy": 100 * step.correct.item() / seen}
        before = None
        if config.recalibrate_batchnorm and epoch == config.num_epochs:
            before = validate()  # None without validation images
            loader = clean_loader(train_set, RECALIBRATION_BATCH_SIZE, normalization, config)
            if recalibrate_batchnorm(model, loader, autocast=autocast) == 0:
                before = None
            model.train()
        validation = validate()
        row = epoch_row(epoch, train, validation, before, learning_rate, time.perf_counter() - started)
        result.history.append(row)
        if log:
            log(format_epoch(row, config.num_epochs))
    model.eval()
    return result
