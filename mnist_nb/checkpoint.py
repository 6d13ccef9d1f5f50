"""Checkpoints: written atomically, loadable on a CPU whatever device saved them, resumable."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from mnist_nb.config import TrainConfig
from mnist_nb.data import Normalization
from mnist_nb.models import MnistNet, build_model
from mnist_nb.results import atomic_file

CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, unreadable or not one of ours. The message says which."""


def save_checkpoint(path: Path | str, payload: dict) -> None:
    """Write `payload` with torch.save to a temporary file beside `path`, then rename it over.

    The rename is atomic: a crash mid-write leaves the previous checkpoint intact, never half a file.
    """
    with atomic_file(path, "wb") as file:
        torch.save({"format": CHECKPOINT_FORMAT, **payload}, file)


def training_state(
    *,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler,
    config: TrainConfig,
    normalization: Normalization,
    epoch: int,
    history: list[dict],
) -> dict:
    """Everything needed to evaluate the model or to resume training after `epoch`."""
    return {
        "model_name": config.model,
        "model_state": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "config": config.to_dict(),
        "normalization": {"mean": normalization.mean, "std": normalization.std},
        "epoch": epoch,
        "history": history,
    }


def load_checkpoint(path: Path | str) -> dict:
    """Read a checkpoint onto the CPU (tensors saved from CUDA included); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}: train one with `python -m mnist_nb train --out DIR`.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__}: {error})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not an mnist_nb checkpoint (format {CHECKPOINT_FORMAT} expected)")
    return checkpoint


def model_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu") -> tuple[MnistNet, Normalization]:
    """Rebuild the checkpoint's model in eval mode, and the normalization it was trained with."""
    model = build_model(checkpoint["model_name"])
    model.load_state_dict(checkpoint["model_state"])
    return model.to(device).eval(), Normalization(**checkpoint["normalization"])
