"""The model registry and factory: names, sizes, variants, ablations."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from mnist_nb import models
from mnist_nb.anatomy import count_parameters
from mnist_nb.blocks import (
    Attention,
    ConvBNAct,
    DenseHead,
    GlobalAveragePool,
    ResidualBlock,
    SpatialAttention,
    SqueezeExcitation,
)
from mnist_nb.config import PARAMETER_BUDGET
from mnist_nb.models import (
    MODEL_NAMES,
    MODEL_SPECS,
    REFERENCE_MODEL,
    SERIES_MODEL,
    SERIES_SPECS,
    build_model,
    build_model_of,
    model_spec,
)
from mnist_nb.support.variants import ABLATIONS


def test_every_named_model_is_under_20k_and_classifies_a_batch():
    for name in MODEL_NAMES:
        model = build_model(name)
        assert count_parameters(model) < PARAMETER_BUDGET, name
        assert model(torch.randn(4, 1, 28, 28)).shape == (4, 10), name


def test_series_order_and_frontier_budgets():
    assert tuple(SERIES_SPECS) == ("baseline", "batchnorm", "dropout", "gap", "attention", "residual")
    assert count_parameters(build_model("tiny")) <= 5_000
    assert count_parameters(build_model("tiny-stem8")) <= 5_000
    # The reference model as its description builds it: 10,550 parameters (it claims 19,866).
    assert count_parameters(build_model("reference")) == 10_550
    assert not any(isinstance(module, Attention) for module in build_model("fast").modules())


def test_named_models_keep_their_sizes():
    # Recorded results (benchmarks/results) were measured on these exact models.
    sizes = {
        "residual": 11_280, "fast": 16_338, "tiny": 4_718, "tiny-stem8": 4_920, "small": 3_088, "micro": 1_922,
        "reference": 10_550,
    }  # fmt: skip
    assert {name: count_parameters(build_model(name)) for name in sizes} == sizes


def test_each_ablation_removes_exactly_its_component():
    def kinds(name):
        return {type(module).__name__ for module in build_model(name).modules()}

    base = kinds(SERIES_MODEL)
    assert base - kinds("residual-no-batchnorm") == {"BatchNorm2d"}
    assert base - kinds("residual-no-dropout") == {"Dropout"}
    assert base - kinds("residual-no-attention") == {"Attention", "SqueezeExcitation", "SpatialAttention"}
    assert base - kinds("residual-no-gap") == {"GapHead", "GlobalAveragePool"}
    assert base - kinds("residual-no-skip") == {"ResidualBlock"}
    assert kinds("residual-no-augmentation") == base
    # Removing a component adds none; only the dense head comes in, as GAP's replacement.
    assert all(kinds(name) <= base for name in ABLATIONS if name != "residual-no-gap")
    assert kinds("residual-no-gap") - base == {"DenseHead", "Flatten"}

    def blocks(name):
        return sum(isinstance(module, ResidualBlock) for module in build_model(name).modules())

    assert blocks(SERIES_MODEL) == 2 and blocks("residual-no-skip") == 0
    assert all(blocks(name) == 2 for name in ABLATIONS if name != "residual-no-skip")
    no_skip, series_model = build_model("residual-no-skip"), build_model(SERIES_MODEL)
    assert count_parameters(no_skip) == count_parameters(series_model)
    # Same weights, same shapes: only the module path differs (stage2.body.first -> stage2.first).
    assert {key.replace(".body.", "."): value.shape for key, value in series_model.state_dict().items()} == {
        key: value.shape for key, value in no_skip.state_dict().items()
    }


def test_each_ablation_spec_differs_from_the_series_model_in_exactly_its_component():
    def changed_fields(name):
        base, removed = model_spec(SERIES_MODEL), model_spec(name)
        return {
            field for field in models.dataclasses.asdict(base) if field != "description"
            if getattr(base, field) != getattr(removed, field)
        }  # fmt: skip

    assert {name: changed_fields(name) for name in ABLATIONS} == {
        # Without augmentation is a change in training (lab.frontier.ABLATION_TRAINING), not in the model.
        "residual-no-batchnorm": {"batchnorm"},
        "residual-no-dropout": {"dropout"},
        "residual-no-augmentation": set(),
        "residual-no-gap": {"head"},
        "residual-no-attention": {"attention"},
        "residual-no-skip": {"skip"},
    }
    # ABLATIONS decides the registry's entries: each one is the series' last model with its changes.
    for name, changes in ABLATIONS.items():
        assert MODEL_SPECS[name] == models.dataclasses.replace(model_spec(SERIES_MODEL), **changes)
        assert name in MODEL_NAMES


def test_the_series_model_has_all_five_components():
    model = build_model(SERIES_MODEL)
    modules = list(model.modules())
    assert any(isinstance(module, nn.BatchNorm2d) for module in modules)
    assert any(isinstance(module, nn.Dropout) and module.p > 0 for module in modules)
    assert any(isinstance(module, GlobalAveragePool) for module in modules)
    assert any(isinstance(module, SqueezeExcitation) for module in modules)
    assert any(isinstance(module, SpatialAttention) for module in modules)
    assert sum(isinstance(module, ResidualBlock) for module in modules) == 2
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


def test_a_variant_is_built_without_touching_the_registry():
    before_specs, before_names = dict(MODEL_SPECS), MODEL_NAMES
    variant = build_model("residual", attention=False, early_pooling=True, widths=(8, 20))
    fast = build_model("fast")
    assert {key: value.shape for key, value in variant.state_dict().items()} == {
        key: value.shape for key, value in fast.state_dict().items()
    }
    assert str(variant).replace("residual", "fast") == str(fast).replace("residual", "fast")
    assert model_spec("residual", attention=False, early_pooling=True, widths=(8, 20)) == models.dataclasses.replace(
        MODEL_SPECS["fast"], description=MODEL_SPECS["residual"].description
    )
    narrow = build_model("residual", widths=(6, 10))
    assert count_parameters(narrow) == count_parameters(build_model("tiny")) == 4_718
    assert MODEL_SPECS == before_specs and models.MODEL_NAMES == before_names
    assert not any(isinstance(module, Attention) for module in variant.modules())
    # No changes: the named model itself.
    assert model_spec("residual") == MODEL_SPECS["residual"]


def test_bad_overrides_say_what_is_allowed():
    # The description is what a model is, not an option of it.
    with pytest.raises(ValueError, match=r"residual: no override residual; valid: attention, batchnorm, dropout,"):
        build_model("residual", residual=False)  # the skips are `skip`; `residual` names the model
    assert not any(isinstance(block, ResidualBlock) for block in build_model("residual", skip=False).modules())
    with pytest.raises(ValueError, match="no override separable, stage_depths"):
        model_spec("tiny", stage_depths=(2, 1), separable=True)
    with pytest.raises(ValueError, match="no override description"):
        model_spec("tiny", description="mine")
    # Each broken rule is named, with the value that broke it.
    with pytest.raises(ValueError, match=r"^tiny: widths must be \(stem, width\) \(got \(8, 8, 12, 16\)\)$"):
        build_model("tiny", widths=(8, 8, 12, 16))
    with pytest.raises(ValueError, match=r"^residual: head must be 'dense' or 'gap' \(got 'attention'\)$"):
        build_model("residual", head="attention")
    with pytest.raises(ValueError, match=r"spatial_attention_stages must be within \(2, 3\) \(got \(1,\)\)"):
        build_model("residual", spatial_attention_stages=(1,))
    with pytest.raises(ValueError, match="the reference model has no overrides"):
        build_model(REFERENCE_MODEL, dropout=0.0)
    with pytest.raises(ValueError, match="unknown model 'resnet50'"):
        model_spec("resnet50", dropout=0.0)


def test_reference_model_is_built_by_its_own_builder():
    assert REFERENCE_MODEL in MODEL_NAMES and REFERENCE_MODEL not in MODEL_SPECS
    model = build_model(REFERENCE_MODEL)
    assert model.name == REFERENCE_MODEL
    assert count_parameters(model) == 10_550
    assert not any(isinstance(module, (ResidualBlock, ConvBNAct)) for module in model.modules())
    # Its outputs are log-probabilities: each row's probabilities sum to one.
    log_probabilities = model.eval()(torch.randn(3, 1, 28, 28))
    torch.testing.assert_close(log_probabilities.exp().sum(1), torch.ones(3))


def test_the_final_recipe_model_spends_the_budget_on_width_and_gates_channels_only_at_7x7():
    from mnist_nb.blocks import SpatialAttention, SqueezeExcitation
    from mnist_nb.config import recipe

    final = recipe("final")
    model = build_model_of(final)
    assert 15_000 < count_parameters(model) < PARAMETER_BUDGET
    assert isinstance(model.attention2.spatial, SpatialAttention) and not hasattr(model.attention3, "spatial")
    assert isinstance(model.attention3.channel, SqueezeExcitation)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    # The series' models keep both gates at both stages.
    assert isinstance(build_model("attention").attention3.spatial, SpatialAttention)


def test_zero_init_residual_starts_every_block_at_the_identity_and_changes_nothing_else():
    torch.manual_seed(0)
    default = build_model("residual")
    torch.manual_seed(0)
    zero = build_model("residual", zero_init_residual=True)
    blocks = [name for name, module in zero.named_modules() if isinstance(module, ResidualBlock)]
    assert blocks == ["stage2", "stage3"]
    changed = [key for key, value in zero.state_dict().items() if not torch.equal(value, default.state_dict()[key])]
    assert changed == [f"{block}.body.second.norm.weight" for block in blocks]  # γ: 1 -> 0; the same draws elsewhere
    with pytest.raises(ValueError, match="zero_init_residual needs skip=True"):
        build_model("residual", skip=False, zero_init_residual=True)


def test_he_initialization_by_default_exactly_without_batchnorm_and_either_way_by_override():
    def conv_std(model) -> float:  # one 16 -> 16 conv: He's std is sqrt(2 / 144) = 0.118, PyTorch's 0.048
        return model.stage2.first.conv.weight.std().item()

    he, default = (2 / (16 * 9)) ** 0.5, (1 / (3 * 16 * 9)) ** 0.5
    torch.manual_seed(0)
    assert conv_std(build_model("baseline")) == pytest.approx(he, rel=0.05)
    assert conv_std(build_model("batchnorm")) == pytest.approx(default, rel=0.05)
    assert conv_std(build_model("batchnorm", he_initialization=True)) == pytest.approx(he, rel=0.05)
    plain_default = build_model("baseline", he_initialization=False)
    assert conv_std(plain_default) == pytest.approx(default, rel=0.05)
    assert plain_default.stem.conv.bias.abs().sum() > 0  # PyTorch's default draws the biases too
    assert build_model("baseline").stem.conv.bias.abs().sum() == 0
    assert build_model("residual-no-batchnorm").stem.conv.bias.abs().sum() == 0  # the rule, for every plain model
