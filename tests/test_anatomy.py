"""Looking at a model without training it: parameter count, receptive field, layer summary."""

from __future__ import annotations

import torch
import torch.nn as nn

from mnist_nb.anatomy import count_parameters, receptive_field
from mnist_nb.models import SERIES_MODEL, build_model


def test_count_parameters_counts_trainable_weights_only():
    layers = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    # conv 9 * 4 + 4, BatchNorm scale and shift 2 * 4 (its running statistics are buffers), linear 4 * 2 + 2.
    assert count_parameters(layers) == 40 + 8 + 10
    layers[2].requires_grad_(False)  # frozen: not trained, not counted
    assert count_parameters(layers) == 48


def test_receptive_field_follows_the_main_path_only():
    # Attention gates are side paths: they widen nothing, so with or without them the rows are equal.
    with_attention = receptive_field(build_model(SERIES_MODEL))
    assert with_attention == receptive_field(build_model("residual-no-attention"))
    assert [row.layer for row in with_attention] == [
        "stem.conv", "stage1.conv", "pool1",
        "stage2.body.first.conv", "stage2.body.second.conv", "pool2",
        "stage3.body.first.conv", "stage3.body.second.conv",
    ]  # fmt: skip
    last = with_attention[-1]
    assert (last.receptive_field, last.jump, last.output_size) == (32, 4, 7)
    # Identity skips do not change the formula: the conv path is the wider one.
    assert [row.receptive_field for row in with_attention] == [
        row.receptive_field for row in receptive_field(build_model("residual-no-skip"))
    ]


def test_receptive_field_matches_gradient_footprint():
    """The formula agrees with the input pixels that actually influence one output position."""
    model = build_model("baseline").eval()
    rows = receptive_field(model)
    assert [row.receptive_field for row in rows] == [3, 5, 6, 10, 14, 16, 24, 32]
    # Empirical check on the trunk up to stage2 (receptive field 14, jump 2): backpropagate from
    # one interior position and measure the extent of the non-zero input gradient. Max-pooling
    # routes gradient to one pixel per window, so it is swapped for average pooling (same
    # kernel and stride, same receptive field) to see the whole footprint.
    stages = list(model.children())[:4]
    stages[2] = nn.AvgPool2d(2)
    trunk = nn.Sequential(*stages).double()
    for module in trunk.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    x = torch.rand(1, 1, 28, 28, dtype=torch.double, requires_grad=True)
    with torch.no_grad():
        for module in trunk.modules():  # positive weights: no gradient cancels out by chance
            if isinstance(module, nn.Conv2d):
                module.weight.abs_().add_(0.01)
    out = trunk(x)  # [1, 16, 14, 14]
    out[0, :, 7, 7].sum().backward()
    rows_hit = x.grad[0, 0].abs().sum(1).nonzero().flatten()
    assert rows_hit.max() - rows_hit.min() + 1 == 14


def test_source_code_shows_the_packages_own_code():
    from mnist_nb.anatomy import source_code
    from mnist_nb.blocks import ResidualBlock

    shown = source_code(ResidualBlock)
    assert shown.data.startswith("class ResidualBlock(nn.Module):") and "self.body(x) + x" in shown.data
    assert "<pre" in shown._repr_html_() or "highlight" in shown._repr_html_()  # rendered as code in a notebook
