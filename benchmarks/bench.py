"""Benchmark: our recipe against the script this project grew from, and our data pipeline against its rebuild.

    python benchmarks/bench.py --reference-script DIR             # the race against the script itself
    python benchmarks/bench.py --reference-script DIR --parallel  # the same, each side on its own core
    python benchmarks/bench.py --reference-script DIR --parallel --from-logs  # the last race's report, again
    python benchmarks/bench.py --reference-script DIR --parallel --models fast reference  # what the model makes
    python benchmarks/bench.py --throughput-only                  # images per second, both pipelines
    python benchmarks/bench.py --seeds 3                          # time to >= 99.4%, against the rebuild

The race (`--reference-script DIR`, see benchmarks/script_race.py): DIR is a checkout of the script's
repository (git clone https://github.com/tusharpatidar/erav3-session6 DIR), fetched by you; its
`src/train.py` runs unchanged, `--reference-runs` times (default 3), its `../data` seeded from our MNIST
archives, timed from its start to the line that reports its first epoch >= 99.4% (it stops there by
itself). Our fast recipe (`python -m mnist_nb train --recipe fast --seed K`) runs in the same invocation
with the same thread count, each side alone, or with `--parallel` one run of each at the same time, pinned
to cores 0 and 1 with one thread each. The report: a table of both sides and the ratio of mean times with
its spread, also kept in `benchmarks/results/fast.json` ("race"), where notebook 09 reads it.
`--from-logs` runs nothing: it reads the last race back from its stamped logs (runs/frontier/race) and our runs'
metrics (runs/frontier/fast), prints the report and writes the record again.
`--models A B` races the script against fast's recipe trained with each model in turn (beside the same run of the
script, seed k of each; `fast` is fast's own model, `reference` the script's): the seconds an epoch of each side on
one machine, what splits the race's epoch into what the model makes and what the rest of the recipe does. Its runs
go to runs/frontier/race-models/MODEL, its record to benchmarks/results/race-models.json; fast.json is left as it is.

The rebuild (benchmarks/reference.py) trains the script's model as the script does, inside this
process: it is what the throughput compares (the same model and optimizer fed by the rebuild's
per-sample PIL transforms in DataLoader workers and by our uint8 tensors on the device with batched
affine augmentation), and, without `--reference-script`, what our fast recipe's final-epoch test
accuracy after its fixed budget (no test-set choices) is timed against, its first epoch at >= 99.4%
(our runs then go to runs/frontier/bench-fast, and fast.json, the race's record, is left as it is).
The rebuild's ratio is not the script's: it stands for the script only where it matches the script on
the same machine (`--reference-script DIR --rebuild-seeds 1` checks that). Results are appended to
benchmarks/RESULTS.md with the machine, versions and command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reference import (  # noqa: E402
    ReferenceNet,
    reference_loaders,
    reference_optimizer,
    reference_scheduler,
    test_accuracy,
    train_reference_epoch,
)
from script_race import (  # noqa: E402
    ScriptError,
    model_swap_lines,
    model_swap_record,
    race,
    race_from_logs,
    race_lines,
    race_record,
    rebuild_matches_script,
    seed_script_data,
)

from mnist_nb.augmentation import Augmentation  # noqa: E402
from mnist_nb.config import TARGET_ACCURACY, recipe, smoke_batches  # noqa: E402
from mnist_nb.data import Normalization, TensorLoader, load_training_split  # noqa: E402
from mnist_nb.devices import select_device  # noqa: E402
from mnist_nb.lab.cli import file_argument  # noqa: E402
from mnist_nb.lab.experiments import prepare_run_directory, seed_directory, train_and_report  # noqa: E402
from mnist_nb.lab.frontier import ENTRIES, RESULTS_DIR, RUNS_DIR  # noqa: E402
from mnist_nb.lab.race import MODEL_SWAP_RECORD  # noqa: E402
from mnist_nb.lab.records import (  # noqa: E402
    append_report,
    machine_description,  # noqa: E402
    mean_and_std,
    summarize,
)
from mnist_nb.models import MODEL_NAMES  # noqa: E402
from mnist_nb.support.checkpoint_files import write_json  # noqa: E402
from mnist_nb.support.mnist_files import ensure_mnist  # noqa: E402

FAST_RECORD = RESULTS_DIR / "fast.json"  # the race's record of our fast recipe


def throughput_reference(root, device, num_batches: int, num_workers: int) -> float:
    torch.manual_seed(0)
    model = ReferenceNet().to(device)
    optimizer = reference_optimizer(model)
    train_loader, _ = reference_loaders(root, num_workers=num_workers)
    train_reference_epoch(model, train_loader, optimizer, device, max_batches=5)  # warm-up
    result = train_reference_epoch(model, train_loader, optimizer, device, max_batches=num_batches)
    return result["images"] / result["seconds"]


def throughput_ours(root, device, num_batches: int) -> float:
    """The rebuild's model and optimizer, fed by TensorLoader with the script's augmentation."""
    import torch.nn.functional as F

    torch.manual_seed(0)
    model = ReferenceNet().to(device)
    optimizer = reference_optimizer(model)
    train_set, _ = load_training_split(root, validation_size=0)
    loader = TensorLoader(
        train_set.to(device), 128, shuffle=True, normalization=Normalization(0.1307, 0.3081),
        augmentation=Augmentation(rotation_degrees=5, translate_pixels=2.8, scale_range=0.0),
    )  # fmt: skip
    model.train()
    seen, started = 0, 0.0
    for batch_index, (images, labels) in enumerate(loader):
        if batch_index == 5:  # after the warm-up batches
            seen, started = 0, time.perf_counter()
        if batch_index >= 5 + num_batches:
            break
        optimizer.zero_grad(set_to_none=True)
        F.nll_loss(model(images), labels).backward()
        optimizer.step()
        seen += len(labels)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return seen / (time.perf_counter() - started)


def reference_time_to_target(root, device, seed: int, max_epochs: int, num_workers: int) -> dict:
    """One run of the rebuild: train, test, step the plateau schedule on the test accuracy, until >= TARGET_ACCURACY.

    Its time is wall time of training plus its per-epoch test pass: its schedule needs that pass,
    as ours needs its per-epoch validation pass, which our time includes too.
    """
    torch.manual_seed(seed)
    model = ReferenceNet().to(device)
    optimizer = reference_optimizer(model)
    scheduler = reference_scheduler(optimizer)
    train_loader, test_loader = reference_loaders(root, num_workers=num_workers, seed=seed)
    seconds = training_seconds = 0.0
    accuracy = float("nan")
    for epoch in range(1, max_epochs + 1):
        started = time.perf_counter()
        training_seconds += train_reference_epoch(model, train_loader, optimizer, device)["seconds"]
        accuracy = test_accuracy(model, test_loader, device)
        scheduler.step(accuracy)
        seconds += time.perf_counter() - started
        learning_rate = optimizer.param_groups[0]["lr"]
        print(
            f"  the rebuild, seed {seed}, epoch {epoch}: test {accuracy:.2f}%  lr {learning_rate:g}  {seconds:.0f}s",
            flush=True,
        )
        if accuracy >= TARGET_ACCURACY:
            break
    reached = accuracy >= TARGET_ACCURACY
    return {
        "seconds": seconds,
        "training_seconds": training_seconds,
        "epoch": epoch if reached else None,
        "accuracy": accuracy,
    }


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {text}")
    return value


def parse_arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--seeds", type=positive_int, default=3, help="seeds of our fast recipe, 0.. (default 3)")
    parser.add_argument(
        "--reference-script",
        type=Path,
        default=None,
        metavar="DIR",
        help="a checkout of the script's repository (git clone https://github.com/tusharpatidar/erav3-session6 DIR): "
        "race its src/train.py, unchanged, against our fast recipe",
    )
    parser.add_argument(
        "--reference-runs",
        type=positive_int,
        default=3,
        help="runs of the script in the race (default 3; 4-5 min each on one thread of our AMD VM)",
    )
    parser.add_argument(
        "--parallel",
        action="store_true",
        help="race one script run and one of ours at the same time, pinned to cores 0 and 1 (taskset), "
        "one thread each (default: one process at a time)",
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="threads of each side of the race (OMP_NUM_THREADS; default: this process's, 1 with --parallel)",
    )
    parser.add_argument(
        "--rebuild-seeds",
        "--reference-seeds",
        dest="rebuild_seeds",
        type=non_negative_int,
        default=None,
        help="runs of the rebuild (benchmarks/reference.py), seeds 0.. (default 1, or 0 with --reference-script; "
        "about 18 min each on 2 CPU cores). --reference-seeds is its old name",
    )
    parser.add_argument(
        "--from-logs",
        action="store_true",
        help="run nothing: rebuild the last race's report and fast.json from its logs (runs/frontier/race, "
        "runs/frontier/fast), with the same --reference-script, --reference-runs, --seeds and --parallel",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=MODEL_NAMES,
        metavar="MODEL",
        help="with --reference-script: our side trains fast's recipe with each of these models in turn, beside "
        "each run of the script (e.g. fast reference); record: benchmarks/results/race-models.json, not fast.json",
    )
    parser.add_argument("--batches", type=int, default=60, help="batches timed for throughput (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating throughput rounds, median (default 3)")
    parser.add_argument("--workers", type=int, default=2, help="the rebuild's DataLoader workers (default 2)")
    parser.add_argument("--max-epochs", type=int, default=20, help="the rebuild's epochs at most (default 20)")
    parser.add_argument("--throughput-only", action="store_true", help="the rebuild's pipeline against ours, only")
    parser.add_argument("--results", type=file_argument, default=Path(__file__).resolve().parent / "RESULTS.md")
    arguments = parser.parse_args(argv)
    if arguments.reference_script is not None and arguments.throughput_only:
        parser.error("--throughput-only measures the rebuild's pipeline: it does not race the script")
    if arguments.parallel and arguments.reference_script is None:
        parser.error("--parallel races the script: give --reference-script DIR")
    if arguments.parallel and arguments.threads not in (None, 1):
        parser.error("--parallel gives each side one core and one thread: leave --threads out")
    if arguments.from_logs and (arguments.reference_script is None or arguments.rebuild_seeds):
        parser.error("--from-logs rebuilds a race: give --reference-script DIR, without --rebuild-seeds")
    if arguments.models and len(set(arguments.models)) < len(arguments.models):
        parser.error(f"--models {' '.join(arguments.models)}: name each model once (each gets its own runs)")
    if arguments.models and (arguments.reference_script is None or arguments.from_logs or arguments.rebuild_seeds):
        parser.error("--models races the script: give --reference-script DIR, without --from-logs or --rebuild-seeds")
    if arguments.rebuild_seeds is None:
        arguments.rebuild_seeds = 0 if arguments.reference_script is not None else 1
    # A race (without --models) writes fast.json: one with fewer seeds than the record would cut it, so say so
    # before any run.
    recorded = fast_record_seeds()
    writes_fast_record = arguments.reference_script is not None and not arguments.models and not smoke_batches()
    if writes_fast_record and len(recorded) > arguments.seeds:
        parser.error(
            f"benchmarks/results/{FAST_RECORD.name} holds {len(recorded)} seeds and a race of {arguments.seeds} would "
            f"replace it with fewer: pass --seeds {len(recorded)}, or move the record aside first"
        )
    return arguments


def fast_record_seeds() -> list[int]:
    """The seeds in `fast`'s record (`FAST_RECORD`), none if there is no record yet."""
    if not FAST_RECORD.is_file():
        return []
    return json.loads(FAST_RECORD.read_text(encoding="utf-8"))["seeds"]


def throughput_lines(root, device, arguments) -> list[str]:
    # Alternate the two pipelines, round after round, and take medians: a single short
    # measurement on a small VM varies by about 15%.
    rebuild_rates, our_rates = [], []
    for _ in range(arguments.rounds):
        rebuild_rates.append(throughput_reference(root, device, arguments.batches, arguments.workers))
        our_rates.append(throughput_ours(root, device, arguments.batches))
    rebuild_rate, our_rate = statistics.median(rebuild_rates), statistics.median(our_rates)

    def rates(values: list[float]) -> str:
        return ", ".join(f"{value:,.0f}" for value in values)

    return [
        f"throughput, the script's model, batch 128, {arguments.batches} timed batches, median of {arguments.rounds} "
        "alternating rounds:",
        f"  the rebuild's pipeline (PIL transforms, {arguments.workers} workers): {rebuild_rate:,.0f} images/s "
        f"({rates(rebuild_rates)})",
        f"  mnist_nb pipeline (on-device uint8, batched augmentation): {our_rate:,.0f} images/s ({rates(our_rates)})",
        f"  ratio: {our_rate / rebuild_rate:.2f}x",
    ]


def rebuild_lines(theirs: list[dict], our_seconds: float | None, max_epochs: int) -> list[str]:
    """The rebuild's runs, and (without the script) its ratio to ours."""
    lines = [
        f"  the rebuild (benchmarks/reference.py: the script's model, 50,000-image split and ReduceLROnPlateau on "
        f"test accuracy, run in this process; first epoch >= {TARGET_ACCURACY}%): "
        + ", ".join(
            f"seed {seed}: epoch {t['epoch']}, {t['seconds']:.0f}s ({t['training_seconds']:.0f}s training)"
            if t["epoch"] is not None
            else f"seed {seed}: not reached in {max_epochs} epochs ({t['seconds']:.0f}s)"
            for seed, t in enumerate(theirs)
        ),
    ]
    if our_seconds is None:
        return lines
    reached = [t for t in theirs if t["epoch"] is not None]
    if len(reached) == len(theirs):
        mean, std = mean_and_std([t["seconds"] for t in reached])
        lines += [
            f"  the rebuild's mean: {mean:.0f} +- {std:.0f}s",
            f"  ratio (the rebuild / ours): {mean / our_seconds:.2f}x; the rebuild is not the script: "
            "race the script itself (--reference-script DIR) before quoting it",
        ]
    else:
        # A seed that never got there needs more than all its epochs: its time is a lower bound, and
        # so is the mean over seeds, and the ratio.
        at_least = mean_and_std([t["seconds"] for t in theirs])[0]
        lines += [
            f"  {len(theirs) - len(reached)} of {len(theirs)} runs of the rebuild did not reach {TARGET_ACCURACY}% in "
            f"{max_epochs} epochs: its mean time to {TARGET_ACCURACY}% is more than {at_least:.0f}s",
            f"  ratio (the rebuild / ours): more than {at_least / our_seconds:.2f}x",
        ]
    return lines


def saying_dir(words: list[str]) -> list[str]:
    """A command's words with the checkout given to --reference-script as DIR: its path is this machine's."""
    if "--reference-script" not in words:
        return words
    index = words.index("--reference-script") + 1
    return [*words[:index], "DIR", *words[index + 1 :]]


def write_fast_summary(ours: list[dict], race: dict) -> dict:
    """The frontier's "fast" entry, with the race that timed it (`script_race.race_record`): notebook 09 and
    `python -m mnist_nb frontier` read it."""
    summary = {"name": "fast", "description": ENTRIES["fast"].description, **summarize(ours)}
    summary["command"] = " ".join(saying_dir(summary["command"].split()))
    summary["race"] = race
    if not summary["smoke"]:
        write_json(FAST_RECORD, summary)
    return summary


def run_race(root, device, arguments) -> list[str]:
    """`--reference-script DIR`: the script, unchanged, against our fast recipe (benchmarks/script_race.py)."""
    threads = 1 if arguments.parallel else arguments.threads or torch.get_num_threads()
    torch.set_num_threads(threads)  # the rebuild, if it runs here too, gets the same
    directory = arguments.reference_script
    if arguments.from_logs:
        result = race_from_logs(
            RUNS_DIR / "race",
            RUNS_DIR / "fast",
            runs=arguments.reference_runs,
            seeds=arguments.seeds,
            directory=directory,
            target=TARGET_ACCURACY,
        )
    else:
        print(f"seeding {directory / 'data'} from {root} (the script reads ../data from src/)", flush=True)
        seed_script_data(directory, root)
        # With --models, our side trains fast's recipe with each model in turn: runs, logs and record of its own.
        out_root, log_dir = (
            (RUNS_DIR / "race-models", RUNS_DIR / "race-models" / "logs")
            if arguments.models
            else (RUNS_DIR / "fast", RUNS_DIR / "race")
        )
        result = race(
            directory,
            runs=arguments.reference_runs,
            seeds=arguments.seeds,
            threads=threads,
            parallel=arguments.parallel,
            device="cpu" if device.type == "cpu" else str(device),
            out_root=out_root,
            log_dir=log_dir,
            target=TARGET_ACCURACY,
            models=arguments.models,
        )
        if arguments.models:
            return model_swap_report(result, arguments)
    record = race_record(result, parallel=arguments.parallel, target=TARGET_ACCURACY)
    write_fast_summary([row["metrics"] for row in result["ours"]], record)
    lines = race_lines(result, threads=threads, parallel=arguments.parallel, target=TARGET_ACCURACY)
    if arguments.rebuild_seeds:
        theirs = []
        for seed in range(arguments.rebuild_seeds):
            print(f"--- seed {seed}: the rebuild (benchmarks/reference.py), alone, {threads} threads ---", flush=True)
            theirs.append(reference_time_to_target(root, device, seed, arguments.max_epochs, arguments.workers))
        matches, how = rebuild_matches_script(theirs, result["script_runs"])
        lines += ["", f"the rebuild beside the script, the same invocation, {threads} threads, alone:"]
        lines += rebuild_lines(theirs, None, arguments.max_epochs)
        lines.append(
            f"  the rebuild {'matches' if matches else 'does NOT match'} the script on this machine "
            f"(within one epoch and 10% an epoch): {how}"
        )
    return lines


def model_swap_report(result: dict, arguments) -> list[str]:
    """`--models`: the race with fast's recipe trained with each model in turn on our side, in its own record."""
    record = model_swap_record(result, parallel=arguments.parallel, target=TARGET_ACCURACY)
    for summary in record["models"].values():
        summary["command"] = " ".join(saying_dir(summary["command"].split()))
    if not any(summary["smoke"] for summary in record["models"].values()):
        write_json(MODEL_SWAP_RECORD, record)
    return model_swap_lines(record)


def main(argv: list[str] | None = None) -> int:
    arguments = parse_arguments(argv)
    device = select_device(arguments.device)
    root = ensure_mnist()
    if arguments.reference_script is not None:
        try:
            lines = run_race(root, device, arguments)
        except ScriptError as error:
            print(f"bench.py: {error}", file=sys.stderr)
            return 2
    else:
        lines = throughput_lines(root, device, arguments)
    machine = machine_description(device)
    print(f"machine: {machine}")
    if arguments.reference_script is None and not arguments.throughput_only:
        # Smoke mode is read here, at the script's edge, and passed on in the config.
        fast = recipe("fast").replace(device=arguments.device, max_batches_per_epoch=smoke_batches())
        ours, theirs = [], []
        for seed in range(arguments.seeds):
            print(f"--- seed {seed}: mnist_nb fast recipe ({fast.model}, {fast.num_epochs} epochs) ---", flush=True)
            # Apart from the race's runs (runs/frontier/fast), and never over a finished run (`prepare_run_directory`).
            out = seed_directory(RUNS_DIR / "bench-fast", seed)
            resume = prepare_run_directory(out, fast.replace(seed=seed))
            ours.append(train_and_report(fast.replace(seed=seed), out, resume=resume))
            print(f"  test {ours[-1]['test_accuracy']:.2f}%  {ours[-1]['train_seconds']:.1f}s", flush=True)
            if seed < arguments.rebuild_seeds:
                print(f"--- seed {seed}: the rebuild ---", flush=True)
                theirs.append(reference_time_to_target(root, device, seed, arguments.max_epochs, arguments.workers))
        summary = summarize(ours)  # not fast.json, which holds the race
        our_seconds = (summary["train_seconds_mean"], summary["train_seconds_std"])
        lowest = min(summary["test_accuracy"])
        verdict = "every seed reaches" if lowest >= TARGET_ACCURACY else "does NOT reach"
        verdict += f" {TARGET_ACCURACY}%" + ("" if lowest >= TARGET_ACCURACY else " on every seed")
        lines += [
            f"time to >= {TARGET_ACCURACY}% test accuracy (wall time of training and its per-epoch evaluation; "
            f"ours {arguments.seeds} seeds, the rebuild {arguments.rebuild_seeds}):",
            f"  mnist_nb fast recipe ({fast.model}, {summary['params']:,} parameters, {fast.num_epochs} epochs, "
            f"final epoch, no test-set choices): {our_seconds[0]:.1f} +- {our_seconds[1]:.1f}s, "
            f"test {summary['test_accuracy_mean']:.2f} +- {summary['test_accuracy_std']:.2f}% "
            f"({', '.join(f'{a:.2f}' for a in summary['test_accuracy'])}): {verdict}",
        ]
        if theirs:
            lines += rebuild_lines(theirs, our_seconds[0], arguments.max_epochs)
    print("\n".join(lines))
    if arguments.from_logs:  # the race's own run appended this report already
        return 0
    command = saying_dir([str(part) for part in (sys.argv[1:] if argv is None else argv)])
    append_report(
        arguments.results,
        f"{machine['device_name']} ({machine['device']}, {machine['cpu_threads']} threads), torch {machine['torch']}",
        f"python benchmarks/bench.py {' '.join(str(part) for part in command)}",
        lines,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
