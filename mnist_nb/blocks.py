"""The named building blocks every model is made of; `print(model)` reads in their names.

ConvBNAct          conv 3x3 -> BatchNorm -> ReLU                        [B, C_in, H, W] -> [B, C_out, H, W]
ResidualBlock      ReLU(x + conv-BN-ReLU-conv-BN(x)): an identity skip  [B, C, H, W] -> [B, C, H, W]
SqueezeExcitation  channel attention, a gate in [0, 1] per channel      [B, C, H, W] -> [B, C, H, W]
SpatialAttention   spatial attention, a gate in [0, 1] per position     [B, C, H, W] -> [B, C, H, W]
Attention          both: what to look for, then where
GlobalAveragePool  the mean over all positions, one per channel         [B, C, H, W] -> [B, C]
DenseHead          flatten, linear                                      [B, C, H, W] -> [B, 10]
GapHead            Global Average Pooling, linear                       [B, C, H, W] -> [B, 10]
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.config import NUM_CLASSES


class ConvBNAct(nn.Sequential):
    """conv 3x3 (same padding) -> BatchNorm (optional) -> ReLU (optional); no conv bias with BatchNorm,
    whose shift would cancel it."""

    def __init__(self, in_channels: int, out_channels: int, *, batchnorm: bool = True, activation: bool = True) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        layers["conv"] = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batchnorm)
        if batchnorm:
            layers["norm"] = nn.BatchNorm2d(out_channels)
        if activation:
            layers["act"] = nn.ReLU(inplace=True)
        super().__init__(layers)


class ResidualBlock(nn.Module):
    """out = ReLU(x + body(x)), body = conv-BN-ReLU, conv-BN (no BN with batchnorm=False). The identity skip has no
    parameters and gives gradients a path around the convolutions. `zero_init` starts body's last BN scale γ at 0
    (torchvision's zero_init_residual): body(x) = β = 0, the identity on x >= 0 (notebook 06); by default γ = 1."""

    def __init__(self, channels: int, *, batchnorm: bool = True, zero_init: bool = False) -> None:
        super().__init__()
        if zero_init and not batchnorm:
            raise ValueError("zero_init starts the body's last BatchNorm scale at 0: it needs batchnorm=True")
        self.body = nn.Sequential(
            OrderedDict(
                first=ConvBNAct(channels, channels, batchnorm=batchnorm),
                second=ConvBNAct(channels, channels, batchnorm=batchnorm, activation=False),
            )
        )
        if zero_init:
            nn.init.zeros_(self.body.second.norm.weight)  # γ, [C]
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, C, H, W]
        return self.act(self.body(x) + x)

    def extra_repr(self) -> str:
        return "skip=identity"


class GlobalAveragePool(nn.Module):
    """[B, C, H, W] -> [B, C], the mean over all positions: no parameters, and the classifier no longer
    depends on where on the last grid a feature fired (the convs before it still see positions)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al., 2018): reweight each channel by a gate in [0, 1].

    squeeze: GAP [B, C, H, W] -> [B, C, 1, 1]; excite: 1x1 conv C -> C/r, ReLU, 1x1 conv -> C, sigmoid;
    scale: x * gate. The last gate is kept in `last_attention` ([B, C, 1, 1]) for plots.
    """

    def __init__(self, channels: int, reduction: int = 4) -> None:
        super().__init__()
        hidden = max(channels // reduction, 1)
        self.reduce = nn.Conv2d(channels, hidden, 1)
        self.expand = nn.Conv2d(hidden, channels, 1)
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        squeezed = x.mean((2, 3), keepdim=True)  # [B, C, 1, 1]
        gate = torch.sigmoid(self.expand(F.relu(self.reduce(squeezed))))  # [B, C, 1, 1]
        self.last_attention = gate.detach()
        return x * gate


class SpatialAttention(nn.Module):
    """Spatial attention (CBAM, Woo et al., 2018): reweight each position by a gate in [0, 1].

    Mean and max over channels [B, 2, H, W] -> 7x7 conv -> sigmoid [B, 1, H, W]; x * gate.
    The last map is kept in `last_attention` ([B, 1, H, W]) to overlay on the input digit.
    """

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2)
        self.last_attention: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        summary = torch.cat([x.mean(1, keepdim=True), x.amax(1, keepdim=True)], dim=1)  # [B, 2, H, W]
        gate = torch.sigmoid(self.conv(summary))  # [B, 1, H, W]
        self.last_attention = gate.detach()
        return x * gate


class Attention(nn.Sequential):
    """What to look for (channels), then where to look (positions); `spatial=False` keeps the first only."""

    def __init__(self, channels: int, *, spatial: bool = True) -> None:
        gates: OrderedDict[str, nn.Module] = OrderedDict(channel=SqueezeExcitation(channels))
        if spatial:
            gates["spatial"] = SpatialAttention()
        super().__init__(gates)


class DenseHead(nn.Sequential):
    """Flatten every position of every channel into one fully connected layer: [B, C*H*W] -> [B, 10]."""

    def __init__(self, channels: int, size: int) -> None:
        super().__init__(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(channels * size * size, NUM_CLASSES)))


class GapHead(nn.Sequential):
    """Global Average Pooling, then one linear layer: [B, C, H, W] -> [B, C] -> [B, 10]."""

    def __init__(self, channels: int) -> None:
        super().__init__(OrderedDict(pool=GlobalAveragePool(), linear=nn.Linear(channels, NUM_CLASSES)))
