"""MNIST on the training device: files, the train/validation split, normalization, batches.

The whole dataset is small (70,000 images of 28x28 bytes = 55 MB), so it lives on the training
device as uint8 tensors. Batches are cut, converted to float, augmented and normalized there, in
one go per batch: no per-sample PIL work, no worker processes.

Honesty rules encoded here:
- the validation split is held out of the 60k training images (seeded, independent of the
  training seed), and is what every choice is made on;
- normalization uses the training split's own mean and std, never the test set's;
- the 10k test set has its own loader function, called once, at the end, for the report.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_nb.augment import Augmentation, random_affine

DATA_ENVIRONMENT_VARIABLE = "MNIST_NB_DATA"

# torchvision's MNIST resources: (archive name, md5). Kept here, not imported from torchvision,
# so the error messages can name the files before torchvision is even asked.
MNIST_FILES = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)
IMAGE_SIZE = 28
NUM_CLASSES = 10


class MnistDataError(RuntimeError):
    """MNIST files are missing, corrupt or truncated. The message says what to do."""


def project_root() -> Path | None:
    """The repository checkout this package lives in, or None for an installed wheel."""
    candidate = Path(__file__).resolve().parent.parent
    return candidate if (candidate / "pyproject.toml").is_file() else None


def default_data_root() -> Path:
    """Where MNIST lives: $MNIST_NB_DATA, else `<checkout>/data`, else `~/.cache/mnist_nb`.

    torchvision keeps the files in `<root>/MNIST/raw/`.
    """
    if os.environ.get(DATA_ENVIRONMENT_VARIABLE):
        return Path(os.environ[DATA_ENVIRONMENT_VARIABLE]).expanduser()
    root = project_root()
    if root is not None:
        return root / "data"
    return Path.home() / ".cache" / "mnist_nb"


def raw_folder(root: Path) -> Path:
    return Path(root) / "MNIST" / "raw"


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _missing_files_message(root: Path, missing: list[str], reason: str) -> str:
    names = "\n".join(f"    {name}" for name, _ in MNIST_FILES)
    return (
        f"MNIST is not available: {', '.join(missing)} not found in {raw_folder(root)}"
        f" and the download failed ({reason}).\n"
        f"Put these four files (from any MNIST mirror) into {raw_folder(root)}/:\n{names}\n"
        f"or point ${DATA_ENVIRONMENT_VARIABLE} at a folder whose MNIST/raw/ holds them."
    )


def check_idx_file(path: Path) -> None:
    """Raise MnistDataError naming `path` unless its IDX header matches its length.

    An IDX file is: 2 zero bytes, a type byte (0x08 = uint8), the number of dimensions, one
    big-endian int32 per dimension, then the data. A truncated file has fewer bytes than its
    header promises.
    """
    with open(path, "rb") as file:
        header = file.read(4)
        if len(header) < 4 or header[0] != 0 or header[1] != 0 or header[2] != 0x08:
            raise MnistDataError(f"{path} is not an MNIST IDX file (bad header): replace it with a good copy.")
        num_dimensions = header[3]
        shape_bytes = file.read(4 * num_dimensions)
    if len(shape_bytes) < 4 * num_dimensions:
        raise MnistDataError(f"{path} is truncated (header cut short): replace it with a good copy.")
    shape = [int.from_bytes(shape_bytes[4 * i : 4 * i + 4], "big") for i in range(num_dimensions)]
    expected = 4 + 4 * num_dimensions + math.prod(shape)
    actual = path.stat().st_size
    if actual != expected:
        raise MnistDataError(
            f"{path} is truncated or corrupt: {actual} bytes, its header says {expected}. "
            f"Delete it (and its .gz if that is bad too) and put a good copy in place."
        )


EXTRACTION_LOCK = ".mnist_nb-extract.lock"


@contextlib.contextmanager
def _extraction_lock(folder: Path, *, exclusive: bool) -> Iterator[None]:
    """Serialize extraction between processes (two seeds started side by side, say).

    The extracting process holds an exclusive lock on `folder/EXTRACTION_LOCK` while torchvision
    writes the IDX files; a process that finds the files already there takes a shared lock first,
    so it never reads a file that is still being written. Where there is no lock file (data
    extracted by something else, or a read-only folder) or no `fcntl` (Windows), it does nothing.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; start parallel runs after the first load
        yield
        return
    lock_path = folder / EXTRACTION_LOCK
    if exclusive:
        folder.mkdir(parents=True, exist_ok=True)
        handle = open(lock_path, "a")  # noqa: SIM115 - closed below
    else:
        try:
            handle = open(lock_path)  # noqa: SIM115 - read-only: writes nothing into the data folder
        except OSError:
            yield
            return
    try:
        fcntl.flock(handle, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        handle.close()  # releases the lock


def ensure_mnist(root: Path | None = None, *, download: bool = True) -> Path:
    """Make sure the four extracted IDX files are in `<root>/MNIST/raw/`; return the root.

    With the `.gz` archives already there (as CI seeds them), torchvision verifies their md5 and
    extracts them without the network. Without them it downloads, when it can. Safe to call from
    several processes at once: one extracts, the others wait for it.
    """
    root = Path(root) if root is not None else default_data_root()
    folder = raw_folder(root)
    extracted = [folder / name.removesuffix(".gz") for name, _ in MNIST_FILES]
    if all(path.is_file() for path in extracted):
        with _extraction_lock(folder, exclusive=False):  # waits if another process is still writing
            return root
    with _extraction_lock(folder, exclusive=True):
        if not all(path.is_file() for path in extracted):  # else another process extracted them meanwhile
            _extract(root, folder, download=download)
    return root


def _extract(root: Path, folder: Path, *, download: bool) -> None:
    """Verify the archives that are present, then let torchvision extract (or download) the rest."""
    # Check the archives that are present before torchvision sees them: a bad archive would
    # otherwise send it to the network (and, offline, fail with a message about downloading).
    missing = []
    for name, expected_md5 in MNIST_FILES:
        archive = folder / name
        if (folder / name.removesuffix(".gz")).is_file():
            continue
        if not archive.is_file():
            missing.append(name)
            continue
        actual_md5 = md5_of(archive)
        if actual_md5 != expected_md5:
            raise MnistDataError(
                f"{archive} is corrupt or truncated (md5 {actual_md5}, expected {expected_md5}). "
                f"Replace it with a good copy, or delete it to download it again."
            )
    if missing and not download:
        raise MnistDataError(_missing_files_message(root, missing, "downloading was switched off"))

    from torchvision.datasets import MNIST  # imported late: only this path needs it

    # torchvision prints progress with absolute paths; keep that out of notebook outputs and
    # quote it only if something fails.
    log = io.StringIO()
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            for train in (True, False):
                MNIST(str(root), train=train, download=True)
    except Exception as error:  # noqa: BLE001 - any failure here means "no data", explained below
        reason = f"{type(error).__name__}: {error}".strip().splitlines()[0]
        if missing:
            raise MnistDataError(_missing_files_message(root, missing, reason)) from None
        raise MnistDataError(f"could not extract MNIST in {folder}: {reason}") from None


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
        pixels = images.images.double() / 255.0
        return cls(mean=round(pixels.mean().item(), 6), std=round(pixels.std().item(), 6))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return (images - self.mean) / self.std

    def invert(self, images: torch.Tensor) -> torch.Tensor:
        return images * self.std + self.mean


def _read_split(root: Path, train: bool) -> ImageSet:
    from torchvision.datasets import MNIST

    folder = raw_folder(root)
    prefix = "train" if train else "t10k"
    for kind in ("images-idx3", "labels-idx1"):
        check_idx_file(folder / f"{prefix}-{kind}-ubyte")
    dataset = MNIST(str(root), train=train, download=False)
    return ImageSet(dataset.data.contiguous(), dataset.targets.long())


def load_training_split(
    root: Path | None = None,
    *,
    validation_size: int = 5000,
    split_seed: int = 0,
    download: bool = True,
) -> tuple[ImageSet, ImageSet]:
    """The 60k official training images, split into (train, validation).

    5,000 validation images (8%) resolve accuracy to 0.02% per image, and the standard error of
    a 99.5% estimate on them is about 0.1%: enough to compare recipes, while 55,000 images are
    left to learn from. The split depends only on `split_seed`, so all training seeds share it.
    """
    root = ensure_mnist(root, download=download)
    full = _read_split(root, train=True)
    if not 0 <= validation_size < len(full):
        raise ValueError(f"validation_size must be in [0, {len(full)}), got {validation_size}")
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(split_seed))
    validation_index, train_index = order[:validation_size], order[validation_size:]
    return (
        ImageSet(full.images[train_index], full.labels[train_index]),
        ImageSet(full.images[validation_index], full.labels[validation_index]),
    )


def load_test_set(root: Path | None = None, *, download: bool = True) -> ImageSet:
    """The official 10,000-image MNIST test set: for the final report only."""
    root = ensure_mnist(root, download=download)
    return _read_split(root, train=False)


class TensorLoader:
    """Batches of (images float [B, 1, 28, 28], labels int64 [B]) cut from an on-device ImageSet.

    `shuffle` is explicit. Shuffling and augmentation draw from a generator reseeded by
    `set_epoch(epoch)`, so epoch k is the same whether training ran straight through or was
    resumed from a checkpoint.
    """

    def __init__(
        self,
        dataset: ImageSet,
        batch_size: int,
        *,
        shuffle: bool,
        normalization: Normalization,
        augmentation: Augmentation | None = None,
        seed: int = 0,
        max_batches: int | None = None,
        drop_last: bool = False,
        channels_last: bool = False,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.normalization = normalization
        self.augmentation = augmentation
        self.seed = seed
        self.max_batches = max_batches
        self.drop_last = drop_last
        self.channels_last = channels_last
        self.generator = torch.Generator(device=dataset.device)
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(self.seed * 100_003 + epoch)

    def __len__(self) -> int:
        count = len(self.dataset) // self.batch_size
        if not self.drop_last and len(self.dataset) % self.batch_size:
            count += 1
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
