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
    beyond = sum(abs(gain) > band for gain in gains)
    if all(gain > band for gain in gains):
        verdict = "Beyond the noise on every seed: it buys accuracy."
    elif all(gain < -band for gain in gains):
        verdict = "Beyond the noise on every seed, the wrong way: it costs accuracy."
    elif beyond == 0:
        verdict = "Within the noise on every seed: no effect shown."
    else:
        verdict = f"Beyond the noise on {beyond} of {len(gains)} seeds: not settled."
    amounts = (
        ", ".join(f"{gain:+.2f}" for gain in gains[:-1]) + (" and " if len(gains) > 1 else "") + f"{gains[-1]:+.2f}"
    )
    return (
        f"At {results[ABLATION_BASE]['epochs']} epochs, {ABLATION_BASE} with {removed} scored {amounts} points of "
        f"test accuracy against the same model without it (seed{'s' if len(seeds) != 1 else ''} "
        f"{', '.join(map(str, seeds))}). Two runs of one recipe differ by less than ±{band:.2f} points 19 times in "
        f"20 (2 sd, from {ABLATION_BASE}'s {base_seeds} seeds). {verdict}"
        + (f" Only {len(seeds)} seeds per removal: a first reading." if len(seeds) < 5 else "")
    )
