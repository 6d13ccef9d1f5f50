"""Every figure of the notebooks: digits, curves, feature maps, heatmaps, confusions, the frontier.

Each function builds its own `matplotlib.figure.Figure` and returns it, without pyplot: a
notebook shows the figure a cell returns (once), a test inspects it, a script saves it with
`fig.savefig(...)`, and nothing piles up in pyplot's list of open figures.

Images come in two forms: the raw dataset bytes (uint8 [N, 28, 28], shown on the fixed 0-255
scale) or model inputs (float [N, 1, 28, 28] or [N, 28, 28], shown as they are, autoscaled).
The tensors to draw come from `mnist_nb.inspection`; plots take tensors and numbers only.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from mnist_nb.config import PARAMETER_BUDGET, SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET
from mnist_nb.mnist import IMAGE_SIZE, NUM_CLASSES

WRONG_COLOR = "tab:red"


def _subplots(*grid, figsize, squeeze: bool = True, **options):
    """`plt.subplots` without pyplot: a standalone Figure, PNG at 100 dpi on white (readable on a dark page)."""
    fig = Figure(figsize=figsize, dpi=100, facecolor="white")
    return fig, fig.subplots(*grid, squeeze=squeeze, **options)


def _grid(count: int, num_columns: int, cell: float = 1.3, title: str | None = None):
    """A figure with `count` axes on a grid (unused cells removed); returns (fig, flat list of axes)."""
    num_columns = max(1, min(num_columns, count))
    num_rows = max(1, math.ceil(count / num_columns))
    figsize = (cell * num_columns, (cell + 0.25) * num_rows + 0.3)
    fig, axes = _subplots(num_rows, num_columns, figsize=figsize, squeeze=False)
    axes = list(axes.flat)
    for ax in axes[count:]:
        fig.delaxes(ax)
    for ax in axes[:count]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig, axes[:count]


def _as_pictures(images: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """uint8 [N, H, W] or float [N, 1, H, W] / [N, H, W] -> CPU [N, H, W], plus imshow value limits."""
    images = images.detach().cpu()
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"expected images [N, 28, 28] or [N, 1, 28, 28], got {list(images.shape)}")
    limits = {"vmin": 0, "vmax": 255} if images.dtype == torch.uint8 else {}
    return images, limits


def _digit_title(index: int, labels, predictions) -> tuple[str, str]:
    """'3' or 'true 3 / pred 5' and its color (red when the prediction is wrong)."""
    if predictions is None:
        return ("" if labels is None else f"{int(labels[index])}"), "black"
    true, predicted = int(labels[index]), int(predictions[index])
    return f"true {true} / pred {predicted}", "black" if true == predicted else WRONG_COLOR


def show_digits(images, labels=None, predictions=None, num_columns: int = 10, title: str | None = None) -> Figure:
    """A grid of digits, titled with the label, or 'true 3 / pred 5' (red when wrong).

    images: uint8 [N, 28, 28] or float [N, 1, 28, 28] / [N, 28, 28]; labels, predictions: [N].
    """
    pictures, limits = _as_pictures(images)
    fig, axes = _grid(len(pictures), num_columns, title=title)
    for index, ax in enumerate(axes):
        ax.imshow(pictures[index].numpy(), cmap="gray", **limits)
        text, color = _digit_title(index, labels, predictions)
        ax.set_title(text, fontsize=8, color=color)
    fig.tight_layout()
    return fig


def plot_class_balance(labels: torch.Tensor, title: str | None = None) -> Figure:
    """Bar chart of how many images each digit 0-9 has (labels: int [N]): is any class rare?"""
    counts = torch.bincount(labels.detach().cpu().long(), minlength=NUM_CLASSES)
    fig, ax = _subplots(figsize=(6, 3))
    bars = ax.bar(range(len(counts)), counts.tolist(), color="tab:blue")
    ax.bar_label(bars, fontsize=7)
    title = title or f"class balance ({len(labels)} images)"
    ax.set(xticks=range(len(counts)), xlabel="digit", ylabel="images", title=title)
    fig.tight_layout()
    return fig


def plot_pixel_histogram(images: torch.Tensor) -> Figure:
    """Histogram of pixel values (uint8 [N, 28, 28]), log scale: mostly 0 (background), some 255 (ink)."""
    counts = torch.bincount(images.detach().cpu().flatten().long(), minlength=256)  # [256]
    fig, ax = _subplots(figsize=(6, 3))
    ax.stairs(counts.numpy(), range(len(counts) + 1), fill=True)
    ax.set_yscale("log")
    ax.set(xlabel="pixel value", ylabel="pixels (log scale)", title=f"pixel values of {len(images)} images")
    fig.tight_layout()
    return fig


# A panel per name: "loss" and "accuracy" draw the train_ and val_ figures on shared axes (train dashed).
CURVES = ("loss", "accuracy")


def plot_curves(histories: dict[str, list[dict]], metrics: Sequence[str] = CURVES) -> Figure:
    """One panel per metric, one colour per run, against the epoch.

    histories: run name -> `TrainingResult.history` rows (epoch, train_loss, val_accuracy, ...);
    rows where a metric is None (no validation) are left out of that line.
    """
    fig, axes = _subplots(1, len(metrics), figsize=(4.5 * len(metrics), 3.2), squeeze=False)
    for ax, metric in zip(axes.flat, metrics, strict=True):
        keys = (f"train_{metric}", f"val_{metric}") if metric in CURVES else (metric,)
        for (index, (run, history)), key in itertools.product(enumerate(histories.items()), keys):
            rows = [row for row in history if row.get(key) is not None]
            label = f"{run}, {key.split('_')[0]}" if len(keys) > 1 else run
            style = {"color": f"C{index % 10}", "linestyle": "--" if key.startswith("train") else "-"}
            ax.plot([row["epoch"] for row in rows], [row[key] for row in rows], marker=".", label=label, **style)
        shared = " (train dashed, validation solid)" if len(keys) > 1 else ""
        ax.set(title=metric.replace("_", " ") + shared, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_feature_maps(activations: torch.Tensor, title=None, max_channels: int = 16, num_columns: int = 8) -> Figure:
    """The first `max_channels` channels of one image's activations [C, H, W], one panel each."""
    if activations.ndim != 3:
        message = f"expected one image's activations [C, H, W], got {list(activations.shape)}"
        raise ValueError(f"{message}: pick one image, e.g. capture_activations(...)['stem'][0]")
    channels = activations.detach().cpu()[:max_channels]
    fig, axes = _grid(len(channels), num_columns, cell=1.1, title=title)
    for index, ax in enumerate(axes):
        ax.imshow(channels[index].float().numpy(), cmap="viridis")
        ax.set_title(f"channel {index}", fontsize=7)
    fig.tight_layout()
    return fig


def overlay_heatmaps(images, heatmaps, labels=None, title=None, alpha: float = 0.5) -> Figure:
    """One row: each digit in gray with its heatmap on top, on one fixed 0-1 scale with a colour bar.

    images: uint8 [N, 28, 28] or float [N, 1, 28, 28]; heatmaps in [0, 1], [N, h, w] or
    [N, 1, h, w] (spatial attention, Grad-CAM), resized bilinearly to 28x28. The scale is never
    stretched per map: a gate between 0.98 and 1.00 looks uniform, because it is.
    """
    pictures, limits = _as_pictures(images)
    heatmaps = heatmaps.detach().cpu().float()
    if heatmaps.ndim == 3:
        heatmaps = heatmaps.unsqueeze(1)
    heatmaps = F.interpolate(heatmaps, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False)[:, 0]
    fig, axes = _grid(len(pictures), num_columns=len(pictures), cell=1.5, title=title)
    for index, ax in enumerate(axes):
        ax.imshow(pictures[index].numpy(), cmap="gray", **limits)
        shown = ax.imshow(heatmaps[index].numpy(), cmap="viridis", alpha=alpha, vmin=0.0, vmax=1.0)
        ax.set_title(_digit_title(index, labels, None)[0], fontsize=8)
    fig.tight_layout()
    fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.01)
    return fig


def plot_confusion_matrix(matrix: torch.Tensor, title: str | None = None) -> Figure:
    """Counts in every cell (rows: true class); colour on the mistakes only, the diagonal masked.

    The correct predictions outnumber any mistake a hundredfold: coloured with them, every
    off-diagonal cell would look the same pale blue.
    """
    matrix = matrix.detach().cpu()
    num_classes = len(matrix)
    mistakes = matrix.double().fill_diagonal_(float("nan"))
    fig, ax = _subplots(figsize=(6, 5))
    shown = ax.imshow(mistakes.numpy(), cmap="Reds", vmin=0)
    fig.colorbar(shown, ax=ax, label="mistakes (off the diagonal)")
    threshold = max(1.0, mistakes.nan_to_num(0).max().item()) / 2
    for true, predicted in itertools.product(range(num_classes), repeat=2):
        count = int(matrix[true, predicted])
        color = "dimgray" if true == predicted else "white" if count > threshold else "black"
        ax.text(predicted, true, str(count), ha="center", va="center", fontsize=7, color=color)
    ax.set(xticks=range(num_classes), yticks=range(num_classes), xlabel="predicted", ylabel="true")
    ax.set_title(title or f"confusion matrix ({int(matrix.sum())} images)")
    fig.tight_layout()
    return fig


def plot_misclassified(images, predictions, targets, max_images=32, num_columns=8, confidences=None) -> Figure:
    """The wrongly classified digits, titled 'true 4 / pred 9': the most confident mistakes first when
    `confidences` (the probability given to each prediction, [N]) is passed, else in dataset order.

    images: uint8 [N, 28, 28] or float [N, 1, 28, 28]; predictions, targets: [N], same order.
    """
    predictions, targets = predictions.detach().cpu(), targets.detach().cpu()
    wrong = (predictions != targets).nonzero().flatten()
    if confidences is not None:
        wrong = wrong[confidences.detach().cpu()[wrong].argsort(descending=True)]
    if len(wrong) == 0:
        fig, ax = _subplots(figsize=(4, 1.2))
        ax.text(0.5, 0.5, f"no misclassified images among {len(targets)}", ha="center", va="center")
        ax.set_axis_off()
        return fig
    shown = wrong[:max_images]
    order = "the most confident first" if confidences is not None else "in dataset order"
    title = f"{len(wrong)} of {len(targets)} misclassified, {len(shown)} shown, {order}"
    return show_digits(images.detach().cpu()[shown], targets[shown], predictions[shown], num_columns, title)


def plot_gradient_rms(norms: dict[str, dict[str, float]]) -> Figure:
    """Grouped bars: one group per conv layer (input side left), one bar per run, log scale.

    norms: run name -> `gradient_rms(...)` (layer name -> RMS), e.g. residual vs no skip. Layers are
    matched by position (a conv's name differs with and without the skip); ticks show the first run's names.
    """
    layers = list(next(iter(norms.values())))
    if len({len(run_norms) for run_norms in norms.values()}) > 1:
        raise ValueError("every run must have the same number of conv layers to compare them side by side")
    width = 0.8 / len(norms)
    fig, ax = _subplots(figsize=(min(max(6, 0.5 * len(layers) + 2), 14), 4))
    for offset, (run, run_norms) in enumerate(norms.items()):
        positions = [index + (offset - (len(norms) - 1) / 2) * width for index in range(len(layers))]
        ax.bar(positions, list(run_norms.values()), width, label=run)
    ax.set_xticks(range(len(layers)), layers, rotation=60, ha="right", fontsize=7)
    ax.set(yscale="log", ylabel="gradient RMS per weight (log scale)", title="gradient per weight, per conv layer")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_frontier(results: dict[str, dict], variants: dict[str, dict] | None = None) -> Figure:
    """Test accuracy against parameters (log scale), one model per point, named beside it; `variants` (recipes that
    would share a spot) stand by name in a second panel. Both: entry name -> `lab.frontier.load_results()` summary."""
    variants = variants or {}
    panels = {"ncols": 2, "sharey": True, "width_ratios": (6.5, 0.8 * len(variants))} if variants else {}
    fig, axes = _subplots(figsize=(7.3 + 0.8 * len(variants), 4.6), squeeze=False, **panels)
    colors = {name: f"C{index % 10}" for index, name in enumerate({**results, **variants})}
    # (panel, x, name, entry): the main panel at the parameter count, the strip by position.
    points = [(axes[0, 0], entry["params"], name, entry) for name, entry in results.items()]
    points += [(axes[0, -1], index, name, entry) for index, (name, entry) in enumerate(variants.items())]
    for ax, x, name, entry in points:
        ax.scatter([x] * len(entry["test_accuracy"]), entry["test_accuracy"], s=12, alpha=0.5, color=colors[name])
        ax.errorbar(x, entry["test_accuracy_mean"], entry["test_accuracy_std"], fmt="o", capsize=4, color=colors[name])
    ax, ordered = axes[0, 0], sorted(results.items(), key=lambda item: item[1]["params"])
    for index, (name, entry) in enumerate(ordered):
        # Named on the left; on the right where the next smaller model is close (within 30%), and for the largest.
        right = index == len(ordered) - 1 or (index > 0 and ordered[index - 1][1]["params"] * 1.3 > entry["params"])
        label = f"{name}\n{entry['epochs']} ep, n={len(entry['seeds'])}"
        place = {"xytext": (9 if right else -9, 0), "ha": "left" if right else "right", "va": "center", "fontsize": 7}
        xy = entry["params"], entry["test_accuracy_mean"]
        ax.annotate(label, xy, textcoords="offset points", color=colors[name], **place)
    # A fixed, readable frame: 1k to 20k parameters (wider when a point lies outside).
    params = [entry["params"] for entry in results.values()]
    ax.set(xscale="log", xlim=(min([1_000, *params]) / 1.2, max([PARAMETER_BUDGET, *params]) * 1.2))
    ticks = [1_000, 2_000, TINY_BUDGET, 10_000, PARAMETER_BUDGET]
    ax.set_xticks(ticks, [f"{tick // 1000}k" for tick in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvspan(ax.get_xlim()[0], TINY_BUDGET, color="tab:green", alpha=0.06)
    band = {"transform": ax.get_xaxis_transform(), "ha": "right", "va": "top", "fontsize": 8, "color": "tab:green"}
    ax.text(TINY_BUDGET, 0.98, f"<= {TINY_BUDGET:,} parameters ", **band)
    for panel in axes.flat:  # the targets in both panels; the grid across the main panel's log scale too
        panel.axhline(TARGET_ACCURACY, color="gray", linestyle="--", linewidth=1)
        panel.axhline(SMALL_ACCURACY, color="gray", linestyle=":", linewidth=1)
        panel.grid(alpha=0.3, which="both", axis="both" if panel is ax else "y")
    for level in (TARGET_ACCURACY, SMALL_ACCURACY):
        ax.text(ax.get_xlim()[0], level, f" {level}%", va="bottom", fontsize=8, color="gray")
    ax.set(xlabel="parameters (log scale)", ylabel="test accuracy %", title="mean +- std per model, dots are seeds")
    if variants:
        labels = [f"{name}\n{s['params']:,} p\n{s['epochs']} ep, n={len(s['seeds'])}" for name, s in variants.items()]
        axes[0, 1].set_xticks(range(len(variants)), labels, fontsize=7)
        axes[0, 1].set(xlim=(-0.6, len(variants) - 0.4), title="recipe variants, by name")
    fig.tight_layout()
    return fig


def plot_ablation(differences: dict[str, dict[str, list[float]]], band: float, base: str, base_seeds: int) -> Figure:
    """Each removal minus `base` on the same seed: dots per seed (test filled, validation hollow), lines their mean,
    the noise band +-`band` in grey. differences: `lab.ablation.paired_differences`; band: `lab.ablation.noise_band`."""
    fig, ax = _subplots(figsize=(max(5.0, 1.1 * len(differences) + 2), 4.2))
    ax.axhspan(-band, band, color="gray", alpha=0.2, linewidth=0, label=f"noise band +-{band:.2f}")
    ax.axhline(0, color="black", linewidth=0.8)
    for offset, split, color, fill in ((-0.15, "test", "C0", "C0"), (0.15, "val", "C1", "none")):
        for index, values in enumerate(item[split] for item in differences.values()):
            # Seeds side by side, so that two equal differences stay two dots.
            xs = [index + offset + 0.05 * (seed - (len(values) - 1) / 2) for seed in range(len(values))]
            ax.scatter(xs, values, s=24, color=fill, edgecolors=color, label=None if index else f"{split}, per seed")
            ax.hlines(sum(values) / max(1, len(values)), index + offset - 0.1, index + offset + 0.1, color=color, lw=2)
    ax.set_xticks(range(len(differences)), [f"{name}\nn={len(item['test'])}" for name, item in differences.items()])
    title = f"one component removed from {base}: seeds (dots), mean (lines)\nband: 19 in 20 two-run test differences"
    ax.set(title=f"{title}, from {base}'s {base_seeds} seeds", ylabel=f"removal minus {base}, same seed (points)")
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8, ncols=3, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.tight_layout()
    return fig
