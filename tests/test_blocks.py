"""The building blocks checked against plain PyTorch references."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.anatomy import count_parameters
from mnist_nb.blocks import (
    ConvBNAct,
    DenseHead,
    GapHead,
    GlobalAveragePool,
    ResidualBlock,
    SpatialAttention,
    SqueezeExcitation,
)
from mnist_nb.models import build_model


def test_conv_bn_act_shape_and_parameters():
    block = ConvBNAct(8, 16)
    assert block(torch.randn(2, 8, 14, 14)).shape == (2, 16, 14, 14)
    # 3x3x8x16 weights, no conv bias (BatchNorm has its own shift), BatchNorm scale and shift.
    assert count_parameters(block) == 3 * 3 * 8 * 16 + 2 * 16
    plain = ConvBNAct(8, 16, batchnorm=False)
    assert count_parameters(plain) == 3 * 3 * 8 * 16 + 16
    assert not any(isinstance(module, nn.BatchNorm2d) for module in plain.modules())


def test_conv_bn_act_matches_functional_reference():
    block = ConvBNAct(3, 4).eval()
    x = torch.randn(2, 3, 9, 9)
    bn = block.norm
    reference = F.relu(
        F.batch_norm(
            F.conv2d(x, block.conv.weight, padding=1),
            bn.running_mean,
            bn.running_var,
            bn.weight,
            bn.bias,
            False,
            0.0,
            bn.eps,
        )
    )
    torch.testing.assert_close(block(x), reference)


def test_global_average_pool_equals_mean_over_positions():
    x = torch.randn(4, 16, 7, 7)
    torch.testing.assert_close(GlobalAveragePool()(x), x.mean((2, 3)))


def test_gap_head_and_dense_head_shapes_and_parameters():
    x = torch.randn(3, 16, 7, 7)
    assert GapHead(16)(x).shape == (3, 10)
    assert count_parameters(GapHead(16)) == 16 * 10 + 10
    assert DenseHead(16, 7)(x).shape == (3, 10)
    assert count_parameters(DenseHead(16, 7)) == 16 * 7 * 7 * 10 + 10


def test_residual_block_with_zeroed_branch_is_the_identity():
    block = ResidualBlock(16).eval()
    # Zero the last BatchNorm's scale and shift: the branch then outputs exactly 0.
    nn.init.zeros_(block.body.second.norm.weight)
    nn.init.zeros_(block.body.second.norm.bias)
    x = F.relu(torch.randn(2, 16, 14, 14))  # block inputs come after a ReLU: non-negative
    torch.testing.assert_close(block(x), x)


def test_zero_init_starts_the_block_as_the_identity_in_training_mode_too():
    block = ResidualBlock(16, zero_init=True)  # training mode: BatchNorm standardizes by the batch, then γ = 0
    assert torch.count_nonzero(block.body.second.norm.weight) == 0
    assert torch.count_nonzero(block.body.second.norm.bias) == 0  # β starts at 0 anyway
    x = F.relu(torch.randn(4, 16, 14, 14))
    assert torch.count_nonzero(block.body(x)) == 0
    torch.testing.assert_close(block(x), x)
    default = ResidualBlock(16)
    assert torch.all(default.body.second.norm.weight == 1) and torch.count_nonzero(default.body(x)) > 0
    with pytest.raises(ValueError, match="needs batchnorm=True"):
        ResidualBlock(16, batchnorm=False, zero_init=True)


def test_residual_block_adds_no_parameters_to_the_conv_pair():
    # The conv pair of the model without skips: the same two conv-BN layers, ReLU after both.
    with_skip, without_skip = ResidualBlock(16), build_model("residual-no-skip").stage3
    assert not isinstance(without_skip, ResidualBlock)
    assert count_parameters(with_skip) == count_parameters(without_skip) == 2 * (3 * 3 * 16 * 16 + 2 * 16)
    without_skip.load_state_dict({key.removeprefix("body."): value for key, value in with_skip.state_dict().items()})
    x = torch.randn(2, 16, 7, 7)
    with_skip.eval(), without_skip.eval()
    torch.testing.assert_close(with_skip(x), F.relu(with_skip.body(x) + x))
    torch.testing.assert_close(without_skip(x), F.relu(with_skip.body(x)))
    assert not torch.allclose(with_skip(x), without_skip(x))  # the skip is what differs


def test_squeeze_excitation_gates_channels_in_unit_interval():
    block = SqueezeExcitation(16, reduction=4)
    x = torch.randn(5, 16, 7, 7)
    out = block(x)
    gate = block.last_attention
    assert gate.shape == (5, 16, 1, 1)
    assert gate.min() >= 0 and gate.max() <= 1
    torch.testing.assert_close(out, x * gate)
    # Reference: the same computation written out with functional calls.
    hidden = F.relu(F.conv2d(x.mean((2, 3), keepdim=True), block.reduce.weight, block.reduce.bias))
    torch.testing.assert_close(gate, torch.sigmoid(F.conv2d(hidden, block.expand.weight, block.expand.bias)))
    assert count_parameters(block) == (16 * 4 + 4) + (4 * 16 + 16)


def test_spatial_attention_gates_positions_in_unit_interval():
    block = SpatialAttention(kernel_size=7)
    x = torch.randn(5, 16, 14, 14)
    out = block(x)
    gate = block.last_attention
    assert gate.shape == (5, 1, 14, 14)
    assert gate.min() >= 0 and gate.max() <= 1
    torch.testing.assert_close(out, x * gate)
    assert count_parameters(block) == 2 * 7 * 7 + 1
