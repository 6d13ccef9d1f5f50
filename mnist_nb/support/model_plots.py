"""Figures of a model's insides, drawing and not the lesson: feature maps, maps, heatmaps, gradient per layer.

Built as `plots` builds them: a standalone `Figure` per call, without pyplot, from tensors of
`mnist_nb.inspection` and numbers.
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.ticker import NullFormatter

from mnist_nb.support.plots import as_pictures, axes_grid, digit_title, run_colours, subplots


def plot_feature_maps(
    activations: torch.Tensor, title=None, num_columns: int = 10, value_range=None, image_names=None
) -> Figure:
    """Every channel of one image's activations [C, H, W], one panel each, on one colour scale with its bar.

    With `image_names`, activations [N, C, H, W] of N images: each channel's N panels one under the other, every
    row named on its left, so that a channel compares across the images at a glance.
    `value_range` (low, high) fixes the scale; by default it spans these activations. One scale for all
    panels: a channel that looks dark is weak, not just dark relative to itself.
    """
    if image_names is None and activations.ndim != 3:
        message = f"expected one image's activations [C, H, W], got {list(activations.shape)}"
        raise ValueError(f"{message}: pick one image, e.g. capture_activations(...)['stem'][0], or name the images")
    if image_names is not None and (activations.ndim != 4 or len(image_names) != len(activations)):
        raise ValueError(f"expected [N, C, H, W] for {len(image_names)} image names, got {list(activations.shape)}")
    maps = activations.detach().cpu().float()
    maps = maps.unsqueeze(0) if maps.ndim == 3 else maps  # [N, C, H, W]
    images, channels = maps.shape[:2]
    columns = max(1, min(num_columns, channels))
    blocks = -(-channels // columns)  # rows of channels; each block holds one row per image
    low, high = value_range if value_range is not None else (maps.min().item(), maps.max().item())
    if images == 1:
        fig, axes = axes_grid(blocks * columns, columns, cell=1.1, title=title)
    else:
        fig, axes = _grouped_grid(blocks, images, columns, title)
    drawn = []
    for index, ax in enumerate(axes):
        row, column = divmod(index, columns)
        block, image = divmod(row, images)
        channel = block * columns + column
        if channel >= channels:
            fig.delaxes(ax)
            continue
        shown = ax.imshow(maps[image, channel].numpy(), cmap="viridis", vmin=low, vmax=high)
        drawn.append(ax)
        if image == 0:
            ax.set_title(f"channel {channel}", fontsize=9)
        if image_names is not None and column == 0:
            ax.text(-0.15, 0.5, image_names[image], transform=ax.transAxes, ha="right", va="center", fontsize=9)
    if images == 1:
        fig.tight_layout()
    fig.colorbar(shown, ax=drawn, fraction=0.02, pad=0.01, label="activation")
    return fig


def _grouped_grid(blocks: int, images: int, columns: int, title: str | None):
    """Axes for `blocks` rows of channels, each `images` rows tall: the rows of one block close together and a
    gap, for the channel titles, between blocks. Returns (fig, axes) in block, image, column order."""
    cell, gap = 1.1, 0.3  # inches: one panel; the space above each block
    height = blocks * (images * cell + gap) + (0.5 if title else 0.1)
    fig, grid = subplots(
        blocks * (images + 1),
        columns,
        figsize=(cell * columns + 1.2, height),
        squeeze=False,
        gridspec_kw={"height_ratios": ([gap] + [cell] * images) * blocks, "hspace": 0.06, "wspace": 0.06},
    )
    for row in range(0, len(grid), images + 1):  # the gap rows hold no panel
        for ax in grid[row]:
            fig.delaxes(ax)
    axes = [ax for row in range(len(grid)) if row % (images + 1) for ax in grid[row]]
    for ax in axes:
        ax.set_axis_off()
    top = 1 - (0.45 if title else 0.05) / height
    fig.subplots_adjust(left=0.9 / (cell * columns + 1.2), right=0.93, top=top, bottom=0.05 / height)
    if title:
        fig.suptitle(title, y=1 - 0.15 / height)
    return fig, axes


def plot_maps(
    maps: dict[str, torch.Tensor],
    title: str | None = None,
    value_ranges: dict | None = None,
    axis_labels: tuple[str, str] = ("column", "row"),
) -> Figure:
    """A few [H, W] maps of different quantities side by side (a gate's mean over images beside its standard
    deviation across them), each on its own colour scale with its own bar, titled by its key; the ticks count
    rows and columns from 0 at the top left, so a position can be named. `value_ranges` fixes a map's scale
    by its key, (low, high): a gate's mean on 0-1, as the gate itself is drawn; a range around 0, (-a, a),
    draws a signed map (a table minus its mean) in red above 0 and blue below. `axis_labels`: (x, y), for a
    table whose columns and rows are not positions (channels, classes)."""
    height, width = next(iter(maps.values())).shape[-2:]
    panel = 3.4 * max(1.0, width / height)  # a wide table gets a wide panel, its cells square
    fig, axes = subplots(1, len(maps), figsize=(panel * len(maps), 3.2), squeeze=False)
    for ax, (name, values) in zip(axes[0], maps.items(), strict=True):
        if values.ndim != 2:
            raise ValueError(f"{name}: expected one [H, W] map, got {list(values.shape)}")
        low, high = (value_ranges or {}).get(name, (None, None))
        signed = low is not None and low == -high
        shown = ax.imshow(
            values.detach().cpu().float().numpy(), cmap="RdBu_r" if signed else "viridis", vmin=low, vmax=high
        )
        ax.set(title=name, xlabel=axis_labels[0], ylabel=axis_labels[1])
        if max(values.shape) <= 16:  # few enough to label each row, and each column that has room for two digits
            step = 1 if panel / values.shape[1] >= 0.3 else 2  # inches a column
            ax.set(xticks=range(0, values.shape[1], step), yticks=range(values.shape[0]))
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def overlay_heatmaps(
    images,
    heatmaps,
    labels=None,
    title=None,
    scale_label: str | None = None,
    num_columns: int | None = None,
    value_range: tuple[float, float] = (0.0, 1.0),
    predictions=None,
    squares=None,
) -> Figure:
    """Heatmaps on one fixed scale with a colour bar, the digit as an outline; rows of `num_columns`.

    images: uint8 [N, 28, 28] or float [N, 1, 28, 28]; heatmaps [N, h, w] or [N, 1, h, w] (spatial attention,
    Grad-CAM), resized to 28x28. Titles as `show_digits` gives them: the label, or with `predictions`
    'true 3 / pred 5' (red when wrong). Never stretched per map: a gate in 0.98-1.00 looks uniform on 0-1, as it is;
    and never blended with the digit, so every colour on a panel is one on the colour bar. `scale_label`
    names what the bar measures (e.g. that Grad-CAM maps are scaled per image). A `value_range` around 0,
    (-a, a), draws signed maps (a map minus its mean) in red above 0 and blue below, the outline in black.
    `squares`: per image, (top, left, size) squares to outline (an occlusion test's), the first solid red, the
    second dashed white.
    """
    low, high = value_range
    signed = low == -high
    pictures, _ = as_pictures(images)
    heatmaps = heatmaps.detach().cpu().float()
    if heatmaps.ndim == 3:
        heatmaps = heatmaps.unsqueeze(1)
    heatmaps = F.interpolate(heatmaps, size=tuple(pictures.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    fig, axes = axes_grid(len(pictures), num_columns=num_columns or len(pictures), cell=1.5, title=title)
    for index, ax in enumerate(axes):
        shown = ax.imshow(heatmaps[index].numpy(), cmap="RdBu_r" if signed else "viridis", vmin=low, vmax=high)
        picture = pictures[index].float().numpy()
        # The outline where the ink is half its darkest, uint8 bytes and normalized inputs alike.
        outline = "black" if signed else "white"
        ax.contour(picture, levels=[(picture.min() + picture.max()) / 2], colors=outline, linewidths=0.8)
        text, color = digit_title(index, labels, predictions)
        ax.set_title(text, fontsize=10, color=color)
        styles = [{"edgecolor": "red", "linestyle": "-"}, {"edgecolor": "white", "linestyle": "--"}]
        for (top, left, size), style in zip((squares or [[]] * len(pictures))[index], styles, strict=False):
            # imshow puts pixel (row, column) at (x, y) = (column, row), its edges half a pixel out
            ax.add_patch(Rectangle((left - 0.5, top - 0.5), size, size, fill=False, linewidth=1.5, **style))
    fig.tight_layout()
    fig.colorbar(shown, ax=axes, fraction=0.02, pad=0.01, label=scale_label)
    return fig


def plot_gradient_rms(
    rms: dict[str, dict[str, float]],
    title: str = "gradient per weight, per conv layer",
    ylim=None,
    ylabel: str = "gradient RMS per weight (log)",
    baseline: float | None = None,
    colours: dict[str, str] | None = None,
) -> Figure:
    """Grouped bars, log scale: one group per conv layer (input side left), one bar per run; the legend
    sits beside the axes, never over a bar. A run named after a model of the series ("attention (no skip)") takes
    that model's colour, as in `plot_curves`; `colours` gives any run its colour by name, so that a run keeps one
    colour from figure to figure. `ylim` (low, high) puts figures to
    be compared on one scale; `ylabel` says what the bars are when they are not the RMS itself. `baseline` (1
    for each run divided by one of its layers) draws every bar from that value, up or down, with a line there
    and labelled ticks: on a log axis a bar from the floor would give its length no meaning.

    rms: run name -> `gradient_rms(...)`. Layers match by position (names differ with and without the
    skip); the ticks show the first run's module names, without a final ".conv" ("block3.first" for
    "block3.first.conv"): every bar is a conv's, and the shorter name stays readable at 21 layers.
    """
    layers = list(next(iter(rms.values())))
    if len({len(run_rms) for run_rms in rms.values()}) > 1:
        raise ValueError("every run must have the same number of conv layers to compare them side by side")
    width = 0.8 / len(rms)
    colours = {**run_colours(list(rms)), **(colours or {})}
    fig, ax = subplots(figsize=(min(max(6, 0.38 * len(layers) + 2), 10), 4.8))
    for offset, (run, run_rms) in enumerate(rms.items()):
        positions = [index + (offset - (len(rms) - 1) / 2) * width for index in range(len(layers))]
        heights = [value - (baseline or 0) for value in run_rms.values()]
        ax.bar(positions, heights, width, bottom=baseline or 0, label=run, color=colours[run])
    names = [layer.removesuffix(".conv") for layer in layers]
    ax.set_xticks(range(len(layers)), names, rotation=60, ha="right", rotation_mode="anchor", fontsize=9)
    ax.set(yscale="log", ylabel=ylabel, title=title, ylim=ylim)
    if baseline is not None:
        ax.axhline(baseline, color="black", linewidth=0.8)
        low, high = ax.get_ylim()
        fine = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50)  # within a few decades; over more, one tick a decade
        steps = fine if high / low < 1e3 else tuple(10.0**power for power in range(-12, 4))  # 1e-12 to 1000
        ticks = [tick for tick in steps if low <= tick * baseline <= high]
        ax.set_yticks([tick * baseline for tick in ticks], [f"{tick:g}" for tick in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())  # only the labelled ticks above, no 6 x 10^0 between them
    ax.set_xlabel("conv layer, input side left", fontsize=9)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    return fig


def plot_ratio_ranges(
    ratios: dict[str, list[float]],
    title: str,
    first_label: str = "the first draw",
    panels: dict[str, list[str]] | None = None,
) -> Figure:
    """One column per conv (input side left): the range of a ratio over several draws as a bar, its median as
    a dot and the first draw as a cross, on a log axis with a line at 1, so that a ratio's spread reads beside
    its size. ratios: conv name -> values, the first from the draw an earlier figure showed.

    `panels` (panel title -> conv names) draws groups side by side, each on its own log axis, so that a group
    whose ratios stay near 1 is not flattened by one whose ratios reach 20; by default one panel holds all.
    """
    panels = panels or {"": list(ratios)}
    if unknown := [name for names in panels.values() for name in names if name not in ratios]:
        raise ValueError(f"panels name convs that have no ratios: {', '.join(unknown)}")
    width = min(max(6, 0.5 * len(ratios) + 2 + 1.2 * (len(panels) - 1)), 12)
    fig, axes = subplots(
        1, len(panels), figsize=(width, 4.2), squeeze=False, width_ratios=[len(names) + 1 for names in panels.values()]
    )
    for ax, (panel, names) in zip(axes[0], panels.items(), strict=True):
        for position, name in enumerate(names):
            values = ratios[name]
            # A butt cap: the bar ends at the lowest and highest values, not a few points past them.
            ax.plot([position] * 2, [min(values), max(values)], color="C0", lw=6, alpha=0.35, solid_capstyle="butt")
            ax.plot(position, statistics.median(values), "o", color="C0")
            ax.plot(position, values[0], "x", color="C3", markersize=8, markeredgewidth=1.5)
        ax.axhline(1, color="black", linewidth=0.8)
        labels = [name.removesuffix(".conv") for name in names]
        ax.set_xticks(range(len(names)), labels, rotation=60, ha="right", rotation_mode="anchor", fontsize=9)
        ax.set_xlim(-0.6, len(names) - 0.4)
        ax.set(yscale="log", title=panel)
        low, high = ax.get_ylim()
        steps = (0.1, 0.2, 0.5, 1, 2, 5, 10, 20) if high / low > 4 else (0.5, 0.7, 1, 1.5, 2, 3)
        ticks = [tick for tick in steps if low <= tick <= high]
        ax.set_yticks(ticks, [f"{tick:g}" for tick in ticks])
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("conv layer, input side left", fontsize=9)
    axes[0][0].set_ylabel("ratio (log scale)")
    fig.suptitle(title)
    draws = len(next(iter(ratios.values())))
    handles = [
        Line2D([], [], color="C0", linewidth=6, alpha=0.35, label=f"lowest to highest of {draws}"),
        Line2D([], [], color="C0", marker="o", linestyle="none", label="median"),
        Line2D([], [], color="C3", marker="x", linestyle="none", markersize=8, label=first_label),
    ]
    axes[0][-1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    fig.tight_layout()
    return fig
