"""Named building blocks and one factory that builds every model, by name.

The notebooks walk through six models, each adding one idea to the one before:

    baseline   plain conv stack: conv + ReLU, max-pooling, a dense (fully connected) head
    batchnorm  + BatchNorm after every convolution
    dropout    + dropout after each pooled stage, and training-time augmentation
    gap        + Global Average Pooling head instead of the dense head
    attention  + channel (squeeze-excitation) and spatial attention after each stage
    residual   + identity skip connections around the conv pairs  (the final model)

All six share one trunk, so each step changes exactly one thing:

    input            [B,  1, 28, 28]
    stem             conv 3x3  1 -> 8        [B,  8, 28, 28]
    stage1           conv 3x3  8 -> 16       [B, 16, 28, 28]
    pool1            max-pool 2              [B, 16, 14, 14]
    stage2           2 x conv 3x3 16 -> 16   [B, 16, 14, 14]   (a residual block in the final model)
    pool2            max-pool 2              [B, 16,  7,  7]
    stage3           2 x conv 3x3 16 -> 16   [B, 16,  7,  7]
    head             dense: flatten 784 -> 10, or GAP: mean over 7x7, then 16 -> 10

`print(build_model(name))` reads as that architecture.

Beyond the series (notebook 09, the frontier): `fast` (the final model without attention, for
time to accuracy), `tiny` (the final model at width 10, under 5,000 parameters; `tiny-separable`
reaches the same size with depthwise-separable convs), `reference` (the
script repository's model, `mnist_nb/reference.py`) and the ablations `residual-no-<component>`,
the final model with one component removed.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.data import IMAGE_SIZE, NUM_CLASSES


class SeparableConv2d(nn.Sequential):
    """Depthwise-separable conv (MobileNet, Howard et al., 2017): where, then what.

    depthwise: one 3x3 filter per input channel (groups=in_channels), 9 * C_in weights;
    pointwise: a 1x1 conv mixing channels, C_in * C_out weights. Together 9 * C_in + C_in * C_out
    instead of 9 * C_in * C_out: about 8x fewer parameters at 24 channels, the same output shape.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, *, bias: bool = True) -> None:
        super().__init__(
            OrderedDict(
                depthwise=nn.Conv2d(
                    in_channels, in_channels, kernel_size, padding=kernel_size // 2, groups=in_channels, bias=False
                ),
                pointwise=nn.Conv2d(in_channels, out_channels, 1, bias=bias),
            )
        )


class ConvBNAct(nn.Sequential):
    """conv 3x3 (same padding) -> BatchNorm (optional) -> ReLU (optional).

    With BatchNorm the conv has no bias: BatchNorm's shift would cancel it anyway.
    `separable=True` uses a depthwise-separable conv (see `SeparableConv2d`).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        *,
        batchnorm: bool = True,
        activation: bool = True,
        separable: bool = False,
    ) -> None:
        layers: OrderedDict[str, nn.Module] = OrderedDict()
        if separable:
            layers["conv"] = SeparableConv2d(in_channels, out_channels, kernel_size, bias=not batchnorm)
        else:
            layers["conv"] = nn.Conv2d(
                in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=not batchnorm
            )
        if batchnorm:
            layers["norm"] = nn.BatchNorm2d(out_channels)
        if activation:
            layers["act"] = nn.ReLU(inplace=True)
        super().__init__(layers)


class ResidualBlock(nn.Module):
    """out = ReLU(x + body(x)) with body = conv-BN-ReLU, conv-BN: an identity skip, no parameters.

    The skip gives gradients a path around the convolutions, and at initialization the block is
    close to the identity. `skip=False` turns it into the plain conv pair it replaces.
    """

    def __init__(self, channels: int, *, batchnorm: bool = True, skip: bool = True, separable: bool = False) -> None:
        super().__init__()
        self.skip = skip
        self.body = nn.Sequential(
            OrderedDict(
                first=ConvBNAct(channels, channels, batchnorm=batchnorm, separable=separable),
                second=ConvBNAct(channels, channels, batchnorm=batchnorm, activation=False, separable=separable),
            )
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, C, H, W] -> [B, C, H, W]
        out = self.body(x)
        if self.skip:
            out = out + x
        return self.act(out)

    def extra_repr(self) -> str:
        return f"skip={'identity' if self.skip else 'none'}"


class GlobalAveragePool(nn.Module):
    """[B, C, H, W] -> [B, C]: one number per channel, the mean over all positions.

    No parameters, and the classifier no longer depends on where in the image a feature fired.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.adaptive_avg_pool2d(x, 1).flatten(1)


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al., 2018): reweight each channel by a gate in [0, 1].

    squeeze: GAP [B, C, H, W] -> [B, C, 1, 1]; excite: 1x1 conv C -> C/r, ReLU, 1x1 conv -> C,
    sigmoid; scale: x * gate. The last gate is kept in `last_attention` ([B, C, 1, 1]) for plots.
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
    """What to look for (channels), then where to look (positions)."""

    def __init__(self, channels: int, reduction: int = 4, kernel_size: int = 7) -> None:
        super().__init__(
            OrderedDict(channel=SqueezeExcitation(channels, reduction), spatial=SpatialAttention(kernel_size))
        )


class DenseHead(nn.Sequential):
    """Flatten every position of every channel into one fully connected layer: [B, C*H*W] -> [B, 10]."""

    def __init__(self, channels: int, size: int, num_classes: int = NUM_CLASSES) -> None:
        super().__init__(OrderedDict(flatten=nn.Flatten(), linear=nn.Linear(channels * size * size, num_classes)))


class GapHead(nn.Sequential):
    """Global Average Pooling, then one linear layer: [B, C, H, W] -> [B, C] -> [B, 10]."""

    def __init__(self, channels: int, num_classes: int = NUM_CLASSES) -> None:
        super().__init__(OrderedDict(pool=GlobalAveragePool(), linear=nn.Linear(channels, num_classes)))


class MnistNet(nn.Sequential):
    """The trunk as a named sequence of stages; checks its input before running it."""

    def __init__(self, stages: OrderedDict[str, nn.Module], name: str) -> None:
        super().__init__(stages)
        self.name = name

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, 1, 28, 28] -> logits [B, 10]
        if not torch.is_floating_point(x) or x.ndim != 4 or tuple(x.shape[1:]) != (1, IMAGE_SIZE, IMAGE_SIZE):
            raise ValueError(
                f"{self.name} expects a float batch of shape [B, 1, {IMAGE_SIZE}, {IMAGE_SIZE}] "
                f"(normalized images), got {x.dtype} {list(x.shape)}. "
                f"Use mnist_nb.data.TensorLoader, or x.float().div(255), then normalize and unsqueeze(1)."
            )
        return super().forward(x)


@dataclass(frozen=True)
class ModelSpec:
    """Which ideas a named model uses; `augment` and `learning_rate` are its training defaults."""

    description: str
    learning_rate: float = 0.1
    batchnorm: bool = True
    dropout: float = 0.0
    augment: bool = False
    head: str = "dense"  # "dense" or "gap"
    attention: bool = False
    residual: bool = False
    # (stem, width): stage1 to stage3 all `width` wide; or (stem, stage1, stage2, stage3), a
    # funnel: a narrow, cheap 28x28 front and the width where the map is small (a 3x3 conv's
    # weights cost the same at 7x7 as at 28x28, its compute 16x less).
    widths: tuple[int, ...] = (8, 16)
    # 3x3 convs in stage2 and stage3. A pair of equal width is a residual block when `residual`
    # (the identity skip needs equal widths); a pair that widens, or a single conv, is plain.
    stage_depths: tuple[int, int] = (2, 2)
    # A 1x1 conv (+ BN, ReLU) widening the last feature map before the GAP head: at width 10 the
    # head would otherwise be a linear map of only 10 pooled numbers. None: no expansion.
    head_width: int | None = None
    separable: bool = False  # depthwise-separable convs after the stem
    architecture: str = "trunk"  # "trunk" (built from the fields above) or "reference"


# The series the notebooks walk through, one idea per step.
SERIES_SPECS: dict[str, ModelSpec] = {
    # Without BatchNorm the plain stack is on the edge of stability at 0.1 (in short schedules it
    # stays at chance; the batchnorm notebook tries it): 0.05 is its safe default.
    "baseline": ModelSpec("plain conv stack, dense head", batchnorm=False, learning_rate=0.05),
    "batchnorm": ModelSpec("+ BatchNorm after every conv"),
    "dropout": ModelSpec("+ dropout and augmentation", dropout=0.05, augment=True),
    "gap": ModelSpec("+ Global Average Pooling head", dropout=0.05, augment=True, head="gap"),
    "attention": ModelSpec("+ channel and spatial attention", dropout=0.05, augment=True, head="gap", attention=True),
    "residual": ModelSpec(
        "+ identity residual connections (final model)",
        dropout=0.05,
        augment=True,
        head="gap",
        attention=True,
        residual=True,
    ),
}
FINAL_MODEL = "residual"
_FINAL = SERIES_SPECS[FINAL_MODEL]

# Beyond the series: the models of the speed and size frontier (notebook 09).
FRONTIER_SPECS: dict[str, ModelSpec] = {
    # Attention costs ~40% of the CPU time of a step and barely gates (notebook 08): for time to
    # accuracy the final model without it is the better deal.
    "fast": dataclasses.replace(_FINAL, description="final model without attention (fast recipe)", attention=False),
    # The final model at width 10 instead of 16: conv weights scale with width squared, so this
    # is 4,718 parameters. Fewer parameters learn more slowly per epoch: its recipe runs 20 epochs.
    "tiny": dataclasses.replace(_FINAL, description="final model at width 10 (<= 5,000 parameters)", widths=(6, 10)),
    # The same at an 8-channel stem (4,920 parameters): the 28x28 stem is where the 6 channels of
    # `tiny` are narrowest. On seed 0 at 30 epochs it led tiny (99.26% against 99.08% on validation,
    # benchmarks/RESULTS.md); `tiny-stem8` tests it at tiny's own 20 epochs.
    "tiny-stem8": dataclasses.replace(
        _FINAL, description="tiny with an 8-channel stem (<= 5,000 parameters)", widths=(8, 10)
    ),
    # How small can 99.0% go? The same model at width 8 (3,088 parameters) and 6 (1,922).
    "small": dataclasses.replace(_FINAL, description="final model at width 8", widths=(4, 8)),
    "micro": dataclasses.replace(_FINAL, description="final model at width 6", widths=(4, 6)),
    # The other way under 5,000: depthwise-separable convs (9 * C_in + C_in * C_out weights instead
    # of 9 * C_in * C_out) buy width 24. On seed 0 (20 epochs) it reached 99.10% on validation
    # against tiny's 99.32%, and a CPU step took 1.5x as long, so `tiny` is the plain one.
    "tiny-separable": dataclasses.replace(
        _FINAL, description="depthwise-separable convs, width 24 (<= 5,000 parameters)", widths=(8, 24), separable=True
    ),
    "reference": ModelSpec(
        "the script repository's model (10,550 parameters)",
        learning_rate=0.05,
        augment=True,
        architecture="reference",
    ),
}

# The final model with one component removed at a time (notebook 09's ablation).
ABLATION_SPECS: dict[str, ModelSpec] = {
    # Without BatchNorm the step size of the plain stack applies (see "baseline").
    "residual-no-batchnorm": dataclasses.replace(
        _FINAL, description="final model without BatchNorm", batchnorm=False, learning_rate=0.05
    ),
    "residual-no-dropout": dataclasses.replace(_FINAL, description="final model without dropout", dropout=0.0),
    "residual-no-augmentation": dataclasses.replace(
        _FINAL, description="final model without augmentation", augment=False
    ),
    "residual-no-gap": dataclasses.replace(
        _FINAL, description="final model with a dense head instead of GAP", head="dense"
    ),
    "residual-no-attention": dataclasses.replace(_FINAL, description="final model without attention", attention=False),
    "residual-no-skip": dataclasses.replace(_FINAL, description="final model without skip connections", residual=False),
}

MODEL_SPECS: dict[str, ModelSpec] = {**SERIES_SPECS, **FRONTIER_SPECS, **ABLATION_SPECS}
SERIES_NAMES = tuple(SERIES_SPECS)
MODEL_NAMES = tuple(MODEL_SPECS)


def model_spec(name: str) -> ModelSpec:
    if name not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    return MODEL_SPECS[name]


def build_model(name: str = FINAL_MODEL, *, skip: bool | None = None) -> MnistNet:
    """Build a named model. `skip` overrides the residual flag (for ablations)."""
    spec = model_spec(name)
    if spec.architecture == "reference":
        from mnist_nb.reference import reference_stages

        return MnistNet(reference_stages(), name)
    residual = spec.residual if skip is None else skip
    stem_width, *stage_widths = spec.widths
    if len(stage_widths) == 1:
        stage_widths *= 3
    if len(stage_widths) != 3 or len(spec.stage_depths) != 2 or not all(1 <= d <= 2 for d in spec.stage_depths):
        raise ValueError(
            f"{name}: widths must be (stem, width) or (stem, stage1, stage2, stage3) and stage_depths two "
            f"numbers in {{1, 2}}, got widths={spec.widths}, stage_depths={spec.stage_depths}"
        )
    bn, separable = spec.batchnorm, spec.separable

    def conv_stage(in_width: int, width: int, depth: int) -> nn.Module:
        if depth == 1:
            return ConvBNAct(in_width, width, batchnorm=bn, separable=separable)
        if residual and in_width == width:
            return ResidualBlock(width, batchnorm=bn, separable=separable)
        return nn.Sequential(
            OrderedDict(
                first=ConvBNAct(in_width, width, batchnorm=bn, separable=separable),
                second=ConvBNAct(width, width, batchnorm=bn, separable=separable),
            )
        )

    stages: OrderedDict[str, nn.Module] = OrderedDict()
    stages["stem"] = ConvBNAct(1, stem_width, batchnorm=bn)  # 28x28
    stages["stage1"] = ConvBNAct(stem_width, stage_widths[0], batchnorm=bn, separable=separable)  # 28x28
    stages["pool1"] = nn.MaxPool2d(2)  # -> 14x14
    size = IMAGE_SIZE // 2
    width = stage_widths[0]
    for index, depth in zip((2, 3), spec.stage_depths, strict=True):
        stages[f"stage{index}"] = conv_stage(width, stage_widths[index - 1], depth)
        width = stage_widths[index - 1]
        if spec.attention:
            stages[f"attention{index}"] = Attention(width)
        if index == 2:
            stages["pool2"] = nn.MaxPool2d(2)  # -> 7x7
            size //= 2
        if spec.dropout:
            stages[f"dropout{index}"] = nn.Dropout(spec.dropout)
    if spec.head_width:
        stages["expand"] = ConvBNAct(width, spec.head_width, kernel_size=1, batchnorm=bn)  # 7x7, 1x1 conv
        width = spec.head_width
    stages["head"] = GapHead(width) if spec.head == "gap" else DenseHead(width, size)
    model = MnistNet(stages, name)
    if not spec.batchnorm:
        initialize(model)
    return model


def initialize(model: nn.Module) -> None:
    """He (Kaiming) normal initialization of the main-path convs, zero biases: for models without BatchNorm.

    ReLU zeroes half of its input, so each layer must double the variance it passes on to keep
    the signal alive: std = sqrt(2 / fan). PyTorch's default conv init is smaller; without
    BatchNorm to rescale, a plain 8-conv stack started that way does not train at all.
    With BatchNorm the weights' scale no longer sets the activations' scale, but it still sets
    the effective step size (a BatchNorm-ed layer moves by lr / |w|^2): He's larger weights
    would slow those models down, so they keep PyTorch's default.
    """
    for module in model.modules():
        if isinstance(module, ConvBNAct) and isinstance(module.conv, nn.Conv2d):
            nn.init.kaiming_normal_(module.conv.weight, mode="fan_out", nonlinearity="relu")
            if module.conv.bias is not None:
                nn.init.zeros_(module.conv.bias)
