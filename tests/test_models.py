"""Blocks and models checked against plain PyTorch references."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from mnist_nb.models import (
    ABLATION_SPECS,
    FINAL_MODEL,
    MODEL_NAMES,
    SERIES_NAMES,
    Attention,
    ConvBNAct,
    DenseHead,
    GapHead,
    GlobalAveragePool,
    ResidualBlock,
    SeparableConv2d,
    SpatialAttention,
    SqueezeExcitation,
    build_model,
)
from mnist_nb.summary import count_parameters, model_summary, receptive_field


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


def test_separable_conv_equals_depthwise_then_pointwise_reference():
    conv = SeparableConv2d(6, 10, bias=False)
    x = torch.randn(2, 6, 9, 9)
    depthwise = F.conv2d(x, conv.depthwise.weight, padding=1, groups=6)  # [2, 6, 9, 9]: one filter per channel
    torch.testing.assert_close(conv(x), F.conv2d(depthwise, conv.pointwise.weight))
    # 9 weights per input channel, then a 1x1 mix: 9 * 6 + 6 * 10 instead of 9 * 6 * 10.
    assert count_parameters(conv) == 9 * 6 + 6 * 10
    assert count_parameters(ConvBNAct(6, 10, separable=True)) == 9 * 6 + 6 * 10 + 2 * 10


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


def test_residual_block_adds_no_parameters_to_the_conv_pair():
    with_skip, without_skip = ResidualBlock(16), ResidualBlock(16, skip=False)
    assert count_parameters(with_skip) == count_parameters(without_skip) == 2 * (3 * 3 * 16 * 16 + 2 * 16)
    without_skip.load_state_dict(with_skip.state_dict())
    x = torch.randn(2, 16, 7, 7)
    with_skip.eval(), without_skip.eval()
    torch.testing.assert_close(with_skip(x), F.relu(with_skip.body(x) + x))
    torch.testing.assert_close(without_skip(x), F.relu(with_skip.body(x)))


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


def test_every_named_model_is_under_20k_and_classifies_a_batch():
    for name in MODEL_NAMES:
        model = build_model(name)
        assert count_parameters(model) < 20_000, name
        assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10), name


def test_series_order_and_frontier_budgets():
    assert SERIES_NAMES == ("baseline", "batchnorm", "dropout", "gap", "attention", "residual")
    assert count_parameters(build_model("tiny")) <= 5_000
    assert count_parameters(build_model("tiny-separable")) <= 5_000
    assert any(isinstance(module, SeparableConv2d) for module in build_model("tiny-separable").modules())
    # The reference model as its description builds it: 10,550 parameters (it claims 19,866).
    assert count_parameters(build_model("reference")) == 10_550
    assert not any(isinstance(module, Attention) for module in build_model("fast").modules())


def test_head_expansion_is_a_1x1_conv_before_gap(monkeypatch):
    from mnist_nb import models

    plain = models.MODEL_SPECS["tiny"]
    monkeypatch.setitem(models.MODEL_SPECS, "expanded", models.dataclasses.replace(plain, head_width=24))
    model, reference = build_model("expanded"), build_model("tiny")
    assert list(model)[-2] is model.expand and model.expand.conv.kernel_size == (1, 1)
    assert model.head.linear.in_features == 24
    # conv 10 x 24 (no bias: BatchNorm follows), BatchNorm 2 x 24, linear grows by (24 - 10) x 10.
    assert count_parameters(model) - count_parameters(reference) == 10 * 24 + 2 * 24 + 14 * 10
    model.eval()
    features = nn.Sequential(*list(model)[:-2])(torch.randn(3, 1, 28, 28))  # [3, 10, 7, 7]
    expanded = F.relu(model.expand.norm(F.conv2d(features, model.expand.conv.weight)))
    torch.testing.assert_close(model.head(model.expand(features)), model.head.linear(expanded.mean((2, 3))))
    assert receptive_field(model)[-1].kernel == 1  # the 1x1 conv widens nothing


def test_funnel_widths_and_depths_build_what_they_say(monkeypatch):
    from mnist_nb import models

    funnel = models.dataclasses.replace(
        models.MODEL_SPECS["tiny"], widths=(8, 8, 12, 16), stage_depths=(2, 1), attention=False
    )
    monkeypatch.setitem(models.MODEL_SPECS, "funnel-test", funnel)
    model = build_model("funnel-test")
    # stage2 widens 8 -> 12, so no identity skip fits: a plain pair; stage3 is one conv 12 -> 16.
    assert not any(isinstance(module, ResidualBlock) for module in model.modules())
    assert [model.stage2.first.conv.in_channels, model.stage2.first.conv.out_channels] == [8, 12]
    assert isinstance(model.stage3, ConvBNAct) and model.stage3.conv.out_channels == 16
    assert model.head.linear.in_features == 16
    convs = 9 * (1 * 8 + 8 * 8 + 8 * 12 + 12 * 12 + 12 * 16)
    batchnorms = 2 * (8 + 8 + 12 + 12 + 16)
    assert count_parameters(model) == convs + batchnorms + 16 * 10 + 10 == 4_818
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    # Equal widths keep the residual block; the 2-tuple form means every stage at one width.
    monkeypatch.setitem(models.MODEL_SPECS, "funnel-test", models.dataclasses.replace(funnel, widths=(8, 10, 10, 16)))
    assert isinstance(build_model("funnel-test").stage2, ResidualBlock)
    uniform = models.dataclasses.replace(models.MODEL_SPECS["tiny"], widths=(6, 10, 10, 10))
    monkeypatch.setitem(models.MODEL_SPECS, "funnel-test", uniform)
    assert {k: v.shape for k, v in build_model("funnel-test").state_dict().items()} == {
        k: v.shape for k, v in build_model("tiny").state_dict().items()
    }


@pytest.mark.parametrize("changes", [{"widths": (8, 10, 12)}, {"stage_depths": (2, 3)}, {"stage_depths": (2,)}])
def test_bad_widths_or_depths_say_what_is_allowed(monkeypatch, changes):
    from mnist_nb import models

    monkeypatch.setitem(models.MODEL_SPECS, "bad", models.dataclasses.replace(models.MODEL_SPECS["tiny"], **changes))
    with pytest.raises(ValueError, match=r"widths must be \(stem, width\) or \(stem, stage1, stage2, stage3\)"):
        build_model("bad")


def test_named_models_keep_their_sizes():
    # Recorded results (benchmarks/results) were measured on these exact models.
    sizes = {"residual": 11_280, "fast": 10_786, "tiny": 4_718, "small": 3_088, "micro": 1_922}
    assert {name: count_parameters(build_model(name)) for name in sizes} == sizes


def test_each_ablation_removes_exactly_its_component():
    def kinds(name):
        return {type(module).__name__ for module in build_model(name).modules()}

    final = kinds(FINAL_MODEL)
    assert final - kinds("residual-no-batchnorm") == {"BatchNorm2d"}
    assert final - kinds("residual-no-dropout") == {"Dropout"}
    assert final - kinds("residual-no-attention") == {"Attention", "SqueezeExcitation", "SpatialAttention"}
    assert final - kinds("residual-no-gap") == {"GapHead", "GlobalAveragePool"}
    assert kinds("residual-no-augmentation") == final and not ABLATION_SPECS["residual-no-augmentation"].augment
    no_skip = build_model("residual-no-skip")
    assert all(not module.skip for module in no_skip.modules() if isinstance(module, ResidualBlock))
    assert count_parameters(no_skip) == count_parameters(build_model(FINAL_MODEL))


def test_final_model_has_all_five_components():
    model = build_model(FINAL_MODEL)
    modules = list(model.modules())
    assert any(isinstance(module, nn.BatchNorm2d) for module in modules)
    assert any(isinstance(module, nn.Dropout) and module.p > 0 for module in modules)
    assert any(isinstance(module, GlobalAveragePool) for module in modules)
    assert any(isinstance(module, SqueezeExcitation) for module in modules)
    assert any(isinstance(module, SpatialAttention) for module in modules)
    assert any(isinstance(module, ResidualBlock) and module.skip for module in modules)
    assert not any(isinstance(module, DenseHead) for module in modules)


def test_each_step_adds_its_idea():
    def has(name, kind):
        return any(isinstance(module, kind) for module in build_model(name).modules())

    assert not has("baseline", nn.BatchNorm2d) and has("batchnorm", nn.BatchNorm2d)
    assert not has("batchnorm", nn.Dropout) and has("dropout", nn.Dropout)
    assert has("dropout", DenseHead) and has("gap", GlobalAveragePool)
    assert not has("gap", Attention) and has("attention", Attention)
    assert not has("attention", ResidualBlock) and has("residual", ResidualBlock)
    # Attention and residual differ only by the skip: same parameters, same count.
    assert count_parameters(build_model("attention")) == count_parameters(build_model("residual"))


def test_unknown_model_name_lists_the_valid_ones():
    with pytest.raises(ValueError) as error:
        build_model("resnet50")
    for name in MODEL_NAMES:
        assert name in str(error.value)


@pytest.mark.parametrize(
    "batch",
    [
        torch.randn(4, 28, 28),
        torch.randn(4, 3, 28, 28),
        torch.randn(4, 1, 32, 32),
        torch.zeros(4, 1, 28, 28, dtype=torch.uint8),
    ],
)
def test_wrong_input_shape_or_dtype_says_what_is_expected(batch):
    with pytest.raises(ValueError, match=r"expects a float batch of shape \[B, 1, 28, 28\]"):
        build_model(FINAL_MODEL)(batch)


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


def test_model_summary_on_cpu_leaves_model_and_rng_untouched():
    model = build_model(FINAL_MODEL).train()
    state_before = {key: value.clone() for key, value in model.state_dict().items()}
    torch.manual_seed(7)
    expected_next = torch.rand(3)
    torch.manual_seed(7)
    text = model_summary(model)
    assert torch.equal(torch.rand(3), expected_next)
    assert model.training
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_before[key]), key
    assert f"Total params: {count_parameters(model):,}" in text
    assert "ResidualBlock" in text and "SqueezeExcitation" in text
