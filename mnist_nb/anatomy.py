"""Looking at a model without training it: parameter count, receptive field, source code."""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from mnist_nb.blocks import Attention
from mnist_nb.config import IMAGE_SIZE


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters (BatchNorm's running statistics are buffers, not counted)."""
    return sum(parameter.numel() for parameter in model.parameters() if parameter.requires_grad)


@dataclass(frozen=True)
class ReceptiveFieldRow:
    layer: str
    kernel: int
    stride: int
    output_size: int
    receptive_field: int  # side of the square of input pixels that one output position can see
    jump: int  # input pixels between neighbouring output positions


def _main_path_layers(module: nn.Module, prefix: str = ""):
    """Convs and pools along the main path, in forward order; attention gates are side paths."""
    for name, child in module.named_children():
        full_name = f"{prefix}.{name}" if prefix else name
        if isinstance(child, Attention):
            continue
        if isinstance(child, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            yield full_name, child
        else:
            yield from _main_path_layers(child, full_name)


def _as_int(value) -> int:
    return value[0] if isinstance(value, tuple) else int(value)


def receptive_field(model: nn.Module) -> list[ReceptiveFieldRow]:
    """Receptive field after each conv/pool: r_out = r_in + (kernel - 1) * jump, jump *= stride.

    Identity skips do not widen it (the conv path is the wider one); the global head sees all. Attention's
    gates are left out: they scale the main path's values (the spatial gate's 7x7 conv looks wider).
    """
    rows = []
    field, jump, size = 1, 1, IMAGE_SIZE
    for name, layer in _main_path_layers(model):
        kernel, stride, padding = _as_int(layer.kernel_size), _as_int(layer.stride), _as_int(layer.padding)
        field += (kernel - 1) * jump
        jump *= stride
        size = (size + 2 * padding - kernel) // stride + 1
        rows.append(ReceptiveFieldRow(name, kernel, stride, size, field, jump))
    return rows


def source_code(obj):
    """The source of a class or function, highlighted in a notebook (IPython's `Code`): the notebooks show
    the package's own code, never a copy of it."""
    import inspect

    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")
