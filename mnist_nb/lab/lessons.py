"""Notebook 09's "What we learned": the page's answers in a few sentences, every number and every verdict in them
read from the records, so that none can go stale when a record changes.

The sentences read `frontier.load_results()`, the index of every test (`every_test.every_test_rows`: each
study's reading by its own rule) and the step-time record (`benchmarks/results/step-times.json`, written by
`benchmarks/profile_step.py --record`). Nothing here decides anything new: each sentence restates, in plain
words, a reading made above it on the page.
"""

from __future__ import annotations

import math
import statistics

from mnist_nb.config import SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET
from mnist_nb.lab.frontier import ABLATION_BASE, ABLATION_TRAINING
from mnist_nb.lab.records import signed_points
from mnist_nb.lab.t_tests import student_t_critical

# The last entry chosen on validation, before its test runs, for "<= 5,000 parameters at >= 99.4 %".
CANDIDATE = "tiny-stem8-30"
# The step-time record's probes, in its order: the model `fast` replaced, that model pooled after the stem, `fast`.
STEP_PROBES = ("fast-7", "fast-early-pooling-10", "fast-early-pooling-width20-7")


def what_we_learned(results: dict[str, dict], rows: list[dict], step_times: dict | None = None) -> str:
    """The answers (a numbered list) and the reasons (bullets), as Markdown. `results`: `frontier.load_results()`;
    `rows`: `every_test_rows(...)`; `step_times`: the step-time record, if any."""
    answers = [_how_small(results), _what_each_component_buys(results, rows), _what_final_bought(rows)]
    reasons = [_width(results), _step_time(results, step_times), _what_seeds_see(rows), _level_with(results)]
    numbered = [f"{index}. {text}" for index, text in enumerate(filter(None, answers), start=1)]
    return "\n".join(numbered) + "\n\nAnd why:\n\n" + "\n".join(f"- {text}" for text in filter(None, reasons))


def _standard_error(summary: dict) -> float:
    return summary["test_accuracy_std"] / math.sqrt(len(summary["seeds"]))


def _how_small(results: dict[str, dict]) -> str:
    if CANDIDATE not in results:
        return ""
    candidate = results[CANDIDATE]
    margin, error = candidate["test_accuracy_mean"] - TARGET_ACCURACY, _standard_error(candidate)
    if margin >= 2 * error:
        side = f"past the line by {margin:.3f} points, beyond seed noise"
    elif margin >= 0:
        side = (
            f"reached on paper, by {margin:.3f} points, but within seed noise: level with the line, not shown past it"
        )
    else:
        side = f"short of the line by {-margin:.3f} points"
    text = (
        f"**How small can it get?** {candidate['params']:,} parameters (`{CANDIDATE}`) for a mean of "
        f"{candidate['test_accuracy_mean']:.2f} % over {len(candidate['seeds'])} seeds: {side}"
    )
    reaching = [name for name, summary in results.items() if summary["test_accuracy_mean"] >= SMALL_ACCURACY]
    if reaching:
        smallest = min(reaching, key=lambda name: results[name]["params"])
        text += (
            f"; {results[smallest]['params']:,} parameters (`{smallest}`) for "
            f"{results[smallest]['test_accuracy_mean']:.2f} %, past {SMALL_ACCURACY} %"
        )
    race = results.get("fast", {}).get("race")
    if race:
        threads = results["fast"]["machine"]["cpu_threads"]
        where = "one CPU thread" if threads == 1 else f"{threads} CPU threads"
        text += (
            f". **And how little time?** `fast` runs in about {race['our_seconds_mean']:.0f} s on {where}, "
            f"{race['ratio']:.2f} times faster than the script takes to reach its first epoch at {race['target']} %, "
            "by clocks that stop at different points"
        )
    return text + "."


def _ablation(rows: list[dict]) -> dict[str, dict]:
    """The ablation's rows by component name (the row's test is "batchnorm, in `residual`")."""
    return {row["test"].split(",")[0]: row for row in rows if row["study"].startswith("the ablation")}


def _pairing_label(pairing: dict) -> str:
    where = "with every pair on one machine" if pairing["label"] == "one machine" else pairing["label"]
    return f"{where} ({pairing['seeds']} seeds)"


def _named(component: str) -> str:
    return {"batchnorm": "BatchNorm", "gap": "the GAP head", "skip": "the skips"}.get(component, component)


def _what_each_component_buys(results: dict[str, dict], rows: list[dict]) -> str:
    ablation = _ablation(rows)
    if not ablation:
        return ""
    # The component whose removal cost the most, as recorded (the first pairing): its gain, with minus without.
    most = max(ablation, key=lambda name: ablation[name]["pairings"][0]["gain"])
    costs = ", ".join(
        f"{signed_points(-pairing['gain'])} points {_pairing_label(pairing)}" for pairing in ablation[most]["pairings"]
    )
    rate = ABLATION_TRAINING.get(f"{ABLATION_BASE}-no-{most}", {}).get("learning_rate")
    text = (
        f"**What does each component buy?** {_named(most)} the most: without it, test accuracy changed by {costs}; "
        f'"{ablation[most]["reading"]}" by the ablation\'s rule'
        + (
            f" (without it the model trains at a peak rate of {rate}, so the row measures the two together)"
            if rate
            else ""
        )
        + "."
    )
    again = [row for row in rows if row["test"] == "gap again, fresh seeds"]
    dense = results.get(f"{ABLATION_BASE}-no-gap")
    if again and dense and ABLATION_BASE in results:
        cost, fewer = -again[0]["pairings"][0]["gain"], dense["params"] - results[ABLATION_BASE]["params"]
        replicated = "replicated on fresh seeds" if again[0]["reading"].endswith("(replicated)") else "not replicated"
        text += f" The GAP head costs {cost:.2f} points ({replicated}) for {fewer:,} fewer weights."
    unseen = [_named(name) for name, row in ablation.items() if row["reading"] == "within seed noise"]
    if unseen:
        listed = ", ".join(unseen[:-1]) + " and " + unseen[-1] if len(unseen) > 1 else unseen[0]
        text += f" {listed[0].upper() + listed[1:]}: no effect these seeds can see."
    return text


def _what_final_bought(rows: list[dict]) -> str:
    added = [row for row in rows if row["study"].endswith("each change added to `residual`")]
    whole = [row for row in added if row["test"].startswith("`final`")]
    if not whole:
        return ""
    row = whole[0]
    pairing = row["pairings"][0]
    inside = [row["test"].removesuffix(", in `final`") for row in rows if row["study"].endswith("taken out of `final`")
              and row["reading"] == "it helps"]  # fmt: skip
    text = (
        f"**What did the final recipe's four changes buy?** {signed_points(pairing['gain'])} points over "
        f"`{ABLATION_BASE}` on {pairing['seeds']} paired seeds (by its rule: {row['reading']})"
    )
    if inside:
        text += f'; inside `final`, shown to matter: {"; ".join(inside)} ("In short", above)'
    return text + "."


def _width(results: dict[str, dict]) -> str:
    chain = [name for name in (ABLATION_BASE, "small", "micro") if name in results]
    if len(chain) < 2:
        return ""
    steps = []
    for wider, narrower in zip(chain, chain[1:], strict=False):
        share = results[narrower]["params"] / results[wider]["params"]
        drop = results[wider]["test_accuracy_mean"] - results[narrower]["test_accuracy_mean"]
        steps.append(f"`{wider}` -> `{narrower}` keeps {share:.0%} of the parameters for {drop:.2f} points less")
    epochs = {name: results[name]["epochs"] for name in chain}
    return (
        "**Width sets the size.** Parameters go with the width squared: " + "; ".join(steps)
        + f" (printed under the frontier table; the narrower models also have a narrower stem and train "
        f"{epochs[chain[-1]]} epochs instead of {epochs[chain[0]]})."
    )  # fmt: skip


def _step_time(results: dict[str, dict], step_times: dict | None) -> str:
    if not step_times or list(step_times["probes"]) != list(STEP_PROBES) or "fast" not in results:
        return ""
    before, pooled, fast = (statistics.fmean(row["milliseconds"]) for row in step_times["probes"].values())
    return (
        f"**A step's time did not follow the parameters.** Pooled after the stem, the model `fast` replaced stepped "
        f"in {pooled / before:.0%} of its time; `fast`, at width 20 with about as many multiply-adds as that model, "
        f"in {fast / before:.0%} ({fast:.1f} against {before:.1f} ms, {step_times['repeats']} timings each, "
        f'"Where `fast`\'s step time goes").'
    )


def _what_seeds_see(rows: list[dict]) -> str:
    """The half-width of each unseen component's 95% interval: the smallest mean its seeds could call an effect."""
    ablation = [row for row in _ablation(rows).values() if row["reading"] == "within seed noise"]
    if not ablation:
        return ""
    sizes = {}  # pairing label -> half-widths
    for row in ablation:
        for pairing in row["pairings"]:
            low, high = pairing["interval"]
            sizes.setdefault(_pairing_label(pairing), []).append((high - low) / 2)
    spans = [f"{min(values):.2f}-{max(values):.2f} points {label}" for label, values in sizes.items()]
    return (
        f"**Few seeds see only large effects.** A removal's mean change is significant only from about "
        f'{" and ".join(spans)} ("What mattered"): "no effect shown" is not "no effect".'
    )


def _level_with(results: dict[str, dict]) -> str:
    """Under the budget, "level with" means within two standard errors; would Student's t change a verdict?"""
    under = {name: summary for name, summary in results.items() if summary["params"] <= TINY_BUDGET}
    if not under:
        return ""
    seeds = max(len(summary["seeds"]) for summary in under.values())
    critical = student_t_critical(seeds - 1)

    def beyond(summary: dict, factor: float) -> bool:
        return abs(summary["test_accuracy_mean"] - TARGET_ACCURACY) >= factor * _standard_error(summary)

    changed = [name for name, summary in under.items() if beyond(summary, 2) != beyond(summary, critical)]
    verdicts = "no verdict here changes" if not changed else f"the verdict on {', '.join(changed)} would change"
    return (
        f"**Level with the line is not past it.** A mean within about two standard errors of {TARGET_ACCURACY} % "
        f'cannot be told from a true mean at, or just under, the line; "Size and time" gives each distance. '
        f"(Student's t for {seeds} seeds, {critical:.3f}, would be stricter; {verdicts}.)"
    )
