"""Support for `mnist_nb.data`: the MNIST files, where they live, fetched or found, verified, read.

torchvision keeps MNIST as four IDX files (gzip archives and their extracted copies) in
`<root>/MNIST/raw/`. With the archives already there (as CI seeds them), torchvision verifies
their md5 and extracts them without the network; without them it downloads, when it can. Every
failure says which file is wrong and what to do about it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
from collections.abc import Iterator
from pathlib import Path

import torch

DATA_ENVIRONMENT_VARIABLE = "MNIST_NB_DATA"

# torchvision's MNIST resources: (archive name, md5). Kept here, not imported from torchvision,
# so the error messages can name the files before torchvision is even asked.
MNIST_FILES = (
    ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
)


class MnistDataError(RuntimeError):
    """MNIST files are missing, corrupt or truncated. The message says what to do."""


def project_root() -> Path | None:
    """The repository checkout this package lives in, or None for an installed wheel."""
    candidate = Path(__file__).resolve().parents[2]  # mnist_nb/support/ -> the checkout
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


def file_in_the_way(folder: Path) -> Path | None:
    """The first of `folder` and its parents that exists but is not a folder (so `folder` cannot be one)."""
    folder = Path(folder)
    return next((path for path in (folder, *folder.parents) if path.exists() and not path.is_dir()), None)


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
    blocking = file_in_the_way(folder)
    if blocking is not None:
        raise MnistDataError(
            f"{blocking} is a file, but MNIST needs a folder there (it keeps the files in {folder}/): "
            f"point ${DATA_ENVIRONMENT_VARIABLE} at a folder, or move the file away."
        )
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


def read_split(root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(images uint8 [N, 28, 28], labels int64 [N]) of the official training (60k) or test (10k) set."""
    from torchvision.datasets import MNIST

    folder = raw_folder(root)
    prefix = "train" if train else "t10k"
    for kind in ("images-idx3", "labels-idx1"):
        check_idx_file(folder / f"{prefix}-{kind}-ubyte")
    dataset = MNIST(str(root), train=train, download=False)
    return dataset.data.contiguous(), dataset.targets.long()
