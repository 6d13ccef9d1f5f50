"""Device selection: what exists here is used, what does not is refused with the fix."""

from __future__ import annotations

import pytest
import torch

from mnist_nb.devices import DeviceError, autocast_for, select_device


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    # auto takes the accelerator this machine has: CUDA where there is one (on a GPU runner), else MPS, else the CPU.
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    assert select_device("auto").type == ("cuda" if torch.cuda.is_available() else "mps" if mps else "cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        select_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            select_device("cuda")


def test_autocast_is_bfloat16_on_cuda_only_and_never_built_when_off():
    # Off (the CPU and MPS default): a plain no-op context, no torch.autocast object that an older torch
    # might refuse to build for MPS.
    with autocast_for(torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    assert not isinstance(autocast_for(torch.device("mps")), torch.autocast)
    with autocast_for(torch.device("cpu"), enabled=True):  # asked for: bfloat16 on the CPU too
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
