"""Checkpoints (model.pt): what a run saves after every epoch, and how training resumes from it.
Writing and reading the file safely is support (`mnist_nb.support.checkpoint_files`)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from mnist_nb.config import TrainConfig
from mnist_nb.data import Normalization
from mnist_nb.models import MnistNet, build_model_of
from mnist_nb.support.checkpoint_files import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["is_run_of", "load_checkpoint", "model_from_checkpoint", "resume_from", "save_checkpoint", "training_state"]


def training_state(model, optimizer, scheduler, config: TrainConfig, normalization: Normalization, history) -> dict:
    """Everything needed to evaluate the model or to resume training after epoch len(history)."""
    return {
        "architecture": str(model),  # print(model): what the weights belong to
        "model_state": {key: value.detach().cpu() for key, value in model.state_dict().items()},
        "optimizer_state": optimizer.state_dict(),
        "scheduler_state": scheduler.state_dict(),
        "config": config.to_dict(),
        "normalization": {"mean": normalization.mean, "std": normalization.std},
        "epoch": len(history),
        "history": history,
    }


def is_run_of(saved: dict, config: TrainConfig, model: nn.Module) -> bool:
    """True if `saved` (a checkpoint or a metrics.json record) holds a run of `config` (`TrainConfig.same_run`:
    on any device) on the architecture of `model`, where it recorded one."""
    same_config = TrainConfig.from_dict(saved.get("config", {})).same_run(config)
    return same_config and saved.get("architecture", str(model)) == str(model)


def resume_from(path: Path | str, *, config: TrainConfig, model: nn.Module, optimizer, scheduler) -> list[dict]:
    """Load the checkpoint at `path` into model, optimizer and scheduler; return its history. Only a run of
    the same recipe and architecture resumes (on any device: a GPU run may resume on a CPU)."""
    checkpoint, elsewhere = load_checkpoint(path), "write this run elsewhere (another checkpoint_path; the CLI's --out)"
    if "optimizer_state" not in checkpoint:
        raise CheckpointError(f"{path} holds weights only (exported): it evaluates, but cannot resume; {elsewhere}.")
    if not is_run_of(checkpoint, config, model):
        raise CheckpointError(f"{path} was trained with a different config or model: use the same, or {elsewhere}.")
    model.load_state_dict(checkpoint["model_state"])
    optimizer.load_state_dict(checkpoint["optimizer_state"])
    scheduler.load_state_dict(checkpoint["scheduler_state"])
    return list(checkpoint["history"])


def model_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu") -> tuple[MnistNet, Normalization]:
    """Rebuild the checkpoint's model (variant options included) in eval mode, and its normalization."""
    model = build_model_of(TrainConfig.from_dict(checkpoint["config"]))  # its name and options are the config's
    model.load_state_dict(checkpoint["model_state"])
    return model.to(device).eval(), Normalization(**checkpoint["normalization"])
