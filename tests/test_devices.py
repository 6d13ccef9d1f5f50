"""Device selection: what exists here is used, what does not is refused with the fix."""

from __future__ import annotations

import pytest
import torch

from mnist_nb.devices import DeviceError, select_device


def test_device_selection():
    assert select_device("cpu").type == "cpu"
    assert select_device("auto").type in ("cuda", "mps", "cpu")
    with pytest.raises(DeviceError, match="unknown device"):
        select_device("gpu7")
    if not torch.cuda.is_available():
        with pytest.raises(DeviceError, match="CUDA is not available"):
            select_device("cuda")
