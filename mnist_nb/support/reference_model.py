"""Support for `mnist_nb.models`: the reference model, the script repository this project grew from, rebuilt
from its description, for the lab's comparisons (the frontier, the race); no notebook teaches it.

That repository claims 19,866 parameters; its model, built as described, has 10,550:

    block1    conv 3x3  1 -> 8,  BN, ReLU               [B,  8, 28, 28]
    block2    conv 3x3  8 -> 12, BN, ReLU               [B, 12, 28, 28]
    pool1     max-pool 2, dropout 0.1                    [B, 12, 14, 14]
    block3    conv 3x3 12 -> 16, BN, ReLU               [B, 16, 14, 14]
    pool2     max-pool 2, dropout 0.1                    [B, 16,  7,  7]
    branches  ReLU(BN(conv 3x3)) + ReLU(conv 1x1)        [B, 16,  7,  7]
    block4    conv 3x3 16 -> 16, BN, ReLU               [B, 16,  7,  7]
    gate      squeeze-excitation 16 -> 8 -> 16, sigmoid  [B, 16,  7,  7]
    block5    conv 3x3 16 -> 16, BN, ReLU, dropout 0.1  [B, 16,  7,  7]
    head      GAP, linear 16 -> 10, log-softmax          [B, 10]

`build_model("reference")` returns it. Its outputs are log-probabilities; cross-entropy on them
equals NLL (log-softmax of log-probabilities changes nothing), so it trains with our loop too.
Its own pipeline and optimizer live in `benchmarks/reference.py`.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


class ReferenceConvBNReLU(nn.Sequential):
    """conv 3x3 (with bias, as in the reference) -> BN -> ReLU."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(in_channels, out_channels, 3, padding=1),
                norm=nn.BatchNorm2d(out_channels),
                act=nn.ReLU(inplace=True),
            )
        )


class TwoBranches(nn.Module):
    """ReLU(BN(conv 3x3)) + ReLU(conv 1x1), on the same channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.wide = ReferenceConvBNReLU(channels, channels)
        self.narrow = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, C, H, W]
        return self.wide(x) + F.relu(self.narrow(x))


class SqueezeExcitationGate(nn.Module):
    """GAP -> linear C -> hidden -> ReLU -> linear hidden -> C -> sigmoid, scaling the channels."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.reduce = nn.Linear(channels, hidden)
        self.expand = nn.Linear(hidden, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.expand(F.relu(self.reduce(x.mean((2, 3))))))  # [B, C]
        return x * gate[:, :, None, None]


def reference_stages() -> OrderedDict[str, nn.Module]:
    return OrderedDict(
        block1=ReferenceConvBNReLU(1, 8),
        block2=ReferenceConvBNReLU(8, 12),
        pool1=nn.MaxPool2d(2),
        dropout1=nn.Dropout(0.1),
        block3=ReferenceConvBNReLU(12, 16),
        pool2=nn.MaxPool2d(2),
        dropout2=nn.Dropout(0.1),
        branches=TwoBranches(16),
        block4=ReferenceConvBNReLU(16, 16),
        gate=SqueezeExcitationGate(16, 8),
        block5=ReferenceConvBNReLU(16, 16),
        dropout3=nn.Dropout(0.1),
        pool=nn.AdaptiveAvgPool2d(1),
        flatten=nn.Flatten(),
        linear=nn.Linear(16, 10),
        log_softmax=nn.LogSoftmax(dim=1),
    )
