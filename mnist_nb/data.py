"""MNIST on the training device: the train/validation split, normalization, batches.

70,000 images of 28x28 bytes (55 MB) live on the device as uint8; each batch is cut, converted to float,
augmented and normalized there in one go: no per-sample PIL work, no worker processes.

Honesty rules: every choice is made on a validation split held out of the 60k training images (its own
seed); normalization uses the training split's mean and std; the 10k test set has its own loader, called
once, at the end, for the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import KW_ONLY, dataclass
from pathlib import Path

import torch

from mnist_nb.augmentation import Augmentation, augmentation_for, random_affine
from mnist_nb.config import TrainConfig, epoch_seed
from mnist_nb.support.mnist_files import ensure_mnist, read_split


@dataclass
class ImageSet:
    """Images as uint8 [N, 28, 28] and labels as int64 [N], on one device."""

    images: torch.Tensor
    labels: torch.Tensor

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.ndim != 3:
            raise ValueError(f"images must be uint8 [N, H, W], got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device | str) -> ImageSet:
        return ImageSet(self.images.to(device), self.labels.to(device))

    @property
    def device(self) -> torch.device:
        return self.images.device


@dataclass(frozen=True)
class Normalization:
    """Pixel mean and std (of images scaled to [0, 1]) used to standardize inputs."""

    mean: float
    std: float

    @classmethod
    def of(cls, images: ImageSet) -> Normalization:
        """The mean and (sample) std of every pixel of `images`, scaled to [0, 1]; computed from a count of
        each of the 256 byte values, which a one-pass histogram gives without a float copy of the images."""
        counts = torch.bincount(images.images.flatten(), minlength=256).cpu().double()  # [256]
        values = torch.arange(256, dtype=torch.float64) / 255.0  # [256]
        mean = (counts * values).sum() / counts.sum()
        variance = (counts * (values - mean) ** 2).sum() / (counts.sum() - 1)
        return cls(mean=round(mean.item(), 6), std=round(variance.sqrt().item(), 6))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std


def load_training_split(
    root: Path | None = None,
    *,
    validation_size: int = TrainConfig.validation_size,  # the split every recipe records
    split_seed: int = TrainConfig.split_seed,
    download: bool = True,
) -> tuple[ImageSet, ImageSet]:
    """The 60k official training images, split into (train, validation).

    5,000 validation images resolve accuracy to 0.02 points per image (a 99.5% estimate's standard error:
    about 0.1 point), leaving 55,000 to learn from. The split depends only on `split_seed`: all seeds share it.
    """
    full = ImageSet(*read_split(ensure_mnist(root, download=download), train=True))
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(split_seed))
    validation_index, train_index = order[:validation_size], order[validation_size:]
    return (
        ImageSet(full.images[train_index], full.labels[train_index]),
        ImageSet(full.images[validation_index], full.labels[validation_index]),
    )


def load_test_set(root: Path | None = None, *, download: bool = True) -> ImageSet:
    """The official 10,000-image MNIST test set: for the final report only."""
    return ImageSet(*read_split(ensure_mnist(root, download=download), train=False))


@dataclass
class TensorLoader:
    """Batches of (images float [B, 1, 28, 28], labels int64 [B]) cut from an on-device ImageSet.

    Shuffling and augmentation draw from a generator reseeded by `set_epoch(epoch)` (`config.epoch_seed`).
    """

    dataset: ImageSet
    batch_size: int
    _: KW_ONLY
    shuffle: bool
    normalization: Normalization
    augmentation: Augmentation | None = None
    seed: int = 0
    max_batches: int | None = None
    drop_last: bool = False
    channels_last: bool = False

    def __post_init__(self) -> None:
        self.generator = torch.Generator(device=self.dataset.device)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(epoch_seed(self.seed, epoch))

    def __len__(self) -> int:
        whole, left_over = divmod(len(self.dataset), self.batch_size)
        count = whole + (1 if left_over and not self.drop_last else 0)  # a last, smaller batch unless dropped
        return count if self.max_batches is None else min(count, self.max_batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        device = self.dataset.device
        if self.shuffle:
            order = torch.randperm(len(self.dataset), generator=self.generator, device=device)
        else:
            order = torch.arange(len(self.dataset), device=device)
        for batch_index in range(len(self)):
            index = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            # uint8 [B, 28, 28] -> float [B, 1, 28, 28] in [0, 1]
            images = self.dataset.images[index].unsqueeze(1).float().div_(255.0)
            if self.augmentation is not None:
                images = random_affine(images, self.augmentation, self.generator)
            images = self.normalization(images)
            if self.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            yield images, self.dataset.labels[index]


def training_loader(images: ImageSet, normalization: Normalization, config: TrainConfig) -> TensorLoader:
    """Shuffled, augmented (if the config says so) batches of `config.batch_size`; reseed with set_epoch."""
    return TensorLoader(
        images,
        config.batch_size,
        shuffle=True,
        normalization=normalization,
        augmentation=augmentation_for(config),
        seed=config.seed,
        max_batches=config.max_batches_per_epoch,
        drop_last=True,  # equal-sized batches keep BatchNorm statistics well-behaved
        channels_last=config.channels_last,
    )


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
