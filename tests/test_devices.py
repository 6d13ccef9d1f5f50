"""Device selection: what exists here is used, what does not is refused with the fix."""

from __future__ import annotations

import pytest
import torch

from mnist_nb.devices import DeviceError, select_device


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
