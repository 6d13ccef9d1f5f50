"""The registry of named models and the one factory that builds them (their blocks: `mnist_nb.blocks`).

The notebooks walk through six models, each adding one idea to the one before, on one trunk:

    input            [B,  1, 28, 28]
    stem             conv 3x3  1 -> 8        [B,  8, 28, 28]
    stage1           conv 3x3  8 -> 16       [B, 16, 28, 28]
    pool1            max-pool 2              [B, 16, 14, 14]
    stage2           2 x conv 3x3 16 -> 16   [B, 16, 14, 14]   (a residual block from `residual` on)
    pool2            max-pool 2              [B, 16,  7,  7]
    stage3           2 x conv 3x3 16 -> 16   [B, 16,  7,  7]
    head             dense: flatten 784 -> 10, or GAP: mean over 7x7, then 16 -> 10

`print(build_model(name))` reads as that architecture, each idea's layers in place (BatchNorm in the conv
blocks, dropout after the second pool and after stage 3, attention after stages 2 and 3). Every other name is
`residual`'s spec with some fields changed, as is any variant: `build_model("residual", attention=False)`. The
final recipe trains `residual` at width 20 with channel-only attention after stage 3; `fast` and `tiny` are the
other recipes' models; the lab's variants and `reference` (`support/`) are built here by name too.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from dataclasses import dataclass, replace

import torch.nn as nn

from mnist_nb.blocks import Attention, ConvBNAct, DenseHead, GapHead, ResidualBlock
from mnist_nb.config import IMAGE_SIZE, TrainConfig
from mnist_nb.support.variants import ABLATIONS, FRONTIER_VARIANTS


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
    skip: bool = False  # identity skip connections: each pair of 3x3 convs a `ResidualBlock`
    widths: tuple[int, int] = (8, 16)  # (stem, stages 1 to 3)
    # The stages whose attention also gates positions (with `attention`); the others gate channels only.
    spatial_attention_stages: tuple[int, ...] = (2, 3)
    # pool1 right after the stem: stage1 then works at 14x14, and the only 28x28 tensors are the stem's.
    early_pooling: bool = False
    he_initialization: bool | None = None  # He's conv init (`initialize`); None: He exactly when without BatchNorm
    zero_init_residual: bool = False  # each ResidualBlock starts as the identity (`zero_init`); no recipe uses it


# One idea per step. Notebooks 01 and 02 train without augmentation (03 brings it in with dropout), and
# the plain stack without BatchNorm at learning rate 0.05: 0.1 is on the edge of stability (notebook 02 tries it).
SERIES_SPECS: dict[str, ModelSpec] = {
    "baseline": ModelSpec("plain conv stack, dense head", batchnorm=False),
    "batchnorm": ModelSpec("+ BatchNorm after every conv"),
    "dropout": ModelSpec("+ dropout (notebook 03 trains it with augmentation)", dropout=0.05),
    "gap": ModelSpec("+ Global Average Pooling head", dropout=0.05, head="gap"),
    "attention": ModelSpec("+ channel and spatial attention", dropout=0.05, head="gap", attention=True),
    "residual": ModelSpec(
        "+ identity residual connections (the series' last model)",
        dropout=0.05,
        head="gap",
        attention=True,
        skip=True,
    ),
}
# The series' last model (width 16, 11,280 parameters): the base of every variant below.
SERIES_MODEL = "residual"
_SERIES = SERIES_SPECS[SERIES_MODEL]

MODEL_SPECS: dict[str, ModelSpec] = {
    **SERIES_SPECS,
    # For time to accuracy on a CPU: attention adds to every step (notebook 05 times it), and the 28x28
    # tensors after the stem cost most of the rest; stage 1 at 14x14 pays for width 20 (16,338 parameters).
    "fast": replace(
        _SERIES,
        description="residual without attention, pooled after the stem, width 20 (fast recipe)",
        attention=False,
        early_pooling=True,
        widths=(8, 20),
    ),
    # Conv weights scale with width squared: at width 10, 4,718 parameters.
    "tiny": replace(_SERIES, description="residual at width 10, a 6-channel stem, <= 5,000 parameters", widths=(6, 10)),
    **{name: replace(_SERIES, **changes) for name, changes in {**FRONTIER_VARIANTS, **ABLATIONS}.items()},
}
# The script repository's model has an architecture of its own (mnist_nb/support/reference_model.py).
REFERENCE_MODEL = "reference"
MODEL_NAMES = (*MODEL_SPECS, REFERENCE_MODEL)


def model_spec(name: str, **overrides) -> ModelSpec:
    """The named model's spec with `overrides` (ModelSpec fields) applied: a variant."""
    if name not in MODEL_SPECS:
        problem = "unknown model" if name != REFERENCE_MODEL else "no spec or overrides (build_model builds it whole):"
        raise ValueError(f"{problem} {name!r}; valid names: {', '.join(MODEL_NAMES)}")
    fields = {field.name for field in dataclasses.fields(ModelSpec)} - {"description"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"{name}: no override {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
    spec = replace(MODEL_SPECS[name], **overrides)
    rules = [  # (holds, rule, value)
        (len(spec.widths) == 2, "widths must be (stem, width)", spec.widths),
        (spec.head in ("dense", "gap"), "head must be 'dense' or 'gap'", spec.head),
        (set(spec.spatial_attention_stages) <= {2, 3}, "spatial_attention_stages must be within (2, 3)",
         spec.spatial_attention_stages),
        (spec.skip or not spec.zero_init_residual, "zero_init_residual needs skip=True", spec.skip),
    ]  # fmt: skip
    problems = [f"{rule} (got {value!r})" for holds, rule, value in rules if not holds]
    if problems:
        raise ValueError(f"{name}: " + "; ".join(problems))
    return spec


def model_description(name: str) -> str:
    """One line on what the named model is."""
    if name == REFERENCE_MODEL:
        return "the script repository's model (mnist_nb/support/reference_model.py)"
    return model_spec(name).description


def build_model(name: str, **overrides) -> MnistNet:
    """Build a named model; `overrides` (ModelSpec fields) make a variant, e.g. build_model("residual", dropout=0)."""
    if name == REFERENCE_MODEL:
        if overrides:
            raise ValueError(f"the reference model has no overrides (got {', '.join(overrides)})")
        from mnist_nb.support.reference_model import reference_stages  # its own architecture, not a trunk

        return MnistNet(reference_stages(), name)
    spec = model_spec(name, **overrides)
    bn = spec.batchnorm
    stem_width, width = spec.widths

    def conv_pair() -> nn.Module:  # [B, width, h, w] -> same shape
        if spec.skip:
            return ResidualBlock(width, batchnorm=bn, zero_init=spec.zero_init_residual)
        return nn.Sequential(
            OrderedDict(first=ConvBNAct(width, width, batchnorm=bn), second=ConvBNAct(width, width, batchnorm=bn))
        )

    stages: OrderedDict[str, nn.Module] = OrderedDict()
    stages["stem"] = ConvBNAct(1, stem_width, batchnorm=bn)  # [B, stem, 28, 28]
    if spec.early_pooling:
        stages["pool1"] = nn.MaxPool2d(2)  # [B, stem, 14, 14]
        stages["stage1"] = ConvBNAct(stem_width, width, batchnorm=bn)  # [B, width, 14, 14]
    else:
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
    if spec.he_initialization or (spec.he_initialization is None and not spec.batchnorm):
        initialize(model)
    return model


def build_model_of(config: TrainConfig) -> MnistNet:
    """The model `config` trains: its named model with its `model_options`."""
    return build_model(config.model, **dict(config.model_options))


def initialize(model: nn.Module) -> None:
    """He (Kaiming) normal initialization of the main-path convs, zero biases: by default the models without BatchNorm.

    ReLU zeroes half its input, so the weights double the variance to make up for it: std = sqrt(2 / fan),
    with fan = fan_out (C_out * k * k), which keeps the gradients' scale steady in the backward pass. Under
    PyTorch's default the plain 6-conv stack's signal shrinks at every conv stage (notebook 01). The models with
    BatchNorm keep the default (tuned with it; BatchNorm rescales each layer) unless `he_initialization` (02).
    """
    for module in model.modules():
        if isinstance(module, ConvBNAct):
            nn.init.kaiming_normal_(module.conv.weight, mode="fan_out", nonlinearity="relu")
            if module.conv.bias is not None:
                nn.init.zeros_(module.conv.bias)
