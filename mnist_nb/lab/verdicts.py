"""Notebook 09's "What mattered": each claim a sentence generated from the records it rests on.

A sentence whose truth depends on a number says the number, and its verdict (helped, within seed noise,
on the line) follows from a rule applied to it here, so that neither can go stale when a record changes.
The rules: a paired or Welch t-test below `SIGNIFICANCE_LEVEL` counts as an effect; anything else is
within seed noise, and the sentence says how large an effect that many seeds could have found.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.anatomy import count_parameters
from mnist_nb.comparison import SIGNIFICANCE_LEVEL, format_p_value
from mnist_nb.config import TARGET_ACCURACY, TINY_BUDGET
from mnist_nb.lab.ablation import paired_t_p_value, student_t_critical, student_t_p_value
from mnist_nb.lab.frontier import ABLATION_BASE, component, seed_differences, signed_points
from mnist_nb.models import build_model
from mnist_nb.support.variants import ABLATIONS

TEST_IMAGES = 10_000  # one test image is 0.01 points
CANDIDATE = "tiny-stem8-30"  # the entry chosen on validation for <= TINY_BUDGET parameters at the target


def what_mattered(results: dict[str, dict], previous: dict[str, dict] | None = None) -> str:
    """The bullets of notebook 09's "What mattered", from `frontier.load_results()` and, for the time bullet,
    the record `fast` replaced (`load_results(RESULTS_DIR / "previous")`)."""
    bullets = []
    removals = {
        component(name): seed_differences(results[name], results[ABLATION_BASE])
        for name in results
        if name in ABLATIONS and ABLATION_BASE in results
    }
    removals = {name: differences for name, differences in removals.items() if len(differences) > 1}
    if removals:
        bullets += ablation_bullets(removals, len(results[ABLATION_BASE]["seeds"]))
    if previous and "fast" in previous and "fast" in results:
        bullets.append(replaced_bullet(results["fast"], previous["fast"]))
    if "final" in results and ABLATION_BASE in results:
        bullets.append(final_bullet(results["final"], results[ABLATION_BASE]))
    if CANDIDATE in results:
        bullets.append(candidate_bullet(results))
    return "\n".join(bullets)


def same_machine(first: dict, second: dict) -> bool:
    """Two records from one CPU model and torch release (another of either acts like another seed)."""
    return all(
        first.get("machine", {}).get(key) == second.get("machine", {}).get(key) for key in ("device_name", "torch")
    )


def detectable(differences: list[float]) -> float:
    """The smallest mean a paired t-test on these differences' spread calls significant: t(n-1) * sd / sqrt(n)."""
    count = len(differences)
    return student_t_critical(count - 1) * statistics.stdev(differences) / math.sqrt(count)


def ablation_bullets(removals: dict[str, list[float]], base_seeds: int) -> list[str]:
    """Helped (p < level, lower without it), the GAP head's size, and the rest with what they could hide.

    `removals`: component -> removal minus base, one test difference per seed (points)."""
    p_values = {name: paired_t_p_value(differences) for name, differences in removals.items()}

    def reading(name: str) -> str:
        differences = removals[name]
        lower = sum(value < 0 for value in differences)
        return (
            f"without it test accuracy was lower on {lower} of {len(differences)} seeds, "
            f"{signed_points(statistics.fmean(differences))} points on average ({format_p_value(p_values[name])})"
        )

    helped = [name for name in removals if p_values[name] < SIGNIFICANCE_LEVEL and statistics.fmean(removals[name]) < 0]
    bullets = []
    if helped:
        bullets.append(
            "- **What measurably helped.** " + "; ".join(f"{name}: {reading(name)}" for name in helped) + "."
        )
    else:
        closest = min(removals, key=p_values.get)
        bullets.append(
            f"- **What measurably helped: nothing beyond seed noise (every p >= {SIGNIFICANCE_LEVEL}).** Closest, "
            f"{closest}: {reading(closest)}; with its spread a mean of {detectable(removals[closest]):.2f} points "
            "would have counted. `docs/benchmarks.md` pairs every seed on one machine as well."
        )
    if "gap" in removals:
        dense, pooled = (
            count_parameters(build_model(f"{ABLATION_BASE}-no-gap")),
            count_parameters(build_model(ABLATION_BASE)),
        )
        gap = removals["gap"]
        verdict = "within seed noise" if p_values["gap"] >= SIGNIFICANCE_LEVEL else "beyond seed noise"
        bullets.append(
            f"- **What bought size: the GAP head.** `{ABLATION_BASE}` has {pooled:,} parameters, {dense:,} with a "
            f"dense head instead (notebook 04); removing GAP changed test accuracy by "
            f"{signed_points(statistics.fmean(gap))} points ({format_p_value(p_values['gap'])}), {verdict}."
        )
    named = set(helped) or {min(removals, key=p_values.get)}  # their sizes are given above
    unseen = [name for name in removals if name not in named and p_values[name] >= SIGNIFICANCE_LEVEL]
    if unseen:
        sizes = ", ".join(
            f"{name} {detectable(removals[name]):.2f} (sd {statistics.stdev(removals[name]):.3f})" for name in unseen
        )
        images = [round(detectable(removals[name]) * TEST_IMAGES / 100) for name in unseen]
        bullets.append(
            f"- **What did not show, and what {base_seeds} seeds could miss.** A paired t-test on n differences "
            f"calls their mean significant (p < {SIGNIFICANCE_LEVEL}) once it is at least t<sub>0.975, n-1</sub> · "
            f"sd / √n, sd being the differences' standard deviation (t = {student_t_critical(base_seeds - 1):.3f} "
            f"for {base_seeds} seeds). That size, in points, for the other removals: {sizes}. Effects of up to "
            f"{min(images)} to {max(images)} test images in {TEST_IMAGES:,} could be there unseen."
        )
    return bullets


def replaced_bullet(fast: dict, before: dict) -> str:
    """`fast` against the recipe it replaced, paired by seed, on test and on validation."""
    splits = {split: seed_differences(fast, before, split) for split in ("test", "val")}
    test = splits["test"]
    where = "on the same machine" if same_machine(fast, before) else "on different machines"
    figures = {
        split: f"{signed_points(statistics.fmean(values))} points ({format_p_value(paired_t_p_value(values))})"
        for split, values in splits.items()
    }
    text = (
        f"- **What bought time: where the work is.** `fast` moved its first max-pool up to right after the stem "
        f"(the shapes are printed above) and spent the time saved on width, {before['params']:,} -> "
        f"{fast['params']:,} parameters. Against the recipe it replaced, at the same {fast['epochs']} epochs, "
        f"{where}, seed for seed ({len(test)} seeds): test accuracy higher on {sum(value > 0 for value in test)} "
        f"of {len(test)}, "
        f"{figures['test']}; validation {figures['val']}."
    )
    shown = {split: paired_t_p_value(values) < SIGNIFICANCE_LEVEL for split, values in splits.items()}
    if shown["test"] and not shown["val"]:
        text += (
            f" The {fast['config']['validation_size']:,} validation images that chose it barely saw what the "
            f"{TEST_IMAGES:,} test images show."
        )
    return text


def welch_t(first: list[float], second: list[float]) -> tuple[float, float]:
    """Welch's t and its Welch-Satterthwaite degrees of freedom, for two sets of independent runs."""
    variances = [statistics.variance(values) / len(values) for values in (first, second)]
    t = (statistics.fmean(first) - statistics.fmean(second)) / math.sqrt(sum(variances))
    freedom = sum(variances) ** 2 / sum(
        value**2 / (len(values) - 1) for value, values in zip(variances, (first, second), strict=True)
    )
    return t, freedom


def final_bullet(final: dict, base: dict) -> str:
    """The final recipe against the series' last model: independent runs, so Welch's t-test."""
    t, freedom = welch_t(final["test_accuracy"], base["test_accuracy"])
    floor = max(1, math.floor(freedom))  # the tail at fewer degrees of freedom is the cautious one
    p_value = student_t_p_value(t, floor)
    same = same_machine(final, base)
    verdict = "beyond seed noise" if p_value < SIGNIFICANCE_LEVEL else "not beyond seed noise"
    return (
        f"- **The final recipe** ({final['test_accuracy_mean']:.2f} ± {final['test_accuracy_std']:.2f} %, "
        f"{len(final['seeds'])} seeds) against `{ABLATION_BASE}` ({base['test_accuracy_mean']:.2f} ± "
        f"{base['test_accuracy_std']:.2f} %, {len(base['seeds'])}): Welch's t-test gives t = {t:.2f}, "
        f"{format_p_value(p_value)} at {floor} degrees of freedom ({freedom:.1f} by Welch-Satterthwaite, rounded "
        f"down), {verdict}. Its changes were adopted together and not measured alone"
        + ("" if same else ", and the two records come from different machines, which acts like another seed")
        + f". Its higher mean is measured; its cause is not. Every seed of it is "
        f"{'at or above' if min(final['test_accuracy']) >= TARGET_ACCURACY else 'not all above'} "
        f"{TARGET_ACCURACY} % (lowest {min(final['test_accuracy']):.2f})."
    )


def candidate_bullet(results: dict[str, dict]) -> str:
    """How far the candidate under TINY_BUDGET is above the target, against its mean's standard error."""
    candidate = results[CANDIDATE]
    seeds = len(candidate["seeds"])
    margin = candidate["test_accuracy_mean"] - TARGET_ACCURACY
    error = candidate["test_accuracy_std"] / math.sqrt(seeds)
    tried = [name for name, summary in results.items() if summary.get("model") in ("tiny", "tiny-stem8")]
    position = f"the last of {len(tried)} recipes of this model measured on the test set ({', '.join(tried)})"
    return (
        f"- **Under {TINY_BUDGET:,} parameters**, `{CANDIDATE}` averages {candidate['test_accuracy_mean']:.2f} ± "
        f"{candidate['test_accuracy_std']:.2f} % over {seeds} seeds, {abs(margin):.3f} "
        f"points {'above' if margin >= 0 else 'below'} the line, {margin / error:.1f} standard errors of its mean "
        f"({error:.3f}): {'within' if abs(margin) < 2 * error else 'beyond'} seed noise; it was {position}."
    )
