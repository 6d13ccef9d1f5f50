"""Results on disk: metrics.json written atomically, statistics over seeds, where they ran."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
from pathlib import Path

import torch


def write_json(path: Path | str, payload: dict) -> None:
    """Write JSON to a temporary file beside `path`, then rename it over (never half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            json.dump(payload, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def mean_and_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (n - 1); std is 0.0 for a single value."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(device: torch.device) -> dict:
    """What a figure was measured on: device name, CPU threads, versions."""
    import torchvision

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = _cpu_name()
    return {
        "device": str(device),
        "device_name": name,
        "cpu_threads": torch.get_num_threads(),
        "cpu_cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "platform": platform.platform(terse=True),
    }
