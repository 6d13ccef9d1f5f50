"""The registry of named models and the one factory that builds them (their blocks: `mnist_nb.blocks`).

The notebooks walk through six models, each adding one idea to the one before:

    baseline   plain conv stack: conv + ReLU, max-pooling, a dense (fully connected) head
    batchnorm  + BatchNorm after every convolution
    dropout    + dropout after each pooled stage, and training-time augmentation
    gap        + Global Average Pooling head instead of the dense head
    attention  + channel (squeeze-excitation) and spatial attention after each stage
    residual   + identity skip connections around the conv pairs  (the series' last model)

All six share one trunk, so each step changes exactly one thing:

    input            [B,  1, 28, 28]
    stem             conv 3x3  1 -> 8        [B,  8, 28, 28]
    stage1           conv 3x3  8 -> 16       [B, 16, 28, 28]
    pool1            max-pool 2              [B, 16, 14, 14]
    stage2           2 x conv 3x3 16 -> 16   [B, 16, 14, 14]   (a residual block in `residual`)
    pool2            max-pool 2              [B, 16,  7,  7]
    stage3           2 x conv 3x3 16 -> 16   [B, 16,  7,  7]
    head             dense: flatten 784 -> 10, or GAP: mean over 7x7, then 16 -> 10

`print(build_model(name))` reads as that architecture. The final recipe (`config.RECIPES["final"]`)
trains `residual` built with options: width 20, and channel-only attention after stage 3.

Beyond the series (notebook 09, the frontier): `fast` (`residual` without attention, for
time to accuracy), `tiny` and its siblings (`residual`, narrower), `reference` (the script
repository's model, its own builder in `mnist_nb/support/reference_model.py`) and the ablations
`residual-no-<component>`, `residual` with one component removed. All but the reference are
`residual`'s spec with some fields changed, and so is any variant you make:
`build_model("residual", attention=False)` builds one without touching the registry.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, replace

import torch.nn as nn

from mnist_nb.blocks import Attention, ConvBNAct, DenseHead, GapHead, ResidualBlock
from mnist_nb.config import IMAGE_SIZE, TrainConfig


class MnistNet(nn.Sequential):
    """The trunk as a named sequence of stages: normalized images [B, 1, 28, 28] -> logits [B, 10]."""

    def __init__(self, stages: OrderedDict[str, nn.Module], name: str) -> None:
        super().__init__(stages)
        self.name = name


@dataclass(frozen=True)
class ModelSpec:
    """Which ideas a trunk model uses (how it is trained is the config's: `config.TrainConfig`)."""

    description: str
    batchnorm: bool = True
    dropout: float = 0.0
    head: str = "dense"  # "dense" or "gap"
    attention: bool = False
    residual: bool = False
    widths: tuple[int, int] = (8, 16)  # (stem, stages 1 to 3)
    # The stages whose attention also gates positions (with `attention`); the others gate channels only.
    spatial_attention_stages: tuple[int, ...] = (2, 3)


# The series the notebooks walk through, one idea per step. Notebooks 01 and 02 train without
# augmentation (03 brings it in with dropout), and the plain stack without BatchNorm at learning rate
# 0.05: at 0.1 it is on the edge of stability (in short schedules it stays at chance; notebook 02 tries it).
SERIES_SPECS: dict[str, ModelSpec] = {
    "baseline": ModelSpec("plain conv stack, dense head", batchnorm=False),
    "batchnorm": ModelSpec("+ BatchNorm after every conv"),
    "dropout": ModelSpec("+ dropout and augmentation", dropout=0.05),
    "gap": ModelSpec("+ Global Average Pooling head", dropout=0.05, head="gap"),
    "attention": ModelSpec("+ channel and spatial attention", dropout=0.05, head="gap", attention=True),
    "residual": ModelSpec(
        "+ identity residual connections (the series' last model)",
        dropout=0.05,
        head="gap",
        attention=True,
        residual=True,
    ),
}
# The series' last model (width 16, 11,280 parameters): the base of the frontier's variants and of the
# ablation. The final recipe's model is this one at width 20 (`config.RECIPES["final"]`).
SERIES_MODEL = "residual"
_SERIES = SERIES_SPECS[SERIES_MODEL]

# Beyond the series: residual with some fields changed (notebook 09's frontier).
FRONTIER_SPECS: dict[str, ModelSpec] = {
    # Attention costs ~40% of the CPU time of a step: for time to accuracy, the model without it.
    "fast": replace(_SERIES, description="residual without attention (fast recipe)", attention=False),
    # Conv weights scale with width squared: at width 10 residual has 4,718 parameters.
    "tiny": replace(_SERIES, description="residual at width 10 (<= 5,000 parameters)", widths=(6, 10)),
    "tiny-stem8": replace(_SERIES, description="tiny with an 8-channel stem (<= 5,000 parameters)", widths=(8, 10)),
    # How small can 99.0% go? The same model at width 8 (3,088 parameters) and 6 (1,922).
    "small": replace(_SERIES, description="residual at width 8", widths=(4, 8)),
    "micro": replace(_SERIES, description="residual at width 6", widths=(4, 6)),
}

# The ablation's models: the series' last model (residual) with one component removed. Two removals are
# in how it is trained, not in the model (`lab.frontier.ABLATION_TRAINING`): without BatchNorm the
# plain stack's learning rate, 0.05; without augmentation, residual itself trained with augment=False.
ABLATIONS: dict[str, dict] = {
    "residual-no-batchnorm": {"description": "residual without BatchNorm", "batchnorm": False},
    "residual-no-dropout": {"description": "residual without dropout", "dropout": 0.0},
    "residual-no-augmentation": {"description": "residual without augmentation"},
    "residual-no-gap": {"description": "residual with a dense head instead of GAP", "head": "dense"},
    "residual-no-attention": {"description": "residual without attention", "attention": False},
    "residual-no-skip": {"description": "residual without skip connections", "residual": False},
}

MODEL_SPECS: dict[str, ModelSpec] = {
    **SERIES_SPECS,
    **FRONTIER_SPECS,
    **{name: replace(_SERIES, **changes) for name, changes in ABLATIONS.items()},
}
# The script repository's model has an architecture of its own (mnist_nb/support/reference_model.py).
REFERENCE_MODEL = "reference"
SERIES_NAMES = tuple(SERIES_SPECS)
MODEL_NAMES = (*MODEL_SPECS, REFERENCE_MODEL)


def model_spec(name: str, **changes) -> ModelSpec:
    """The named model's spec, with `changes` (ModelSpec fields) applied: a variant."""
    if name not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    fields = {field.name for field in dataclasses.fields(ModelSpec)}
    unknown = sorted(set(changes) - fields)
    if unknown:
        raise ValueError(f"{name}: no model option {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
    spec = replace(MODEL_SPECS[name], **changes)
    if len(spec.widths) != 2 or spec.head not in ("dense", "gap") or not set(spec.spatial_attention_stages) <= {2, 3}:
        raise ValueError(
            f"{name}: widths must be (stem, width), head 'dense' or 'gap' and spatial_attention_stages "
            f"a subset of (2, 3), got {spec}"
        )
    return spec


def model_description(name: str) -> str:
    """One line on what the named model is."""
    if name == REFERENCE_MODEL:
        return "the script repository's model (mnist_nb/support/reference_model.py)"
    return model_spec(name).description


def build_model(name: str, **changes) -> MnistNet:
    """Build a named model; `changes` (ModelSpec fields) make a variant, e.g. build_model("residual", dropout=0)."""
    if name == REFERENCE_MODEL:
        if changes:
            raise ValueError(f"the reference model has no options (got {', '.join(changes)})")
        from mnist_nb.support.reference_model import reference_stages  # its own architecture, not a trunk

        return MnistNet(reference_stages(), name)
    spec = model_spec(name, **changes)
    bn = spec.batchnorm
    stem_width, width = spec.widths

    def conv_pair() -> nn.Module:  # [B, width, h, w] -> same shape
        if spec.residual:
            return ResidualBlock(width, batchnorm=bn)
        return nn.Sequential(
            OrderedDict(first=ConvBNAct(width, width, batchnorm=bn), second=ConvBNAct(width, width, batchnorm=bn))
        )

    stages: OrderedDict[str, nn.Module] = OrderedDict()
    stages["stem"] = ConvBNAct(1, stem_width, batchnorm=bn)  # [B, stem, 28, 28]
    stages["stage1"] = ConvBNAct(stem_width, width, batchnorm=bn)  # [B, width, 28, 28]
    stages["pool1"] = nn.MaxPool2d(2)  # [B, width, 14, 14]
    stages["stage2"] = conv_pair()
    if spec.attention:
        stages["attention2"] = Attention(width, spatial=2 in spec.spatial_attention_stages)
    stages["pool2"] = nn.MaxPool2d(2)  # [B, width, 7, 7]
    if spec.dropout:
        stages["dropout2"] = nn.Dropout(spec.dropout)
    stages["stage3"] = conv_pair()
    if spec.attention:
        stages["attention3"] = Attention(width, spatial=3 in spec.spatial_attention_stages)
    if spec.dropout:
        stages["dropout3"] = nn.Dropout(spec.dropout)
    stages["head"] = GapHead(width) if spec.head == "gap" else DenseHead(width, IMAGE_SIZE // 4)
    model = MnistNet(stages, name)
    if not spec.batchnorm:
        initialize(model)
    return model


def build_model_of(config: TrainConfig) -> MnistNet:
    """The model `config` trains: its named model with its `model_options`."""
    return build_model(config.model, **dict(config.model_options))


def initialize(model: nn.Module) -> None:
    """He (Kaiming) normal initialization of the main-path convs, zero biases: for models without BatchNorm.

    ReLU zeroes half of its input, so each layer must double the variance it passes on to keep
    the signal alive: std = sqrt(2 / fan). PyTorch's default conv init is smaller; without
    BatchNorm to rescale, the plain 6-conv stack started that way does not train at all.
    With BatchNorm the weights' scale no longer sets the activations' scale, but it still sets
    the effective step size (a BatchNorm-ed layer moves by lr / |w|^2): He's larger weights
    would slow those models down, so they keep PyTorch's default.
    """
    for module in model.modules():
        if isinstance(module, ConvBNAct):
            nn.init.kaiming_normal_(module.conv.weight, mode="fan_out", nonlinearity="relu")
            if module.conv.bias is not None:
                nn.init.zeros_(module.conv.bias)
