"""Where a run trains: CUDA, then Apple's MPS, then the CPU; bfloat16 autocast on CUDA."""

from __future__ import annotations

import contextlib

import torch


class DeviceError(ValueError):
    """The requested device does not exist on this machine."""


def select_device(requested: str = "auto") -> torch.device:
    """'auto' picks cuda, then mps, then cpu; anything else must exist here."""
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise DeviceError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {requested!r} requested but CUDA is not available here: use device 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise DeviceError(f"device {requested!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if device.type == "mps" and not mps:
        raise DeviceError(f"device {requested!r} requested but MPS is not available here: use device 'cpu'")
    if device.type not in ("cpu", "cuda", "mps"):
        raise DeviceError(f"unsupported device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    return device


def autocast_for(device: torch.device, enabled: bool | None = None):
    """bfloat16 autocast on CUDA (no loss scaling needed); a no-op context elsewhere, or when `enabled` is False."""
    if not (device.type == "cuda" if enabled is None else enabled):  # some torch releases refuse MPS autocast, even off
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
