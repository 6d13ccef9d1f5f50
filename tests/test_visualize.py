"""The plotting and inspection helpers, on untrained models and random batches (seconds, no MNIST)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnist_nb import visualize  # noqa: E402
from mnist_nb.models import build_model  # noqa: E402


@pytest.fixture(autouse=True)
def few_threads_and_no_leftover_figures():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    plt.close("all")


def random_batch(count: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(count, 1, 28, 28, generator=generator), torch.randint(0, 10, (count,), generator=generator)


def seeded_model(name: str, **options) -> nn.Module:
    torch.manual_seed(0)
    return build_model(name, **options)


def image_count(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


def no_hooks_left(model: nn.Module) -> bool:
    return all(not module._forward_hooks and not module._backward_hooks for module in model.modules())


# ----------------------------------------------------------------------------- data plots


def test_show_digits_uint8_with_labels_and_predictions():
    images = torch.randint(0, 256, (12, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3] * 12)
    predictions = torch.tensor([3] * 11 + [5])
    fig = visualize.show_digits(images, labels, predictions, num_columns=5, title="digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12 and image_count(fig) == 12
    assert titles(fig)[0] == "true 3 / pred 3" and titles(fig)[-1] == "true 3 / pred 5"
    assert fig.axes[-1].title.get_color() == visualize.WRONG_COLOR
    assert fig.axes[0].title.get_color() != visualize.WRONG_COLOR
    assert fig.axes[0].images[0].get_clim() == (0, 255)
    plt.close(fig)


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (3, 28, 28)])
def test_show_digits_float_images_and_plain_labels(shape):
    fig = visualize.show_digits(torch.randn(shape), labels=[1, 2, 3])
    assert len(fig.axes) == 3 and image_count(fig) == 3
    assert titles(fig) == ["1", "2", "3"]
    plt.close(fig)


def test_plot_class_balance_counts_every_digit():
    labels = torch.tensor([0, 0, 1, 9, 9, 9])
    fig = visualize.plot_class_balance(labels)
    (ax,) = fig.axes
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]
    plt.close(fig)


def test_plot_pixel_histogram():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    fig = visualize.plot_pixel_histogram(images)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_yscale() == "log"
    plt.close(fig)


def test_plot_curves_one_axis_per_metric_one_line_per_run_skipping_missing_validation():
    def row(epoch, val):
        return {
            "epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 90.0 + epoch,
            "val_loss": val, "val_accuracy": None if val is None else 95.0,
            "learning_rate": 0.1, "seconds": 1.0,
        }  # fmt: skip

    histories = {"baseline": [row(1, 0.5), row(2, 0.4)], "smoke": [row(1, None), row(2, None), row(3, None)]}
    fig = visualize.plot_curves(histories)
    assert len(fig.axes) == 4
    for ax in fig.axes:
        assert len(ax.lines) == 2
        assert [text.get_text() for text in ax.get_legend().get_texts()] == ["baseline", "smoke"]
    train_loss, val_loss = fig.axes[0], fig.axes[1]
    assert list(train_loss.lines[1].get_xdata()) == [1, 2, 3]
    assert len(val_loss.lines[1].get_xdata()) == 0
    plt.close(fig)


# ----------------------------------------------------------------------------- inside the model


def test_capture_activations_shapes_and_cleanup():
    model = seeded_model("residual").train()
    images, _ = random_batch()
    activations = visualize.capture_activations(model, images, ["stem", "stage2", "head"])
    assert activations["stem"].shape == (4, 8, 28, 28)
    assert activations["stage2"].shape == (4, 16, 14, 14)
    assert activations["head"].shape == (4, 10)
    assert all(not tensor.requires_grad and tensor.device.type == "cpu" for tensor in activations.values())
    assert no_hooks_left(model) and model.training
    # the captured head output is the model's output in eval mode
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(activations["head"], model(images))


def test_capture_activations_unknown_name_leaves_no_hooks():
    model = seeded_model("residual")
    with pytest.raises(ValueError, match="stage9"):
        visualize.capture_activations(model, random_batch()[0], ["stem", "stage9"])
    assert no_hooks_left(model)


def test_capture_activations_removes_hooks_when_the_forward_pass_fails():
    model = seeded_model("residual").train()
    with pytest.raises(ValueError):
        visualize.capture_activations(model, torch.zeros(2, 28, 28), ["stem"])  # wrong input shape
    assert no_hooks_left(model) and model.training


def test_plot_feature_maps():
    activations = torch.randn(16, 14, 14)
    fig = visualize.plot_feature_maps(activations, title="stage2", max_channels=12, num_columns=8)
    assert len(fig.axes) == 12 and image_count(fig) == 12
    plt.close(fig)
    with pytest.raises(ValueError, match=r"\[0\]"):
        visualize.plot_feature_maps(torch.randn(2, 16, 14, 14))


def test_attention_maps_shapes_and_ranges():
    model = seeded_model("residual").train()
    images, _ = random_batch()
    maps = visualize.attention_maps(model, images)
    assert set(maps) == {"attention2.channel", "attention2.spatial", "attention3.channel", "attention3.spatial"}
    assert maps["attention2.spatial"].shape == (4, 1, 14, 14)
    assert maps["attention3.spatial"].shape == (4, 1, 7, 7)
    assert maps["attention2.channel"].shape == (4, 16)
    for gate in maps.values():
        assert gate.device.type == "cpu" and gate.min() >= 0 and gate.max() <= 1
    assert model.training


def test_attention_maps_needs_attention_modules():
    with pytest.raises(ValueError, match="build_model\\('attention'\\)"):
        visualize.attention_maps(seeded_model("gap"), random_batch()[0])


def test_overlay_heatmaps_one_row_gray_digit_under_jet_heatmap():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    heatmaps = torch.rand(3, 1, 7, 7)
    fig = visualize.overlay_heatmaps(images, heatmaps, labels=[4, 5, 6], title="attention")
    assert len(fig.axes) == 3 and image_count(fig) == 6
    for ax in fig.axes:
        digit, heat = ax.images
        assert digit.get_cmap().name == "gray" and heat.get_cmap().name == "jet"
        assert heat.get_array().shape == (28, 28)
    assert titles(fig) == ["4", "5", "6"]
    plt.close(fig)


@pytest.mark.parametrize("layer", ["stage3", "attention2", "stem"])
def test_grad_cam_shape_range_and_no_side_effects(layer):
    model = seeded_model("residual").train()
    images, _ = random_batch()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    with torch.no_grad():  # the caller need not enable gradients
        cam = visualize.grad_cam(model, images, layer)
    assert cam.shape == (4, 28, 28) and not cam.requires_grad
    assert cam.min() >= 0 and cam.max() <= 1
    assert all(parameter.grad is None for parameter in model.parameters())
    assert model.training and no_hooks_left(model)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key


def test_grad_cam_explicit_classes_and_inplace_relu_after_the_layer():
    model = seeded_model("baseline")  # no BatchNorm: stem.act applies ReLU in place to stem.conv's output
    images, labels = random_batch(3)
    cam = visualize.grad_cam(model, images, "stem.conv", classes=labels)
    assert cam.shape == (3, 28, 28)
    assert cam.min() >= 0 and cam.max() <= 1


def test_grad_cam_rejects_a_layer_without_a_spatial_map():
    model = seeded_model("residual")
    with pytest.raises(ValueError, match="head"):
        visualize.grad_cam(model, random_batch()[0], "head")
    assert no_hooks_left(model)


# ----------------------------------------------------------------------------- errors


def test_confusion_matrix_matches_a_manual_count():
    generator = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 10, (200,), generator=generator)
    predictions = torch.where(torch.rand(200, generator=generator) < 0.7, targets, torch.randint(0, 10, (200,)))
    matrix = visualize.confusion_matrix(predictions, targets)
    manual = torch.zeros(10, 10, dtype=torch.int64)
    for true, predicted in zip(targets.tolist(), predictions.tolist(), strict=True):
        manual[true, predicted] += 1
    assert matrix.dtype == torch.int64 and matrix.shape == (10, 10)
    assert torch.equal(matrix, manual)
    assert torch.equal(matrix, torch.bincount(targets * 10 + predictions, minlength=100).view(10, 10))
    assert matrix.sum() == 200
    assert matrix.diagonal().sum() == (predictions == targets).sum()


def test_plot_confusion_matrix_writes_every_count():
    matrix = torch.arange(100).view(10, 10)
    fig = visualize.plot_confusion_matrix(matrix, title="test")
    (ax,) = fig.axes
    assert len(ax.images) == 1
    assert sorted(int(text.get_text()) for text in ax.texts) == list(range(100))
    plt.close(fig)


def test_plot_misclassified_shows_only_the_wrong_ones():
    images = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    targets = torch.arange(10)
    predictions = targets.clone()
    predictions[[2, 7]] = torch.tensor([9, 1])
    fig = visualize.plot_misclassified(images, predictions, targets)
    assert len(fig.axes) == 2 and image_count(fig) == 2
    assert titles(fig) == ["true 2 / pred 9", "true 7 / pred 1"]
    assert torch.equal(torch.as_tensor(fig.axes[1].images[0].get_array()), images[7])
    plt.close(fig)
    limited = visualize.plot_misclassified(images, (targets + 1) % 10, targets, max_images=4)
    assert len(limited.axes) == 4
    plt.close(limited)


def test_plot_misclassified_when_none_are_wrong():
    targets = torch.arange(5)
    fig = visualize.plot_misclassified(torch.zeros(5, 28, 28, dtype=torch.uint8), targets, targets)
    assert image_count(fig) == 0
    assert any("no misclassified" in text.get_text() for ax in fig.axes for text in ax.texts)
    plt.close(fig)


# ----------------------------------------------------------------------------- gradient flow


def test_gradient_norms_every_conv_positive_and_model_untouched():
    model = seeded_model("residual").eval()
    images, labels = random_batch(8)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    norms = visualize.gradient_norms(model, images, labels)
    conv_names = [name for name, module in model.named_modules() if isinstance(module, nn.Conv2d)]
    assert list(norms) == conv_names and "stage2.body.first.conv" in norms
    assert all(isinstance(norm, float) and norm > 0 for norm in norms.values())
    for key, value in model.state_dict().items():  # weights and BatchNorm running statistics
        assert torch.equal(value, state[key]), key
    assert all(parameter.grad is None for parameter in model.parameters())
    assert not model.training
    assert torch.equal(torch.rand(3), expected_next)  # the caller's RNG stream is undisturbed
    assert visualize.gradient_norms(model, images, labels) == norms  # seeded: reproducible


def test_plot_gradient_norms_grouped_bars():
    residual = visualize.gradient_norms(seeded_model("residual"), *random_batch(8))
    plain = visualize.gradient_norms(seeded_model("residual", skip=False), *random_batch(8))
    fig = visualize.plot_gradient_norms({"residual": residual, "no skip": plain})
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * len(residual)
    assert [label.get_text() for label in ax.get_xticklabels()] == list(residual)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["residual", "no skip"]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == list(residual.values()) + list(plain.values())
    plt.close(fig)
    with pytest.raises(ValueError, match="same number"):
        visualize.plot_gradient_norms({"residual": residual, "shorter": dict(list(plain.items())[:3])})
