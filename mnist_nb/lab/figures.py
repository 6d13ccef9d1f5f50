"""Notebook 09's figures: the accuracy-per-parameter frontier, the ablation and every test, from the lab's records.

Built as the lesson's figures are (`mnist_nb.support.plots`): a standalone `Figure` per call, without pyplot.
"""

from __future__ import annotations

import statistics

from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.patheffects import withStroke
from matplotlib.ticker import NullFormatter

from mnist_nb.config import PARAMETER_BUDGET, SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET
from mnist_nb.lab.t_tests import interval
from mnist_nb.support.plots import subplots


def plot_frontier(results: dict[str, dict], variants: dict[str, dict] | None = None) -> Figure:
    """Test accuracy against parameters (log scale), one model per point, named beside it; `variants` (recipes that
    would share a spot) stand by name in a second panel. Both: entry name -> `lab.frontier.load_results()` summary."""
    variants = variants or {}
    # The frame starts just under the 99% line: a model far below it is drawn on the frame's floor as a
    # triangle with its mean written out, so the differences near 99.4% keep the height of the panel.
    floor = SMALL_ACCURACY - 0.2
    floor_mark = floor + 0.03  # where such a model's triangle sits
    strip = 1.1 * len(variants)  # inches for the second panel: room for each variant's 9 pt name under its tick
    panels = {"ncols": 2, "sharey": True, "width_ratios": (6.5, strip)} if variants else {}
    fig, axes = subplots(figsize=(7.3 + strip, 4.6), squeeze=False, **panels)
    colors = {name: f"C{index % 10}" for index, name in enumerate({**results, **variants})}
    # (panel, x, name, entry): the main panel at the parameter count, the strip by position.
    points = [(axes[0, 0], entry["params"], name, entry) for name, entry in results.items()]
    points += [(axes[0, -1], index, name, entry) for index, (name, entry) in enumerate(variants.items())]
    for ax, x, name, entry in points:
        if entry["test_accuracy_mean"] < floor:
            ax.scatter([x], [floor_mark], marker="v", s=40, color=colors[name])
            continue
        ax.scatter([x] * len(entry["test_accuracy"]), entry["test_accuracy"], s=12, alpha=0.5, color=colors[name])
        ax.errorbar(x, entry["test_accuracy_mean"], entry["test_accuracy_std"], fmt="o", capsize=4, color=colors[name])
    ax, ordered = axes[0, 0], sorted(results.items(), key=lambda item: item[1]["params"])
    halo = [withStroke(linewidth=3, foreground="white")]  # over a grid line, a name stays whole
    for index, (name, entry) in enumerate(ordered):
        # Named on the left; on the right where the next smaller model is close (within 30%), and for the largest.
        right = index == len(ordered) - 1 or (index > 0 and ordered[index - 1][1]["params"] * 1.3 > entry["params"])
        label = f"{name}\n{entry['epochs']} ep, n={len(entry['seeds'])}"
        place = {"xytext": (12 if right else -12, 0), "ha": "left" if right else "right", "va": "center", "fontsize": 9}
        xy = entry["params"], max(entry["test_accuracy_mean"], floor_mark)
        if abs(entry["test_accuracy_mean"] - TARGET_ACCURACY) < 0.04:  # above the 99.4% line, not struck through
            place |= {"xytext": (place["xytext"][0], 3), "va": "bottom"}
        if entry["test_accuracy_mean"] < floor:  # above its triangle on the floor
            label += f"\n{entry['test_accuracy_mean']:.2f}%, below"
            place |= {"xytext": (0, 8), "ha": "center", "va": "bottom"}
        ax.annotate(label, xy, textcoords="offset points", color=colors[name], path_effects=halo, **place)
    # A fixed, readable frame: 1k to 20k parameters (wider when a point lies outside).
    params = [entry["params"] for entry in results.values()]
    ax.set(xscale="log", xlim=(min([1_000, *params]) / 1.2, max([PARAMETER_BUDGET, *params]) * 1.2))
    ticks = [1_000, 2_000, TINY_BUDGET, 10_000, PARAMETER_BUDGET]
    ax.set_xticks(ticks, [f"{tick // 1000}k" for tick in ticks])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.axvspan(ax.get_xlim()[0], TINY_BUDGET, color="tab:green", alpha=0.06)
    band = {"transform": ax.get_xaxis_transform(), "ha": "right", "va": "top", "fontsize": 9, "color": "tab:green"}
    ax.text(TINY_BUDGET, 0.98, f"≤ {TINY_BUDGET:,} parameters ", **band)
    for panel in axes.flat:  # the targets in both panels; the grid across the main panel's log scale too
        panel.axhline(TARGET_ACCURACY, color="gray", linestyle="--", linewidth=1)
        panel.axhline(SMALL_ACCURACY, color="gray", linestyle=":", linewidth=1)
        panel.grid(alpha=0.3, which="both", axis="both" if panel is ax else "y")
    ax.set_ylim(bottom=floor)
    for level in (TARGET_ACCURACY, SMALL_ACCURACY):
        ax.text(ax.get_xlim()[0], level, f" {level}%", va="bottom", fontsize=9, color="gray")
    ax.set(xlabel="parameters (log scale)", ylabel="test accuracy %", title="mean ± std per model, dots are seeds")
    if variants:
        labels = [
            f"{name}\n{s['params']:,} params\n{s['epochs']} ep, n={len(s['seeds'])}" for name, s in variants.items()
        ]
        axes[0, 1].set_xticks(range(len(variants)), labels, fontsize=9)
        axes[0, 1].set(xlim=(-0.6, len(variants) - 0.4), title="recipes, by name")
    fig.tight_layout()
    return fig


def plot_ablation(gains: dict[str, dict[str, list[float]]], band: float, base: str, base_seeds: int) -> Figure:
    """Each component's gain on the same seed (with it minus without), in three lanes: the recorded test pairs (blue),
    the test pairs with every pair on one machine where the records have them (green diamonds), validation
    (hollow orange). Dots per seed, a short line their mean and, for the two test lanes, a bar its 95% interval
    (`ablation.interval`); the noise band +-`band` in grey behind the test lanes; a pair whose run stayed at
    chance named under the component instead. gains: `ablation.paired_gains`; band:
    `ablation.noise_band`."""
    fig, ax = subplots(figsize=(max(5.0, 1.3 * len(gains) + 2) + 1.8, 4.4))
    for index in range(len(gains)):  # behind the two test lanes only: the band is for test accuracy
        ax.add_patch(Rectangle((index - 0.45, -band), 0.63, 2 * band, color="gray", alpha=0.2, linewidth=0,
                               label=None if index else f"noise band +-{band:.2f}, test lanes"))  # fmt: skip
    ax.axhline(0, color="black", linewidth=0.8)
    lanes = (  # (key, offset, colour, marker, fill, label)
        ("test", -0.3, "C0", "o", "C0", "test, as recorded"),
        ("one machine", 0.0, "C2", "D", "C2", "test, every pair on one machine"),
        ("val", 0.3, "C1", "o", "none", "validation, as recorded"),
    )
    bold, clipped = False, None  # any bar bold; (colour, marker) of a validation dot moved onto the frame's edge
    extent = [-band, band]  # the test lanes (and the band) set the frame; validation is drawn inside it
    mark = {"linestyle": "none", "markersize": 14, "markeredgewidth": 2}  # legend entries drawn as the plot draws them
    for key, offset, color, marker, fill, label in lanes:
        first, bars = True, False
        if key == "val":  # a validation difference beyond the frame sits on its edge as a triangle, value written
            pad = 0.08 * (max(extent) - min(extent))
            floor, ceiling = min(extent) - pad, max(extent) + pad
        for index, item in enumerate(gains.values()):
            values = item.get(key) or []  # none where every pair had a run at chance, or no re-runs
            if not values:
                continue
            # Seeds side by side in the lane, so that two equal gains stay two dots.
            xs = [index + offset + 0.02 * (seed - (len(values) - 1) / 2) for seed in range(len(values))]
            shown = values if key != "val" else [min(max(value, floor), ceiling) for value in values]
            ax.scatter(xs, shown, s=18, marker=marker, color=fill, edgecolors=color, label=label if first else None)
            for x, value, at in zip(xs, values, shown, strict=True):
                if value != at:
                    below = value < at  # whole on the edge (not clipped), its value written inside the frame
                    clipped = (color, "v" if below else "^")
                    ax.scatter([x], [at], s=40, marker="v" if below else "^", color=color, clip_on=False, zorder=3)
                    ax.annotate(f"{value:+.2f}", (x, at), xytext=(5, 7 if below else -7), textcoords="offset points",
                                fontsize=8, va="center", color=color)  # fmt: skip
            mean = min(max(statistics.fmean(values), floor), ceiling) if key == "val" else statistics.fmean(values)
            ax.hlines(mean, index + offset - 0.1, index + offset + 0.1, color=color, lw=2)
            extent += values if key != "val" else []
            if key != "val" and len(values) > 1:  # the interval beside its lane's dots; bold where it misses 0
                low, high = interval(values)
                misses_zero = low > 0 or high < 0
                bars, bold = True, bold or misses_zero
                extent += [low, high]
                ax.vlines(index + offset + 0.13, low, high, color=color, lw=4 if misses_zero else 2)
            first = False
        if bars:  # drawn upright as in the plot, thin whatever the first component's bar is: bold says "misses 0"
            ax.plot([], [], color=color, **mark, marker="|", label=f"95% interval, {label.removeprefix('test, ')}")
    ax.plot([], [], color="gray", **mark, marker="_", label="mean of the seeds, in its lane's colour")
    if clipped:
        colour, marker = clipped
        ax.scatter([], [], s=40, marker=marker, color=colour, label="validation beyond the frame (value beside)")
    if bold:
        bold_mark = mark | {"markeredgewidth": 4}
        ax.plot([], [], color="black", **bold_mark, marker="|", label="bold bar: interval misses 0")
    # A pair left out because one of its runs stayed at chance says so under its name.
    ticks = [
        f"{name}\nn={len(item['test'])}"
        + (f" (◆ {len(item['one machine'])})" if "one machine" in item else "")
        + "".join(f"\n{label}: seed {seed}\nat chance" for label, seed in item.get("at chance", []))
        for name, item in gains.items()
    ]
    ax.set_xticks(range(len(gains)), ticks)
    title = f"what each component of {base} buys: seeds (dots), mean (lines), its 95% interval (bars; bold: misses 0)"
    title += f"\nband: 19 in 20 two-run test differences of one recipe, from {base}'s {base_seeds} recorded seeds"
    title += "\nunder each name, n: recorded seeds; ◆: pairs on one machine that trained"
    ax.set(title=title, ylabel="with it minus without, same seed (points)", ylim=(floor, ceiling))
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3, axis="y")
    # The legend beside the axes: under them, a component's note of a run at chance would run into it.
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


REACH = 0.1  # points: how far at most the forest plot's axis runs past its outermost markers


def plot_every_test(rows: list[dict]) -> Figure:
    """Every test as a forest plot, one line per row of `every_test.every_test_rows` under its study's name, top to
    bottom: each pairing's mean gain (with the change minus without) and its interval at the rule's level, so that
    a bar misses 0 exactly where that pairing's p is below the level. Colour: the row's reading (an effect by its
    rule, borderline, none); a filled marker: that pairing's own p below the level. The ablation's two pairings
    are a circle (as recorded) over a diamond (every pair on one machine)."""
    headers = [index for index, row in enumerate(rows) if index == 0 or row["study"] != rows[index - 1]["study"]]
    # One line per study name, then its rows: y positions from the top.
    positions, labels, bold, y = [], [], [], 0
    for index, row in enumerate(rows):
        if index in headers:
            labels.append(row["study"].replace("`", ""))
            bold.append(y)
            y += 1
        positions.append(y)
        labels.append(f"{row['test'].replace('`', '')}  [{(1 - row['level']) * 100:g}%]")
        y += 1
    # 12 inches: the row labels take about 8 of them, and the intervals need the rest to be read.
    fig, ax = subplots(figsize=(12, 0.3 * y + 2.0))
    ax.axvline(0, color="black", linewidth=0.8)
    # The axis runs REACH points past the outermost markers, or stops at the widest interval's end if that is nearer:
    # one wide interval would otherwise set the scale of every row. One that runs past an edge ends there in an arrow,
    # its end printed outside the axes.
    gains = [pairing["gain"] for row in rows for pairing in row["pairings"]]
    ends = [end for row in rows for pairing in row["pairings"] for end in pairing["interval"]]
    left, right = max(min(ends), min(gains) - REACH), min(max(ends), max(gains) + REACH)
    colors = {"effect": "C0", "borderline": "C1", "none": "gray"}  # the row's reading
    for row, position in zip(rows, positions, strict=True):
        reading = row["reading"]
        kind = "borderline" if reading.startswith("borderline") else "effect" if reading.startswith("it ") else "none"
        offsets = [0.0] if len(row["pairings"]) == 1 else [-0.18, 0.18]
        for pairing, offset in zip(row["pairings"], offsets, strict=True):
            marker = "D" if pairing["label"] == "one machine" else "o"
            face = colors[kind] if pairing["p_value"] < row["level"] else "white"
            low, high = pairing["interval"]
            ax.hlines(position + offset, max(low, left), min(high, right), color=colors[kind], linewidth=2)
            for end, edge, arrow, shift in ((low, left, "<", -6), (high, right, ">", 6)):
                if (end < edge) if arrow == "<" else (end > edge):
                    ax.plot([edge], [position + offset], marker=arrow, color=colors[kind], markersize=7, clip_on=False)
                    ax.annotate(f"to {end:+.2f}", (edge, position + offset), xytext=(shift, 0), fontsize=8,
                                textcoords="offset points", ha="left" if shift > 0 else "right", va="center",
                                color=colors[kind], annotation_clip=False)  # fmt: skip
            ax.scatter([pairing["gain"]], [position + offset], s=36, marker=marker, color=face,
                       edgecolors=colors[kind], zorder=3)  # fmt: skip
    margin = 0.01 * (right - left)
    ax.set_xlim(left - margin, right + margin)
    ticks = sorted(positions + bold)
    ax.set_yticks(ticks, [labels[ticks.index(tick)] for tick in ticks], fontsize=9)
    for tick, label in zip(ticks, ax.get_yticklabels(), strict=True):
        if tick in bold:
            label.set_fontweight("bold")
    for tick in bold[1:]:
        ax.axhline(tick - 0.5, color="gray", linewidth=0.6, linestyle=":")
    ax.set_ylim(y - 0.5, -0.5)  # the first row at the top, as in the table
    legend = {"linestyle": "none", "markersize": 7}
    for kind, text in (
        ("effect", "row read as an effect by its rule"),
        ("borderline", "borderline"),
        ("none", "no verdict"),
    ):
        ax.plot([], [], color=colors[kind], marker="_", markersize=14, markeredgewidth=2, linestyle="none", label=text)
    ax.plot([], [], marker="o", color="black", label="filled: p below the rule's level", **legend)
    ax.plot([], [], marker="o", color="white", markeredgecolor="black", label="hollow: p not below it", **legend)
    rerun = "diamond: every pair on one machine (seeds 2-9 rerun)"
    ax.plot([], [], marker="D", color="white", markeredgecolor="black", label=rerun, **legend)
    # Under the axes: inside, it would cover the rows near an edge.
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.06), ncol=2, frameon=False)
    ax.set(xlabel="with the change minus without, test accuracy (points)")
    # One test image in 10,000 is 0.01 points: the same axis in images, on top.
    top = ax.secondary_xaxis("top", functions=(lambda points: points * 100, lambda images: images / 100))
    top.set_xlabel("test images of 10,000", fontsize=9)
    ax.set_title("the mean gain and its interval at the rule's level [in brackets]", fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
