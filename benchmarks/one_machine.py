"""The ablation's crossed seeds again, on one machine: the base and every removal, seeds 2-4 and more.

    OMP_NUM_THREADS=1 python benchmarks/one_machine.py                       # train what is missing, record
    OMP_NUM_THREADS=1 python benchmarks/one_machine.py residual-no-batchnorm --seeds 5 6  # more seeds
    python benchmarks/one_machine.py --record-only                           # record the finished runs only
    OMP_NUM_THREADS=1 python benchmarks/one_machine.py residual residual-no-gap --seeds 10 11 --study gap-replication
    OMP_NUM_THREADS=1 python benchmarks/one_machine.py final residual-clean-2 --seeds 10 11 --study final-changes
    OMP_NUM_THREADS=1 python benchmarks/one_machine.py fast --seeds 10 12 14 16 18 --study fast-fresh-seeds

The recorded ablation (`python -m mnist_nb frontier --ablation`) trained `residual`'s five seeds and
its removals' seeds 0-1 on one machine, and the removals' seeds 2-4 on another: those three pairs
cross machines, and another machine acts like another seed. Here the base and every removal train
seeds 2-4 again on the machine this runs on (and further seeds, with --seeds), each by its frontier
entry's own config, so that every pair of those seeds ran on one machine (one processor name,
torch release and VM image: runs repeat exactly there). Each run lands in runs/one-machine/NAME/seed-K and
is reused when that folder holds a finished run of the same config; two processes, one thread each,
share the work by taking different names or seeds. Every finished seed of a name is summarized into
benchmarks/results/one-machine/NAME.json, which `mnist_nb.lab.ablation` pairs with the records. The
test set is read once per run, after training, as everywhere; nothing is chosen here. Another
--study keeps its runs and records apart (runs/STUDY/, benchmarks/results/STUDY/): a replication on
fresh seeds, read on its own, stays out of the ablation's pairing. Besides the ablation's names, `final`, the
final recipe's changes one at a time, `final` less one of them, `final` less both end-of-training changes
(`mnist_nb.lab.recipe_changes`), and `fast` (on seeds its choice never saw) can train.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mnist_nb.lab.ablation import ONE_MACHINE_DIR
from mnist_nb.lab.experiments import finished_run, prepare_run_directory, seed_directory, seeds_in, train_and_report
from mnist_nb.lab.frontier import ABLATION, ABLATION_BASE, ENTRIES
from mnist_nb.lab.recipe_changes import CHANGES, LESS_BOTH, LESS_ONE
from mnist_nb.lab.records import summarize
from mnist_nb.support.checkpoint_files import write_json

RUNS_ROOT = Path("runs")
NAMES = [ABLATION_BASE] + [entry.name for entry in ABLATION]  # the default: the ablation's pairing
KNOWN = {name: ENTRIES[name] for name in NAMES + ["final", "fast"]} | {
    entry.name: entry for entry in CHANGES + LESS_ONE + (LESS_BOTH,)
}
OTHERS = [name for name in KNOWN if name not in NAMES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", help=f"entries (default: all of {', '.join(NAMES)}; also {', '.join(OTHERS)})"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4], help="default: 2 3 4")
    parser.add_argument("--record-only", action="store_true", help="write the records from finished runs only")
    parser.add_argument(
        "--study",
        default=ONE_MACHINE_DIR.name,
        help=f"runs/STUDY/ and benchmarks/results/STUDY/ (default: {ONE_MACHINE_DIR.name}, the ablation's pairing)",
    )
    arguments = parser.parse_args(argv)
    unknown = [name for name in arguments.names if name not in KNOWN]
    if unknown:  # before any training
        parser.error(f"unknown entries {', '.join(unknown)}; valid: {', '.join(KNOWN)}")
    if not arguments.study.replace("-", "").isalnum():
        parser.error(f"--study {arguments.study!r}: use letters, digits and dashes (it names two folders)")
    runs_dir, records_dir = RUNS_ROOT / arguments.study, ONE_MACHINE_DIR.parent / arguments.study
    names = arguments.names or NAMES
    for name in names:
        config = KNOWN[name].config
        # Every finished seed in the name's folder is recorded; only those asked for are trained.
        found = seeds_in(runs_dir / name)
        rows = []
        for seed in sorted(set(arguments.seeds) | set(found)):
            out = seed_directory(runs_dir / name, seed)
            row = finished_run(out, config.replace(seed=seed))
            if row is None and seed in arguments.seeds and not arguments.record_only:
                print(f"--- {name}, seed {seed} ---", flush=True)
                resume = prepare_run_directory(out, config.replace(seed=seed))
                row = train_and_report(config.replace(seed=seed), out, resume=resume)
            if row is not None:
                rows.append(row)
        if not rows:
            print(f"{name}: no finished run in {runs_dir / name}")
            continue
        summary = {
            "name": name,
            "description": f"{KNOWN[name].description}: seeds trained on one machine "
            f"(benchmarks/one_machine.py{'' if records_dir == ONE_MACHINE_DIR else f' --study {arguments.study}'})",
            **summarize(rows),  # with the command that wrote it, and each seed's own
        }
        write_json(records_dir / f"{name}.json", summary)
        tests = ", ".join(f"{value:.2f}" for value in summary["test_accuracy"])
        print(f"{name}: seeds {summary['seeds']}, test {tests} -> benchmarks/results/{arguments.study}/{name}.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
