"""Where a CPU training step's time goes: one probe's model and recipe, profiled by operator.

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-7                        # the old fast model
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7  # the fast model now
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --batch-size 512 --bfloat16
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --contiguous  # no channels_last
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --compile  # torch.compile
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-7 fast-early-pooling-10 fast-early-pooling-width20-7 \
        --repeats 10 --record benchmarks/results/step-times.json     # notebook 09's three models, with a spread

The probes are benchmarks/probes.py's (`--list` there). Several probes are timed in turn, --repeats times
each, so that a machine's drift falls on all of them alike; --record writes every timing as JSON. The step is
`train_one_epoch`'s without its learning-rate schedule: forward, cross-entropy, backward, Nesterov SGD, on
synthetic batches (random images and labels, the recipe's batch size and memory layout; no data read), on the
CPU. It prints the milliseconds of a step (and of an image), timed without the profiler (the mean +- std over
the repeats), and then each operator's share of the profiled steps' self CPU time, with the shares of
convolution, BatchNorm, ReLU and max-pooling summed. The profiler adds its own overhead to every operator:
read the shares, not its milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probes import PROBES, probe_config  # noqa: E402

from mnist_nb.anatomy import count_parameters  # noqa: E402
from mnist_nb.config import IMAGE_SIZE, NUM_CLASSES  # noqa: E402
from mnist_nb.lab.records import command_line, machine_description  # noqa: E402
from mnist_nb.models import build_model_of  # noqa: E402
from mnist_nb.training import make_optimizer  # noqa: E402

# Operators by the layer they belong to (aten names, forward and backward).
GROUPS = {
    "convolution": ("convolution",),
    "BatchNorm": ("batch_norm",),
    "ReLU": ("threshold_backward", "relu", "clamp_min"),
    "max-pooling": ("max_pool2d",),
}


def training_step(config, *, bfloat16: bool = False, compile: bool = False):
    """One probe's model, optimizer and synthetic batch, and a function that takes one training step."""
    torch.manual_seed(0)
    model = build_model_of(config)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout).train()
    optimizer = make_optimizer(model, config)
    forward = torch.compile(model) if compile else model  # compiled during the warm-up steps
    images = torch.randn(config.batch_size, 1, IMAGE_SIZE, IMAGE_SIZE).contiguous(memory_format=layout)
    labels = torch.randint(0, NUM_CLASSES, (config.batch_size,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bfloat16):
            logits = forward(images)
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    return step


def milliseconds_per_step(step, steps: int) -> float:
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return 1000 * (time.perf_counter() - started) / steps


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probes", nargs="+", choices=PROBES, metavar="PROBE", help="probes of benchmarks/probes.py")
    parser.add_argument("--steps", type=int, default=40, help="steps a timing, then profiled (default 40)")
    parser.add_argument("--repeats", type=int, default=1, help="timings of each probe, taken in turn (default 1)")
    parser.add_argument("--batch-size", type=int, help="images a step (default: the recipe's)")
    parser.add_argument("--bfloat16", action="store_true", help="forward pass under bfloat16 autocast on the CPU")
    parser.add_argument("--contiguous", action="store_true", help="PyTorch's default layout, not channels_last")
    parser.add_argument("--compile", action="store_true", help="the model through torch.compile")
    parser.add_argument("--record", type=Path, help="write every timing, the machine and the command as JSON")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.repeats < 1:
        parser.error("--steps and --repeats take a positive count")
    configs, steps, warmups = {}, {}, {}
    for probe in args.probes:
        config = probe_config(probe)
        if args.batch_size:
            config = config.replace(batch_size=args.batch_size)
        if args.contiguous:
            config = config.replace(channels_last=False)
        configs[probe] = config
        steps[probe] = training_step(config, bfloat16=args.bfloat16, compile=args.compile)
        started = time.perf_counter()
        for _ in range(10):  # warm-up: oneDNN picks and caches its kernels (and torch.compile compiles)
            steps[probe]()
        warmups[probe] = time.perf_counter() - started
    timings = {probe: [] for probe in args.probes}
    for _ in range(args.repeats):  # in turn, so that a slower minute of the machine slows every probe
        for probe in args.probes:
            timings[probe].append(milliseconds_per_step(steps[probe], args.steps))
    shares = {probe: report(probe, configs[probe], steps[probe], timings[probe], warmups[probe], args)
              for probe in args.probes}  # fmt: skip
    if args.record:
        write_record(args.record, configs, timings, shares, args)


def report(probe: str, config, step, timings: list[float], warmup: float, args) -> dict[str, float]:
    """The step's time, then each operator's share of the profiled steps' self CPU time; returns the shares of
    `GROUPS`."""
    milliseconds = statistics.fmean(timings)
    spread = f" +- {statistics.stdev(timings):.1f}" if len(timings) > 1 else ""
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(args.steps):
            step()
    events = [event for event in profiler.key_averages() if event.self_cpu_time_total > 0]
    total = sum(event.self_cpu_time_total for event in events)
    print(
        f"{probe}: {config.model} with {dict(config.model_options)}, batch {config.batch_size}, "
        f"{'bfloat16, ' if args.bfloat16 else ''}{'compiled, ' if args.compile else ''}"
        f"{'channels_last' if config.channels_last else 'contiguous'}, "
        f"{torch.get_num_threads()} thread(s): {milliseconds:.1f}{spread} ms a step, "
        f"{1000 * milliseconds / config.batch_size:.0f} us an image "
        f"({args.repeats} x {args.steps} steps; warm-up {warmup:.1f} s)"
    )
    shares = {
        group: sum(e.self_cpu_time_total for e in events if any(p in e.key for p in patterns)) / total
        for group, patterns in GROUPS.items()
    }
    for group, share in shares.items():
        print(f"  {group:<12} {100 * share:5.1f}% of self CPU time, forward and backward")
    print("  operators, by self CPU time:")
    for event in sorted(events, key=lambda event: -event.self_cpu_time_total)[:12]:
        print(f"    {event.key:<45} {100 * event.self_cpu_time_total / total:5.1f}%  {event.count:>5} calls")
    return shares


def write_record(path: Path, configs: dict, timings: dict, shares: dict, args) -> None:
    """What notebook 09 reads: each probe's model, its milliseconds a step (one value per repeat, in turn) and the
    profiled shares of self CPU time by layer kind (the profiler's overhead included)."""
    record = {
        "steps": args.steps,
        "repeats": args.repeats,
        "bfloat16": args.bfloat16,
        "compiled": args.compile,
        "probes": {
            probe: {
                "model": config.model,
                "model_options": dict(config.model_options),
                "batch_size": config.batch_size,
                "channels_last": config.channels_last,
                "parameters": count_parameters(build_model_of(config)),
                "milliseconds": [round(value, 3) for value in timings[probe]],
                "shares": {group: round(share, 4) for group, share in shares[probe].items()},
            }
            for probe, config in configs.items()
        },
        "machine": machine_description(torch.device("cpu")),
        "command": command_line(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(f"recorded in {path}")


if __name__ == "__main__":
    main()
