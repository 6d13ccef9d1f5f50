"""Notebook 09's "What we learned": the page's answers in a few sentences, every number and every verdict in them
read from the records, so that none can go stale when a record changes.

The sentences read `frontier.load_results()`, the index of every test (`every_test.every_test_rows`: each
study's reading by its own rule) and the step-time record (`benchmarks/results/step-times.json`, written by
`benchmarks/profile_step.py --record`). Nothing here decides anything new: each sentence restates, in plain
words, a reading made above it on the page.
"""

from __future__ import annotations

import statistics

from mnist_nb.config import SMALL_ACCURACY, TARGET_ACCURACY, TINY_BUDGET
from mnist_nb.lab.frontier import ABLATION_BASE, ABLATION_TRAINING
from mnist_nb.lab.race import model_swap_factors, race_factors, vm_image
from mnist_nb.lab.records import beyond_seed_noise, signed_points
from mnist_nb.lab.t_tests import student_t_critical

# The last entry chosen on validation, before its test runs, for "<= 5,000 parameters at >= 99.4 %".
CANDIDATE = "tiny-stem8-30"
# The step-time record's probes, in its order: the model `fast` replaced, that model pooled after the stem, `fast`.
STEP_PROBES = ("fast-7", "fast-early-pooling-10", "fast-early-pooling-width20-7")


def what_we_learned(
    results: dict[str, dict], rows: list[dict], step_times: dict | None = None, model_swap: dict | None = None
) -> str:
    """The answers (a numbered list) and how to read them (bullets), as Markdown. `results`:
    `frontier.load_results()`; `rows`: `every_test_rows(...)`; `step_times`: the step-time record, if any;
    `model_swap`: the race with the script's model in fast's recipe (`race.load_model_swap()`), if any."""
    answers = [
        _how_small(results),
        _how_fast(results) + _model_swap(model_swap, results.get("fast")),
        _what_each_component_buys(results, rows),
        _what_final_bought(rows),
    ]
    reasons = [_width(results), _step_time(step_times), _what_seeds_see(rows), _level_with(results)]
    numbered = [f"{index}. {text}" for index, text in enumerate(filter(None, answers), start=1)]
    bullets = [f"- {text}" for text in filter(None, reasons)]
    return "\n".join(numbered) + "\n\nWhy, and how to read these figures:\n\n" + "\n".join(bullets)


def _how_small(results: dict[str, dict]) -> str:
    if CANDIDATE not in results:
        return ""
    candidate = results[CANDIDATE]
    mean, margin = candidate["test_accuracy_mean"], candidate["test_accuracy_mean"] - TARGET_ACCURACY
    if margin >= 0 and beyond_seed_noise(candidate):
        side = f"past the line by {margin:.3f} points, beyond seed noise"
    elif margin >= 0:
        side = (
            f"at least {TARGET_ACCURACY} % as the target is worded, but only {margin:.3f} points above the line, "
            "within seed noise: level with it, not shown past it"
        )
    else:
        side = f"short of the line by {-margin:.3f} points"
    text = (
        f"**How small can it get?** `{CANDIDATE}`, with {candidate['params']:,} parameters, averages {mean:.2f} % "
        f"over {len(candidate['seeds'])} seeds: {side}. It was the fourth recipe tried, after test results had "
        'steered the search ("How `tiny-stem8-30` was reached").'
    )
    reaching = [name for name, summary in results.items() if summary["test_accuracy_mean"] >= SMALL_ACCURACY]
    if reaching:
        smallest = min(reaching, key=lambda name: results[name]["params"])
        text += (
            f" For {SMALL_ACCURACY} %, {results[smallest]['params']:,} parameters suffice (`{smallest}`, "
            f"{results[smallest]['test_accuracy_mean']:.2f} %)."
        )
    return text


def _how_fast(results: dict[str, dict]) -> str:
    race = results.get("fast", {}).get("race")
    if not race:
        return ""
    factors = race_factors(results["fast"])
    if factors is None:  # the script never reached the target: its time is only a bound
        return ""
    threads = results["fast"]["machine"]["cpu_threads"]
    where = "one CPU thread" if threads == 1 else f"{threads} CPU threads"
    return (
        f"**How little time?** `fast` finishes a run in about {race['our_seconds_mean']:.0f} s on {where}; the "
        f"script this project grew from needs {race['script_seconds_mean']:.0f} s to its first epoch at "
        f"{race['target']} %: {race['ratio']:.2f}x less time, by clocks that stop at different points. Two factors "
        f"give {factors['epochs'] * factors['epoch_seconds']:.2f}x: {factors['our_epochs']} epochs against "
        f"{factors['script_epochs']:.0f} ({factors['epochs']:.2f}x), and {factors['our_epoch_seconds']:.1f} s an "
        f"epoch against {factors['script_epoch_seconds']:.1f} s ({factors['epoch_seconds']:.2f}x); the seconds "
        f"outside the epochs, {factors['our_outside_seconds']:.1f} for `fast` against about "
        f"{factors['script_outside_seconds']:.1f} for the script, bring it to {race['ratio']:.2f}x."
    )


def _model_swap(record: dict | None, fast: dict | None) -> str:
    if record is None:
        return ""
    factors = model_swap_factors(record)
    theirs, ours = factors["reference_test_accuracy"], factors["our_test_accuracy"]
    reached = [sum(value >= factors["target"] for value in values) for values in (theirs, ours)]
    race = race_factors(fast) if fast is not None and "race" in fast else None
    same = fast is not None and vm_image(fast["machine"]) == vm_image(factors["machine"])
    model = "the runs overlap: not told apart from noise" if not factors["model_apart"] else "beyond the runs' spread"
    first = f", against {race['epoch_seconds']:.2f}x in the first" if race else ""
    return (
        f" In a second race, on {'the same' if same else 'another'} VM image (per-epoch factor "
        f"{factors['epoch_seconds']:.2f}x there{first}), the script's model trained in `fast`'s recipe splits it: "
        f"{factors['recipe']:.2f}x for the rest of the recipe, {factors['model']:.2f}x for `fast`'s model ({model}); "
        f"in {factors['epochs']} epochs the script's model reached the line on {reached[0]} of {len(theirs)} seeds, "
        f"`fast`'s on {reached[1]} of {len(ours)}."
    )


def _ablation(rows: list[dict]) -> dict[str, dict]:
    """The ablation's rows by component name."""
    return {row["tested"]: row for row in rows if row["study"].startswith("the ablation")}


def _pairing_label(pairing: dict) -> str:
    where = "with every pair on one machine" if pairing["label"] == "one machine" else pairing["label"]
    return f"{where} ({pairing['seeds']} seeds)"


def _named(component: str) -> str:
    return {"batchnorm": "BatchNorm", "gap": "the GAP head", "skip": "the skips"}.get(component, component)


def _listed(names: list[str]) -> str:
    return ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]


def _what_each_component_buys(results: dict[str, dict], rows: list[dict]) -> str:
    """In the page's one sign: a gain is test accuracy with the component minus without it."""
    ablation = _ablation(rows)
    if not ablation:
        return ""
    most = max(ablation, key=lambda name: ablation[name]["pairings"][0]["gain"])  # as recorded
    gains = ", ".join(
        f"{signed_points(pairing['gain'])} points {_pairing_label(pairing)}" for pairing in ablation[most]["pairings"]
    )
    rate = ABLATION_TRAINING.get(f"{ABLATION_BASE}-no-{most}", {}).get("learning_rate")
    both = f" (without it the model trains at a peak rate of {rate}, so the row measures the two together)"
    text = (
        f"**What does each component buy?** The largest mean gain is {_named(most)}'s: with it minus without, {gains}; "
        f'by the ablation\'s rule "{ablation[most]["reading"]}"{both if rate else ""}.'
    )
    again = [row for row in rows if row["tested"] == "gap again"]
    dense = results.get(f"{ABLATION_BASE}-no-gap")
    if again and dense and ABLATION_BASE in results:
        pairing, fewer = again[0]["pairings"][0], dense["params"] - results[ABLATION_BASE]["params"]
        replicated = "replicated" if again[0]["reading"].endswith("(replicated)") else "not replicated"
        text += (
            f" The GAP head's gain is {signed_points(pairing['gain'])} points on {pairing['seeds']} fresh seeds "
            f"(a cost, {replicated}), for {fewer:,} fewer weights."
        )
    unseen = [_named(name) for name, row in ablation.items() if row["reading"] == "within seed noise"]
    if unseen:
        listed = _listed(unseen)
        text += f" {listed[0].upper() + listed[1:]}: no effect these seeds can see."
    return text


def _what_final_bought(rows: list[dict]) -> str:
    alone = [row for row in rows if row["study"].endswith("each change added to `residual`")]
    whole = [row for row in alone if row["tested"] == "final"]
    if not whole:
        return ""
    pairing = whole[0]["pairings"][0]
    verdict = "a gain by its rule" if whole[0]["reading"] == "it helps" else "not shown by its rule"
    text = (
        f"**What did the final recipe's four changes buy?** Together, {signed_points(pairing['gain'])} points over "
        f"`{ABLATION_BASE}` on {pairing['seeds']} paired seeds ({verdict})."
    )
    helped = [row["tested"] for row in alone if row not in whole and row["reading"] == "it helps"]
    unshown = [row["tested"] for row in alone if row not in whole and row["reading"] == "not shown"]
    if helped or unshown:
        text += f" Added alone to `{ABLATION_BASE}`, shown to help: {_listed(helped) if helped else 'none'}"
        text += f"; not shown: {_listed(unshown)}." if unshown else "."
    inside = [row["tested"] for row in rows if row["study"].endswith("taken out of `final`")
              and row["reading"] == "it helps"]  # fmt: skip
    if inside:
        text += f' Taken out of `final`, shown to matter: {"; ".join(inside)} ("In short", above).'
    return text


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


def _step_time(step_times: dict | None) -> str:
    if not step_times or list(step_times["probes"]) != list(STEP_PROBES):
        return ""
    before, pooled, fast = step_times["probes"].values()
    first, second, third = (statistics.fmean(row["milliseconds"]) for row in (before, pooled, fast))
    # The timings were taken in turn: each turn pairs the two models under the same minute of the machine.
    faster = sum(late < early for late, early in zip(fast["milliseconds"], before["milliseconds"], strict=True))
    return (
        f"**A step's time did not follow the parameters.** Moving the first pool up cut the old model's step to "
        f"{second / first:.0%} of its time, with the same parameters; width 20 brought it back to {third / first:.0%}, "
        f"with {fast['parameters'] / before['parameters']:.0%} of the parameters (`fast` was the faster of the two in "
        f'{faster} of {len(fast["milliseconds"])} turns; "Where `fast`\'s step time goes").'
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
        f"**Few seeds see only large effects.** A component's mean gain is significant only from about "
        f'{" and ".join(spans)} ("What mattered"): "no effect shown" is not "no effect".'
    )


def _level_with(results: dict[str, dict]) -> str:
    under = [summary for summary in results.values() if summary["params"] <= TINY_BUDGET and len(summary["seeds"]) > 1]
    if not under:
        return ""
    seeds = max(len(summary["seeds"]) for summary in under)
    return (
        f"**Level with the line is not past it.** A mean less than t standard errors from {TARGET_ACCURACY} % "
        f"(Student's t, {student_t_critical(seeds - 1):.3f} for {seeds} seeds, as the standard deviation is itself "
        'estimated from them) cannot be told from a true mean at, or just under, the line; "How small can it get?" '
        "gives each distance."
    )
