"""The figures, on random tensors (seconds, no MNIST): each builds its own Figure, never pyplot's."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import math  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import PathCollection  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from mnist_nb.config import PARAMETER_BUDGET, SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET, TrainConfig  # noqa: E402
from mnist_nb.inspection import gradient_rms  # noqa: E402
from mnist_nb.lab import figures
from mnist_nb.lab.t_tests import interval  # noqa: E402
from mnist_nb.support import model_plots, plots  # noqa: E402

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


def test_show_digits_with_a_title_per_image():
    fig = plots.show_digits(torch.rand(2, 1, 28, 28), titles=["as it is", "angle +10°"])
    assert titles(fig) == ["as it is", "angle +10°"]


def test_plot_pixel_histogram():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    fig = plots.plot_pixel_histogram(images)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    assert fig.axes[0].get_yscale() == "log"


def test_plot_learning_rate_draws_every_step_the_shaded_phases_and_the_validation_error():
    config = TrainConfig(num_epochs=4, warmup_fraction=0.25, clean_epochs=1)
    rates = [0.01 * (step + 1) for step in range(40)]  # 10 steps an epoch
    history = [{"epoch": epoch, "val_accuracy": 100 - 10 / epoch} for epoch in (1, 2, 3, 4)]
    rate_axis, error_axis = plots.plot_learning_rate(rates, 10, config, history).axes
    (rate_line,) = rate_axis.lines
    assert list(rate_line.get_xdata())[:2] == [0, 0.1] and list(rate_line.get_ydata()) == rates  # x in epochs
    warmup, clean = rate_axis.patches  # the shaded phases, in epochs
    assert warmup.get_x() == 0 and warmup.get_width() == pytest.approx(1.0)
    assert clean.get_x() == pytest.approx(3.0) and clean.get_width() == pytest.approx(1.0)
    errors = error_axis.lines[0]
    assert list(errors.get_xdata()) == [1, 2, 3, 4] and list(errors.get_ydata()) == pytest.approx([10, 5, 10 / 3, 2.5])
    assert error_axis.get_yscale() == "log" and rate_axis.get_ylim()[1] == pytest.approx(1.4 * max(rates))
    legend = [text.get_text() for text in rate_axis.get_legend().get_texts()]
    assert legend == ["warm-up, 25% of the steps", "clean epochs (no augmentation)", "validation error (right axis)"]


def test_plot_step_losses_draws_running_means_that_stop_at_nan_and_the_uniform_guess():
    losses = {"plain": [[4.0, 2.0, 0.0, 2.0], [2.0, 2.0, 2.0, 2.0]], "diverged": [[1.0, float("nan"), 1.0, 1.0]]}
    fig = plots.plot_step_losses(losses, window=2, title="four steps")
    (ax,) = fig.axes
    plain, plain_again, diverged, guess = ax.lines
    assert list(plain.get_xdata()) == [1, 2, 3, 4] and list(plain.get_ydata()) == [4.0, 3.0, 1.0, 1.0]
    assert list(plain_again.get_ydata()) == [2.0] * 4 and plain_again.get_color() == plain.get_color()
    assert diverged.get_color() != plain.get_color()  # one colour a stack, shared by its runs
    assert diverged.get_ydata()[0] == 1.0 and all(math.isnan(value) for value in diverged.get_ydata()[1:])
    assert list(guess.get_ydata()) == [pytest.approx(math.log(10))] * 2  # ln 10, across the panel
    labels = [text.get_text() for text in ax.get_legend().get_texts()]  # one entry a stack, not a run
    assert labels == ["plain", "diverged", "ln 10: a uniform guess"] and ax.get_title() == "four steps"
    assert "last 2 steps" in ax.get_ylabel() and ax.get_ylim()[0] == 0
    assert plots.running_means([4.0, 2.0, 0.0, 2.0], window=2) == list(plain.get_ydata())  # the page's helper


def test_plot_curves_training_per_batch_and_validation_per_epoch_on_shared_axes():
    def row(epoch, val, steps=None):
        return {
            "epoch": epoch, "train_loss": 1.0 / epoch, "train_accuracy": 90.0 + epoch,
            "val_loss": val, "val_accuracy": None if val is None else 95.0,
            "learning_rate": 0.1, "seconds": 1.0,
            "train_step_losses": steps or [], "train_step_accuracies": [80.0] * len(steps or []),
        }  # fmt: skip

    per_batch = [row(1, 0.5, [2.0] * 10 + [1.0] * 10), row(2, 0.4, [0.5] * 20)]  # 20 steps an epoch
    histories = {"baseline": per_batch, "old": [row(1, None), row(2, None), row(3, None)]}
    fig = plots.plot_curves(histories)
    assert len(fig.axes) == 2  # loss and accuracy, train and validation on shared axes
    labels = [text.get_text() for text in fig.axes[-1].get_legend().get_texts()]
    assert labels == ["baseline, train", "baseline, val", "old, train", "old, val"]
    loss, error = fig.axes
    assert loss.get_yscale() == "log" and error.get_yscale() == "symlog"  # errors reach 0: linear up to 0.1%
    assert [loss.get_title(), error.get_title()] == ["loss", "error"]  # short: the legend says line or marker
    train, validation = loss.lines[0], loss.lines[1]
    assert train.get_color() == validation.get_color()  # one colour per run
    # Validation dots: hollow, one shape per run, so that two runs ending level both stay visible.
    assert validation.get_markerfacecolor() == "none" and validation.get_marker() != loss.lines[3].get_marker()
    # A running mean over a tenth of an epoch (2 steps; 1 at the start): 20 points an epoch, from the first batch.
    assert len(train.get_xdata()) == 40 and train.get_xdata()[0] == pytest.approx(0.05)
    assert list(train.get_ydata()[:11]) == [2.0] * 10 + [1.5] and train.get_ydata()[-1] == 0.5
    assert list(validation.get_xdata()) == [1, 2] and list(validation.get_ydata()) == [0.5, 0.4]
    # Accuracy is drawn as its error: 100 - accuracy.
    assert set(error.lines[0].get_ydata()) == {20.0} and list(error.lines[1].get_ydata()) == [5.0, 5.0]
    # The error axis spans the ticks around the data (5% to 20% here), not 0 to 100%.
    assert error.get_ylim() == pytest.approx((5, 20)) and list(error.get_yticks()) == [5, 10, 20]
    # A stretch without a mistake (0% wrong): the axis then reaches down to 0, below its log part.
    perfect = [row(1, 1.0, [0.1] * 20) | {"train_step_accuracies": [100.0] * 20}]
    (_, zero_error) = plots.plot_curves({"baseline": perfect}).axes
    assert zero_error.get_ylim()[0] == 0 and 0 in zero_error.get_yticks()
    assert zero_error.get_ylabel() == "% wrong (log above 0.1, linear below)"  # a log axis has no 0: say so
    assert error.get_ylabel() == "% wrong (log scale)"
    # Rows without per-batch figures: one training point per epoch; no validation, no validation points.
    assert list(loss.lines[2].get_xdata()) == [1, 2, 3] and len(loss.lines[3].get_xdata()) == 0
    # A model of the series keeps its colour and its dots' shape across figures; a second run of it, and any
    # other run, take a colour no model owns (C3 here, not dropout's C2), with that colour's shape.
    fig = plots.plot_curves({"batchnorm": per_batch, "baseline": per_batch, "baseline lr 0.1": per_batch})
    assert [line.get_color() for line in fig.axes[0].lines[::2]] == ["C1", "C0", "C3"]
    alone = plots.plot_curves({"dropout, 1,000 images": per_batch, "batchnorm": per_batch})
    assert [line.get_color() for line in alone.axes[0].lines[::2]] == ["C2", "C1"]
    assert fig.axes[0].lines[1].get_marker() == alone.axes[0].lines[3].get_marker() == "s"  # batchnorm's, both times
    runs = {"batchnorm": per_batch, "baseline lr 0.1": per_batch}
    chosen = plots.plot_curves(runs, colours={"baseline lr 0.1": "C6"})
    assert [line.get_color() for line in chosen.axes[0].lines[::2]] == ["C1", "C6"]  # `colours` overrides the rule
    (rate,) = plots.plot_curves(histories, metrics=("learning_rate",)).axes
    assert [text.get_text() for text in rate.get_legend().get_texts()] == ["baseline", "old"]


# ----------------------------------------------------------------------------- inside the model


def test_plot_feature_maps_draws_every_channel_on_one_scale_with_a_colour_bar():
    activations = torch.randn(20, 14, 14)
    fig = model_plots.plot_feature_maps(activations, title="stage2", num_columns=10)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 20 and len(fig.axes) == 21  # every channel, and the colour bar
    low, high = activations.min().item(), activations.max().item()
    assert all(ax.images[0].get_clim() == pytest.approx((low, high)) for ax in panels)  # one scale, not per panel
    fixed = model_plots.plot_feature_maps(activations, value_range=(0.0, 5.0))
    assert {ax.images[0].get_clim() for ax in fixed.axes if ax.images} == {(0.0, 5.0)}
    with pytest.raises(ValueError, match=r"\[0\]"):
        model_plots.plot_feature_maps(torch.randn(2, 16, 14, 14))


def test_plot_feature_maps_of_two_images_puts_each_channel_above_itself():
    activations = torch.stack([torch.zeros(8, 7, 7), torch.ones(8, 7, 7)])  # [2, 8, 7, 7]: "a" all 0, "b" all 1
    fig = model_plots.plot_feature_maps(activations, num_columns=5, image_names=["a", "b"])
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 16 and len(fig.axes) == 17  # 8 channels x 2 images, and one colour bar
    # Rows: a 0-4, b 0-4, a 5-7, b 5-7: channel 5 of "a" comes right after channel 4 of "b".
    values = [ax.images[0].get_array().mean() for ax in panels]
    assert values == [0.0] * 5 + [1.0] * 5 + [0.0] * 3 + [1.0] * 3
    assert [ax.get_title() for ax in panels if ax.get_title()] == [f"channel {c}" for c in range(8)]
    names = [text.get_text() for ax in panels for text in ax.texts]
    assert names == ["a", "b", "a", "b"]  # every row named on its left
    # A channel's two panels sit closer together than one block of channels sits to the next (its titles between).
    a_row, b_row, next_a_row = (panels[index].get_position() for index in (0, 5, 10))
    assert a_row.y0 - b_row.y1 < (b_row.y0 - next_a_row.y1) / 2
    with pytest.raises(ValueError, match="2 image names"):
        model_plots.plot_feature_maps(torch.randn(3, 8, 7, 7), image_names=["a", "b"])


def test_plot_ratio_ranges_draws_each_conv_s_range_median_and_first_draw_around_1():
    ratios = {"stem.conv": [1.6, 0.7, 1.1, 1.9], "stage3.first.conv": [1.5, 1.0, 1.3, 1.2]}
    fig = model_plots.plot_ratio_ranges(ratios, title="skip / no skip", first_label="the figure's draw")
    (ax,) = fig.axes
    bar, median, first = ax.lines[:3]  # the first conv's three marks
    assert list(bar.get_ydata()) == [0.7, 1.9] and list(median.get_ydata()) == [1.35]  # median of four: 1.35
    assert bar.get_solid_capstyle() == "butt"  # the bar ends at 0.7 and 1.9, not a cap's width past them
    assert list(first.get_ydata()) == [1.6] and first.get_marker() == "x"
    assert ax.get_yscale() == "log" and any(list(line.get_ydata()) == [1, 1] for line in ax.lines)  # the line at 1
    assert [label.get_text() for label in ax.get_xticklabels()] == ["stem", "stage3.first"]
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["lowest to highest of 4", "median", "the figure's draw"]


def test_plot_ratio_ranges_panels_put_each_group_on_its_own_axis():
    ratios = {"stem.conv": [1.1, 0.7, 1.3], "gate.conv": [17.0, 2.0, 5.0], "stage3.conv": [1.2, 1.0, 1.5]}
    fig = model_plots.plot_ratio_ranges(
        ratios, title="skip / no skip", panels={"main path": ["stem.conv", "stage3.conv"], "gates": ["gate.conv"]}
    )
    main, gates = fig.axes
    assert [main.get_title(), gates.get_title()] == ["main path", "gates"]
    assert [label.get_text() for label in main.get_xticklabels()] == ["stem", "stage3"]
    assert [label.get_text() for label in gates.get_xticklabels()] == ["gate"]
    assert list(gates.lines[0].get_ydata()) == [2.0, 17.0]  # the gate's range, not the main path's
    assert main.get_ylim()[1] < 2 < gates.get_ylim()[1]  # each panel scaled to its own ratios
    assert gates.get_legend() is not None and main.get_legend() is None
    with pytest.raises(ValueError, match="no ratios: stage9.conv"):
        model_plots.plot_ratio_ranges(ratios, title="x", panels={"main path": ["stage9.conv"]})


def test_plot_maps_gives_each_map_its_own_scale_and_colour_bar():
    mean, spread = torch.rand(14, 14) * 0.4 + 0.6, torch.rand(14, 14) * 0.08
    fig = model_plots.plot_maps({"mean": mean, "std": spread}, title="gate")
    panels = [ax for ax in fig.axes if ax.images]
    assert [ax.get_title() for ax in panels] == ["mean", "std"] and len(fig.axes) == 4  # two bars
    assert [ax.images[0].get_clim() for ax in panels] == [
        pytest.approx((mean.min().item(), mean.max().item())),
        pytest.approx((spread.min().item(), spread.max().item())),
    ]
    fixed = model_plots.plot_maps({"mean": mean, "std": spread}, value_ranges={"mean": (0.0, 1.0)})
    assert [ax.images[0].get_clim() for ax in fixed.axes if ax.images][0] == (0.0, 1.0)
    # 14 columns in one panel: every other one labelled, so that two-digit labels do not run together.
    assert list(panels[0].get_xticks()) == list(range(0, 14, 2)) and list(panels[0].get_yticks()) == list(range(14))
    with pytest.raises(ValueError, match=r"mean: expected one \[H, W\] map"):
        model_plots.plot_maps({"mean": torch.rand(1, 14, 14)})


def test_plot_maps_draws_a_signed_table_in_red_and_blue_with_every_row_and_column_named():
    table = torch.rand(10, 16) - 0.5  # [classes, channels], minus a mean
    fig = model_plots.plot_maps(
        {"minus mean": table}, value_ranges={"minus mean": (-0.5, 0.5)}, axis_labels=("channel", "digit")
    )
    (ax,) = [ax for ax in fig.axes if ax.images]
    assert ax.images[0].get_cmap().name == "RdBu_r" and ax.images[0].get_clim() == (-0.5, 0.5)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("channel", "digit")
    assert list(ax.get_xticks()) == list(range(16)) and list(ax.get_yticks()) == list(range(10))
    width, height = fig.get_size_inches()
    assert width > 1.5 * height  # 16 columns by 10 rows: a wide panel, the cells about square
    unsigned = model_plots.plot_maps({"mean": table + 0.5})
    assert [ax.images[0].get_cmap().name for ax in unsigned.axes if ax.images] == ["viridis"]


def test_overlay_heatmaps_on_one_fixed_scale_with_a_colour_bar_and_the_digit_as_an_outline():
    images = torch.zeros(3, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 12:16] = 255  # a stroke
    heatmaps = 0.98 + 0.02 * torch.rand(3, 1, 7, 7)  # a nearly saturated gate
    fig = model_plots.overlay_heatmaps(images, heatmaps, labels=[4, 5, 6], title="attention")
    digits = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert len(digits) == 3 and len(fig.axes) == 4  # three digits and the colour bar
    for ax in digits:
        (heat,) = ax.images  # the map alone: no blend, so every colour is on the bar
        assert heat.get_cmap().name == "viridis"
        assert heat.get_array().shape == (28, 28) and heat.get_clim() == (0.0, 1.0)  # never stretched
        assert ax.collections  # the digit's outline
    assert titles(fig)[:3] == ["4", "5", "6"]
    read = model_plots.overlay_heatmaps(images, heatmaps, labels=[4, 5, 6], predictions=[4, 9, 6])
    assert titles(read)[:3] == ["true 4 / pred 4", "true 5 / pred 9", "true 6 / pred 6"]
    assert read.axes[1].title.get_color() != read.axes[0].title.get_color()  # the wrong one stands out
    # A map minus its mean is signed: a diverging scale centred on 0, and an outline that shows on white.
    signed = model_plots.overlay_heatmaps(images, heatmaps - 0.99, value_range=(-0.05, 0.05))
    (heat,) = signed.axes[0].images
    assert heat.get_cmap().name == "RdBu_r" and heat.get_clim() == (-0.05, 0.05)
    assert tuple(signed.axes[0].collections[0].get_edgecolor()[0][:3]) == (0.0, 0.0, 0.0)
    # An occlusion test's squares, outlined where they cover the pixels: the peak's red, the matched one dashed.
    boxed = model_plots.overlay_heatmaps(images, heatmaps, squares=[[(8, 12, 8), (0, 20, 8)], [], [(4, 4, 8)]])
    first, second = boxed.axes[0].patches
    assert first.get_xy() == (11.5, 7.5) and first.get_width() == first.get_height() == 8  # x = column, y = row
    assert tuple(first.get_edgecolor()[:3]) == (1.0, 0.0, 0.0) and second.get_linestyle() == "--"
    assert not boxed.axes[1].patches and len(boxed.axes[2].patches) == 1


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
    labels = torch.arange(10)
    predictions = labels.clone()
    predictions[[2, 7]] = torch.tensor([9, 1])
    fig = plots.plot_misclassified(images, predictions, labels)
    assert len(fig.axes) == 2 and image_count(fig) == 2
    assert titles(fig) == ["true 2 / pred 9\n#2", "true 7 / pred 1\n#7"]  # each named by its index
    assert torch.equal(torch.as_tensor(fig.axes[1].images[0].get_array()), images[7])
    limited = plots.plot_misclassified(images, (labels + 1) % 10, labels, max_images=4)
    assert len(limited.axes) == 4
    confidences = torch.linspace(0.1, 1.0, 10)  # image 7 is surer of its mistake than image 2
    sorted_fig = plots.plot_misclassified(images, predictions, labels, confidences=confidences)  # sorted by p
    assert titles(sorted_fig) == ["true 7 / pred 1\n#7, p = 0.80", "true 2 / pred 9\n#2, p = 0.30"]
    assert "most confident first" in sorted_fig._suptitle.get_text()
    assert sorted_fig._suptitle.get_text().endswith("#: the digit's index")
    named = plots.plot_misclassified(images, predictions, labels, set_name="test")
    assert named._suptitle.get_text().endswith("#: the digit's index in the test set")  # which set # counts in


def test_plot_misclassified_when_none_are_wrong():
    labels = torch.arange(5)
    fig = plots.plot_misclassified(torch.zeros(5, 28, 28, dtype=torch.uint8), labels, labels)
    assert image_count(fig) == 0
    assert any("no misclassified" in text.get_text() for ax in fig.axes for text in ax.texts)


def test_plot_gradient_rms_grouped_bars():
    residual = gradient_rms(seeded_model("residual"), *random_batch(8))
    plain = gradient_rms(seeded_model("residual-no-skip"), *random_batch(8))
    fig = model_plots.plot_gradient_rms({"residual": residual, "no skip": plain})
    (ax,) = fig.axes
    assert len(ax.patches) == 2 * len(residual)
    assert [label.get_text() for label in ax.get_xticklabels()] == [name.removesuffix(".conv") for name in residual]
    assert "stem" in [label.get_text() for label in ax.get_xticklabels()]  # "stem.conv", shortened
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["residual", "no skip"]
    heights = [patch.get_height() for patch in ax.patches]
    assert heights == list(residual.values()) + list(plain.values())
    assert ax.get_ylabel() == "gradient RMS per weight (log)"
    last = list(residual.values())[-1]
    ratios = {layer: value / last for layer, value in residual.items()}
    relative = model_plots.plot_gradient_rms({"residual": ratios}, ylabel="relative (log)", baseline=1.0)
    (ax,) = relative.axes
    assert ax.get_ylabel() == "relative (log)"
    # Each bar runs from 1 to its value, up or down; 1 is drawn, and the ticks are labelled.
    assert [patch.get_y() for patch in ax.patches] == pytest.approx([1.0] * len(ratios))
    assert [patch.get_y() + patch.get_height() for patch in ax.patches] == pytest.approx(list(ratios.values()))
    assert any(line.get_ydata()[0] == 1.0 for line in ax.get_lines())
    assert "1" in [label.get_text() for label in ax.get_yticklabels()]
    assert not any(label.get_text() for label in ax.get_yticklabels(minor=True))  # no labels between them
    # Over many decades (06's default-init plain stack: 6e-8 of its last conv's gradient), one tick a decade, all
    # the way down to the shortest bar.
    vanishing = model_plots.plot_gradient_rms({"plain": {"a": 6e-8, "b": 1e-3, "c": 0.5}}, baseline=1.0)
    (ax,) = vanishing.axes
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert {"1e-07", "1e-05", "0.001", "1"} <= set(labels)
    with pytest.raises(ValueError, match="same number"):
        model_plots.plot_gradient_rms({"residual": residual, "shorter": dict(list(plain.items())[:3])})
    # A run named after a model takes that model's colour, as in plot_curves; a run named in `colours` takes its own.
    named = model_plots.plot_gradient_rms({"residual (identity skip)": residual, "attention (no skip)": plain})
    (ax,) = named.axes
    assert to_hex(ax.patches[0].get_facecolor()) == to_hex(plots.MODEL_COLOURS["residual"])
    assert to_hex(ax.patches[len(residual)].get_facecolor()) == to_hex(plots.MODEL_COLOURS["attention"])
    coloured = model_plots.plot_gradient_rms({"residual": residual, "no skip": plain}, colours={"no skip": "sienna"})
    (ax,) = coloured.axes
    faces = {to_hex(patch.get_facecolor()) for patch in ax.patches[len(residual) :]}
    assert faces == {to_hex("sienna")}
    assert to_hex(ax.patches[0].get_facecolor()) == to_hex(plots.MODEL_COLOURS["residual"])


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
    (ax,) = figures.plot_frontier(results).axes
    levels = {line.get_linestyle(): list(line.get_ydata()) for line in ax.lines if len(line.get_ydata()) == 2}
    assert levels == {"--": [TARGET_ACCURACY] * 2, ":": [SMALL_ACCURACY] * 2}
    texts = [text.get_text() for text in ax.texts]
    assert f" {TARGET_ACCURACY}%" in texts and f" {SMALL_ACCURACY}%" in texts
    # The frame runs from 1k to the parameter budget; the shaded band ends at the tiny budget, named on the plot.
    low, high = ax.get_xlim()
    assert low == pytest.approx(1_000 / 1.2) and high == pytest.approx(PARAMETER_BUDGET * 1.2)
    (band,) = ax.patches
    # A Rectangle in recent matplotlib, a Polygon in older releases: compare the path's extent in data x.
    assert band.get_path().get_extents(band.get_patch_transform()).x1 == pytest.approx(TINY_BUDGET)
    assert f"≤ {TINY_BUDGET:,} parameters " in texts
    # Each model is named beside its point, with its epochs and seeds: no legend to decode.
    assert ax.get_legend() is None
    assert "final\n15 ep, n=2" in texts and "tiny\n20 ep, n=3" in texts
    # A model whose mean sits on the 99.4% line (tiny: 99.407) is named above it, not struck through by it.
    named = {text.get_text().split("\n")[0]: text for text in ax.texts}
    assert named["tiny"].get_va() == "bottom" and named["final"].get_va() == "center"
    # One dot per seed at the entry's parameter count.
    scatters = [collection for collection in ax.collections if isinstance(collection, PathCollection)]
    dots = [tuple(point) for collection in scatters for point in collection.get_offsets()]
    assert sorted(dots) == sorted([(4_718, a) for a in [99.40, 99.44, 99.38]] + [(11_280, a) for a in [99.5, 99.6]])
    # A model outside the frame widens it.
    (wide,) = figures.plot_frontier({"big": frontier_entry(30_000, [99.7])}).axes
    assert wide.get_xlim()[1] == pytest.approx(30_000 * 1.2)


def test_plot_frontier_names_close_models_on_opposite_sides():
    sizes = {"micro": 2_000, "reference": 10_550, "residual": 11_280, "final": 16_887}
    (ax,) = figures.plot_frontier({name: frontier_entry(params, [99.4]) for name, params in sizes.items()}).axes
    names = [text for text in ax.texts if "\n" in text.get_text()]
    sides = {text.get_text().split("\n")[0]: text.get_horizontalalignment() for text in names}
    # Left of the point (the text right-aligned to it), except next to a close smaller model, and for the largest.
    assert sides == {"micro": "right", "reference": "right", "residual": "left", "final": "left"}


def test_plot_frontier_puts_the_recipe_variants_side_by_side():
    results = {
        "final": frontier_entry(16_887, [99.6, 99.5]),
        "tiny-stem8-30": frontier_entry(4_920, [99.45, 99.35], 30),
    }
    variants = {"tiny": frontier_entry(4_718, [99.3, 99.2], 20), "tiny-stem8-30": results["tiny-stem8-30"]}
    main, strip = figures.plot_frontier(results, variants).axes
    assert main.get_shared_y_axes().joined(main, strip)  # one accuracy scale for both panels
    labels = [label.get_text() for label in strip.get_xticklabels()]
    assert labels == ["tiny\n4,718 params\n20 ep, n=2", "tiny-stem8-30\n4,920 params\n30 ep, n=2"]
    scatters = [collection for collection in strip.collections if isinstance(collection, PathCollection)]
    dots = sorted(tuple(point) for collection in scatters for point in collection.get_offsets())
    assert dots == [(0, 99.2), (0, 99.3), (1, 99.35), (1, 99.45)]  # apart, by position
    levels = {tuple(line.get_ydata()) for line in strip.lines if len(line.get_ydata()) == 2}
    assert levels == {(TARGET_ACCURACY,) * 2, (SMALL_ACCURACY,) * 2}
    # An entry keeps its colour in both panels.
    main_colors = {tuple(c.get_facecolor()[0]) for c in main.collections if isinstance(c, PathCollection)}
    tiny, chosen = (tuple(collection.get_facecolor()[0]) for collection in scatters)
    assert chosen in main_colors and tiny not in main_colors


def segments(ax, vertical: bool) -> list:
    """The segments of `ax`'s line collections: the vertical ones (interval bars) or the horizontal ones (means)."""
    found = [
        segment
        for collection in ax.collections
        if not isinstance(collection, PathCollection)
        for segment in collection.get_segments()
    ]
    return [segment for segment in found if (segment[0][0] == segment[1][0]) == vertical]


def test_plot_ablation_draws_each_seed_its_mean_its_interval_and_the_noise_band():
    differences = {"dropout": {"test": [-0.1, 0.05], "val": [-0.2, -0.3]}, "skip": {"test": [0.3], "val": [0.1]}}
    (ax,) = figures.plot_ablation(differences, 0.23, "residual", 5).axes
    assert [label.get_text() for label in ax.get_xticklabels()] == ["dropout\nn=2", "skip\nn=1"]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "noise band +-0.23, test lanes",
        "test, as recorded",
        "95% interval, as recorded",
        "validation, as recorded",
        "mean of the seeds, in its lane's colour",
    ]
    assert "from residual's 5 recorded seeds" in ax.get_title()
    # The band behind each component's test lanes, not its validation lane (whose differences stray further).
    bands = [band.get_path().get_extents(band.get_patch_transform()) for band in ax.patches]
    assert [value for extent in bands for value in (extent.y0, extent.y1)] == pytest.approx([-0.23, 0.23] * 2)
    lanes = {collection.get_label(): collection.get_offsets()[:, 0] for collection in ax.collections}
    dropout = bands[0]  # a lane's first scatter carries its legend label: dropout's dots
    assert all(dropout.x0 < x < dropout.x1 for x in lanes["test, as recorded"])
    assert not any(dropout.x0 < x < dropout.x1 for x in lanes["validation, as recorded"])
    assert bands[1].x0 == pytest.approx(dropout.x0 + 1)  # skip's band, one column on
    # A dot per seed, test and validation in lanes apart, the seeds of one removal side by side.
    scatters = [collection for collection in ax.collections if isinstance(collection, PathCollection)]
    dots = [tuple(point) for collection in scatters for point in collection.get_offsets()]
    assert sorted(y for _, y in dots) == sorted([-0.1, 0.05, -0.2, -0.3, 0.3, 0.1])
    assert len({x for x, _ in dots}) == 6
    # The mean of each removal and split as a short line; the 95% interval of a test mean over two seeds or more.
    means = [segment[0][1] for segment in segments(ax, vertical=False)]
    assert sorted(means) == pytest.approx(sorted([-0.025, -0.25, 0.3, 0.1]))
    ((low, high),) = [(segment[0][1], segment[1][1]) for segment in segments(ax, vertical=True)]
    assert (low, high) == pytest.approx(interval([-0.1, 0.05]))


def test_plot_ablation_keeps_the_frame_to_the_test_lanes_and_marks_a_validation_value_beyond_it():
    differences = {"batchnorm": {"test": [-0.2, -0.3, -0.25], "val": [-0.1, -0.8, -0.2]}}
    (ax,) = figures.plot_ablation(differences, 0.1, "residual", 5).axes
    low, high = interval([-0.2, -0.3, -0.25])
    bottom, top = ax.get_ylim()
    assert bottom > -0.8 and bottom == pytest.approx(low - 0.08 * (0.1 - low))  # the frame: the test lane and band
    assert top == pytest.approx(0.1 + 0.08 * (0.1 - low))
    assert [text.get_text() for text in ax.texts] == ["-0.80"]  # the value beyond the frame, written beside it
    triangles = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) == 1]
    assert [tuple(c.get_offsets()[0])[1] for c in triangles] == pytest.approx([bottom])  # on the frame's edge
    assert "validation beyond the frame (value beside)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_plot_ablation_legend_draws_the_beyond_the_frame_mark_pointing_the_way_the_value_lies():
    for sign, written in ((1, "+0.80"), (-1, "-0.80")):  # the test lane on the value's side: only 0.8 lies beyond
        test, values = [sign * value for value in (0.2, 0.3, 0.25)], [sign * value for value in (0.1, 0.8, 0.2)]
        (ax,) = figures.plot_ablation({"batchnorm": {"test": test, "val": values}}, 0.1, "r", 5).axes
        assert [text.get_text() for text in ax.texts] == [written]
        (edge,) = [c for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets()) == 1]
        legend = ax.get_legend()
        labels = [text.get_text() for text in legend.get_texts()]
        handle = legend.legend_handles[labels.index("validation beyond the frame (value beside)")]
        assert handle.get_paths()[0].vertices.tolist() == edge.get_paths()[0].vertices.tolist()  # the same triangle


def test_plot_ablation_legend_draws_the_interval_thin_and_says_what_bold_means():
    """The legend's interval sample is thin even when the first bar is bold (it misses 0), and one entry says what
    bold means, only where some bar is bold."""
    bold_first = {
        "batchnorm": {"test": [-0.30, -0.32, -0.31], "val": [-0.3]},
        "skip": {"test": [0.1, -0.1], "val": [0.0]},
    }
    (ax,) = figures.plot_ablation(bold_first, 0.3, "residual", 5).axes
    legend = ax.get_legend()
    handles = dict(zip((text.get_text() for text in legend.get_texts()), legend.legend_handles, strict=True))
    # Drawn upright, as the bars are, and the mean flat, as its lines are.
    interval, bold, mean = (
        handles[name]
        for name in [
            "95% interval, as recorded",
            "bold bar: interval misses 0",
            "mean of the seeds, in its lane's colour",
        ]
    )
    assert interval.get_marker() == bold.get_marker() == "|" and mean.get_marker() == "_"
    assert interval.get_markeredgewidth() == 2 and bold.get_markeredgewidth() == 4
    widths = sorted(
        collection.get_linewidth()[0]
        for collection in ax.collections
        if not isinstance(collection, PathCollection)
        and len(collection.get_segments()) == 1
        and collection.get_segments()[0][0][0] == collection.get_segments()[0][1][0]
    )
    assert widths == [2, 4]  # skip's bar crosses 0, batchnorm's misses it
    (ax,) = figures.plot_ablation({"skip": {"test": [0.1, -0.1], "val": [0.0]}}, 0.3, "residual", 5).axes
    assert "bold bar: interval misses 0" not in [text.get_text() for text in ax.get_legend().get_texts()]


def test_plot_ablation_adds_the_pairs_on_one_machine_in_their_own_lane():
    differences = {"batchnorm": {"test": [-0.1, -0.4], "val": [-0.3, -0.4], "one machine": [-0.1, -0.5]}}
    differences["skip"] = {"test": [0.1, 0.0], "val": [0.0, 0.1]}
    (ax,) = figures.plot_ablation(differences, 0.3, "residual", 5).axes
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert (
        legend.count("test, every pair on one machine") == 1
        and legend.count("95% interval, every pair on one machine") == 1
    )
    ticks = [label.get_text() for label in ax.get_xticklabels()]
    assert ticks == ["batchnorm\nn=2 (◆ 2)", "skip\nn=2"]  # each pairing's number of seeds: ◆ on one machine
    scatters = {collection.get_label(): collection for collection in ax.collections}
    lanes = {
        label: [x for x, _ in scatters[label].get_offsets()] for label in scatters if label.startswith(("test", "val"))
    }
    diamonds = scatters["test, every pair on one machine"].get_offsets()
    assert [round(y, 2) for _, y in diamonds] == [-0.1, -0.5]
    # In batchnorm's column, a lane of their own between the recorded test and validation lanes.
    assert max(lanes["test, as recorded"][:2]) < min(lanes["test, every pair on one machine"])
    assert max(lanes["test, every pair on one machine"]) < min(lanes["validation, as recorded"][:2]) < 0.5
    bars = segments(ax, vertical=True)  # batchnorm as recorded and on one machine, skip as recorded
    assert len(bars) == 3
    assert any((segment[0][1], segment[1][1]) == pytest.approx(interval([-0.1, -0.5])) for segment in bars)
    assert any(abs(segment[0][1] + 0.3) < 1e-9 and abs(segment[0][0]) < 0.14 for segment in segments(ax, False))


def test_figures_are_not_registered_with_pyplot():
    """Nothing is drawn behind the caller's back, and nothing piles up in pyplot's list of open figures."""
    plt.close("all")
    images, labels = torch.randint(0, 256, (4, 28, 28), dtype=torch.uint8), torch.arange(4)
    drawn = [
        plots.show_digits(images, labels),
        plots.plot_pixel_histogram(images),
        model_plots.plot_feature_maps(torch.randn(4, 7, 7)),
        model_plots.overlay_heatmaps(images, torch.rand(4, 7, 7)),
        model_plots.plot_maps({"mean": torch.rand(7, 7)}),
        plots.plot_confusion_matrix(torch.eye(10, dtype=torch.int64)),
        plots.plot_misclassified(images, (labels + 1) % 10, labels),
        figures.plot_frontier({"final": frontier_entry(11_280, [99.5])}, {"tiny": frontier_entry(4_718, [99.3])}),
        figures.plot_ablation({"skip": {"test": [0.1], "val": [0.0]}}, 0.2, "residual", 5),
    ]
    assert all(isinstance(fig, Figure) for fig in drawn)
    assert plt.get_fignums() == []


def test_plot_frontier_keeps_a_model_far_below_99_on_the_floor_with_its_mean_written_out():
    results = {"final": frontier_entry(16_887, [99.6]), "micro": frontier_entry(1_938, [98.33])}
    (ax,) = figures.plot_frontier(results).axes
    assert ax.get_ylim()[0] == pytest.approx(SMALL_ACCURACY - 0.2)  # the differences near 99.4% keep the height
    assert any("98.33%, below" in text.get_text() for text in ax.texts)
