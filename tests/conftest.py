"""Shared fixtures and helpers: the real MNIST (seeded from ../shared when present), tiny synthetic data,
quick CPU training runs and their interruption."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
import torch

from mnist_nb.config import TrainConfig
from mnist_nb.data import ImageSet
from mnist_nb.models import build_model
from mnist_nb.support.mnist_files import MNIST_FILES, MnistDataError, default_data_root, ensure_mnist, raw_folder
from mnist_nb.training import TrainingResult, fit

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


# A training run of seconds on the CPU: 640 synthetic images, 20 batches per epoch, 3 epochs.
QUICK = TrainConfig(num_epochs=3, batch_size=32, learning_rate=0.2, augment=False, device="cpu", validation_size=100)


def quick_fit(config: TrainConfig = QUICK, **kwargs) -> TrainingResult:
    """`fit` on 640 synthetic training and 100 validation images, silent unless a `log` is given."""
    kwargs.setdefault("log", None)
    return fit(config, synthetic_digits(640), synthetic_digits(100, seed=1), **kwargs)


def without_seconds(history: list[dict]) -> list[dict]:
    """History rows without their wall-clock times: what two identical runs must share."""
    return [{key: value for key, value in row.items() if key != "seconds"} for row in history]


class Interrupted(KeyboardInterrupt):
    """Raised by `interrupt_after`'s log: Ctrl-C at the end of an epoch."""


def interrupt_after(epoch: int):
    """A `log` for fit that interrupts the run once epoch `epoch` is done (and checkpointed).

    fit saves the checkpoint of an epoch before it logs the epoch's line, so the checkpoint of
    epoch `epoch` is on disk when this raises.
    """

    def log(line: str) -> None:
        if line.startswith(f"epoch {epoch:>2}/"):
            raise Interrupted(f"interrupted after epoch {epoch}")

    return log


def fit_interrupted(config: TrainConfig, checkpoint_path: Path, epoch: int, **kwargs) -> None:
    """Run `quick_fit(config)` with a checkpoint until it is interrupted after epoch `epoch`."""
    try:
        quick_fit(config, checkpoint_path=checkpoint_path, log=interrupt_after(epoch), **kwargs)
    except Interrupted:
        return
    raise AssertionError(f"the run was not interrupted after epoch {epoch}: no such epoch line was logged")


@pytest.fixture
def one_thread():
    """Torch on one CPU thread for the test (deterministic reductions), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def random_batch(count: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(images float [count, 1, 28, 28], labels int64 [count]) from a seeded generator."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 1, 28, 28, generator=generator), torch.randint(0, 10, (count,), generator=generator)


def seeded_model(name: str, **options):
    torch.manual_seed(0)
    return build_model(name, **options)
