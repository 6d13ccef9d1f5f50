"""Shared fixtures: the real MNIST (seeded from ../shared when present), tiny synthetic data."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from mnist_nb.data import MNIST_FILES, ImageSet, MnistDataError, default_data_root, ensure_mnist, raw_folder

# Beside every checkout of this project (development machines and CI) lies ../shared/data with
# the four canonical archives. Copy them into the project's own data dir; never write there.
SHARED_RAW = Path(__file__).resolve().parents[2] / "shared" / "data" / "MNIST" / "raw"


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    """The data root holding the real MNIST; skips (saying why) only when it cannot be had."""
    root = default_data_root()
    folder = raw_folder(root)
    if SHARED_RAW.is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        for name, _ in MNIST_FILES:
            if not (folder / name).exists() and (SHARED_RAW / name).exists():
                shutil.copyfile(SHARED_RAW / name, folder / name)
    try:
        return ensure_mnist(root)
    except MnistDataError as error:
        pytest.skip(f"real MNIST unavailable, test not run: {error}")


def write_idx(path: Path, array: torch.Tensor, *, compress: bool = False) -> None:
    """Write a uint8 tensor as an IDX file: 0, 0, 0x08 (uint8), ndim, big-endian dims, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.contiguous().numpy().tobytes()
    if compress:
        path = path.with_name(path.name + ".gz")
        path.write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


@pytest.fixture
def tiny_mnist_root(tmp_path: Path) -> Path:
    """A data root with four tiny (extracted) IDX files: 100 training and 20 test images."""
    folder = raw_folder(tmp_path)
    folder.mkdir(parents=True)
    generator = torch.Generator().manual_seed(0)
    for prefix, count in (("train", 100), ("t10k", 20)):
        images = torch.randint(0, 256, (count, 28, 28), generator=generator, dtype=torch.uint8)
        labels = (torch.arange(count) % 10).to(torch.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
    return tmp_path


def synthetic_digits(count: int, seed: int = 0) -> ImageSet:
    """Learnable stand-ins for digits: each class a fixed random blob pattern, plus noise.

    Lets the training tests run in seconds without the real dataset.
    """
    generator = torch.Generator().manual_seed(1234)
    templates = (torch.rand(10, 28, 28, generator=generator) > 0.7).float()  # [10, 28, 28]
    generator.manual_seed(seed)
    labels = torch.randint(0, 10, (count,), generator=generator)
    noise = torch.rand(count, 28, 28, generator=generator) * 0.6
    images = ((templates[labels] * 0.7 + noise).clamp(0, 1) * 255).to(torch.uint8)
    return ImageSet(images, labels)
