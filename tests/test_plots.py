"""The figures, on random tensors (seconds, no MNIST): each builds its own Figure, never pyplot's."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnist_nb import plots  # noqa: E402
from mnist_nb.config import PARAMETER_BUDGET, SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET  # noqa: E402
from mnist_nb.inspection import gradient_rms  # noqa: E402

from .conftest import random_batch, seeded_model  # noqa: E402


@pytest.fixture(autouse=True)
def few_threads(one_thread):
    yield


def image_count(fig: Figure) -> int:
    return sum(len(ax.images) for ax in fig.axes)


def titles(fig: Figure) -> list[str]:
    return [ax.get_title() for ax in fig.axes]


# ----------------------------------------------------------------------------- data plots


def test_show_digits_uint8_with_labels_and_predictions():
    images = torch.randint(0, 256, (12, 28, 28), dtype=torch.uint8)
    labels = torch.tensor([3] * 12)
    predictions = torch.tensor([3] * 11 + [5])
    fig = plots.show_digits(images, labels, predictions, num_columns=5, title="digits")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12 and image_count(fig) == 12
    assert titles(fig)[0] == "true 3 / pred 3" and titles(fig)[-1] == "true 3 / pred 5"
    assert fig.axes[-1].title.get_color() == plots.WRONG_COLOR
    assert fig.axes[0].title.get_color() != plots.WRONG_COLOR
    assert fig.axes[0].images[0].get_clim() == (0, 255)


@pytest.mark.parametrize("shape", [(3, 1, 28, 28), (3, 28, 28)])
def test_show_digits_float_images_and_plain_labels(shape):
    fig = plots.show_digits(torch.randn(shape), labels=[1, 2, 3])
    assert len(fig.axes) == 3 and image_count(fig) == 3
    assert titles(fig) == ["1", "2", "3"]


def test_plot_class_balance_counts_every_digit():
    labels = torch.tensor([0, 0, 1, 9, 9, 9])
    fig = plots.plot_class_balance(labels)
    (ax,) = fig.axes
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == [2, 1, 0, 0, 0, 0, 0, 0, 0, 3]


def test_plot_pixel_histogram():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    fig = plots.plot_pixel_histogram(images)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_yscale() == "log"


def test_plot_curves_one_axis_per_metric_one_line_per_run_skipping_missing_validation():
    def row(epoch, val):
        return {
            "epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 90.0 + epoch,
            "val_loss": val, "val_accuracy": None if val is None else 95.0,
            "learning_rate": 0.1, "seconds": 1.0,
        }  # fmt: skip

    histories = {"baseline": [row(1, 0.5), row(2, 0.4)], "smoke": [row(1, None), row(2, None), row(3, None)]}
    fig = plots.plot_curves(histories)
    assert len(fig.axes) == 2  # loss and accuracy, train and validation on shared axes
    for ax in fig.axes:
        assert len(ax.lines) == 4
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert labels == ["baseline, train", "baseline, val", "smoke, train", "smoke, val"]
        train, validation = ax.lines[0], ax.lines[1]
        assert train.get_linestyle() == "--" and validation.get_linestyle() == "-"
        assert train.get_color() == validation.get_color()  # one colour per run
    loss = fig.axes[0]
    assert list(loss.lines[2].get_xdata()) == [1, 2, 3] and len(loss.lines[3].get_xdata()) == 0
    (rate,) = plots.plot_curves(histories, metrics=("learning_rate",)).axes
    assert [text.get_text() for text in rate.get_legend().get_texts()] == ["baseline", "smoke"]


# ----------------------------------------------------------------------------- inside the model


def test_plot_feature_maps():
    activations = torch.randn(16, 14, 14)
    fig = plots.plot_feature_maps(activations, title="stage2", max_channels=12, num_columns=8)
    assert len(fig.axes) == 12 and image_count(fig) == 12
    with pytest.raises(ValueError, match=r"\[0\]"):
        plots.plot_feature_maps(torch.randn(2, 16, 14, 14))


def test_overlay_heatmaps_on_one_fixed_scale_with_a_colour_bar():
    images = torch.randint(0, 256, (3, 28, 28), dtype=torch.uint8)
    heatmaps = 0.98 + 0.02 * torch.rand(3, 1, 7, 7)  # a nearly saturated gate
    fig = plots.overlay_heatmaps(images, heatmaps, labels=[4, 5, 6], title="attention")
    digits = [ax for ax in fig.axes if len(ax.images) == 2]
    assert len(digits) == 3 and len(fig.axes) == 4  # three digits and the colour bar
    for ax in digits:
        digit, heat = ax.images
        assert digit.get_cmap().name == "gray" and heat.get_cmap().name == "viridis"
        assert heat.get_array().shape == (28, 28) and heat.get_clim() == (0.0, 1.0)  # never stretched
    assert titles(fig)[:3] == ["4", "5", "6"]


# ----------------------------------------------------------------------------- errors and gradient flow


def test_plot_confusion_matrix_writes_every_count_and_colours_only_the_mistakes():
    matrix = torch.arange(100).view(10, 10)
    fig = plots.plot_confusion_matrix(matrix, title="test")
    ax, colour_bar = fig.axes
    assert len(ax.images) == 1 and "mistakes" in colour_bar.get_ylabel()
    assert sorted(int(text.get_text()) for text in ax.texts) == list(range(100))
    coloured = ax.images[0].get_array()
    assert coloured.mask.diagonal().all() and coloured.mask.sum() == 10  # the diagonal, masked
    assert ax.images[0].get_clim()[1] == 98  # the scale ends at the largest mistake, not at 99


def test_plot_misclassified_shows_only_the_wrong_ones():
    images = torch.randint(0, 256, (10, 28, 28), dtype=torch.uint8)
    targets = torch.arange(10)
    predictions = targets.clone()
    predictions[[2, 7]] = torch.tensor([9, 1])
    fig = plots.plot_misclassified(images, predictions, targets)
    assert len(fig.axes) == 2 and image_count(fig) == 2
    assert titles(fig) == ["true 2 / pred 9", "true 7 / pred 1"]
    assert torch.equal(torch.as_tensor(fig.axes[1].images[0].get_array()), images[7])
    limited = plots.plot_misclassified(images, (targets + 1) % 10, targets, max_images=4)
    assert len(limited.axes) == 4
    confidences = torch.linspace(0.1, 1.0, 10)  # image 7 is surer of its mistake than image 2
    sorted_fig = plots.plot_misclassified(images, predictions, targets, confidences=confidences)
    assert titles(sorted_fig) == ["true 7 / pred 1", "true 2 / pred 9"]
    assert "most confident first" in sorted_fig._suptitle.get_text()


def test_plot_misclassified_when_none_are_wrong():
    targets = torch.arange(5)
    fig = plots.plot_misclassified(torch.zeros(5, 28, 28, dtype=torch.uint8), targets, targets)
    assert image_count(fig) == 0
    assert any("no misclassified" in text.get_text() for ax in fig.axes for text in ax.texts)


def test_plot_gradient_rms_grouped_bars():
    residual = gradient_rms(seeded_model("residual"), *random_batch(8))
    plain = gradient_rms(seeded_model("residual-no-skip"), *random_batch(8))
    fig = plots.plot_gradient_rms({"residual": residual, "no skip": plain})
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * len(residual)
    assert [label.get_text() for label in ax.get_xticklabels()] == list(residual)
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["residual", "no skip"]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == list(residual.values()) + list(plain.values())
    with pytest.raises(ValueError, match="same number"):
        plots.plot_gradient_rms({"residual": residual, "shorter": dict(list(plain.items())[:3])})


# ----------------------------------------------------------------------------- the frontier and the ablation


def frontier_entry(params: int, accuracies: list[float], epochs: int = 15) -> dict:
    mean = sum(accuracies) / len(accuracies)
    return {
        "params": params,
        "epochs": epochs,
        "seeds": list(range(len(accuracies))),
        "test_accuracy": accuracies,
        "test_accuracy_mean": mean,
        "test_accuracy_std": 0.05,
    }


def test_plot_frontier_draws_the_targets_from_config():
    results = {"final": frontier_entry(11_280, [99.5, 99.6]), "tiny": frontier_entry(4_718, [99.40, 99.44, 99.38], 20)}
    (ax,) = plots.plot_frontier(results).axes
    levels = {line.get_linestyle(): list(line.get_ydata()) for line in ax.lines if len(line.get_ydata()) == 2}
    assert levels == {"--": [TARGET_ACCURACY] * 2, ":": [SMALL_ACCURACY] * 2}
    assert [text.get_text() for text in ax.texts] == [f" {TARGET_ACCURACY}%", f" {SMALL_ACCURACY}%"]
    # The frame runs from 1k to the parameter budget; the shaded band ends at the tiny budget.
    low, high = ax.get_xlim()
    assert low == pytest.approx(1_000 / 1.2) and high == pytest.approx(PARAMETER_BUDGET * 1.2)
    (band,) = ax.patches
    # A Rectangle in recent matplotlib, a Polygon in older releases: compare the path's extent in data x.
    assert band.get_path().get_extents(band.get_patch_transform()).x1 == pytest.approx(TINY_BUDGET)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == [
        f"<= {TINY_BUDGET:,} parameters",
        "final (11,280 params, 15 ep, 2 seeds)",
        "tiny (4,718 params, 20 ep, 3 seeds)",
    ]
    # One dot per seed at the entry's parameter count.
    scatters = [collection for collection in ax.collections if isinstance(collection, PathCollection)]
    dots = [tuple(point) for collection in scatters for point in collection.get_offsets()]
    assert sorted(dots) == sorted([(4_718, a) for a in [99.40, 99.44, 99.38]] + [(11_280, a) for a in [99.5, 99.6]])
    # A model outside the frame widens it.
    (wide,) = plots.plot_frontier({"big": frontier_entry(30_000, [99.7])}).axes
    assert wide.get_xlim()[1] == pytest.approx(30_000 * 1.2)


def test_plot_ablation_draws_the_changes_with_their_spreads():
    changes = {"dropout": {"test": -0.1, "val": -0.2}, "skip": {"test": 0.05, "val": -0.3}}
    spreads = {"dropout": {"test": 0.02, "val": 0.03}, "skip": {"test": 0.04, "val": 0.05}}
    (ax,) = plots.plot_ablation(changes, spreads).axes
    assert [label.get_text() for label in ax.get_xticklabels()] == ["dropout", "skip"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["test", "validation"]
    bars = [container for container in ax.containers if hasattr(container, "patches")]
    assert [[patch.get_height() for patch in container.patches] for container in bars] == [[-0.1, 0.05], [-0.2, -0.3]]
    for container, split in zip(bars, ("test", "val"), strict=True):
        (segments,) = [lines.get_segments() for lines in container.errorbar.lines[2]]
        half_heights = [(segment[1][1] - segment[0][1]) / 2 for segment in segments]
        assert half_heights == pytest.approx([spreads[name][split] for name in changes])


def test_figures_are_not_registered_with_pyplot():
    """Nothing is drawn behind the caller's back, and nothing piles up in pyplot's list of open figures."""
    plt.close("all")
    images, labels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8), torch.arange(4)
    figures = [
        plots.show_digits(images, labels),
        plots.plot_class_balance(labels),
        plots.plot_pixel_histogram(images),
        plots.plot_feature_maps(torch.randn(4, 7, 7)),
        plots.overlay_heatmaps(images, torch.rand(4, 7, 7)),
        plots.plot_confusion_matrix(torch.eye(10, dtype=torch.int64)),
        plots.plot_misclassified(images, (labels + 1) % 10, labels),
        plots.plot_frontier({"final": frontier_entry(11_280, [99.5])}),
        plots.plot_ablation({"skip": {"test": 0.1, "val": 0.0}}, {"skip": {"test": 0.0, "val": 0.0}}),
    ]
    assert all(isinstance(fig, Figure) for fig in figures)
    assert plt.get_fignums() == []
