"""What each component of the series' last model buys at the full budget, in words, from the recorded
seed-paired ablation (`python -m mnist_nb frontier --ablation`): the closing line of notebooks 02-06."""

from __future__ import annotations

from mnist_nb.lab.frontier import ABLATION_BASE, load_results, noise_band, paired_differences
from mnist_nb.models import FINAL_MODEL


def full_budget_verdict(removed: str, results: dict[str, dict] | None = None) -> str:
    """What one component buys the series' last model at its full budget, from the recorded
    seed-paired ablation, in one sentence (notebooks 02-06 close with it). `removed`: "batchnorm", ...

    Gains are the base minus the removal on the same seed, so positive means the component helps; each
    is weighed against `noise_band` of the base's seeds.
    """
    results = load_results() if results is None else results
    name = f"{FINAL_MODEL}-no-{removed}"
    if ABLATION_BASE not in results or name not in results:
        return f"{removed}: not recorded yet (python -m mnist_nb frontier {ABLATION_BASE} {name})"
    paired = paired_differences({ABLATION_BASE: results[ABLATION_BASE], name: results[name]})
    gains = [-difference for difference in paired[removed]["test"]]  # with it minus without it, per seed
    band = noise_band(results[ABLATION_BASE])
    seeds = [seed for seed in results[name]["seeds"] if seed in results[ABLATION_BASE]["seeds"]]
    base_seeds = len(results[ABLATION_BASE]["seeds"])
    if all(gain > band for gain in gains):
        verdict = "larger than the noise on every seed: it buys accuracy"
    elif all(gain < -band for gain in gains):
        verdict = "below minus the noise on every seed: it costs accuracy"
    elif all(abs(gain) <= band for gain in gains):
        verdict = "within the noise on every seed: no effect shown"
    else:
        verdict = "outside the noise on some seeds only: not settled"
    return (
        f"at {results[ABLATION_BASE]['epochs']} epochs, {ABLATION_BASE} with {removed} minus without it, "
        f"same seed: " + ", ".join(f"{gain:+.2f}" for gain in gains) + " points of test accuracy "
        f"(seed{'s' if len(seeds) != 1 else ''} {', '.join(map(str, seeds))}); two runs of one recipe differ by "
        f"less than +-{band:.2f} 19 times in 20 (2 sd, from {ABLATION_BASE}'s {base_seeds} seeds): {verdict}"
        + (f" ({len(seeds)} seeds per removal: a first reading, not a settled one)" if len(seeds) < 5 else "")
    )
