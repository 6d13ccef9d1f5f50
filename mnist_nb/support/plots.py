"""The notebooks' figures of data and training, drawing and not the lesson: digits, curves, confusions.

Figures of a model's insides (feature maps, heatmaps, gradients) are in `model_plots`; the frontier's and the
ablation's are the lab's (`lab.figures`).

Each function returns its own `matplotlib.figure.Figure`, without pyplot: a notebook shows it once, a
script calls `fig.savefig(...)`, and nothing piles up in pyplot's open figures. Plots take tensors (from
`mnist_nb.inspection`) and numbers only. Images are dataset bytes (uint8 [N, 28, 28], on the fixed 0-255
scale) or model inputs (float [N, 1, 28, 28] or [N, 28, 28], autoscaled).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

WRONG_COLOR = "tab:red"


def subplots(*grid, figsize, squeeze: bool = True, **options):
    """`plt.subplots` without pyplot: a standalone Figure, PNG at 100 dpi on white (readable on a dark page)."""
    fig = Figure(figsize=figsize, dpi=100, facecolor="white")
    return fig, fig.subplots(*grid, squeeze=squeeze, **options)


def axes_grid(count: int, num_columns: int, cell: float = 1.3, title: str | None = None):
    """A figure with `count` axes on a grid (unused cells removed); returns (fig, flat list of axes)."""
    num_columns = max(1, min(num_columns, count))
    num_rows = max(1, math.ceil(count / num_columns))
    figsize = (cell * num_columns, (cell + 0.4) * num_rows + 0.4)
    fig, axes = subplots(num_rows, num_columns, figsize=figsize, squeeze=False)
    axes = list(axes.flat)
    for ax in axes[count:]:
        fig.delaxes(ax)
    for ax in axes[:count]:
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    return fig, axes[:count]


def as_pictures(images: torch.Tensor) -> tuple[torch.Tensor, dict]:
    """uint8 [N, H, W] or float [N, 1, H, W] / [N, H, W] -> CPU [N, H, W], plus imshow value limits."""
    images = images.detach().cpu()
    if images.ndim == 4:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"expected images [N, 28, 28] or [N, 1, 28, 28], got {list(images.shape)}")
    limits = {"vmin": 0, "vmax": 255} if images.dtype == torch.uint8 else {}
    return images, limits


def digit_title(index: int, labels, predictions) -> tuple[str, str]:
    """'3' or 'true 3 / pred 5' and its color (red when the prediction is wrong)."""
    if predictions is None:
        return ("" if labels is None else f"{int(labels[index])}"), "black"
    true, predicted = int(labels[index]), int(predictions[index])
    return f"true {true} / pred {predicted}", "black" if true == predicted else WRONG_COLOR


def show_digits(
    images, labels=None, predictions=None, num_columns: int = 10, title: str | None = None, titles=None
) -> Figure:
    """A grid of digits titled with the label, or 'true 3 / pred 5' (red when wrong), or `titles` (one string
    per image); labels, predictions: [N]."""
    pictures, limits = as_pictures(images)
    fig, axes = axes_grid(len(pictures), num_columns, title=title)
    for index, ax in enumerate(axes):
        ax.imshow(pictures[index].numpy(), cmap="gray", **limits)
        text, color = (titles[index], "black") if titles is not None else digit_title(index, labels, predictions)
        ax.set_title(text, fontsize=10, color=color)
    fig.tight_layout()
    return fig


def plot_pixel_histogram(images: torch.Tensor) -> Figure:
    """Histogram of pixel values (uint8 [N, 28, 28]), log scale: mostly 0 (background), some 255 (ink)."""
    counts = torch.bincount(images.detach().cpu().flatten().long(), minlength=256)  # [256]
    fig, ax = subplots(figsize=(6, 3))
    ax.stairs(counts.numpy(), range(len(counts) + 1), fill=True)
    ax.set_yscale("log")
    ax.set(xlabel="pixel value", ylabel="pixels (log scale)", title=f"pixel values of {len(images):,} images")
    fig.tight_layout()
    return fig


# A panel per name: "loss" and "accuracy" draw the train_ and val_ figures on shared axes.
CURVES = ("loss", "accuracy")
# One colour per model of the series, in every notebook's curves; other runs take a colour no model owns first.
MODEL_COLOURS = {"baseline": "C0", "batchnorm": "C1", "dropout": "C2", "gap": "C9", "attention": "C4", "residual": "C5"}
# The validation markers' shape goes with the colour (C0 -> "o", C1 -> "s", ...): a model keeps both across notebooks.
VALIDATION_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")


def _as_drawn(metric: str, value: float) -> float:
    """A curve's value as drawn: accuracy as its error (% wrong), anything else as it is."""
    return 100 - value if metric == "accuracy" else value


def _training_line(history: list[dict], metric: str) -> tuple[list[float], list[float]]:
    """(x, y) of training's `metric` against epochs done: per batch where the rows keep it ("train_step_losses",
    a running mean over the last tenth of an epoch, fewer batches at the start), else one point per epoch.
    Accuracy comes back as % wrong."""
    steps_key = {"loss": "train_step_losses", "accuracy": "train_step_accuracies"}[metric]
    if not all(row.get(steps_key) for row in history):
        return [row["epoch"] for row in history], [_as_drawn(metric, row[f"train_{metric}"]) for row in history]
    xs = [row["epoch"] - 1 + (step + 1) / len(row[steps_key]) for row in history for step in range(len(row[steps_key]))]
    values = [value for row in history for value in row[steps_key]]
    means = running_means(values, window=max(1, len(history[0][steps_key]) // 10))
    return xs, [_as_drawn(metric, mean) for mean in means]


def running_means(values: list[float], window: int) -> list[float]:
    """At each step, the mean of the last `window` values (fewer at the start); a NaN carries on from there."""
    sums = list(itertools.accumulate(values, initial=0.0))
    return [(sums[end] - sums[max(0, end - window)]) / min(end, window) for end in range(1, len(values) + 1)]


def run_colours(runs: list[str]) -> dict[str, str]:
    """A run named after a model of the series ("dropout", "dropout, 1,000 images") in that model's colour,
    unless an earlier run of the figure has it; every other run in the next colour that no model owns and no
    run of the figure uses (then any colour the figure does not use)."""
    unowned = [f"C{index}" for index in range(10) if f"C{index}" not in MODEL_COLOURS.values()]
    colours: dict[str, str] = {}
    for run in runs:
        model = run.split(",")[0].split()[0] if run.strip() else run
        own = MODEL_COLOURS.get(model)
        if own is None or own in colours.values():
            free = [colour for colour in [*unowned, *MODEL_COLOURS.values()] if colour not in colours.values()]
            own = free[0] if free else f"C{len(colours) % 10}"
        colours[run] = own
    return colours


def plot_curves(
    histories: dict[str, list[dict]], metrics: Sequence[str] = CURVES, colours: dict[str, str] | None = None
) -> Figure:
    """One panel per metric, one colour per run (a model of the series keeps its colour across notebooks;
    `colours`, "Cn" by run name, overrides it), against epochs done. histories: run name -> `TrainingResult.history`.

    "loss" and "accuracy" put training (thin: per batch, a running mean over a tenth of an epoch, on augmented images
    with dropout on, while the weights move) and validation (dots: the end of each epoch, clean images, dropout off;
    hollow, one shape per colour, so that runs ending level stay visible) on shared axes. The loss on a log scale;
    accuracy as its error (% wrong), logarithmic down to 0.1% and linear below, so that a drop from 10% to 1% wrong
    and one from 1% to 0.5% both show, and so does a stretch of batches without a mistake. Rows without validation
    are left out of it. Any other metric (e.g. "learning_rate"): one line per run, one point per epoch.
    """
    fig, axes = subplots(1, len(metrics), figsize=(4.8 * len(metrics), 3.4), squeeze=False)
    colours = {**run_colours(list(histories)), **(colours or {})}
    for ax, metric in zip(axes.flat, metrics, strict=True):
        for run, history in histories.items():
            color = colours[run]
            if metric not in CURVES:
                epochs, values = [row["epoch"] for row in history], [row[metric] for row in history]
                ax.plot(epochs, values, ".-", color=color, label=run)
                continue
            xs, ys = _training_line(history, metric)
            ax.plot(xs, ys, color=color, linewidth=0.9, alpha=0.8, label=f"{run}, train")
            rows = [row for row in history if row.get(f"val_{metric}") is not None]
            values = [_as_drawn(metric, row[f"val_{metric}"]) for row in rows]
            # Dots joined by a dotted line: validation exists only at the end of each epoch. Hollow, one shape per
            # colour: a run's dot drawn over another's at almost the same value would otherwise hide it.
            marker = VALIDATION_MARKERS[int(color.removeprefix("C")) % len(VALIDATION_MARKERS)]
            ax.plot(
                [row["epoch"] for row in rows], values, ":", marker=marker, color=color, markersize=6,
                markerfacecolor="none", markeredgewidth=1.3, label=f"{run}, val",
            )  # fmt: skip
        if metric in CURVES:
            ylabel = "cross-entropy (log scale)" if metric == "loss" else "% wrong (log scale)"
            if metric == "loss":
                ax.set_yscale("log")
            else:  # errors can reach 0 (no mistake in a window of batches): log down to 0.1%, linear below
                ax.set_yscale("symlog", linthresh=0.1, linscale=0.3)
                ticks = [0, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100]
                top = next((tick for tick in ticks if tick >= ax.dataLim.y1), 100)  # the axis ends above the data
                # ... and starts at the tick under the data: at 0 only where some value is under 0.1%.
                bottom = max(tick for tick in ticks if tick <= max(ax.dataLim.y0, 0) or tick == 0)
                ax.set_yticks([tick for tick in ticks if bottom <= tick <= top])
                ax.set_ylim(bottom, top)
                if bottom == 0:
                    ylabel = "% wrong (log above 0.1, linear below)"
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 0.1, 1, 10, not 10^-1
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set(title="error" if metric == "accuracy" else "loss", ylabel=ylabel)  # the legend: line or marker
        else:
            ax.set(title=metric.replace("_", " "))
        ax.set(xlabel="epochs")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3, which="both")
    # One legend for all panels, beside the last: never over a curve.
    axes.flat[-1].legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.tight_layout()
    return fig


def plot_learning_rate(rates: list[float], steps_per_epoch: int, config, history: list[dict]) -> Figure:
    """The rate of every step against epochs, the warm-up and the clean epochs shaded, and the validation error
    after each epoch on its own log axis (right), so that its bumps read against the rate. `config` is the
    run's `TrainConfig` (warmup_fraction, num_epochs, clean_epochs); `history` its per-epoch rows."""
    fig, rate_axis = subplots(figsize=(6, 3.2))
    rate_axis.plot([step / steps_per_epoch for step in range(len(rates))], rates, color="C0")
    warmup_label = f"warm-up, {config.warmup_fraction:.0%} of the steps"
    rate_axis.axvspan(0, config.warmup_fraction * config.num_epochs, color="C1", alpha=0.15, label=warmup_label)
    clean_start = config.num_epochs - config.clean_epochs
    rate_axis.axvspan(clean_start, config.num_epochs, color="C2", alpha=0.15, label="clean epochs (no augmentation)")
    error_axis = rate_axis.twinx()
    validated = [row for row in history if row.get("val_accuracy") is not None]
    errors = [100 - row["val_accuracy"] for row in validated]
    error_axis.plot([row["epoch"] for row in validated], errors, "o:", color="C3", markersize=4)
    error_axis.plot([], [], "o:", color="C3", markersize=4, label="validation error (right axis)")
    error_axis.set_yscale("log")  # about 10% after epoch 1, under 1% at the end: small late rises stay visible
    ticks = [
        tick
        for tick in (0.2, 0.5, 1, 2, 5, 10, 20, 50)
        if min(errors, default=1) / 1.5 <= tick <= 1.5 * max(errors, default=1)
    ]
    error_axis.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
    error_axis.minorticks_off()
    error_axis.set_ylabel("validation error % (log)", color="C3")
    handles = [*rate_axis.get_legend_handles_labels()[0], *error_axis.get_legend_handles_labels()[0]]
    rate_axis.set_ylim(top=1.4 * max(rates))  # headroom above the peak rate, so the legend covers no curve
    rate_axis.legend(handles=handles, fontsize=8, loc="upper right")
    rate_axis.set(title=f"learning rate, each of {len(rates):,} steps", xlabel="epochs", ylabel="learning rate")
    rate_axis.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_step_losses(step_losses: dict[str, list[list[float]]], window: int = 20, title: str | None = None) -> Figure:
    """Training loss against steps: for each stack (or model) a list of runs, every run a thin line in the stack's
    colour, so that the spread between runs is seen. Each point is the mean of the last `window` steps (fewer at
    the start); a run whose loss became NaN stops drawing there. The dashed line is ln 10, a uniform guess's loss."""
    fig, ax = subplots(figsize=(7.5, 3.6))
    for colour, (stack, runs) in zip(itertools.cycle(f"C{index}" for index in range(10)), step_losses.items()):
        for run, losses in enumerate(runs):
            steps, means = range(1, len(losses) + 1), running_means(losses, window)
            ax.plot(steps, means, color=colour, linewidth=1, alpha=0.8, label=None if run else stack)  # one entry
    ax.axhline(math.log(10), color="grey", linestyle="--", linewidth=1, label="ln 10: a uniform guess")
    ax.set(xlabel="training step", ylabel=f"training loss\n(mean of the last {window} steps)", title=title)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.02, 1.0))  # beside the panel: never over a line
    fig.tight_layout()
    return fig


def plot_confusion_matrix(matrix: torch.Tensor, title: str | None = None) -> Figure:
    """Counts in every cell (rows: true class); colour on the mistakes only, the diagonal masked: correct
    predictions outnumber any mistake a hundredfold, and would wash every other cell out."""
    matrix = matrix.detach().cpu()
    num_classes = len(matrix)
    mistakes = matrix.double().fill_diagonal_(float("nan"))
    fig, ax = subplots(figsize=(6, 5))
    shown = ax.imshow(mistakes.numpy(), cmap="Reds", vmin=0)
    fig.colorbar(shown, ax=ax, label="mistakes (off the diagonal)")
    threshold = max(1.0, mistakes.nan_to_num(0).max().item()) / 2
    for true, predicted in itertools.product(range(num_classes), repeat=2):
        count = int(matrix[true, predicted])
        color = "dimgray" if true == predicted else "white" if count > threshold else "black"
        ax.text(predicted, true, str(count), ha="center", va="center", fontsize=9, color=color)
    ax.set(xticks=range(num_classes), yticks=range(num_classes), xlabel="predicted", ylabel="true")
    ax.set_title(title or f"confusion matrix ({int(matrix.sum())} images)")
    fig.tight_layout()
    return fig


def plot_misclassified(
    images, predictions, labels, max_images=32, num_columns=8, confidences=None, set_name: str = ""
) -> Figure:
    """The wrongly classified digits, titled 'true 4 / pred 9' over '#index' (the digit's place in `images`, so
    that text and other figures can name it), the most confident first when `confidences` ([N], the
    probability of each prediction) is passed. images: [N, 28, 28] or [N, 1, 28, 28]; the rest [N]. `set_name`
    ("test", "validation") says in the title which set the indices count in."""
    predictions, labels = predictions.detach().cpu(), labels.detach().cpu()
    wrong = (predictions != labels).nonzero().flatten()
    if confidences is not None:
        wrong = wrong[confidences.detach().cpu()[wrong].argsort(descending=True)]
    if len(wrong) == 0:
        fig, ax = subplots(figsize=(4, 1.2))
        ax.text(0.5, 0.5, f"no misclassified images among {len(labels)}", ha="center", va="center")
        ax.set_axis_off()
        return fig
    shown = wrong[:max_images]
    order = "in dataset order"
    if confidences is not None:
        order = "the most confident first (p: the probability of its answer)"
    where = f" in the {set_name} set" if set_name else ""
    title = f"{len(wrong)} of {len(labels):,} misclassified, {len(shown)} shown, {order}; #: the digit's index{where}"
    fig = show_digits(images.detach().cpu()[shown], labels[shown], predictions[shown], num_columns, title)
    sureness = [None] * len(shown) if confidences is None else confidences.detach().cpu()[shown].tolist()
    for ax, index, confidence in zip(fig.axes, shown.tolist(), sureness, strict=True):
        below = f"#{index}" if confidence is None else f"#{index}, p = {confidence:.2f}"
        ax.set_title(f"{ax.get_title()}\n{below}", fontsize=10, color=ax.title.get_color())
    fig.tight_layout()
    return fig
