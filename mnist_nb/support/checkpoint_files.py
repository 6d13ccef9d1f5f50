"""Support for `mnist_nb.checkpoint`: files written atomically, and checkpoints read back with clear errors.

A checkpoint is a dict saved by `torch.save` with our format number; it loads on a CPU whatever device
saved it. What goes into one is the lesson's (`mnist_nb.checkpoint.training_state`); how it reaches
the disk (never half a file) and how a wrong file is named in the error is this module's.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import torch

CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not one of ours. The message says which."""


@contextlib.contextmanager
def atomic_file(path: Path | str, mode: str = "w") -> Iterator[IO]:
    """Write to a temporary file beside `path`; on success rename it over `path`, else delete it.

    The rename is atomic: a crash or an error mid-write leaves the previous file intact, never
    half a file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, default_file_mode())  # mkstemp makes files private (0600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def default_file_mode() -> int:
    """The mode open() would give a new file: 0666 minus the process umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_json(path: Path | str, payload: dict) -> None:
    """Write `payload` as indented JSON, atomically."""
    with atomic_file(path, "w") as file:
        json.dump(payload, file, indent=2)
        file.write("\n")


def save_checkpoint(path: Path | str, payload: dict) -> None:
    """torch.save `payload` (with our format number) atomically: never half a checkpoint."""
    with atomic_file(path, "wb") as file:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, file)


def load_checkpoint(path: Path | str) -> dict:
    """Read a checkpoint onto the CPU (tensors saved from CUDA included); errors name the file."""
    path = Path(path)
    if path.is_dir():
        hint = f"; its checkpoint is {path / 'model.pt'}" if (path / "model.pt").is_file() else ""
        raise CheckpointError(f"{path} is a folder, not a checkpoint{hint}.")
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: train one (fit(..., checkpoint_path=...), or the CLI's train --out DIR)."
        )
    if not zipfile.is_zipfile(path):  # torch.save writes a zip archive
        raise CheckpointError(
            f"{path} is not a checkpoint (not a file written by torch.save): pass the model.pt that "
            f"fit(..., checkpoint_path=...) or `python -m mnist_nb train --out DIR` wrote (DIR/model.pt)."
        )
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an mnist_nb checkpoint (format {CHECKPOINT_FORMAT} expected)")
    return checkpoint


def export_weights(source: Path | str, target: Path | str) -> dict:
    """Write the checkpoint at `source` without its optimizer and scheduler state: what evaluating needs.

    Weights, config, normalization and the per-epoch history stay; the file is about half the size.
    Returns what was written.
    """
    checkpoint = load_checkpoint(source)
    weights = {key: value for key, value in checkpoint.items() if key not in ("optimizer_state", "scheduler_state")}
    save_checkpoint(target, weights)
    return weights
