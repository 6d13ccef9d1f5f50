"""Where a CPU training step's time goes: one probe's model and recipe, profiled by operator.

    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-7                        # the old fast model
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7  # the fast model now
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --batch-size 512 --bfloat16
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --contiguous  # no channels_last
    OMP_NUM_THREADS=1 python benchmarks/profile_step.py fast-early-pooling-width20-7 --compile  # torch.compile

The probes are benchmarks/probes.py's (`--list` there). The step is `train_one_epoch`'s without its
learning-rate schedule: forward, cross-entropy, backward, Nesterov SGD, on synthetic batches (random
images and labels, the recipe's batch size and memory layout; no data read), on the CPU. It prints the
milliseconds of a step (and of an image), timed without the profiler, and then each operator's share of the profiled
steps' self CPU time, with the shares of convolution, BatchNorm, ReLU and max-pooling summed. The
profiler adds its own overhead to every operator: read the shares, not its milliseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parent))

from probes import PROBES, probe_config  # noqa: E402

from mnist_nb.config import IMAGE_SIZE, NUM_CLASSES  # noqa: E402
from mnist_nb.models import build_model_of  # noqa: E402
from mnist_nb.training import make_optimizer  # noqa: E402

# Operators by the layer they belong to (aten names, forward and backward).
GROUPS = {
    "convolution": ("convolution",),
    "BatchNorm": ("batch_norm",),
    "ReLU": ("threshold_backward", "relu", "clamp_min"),
    "max-pooling": ("max_pool2d",),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=PROBES, metavar="PROBE", help="a probe of benchmarks/probes.py")
    parser.add_argument("--steps", type=int, default=40, help="steps timed, then profiled (default 40)")
    parser.add_argument("--batch-size", type=int, help="images a step (default: the recipe's)")
    parser.add_argument("--bfloat16", action="store_true", help="forward pass under bfloat16 autocast on the CPU")
    parser.add_argument("--contiguous", action="store_true", help="PyTorch's default layout, not channels_last")
    parser.add_argument("--compile", action="store_true", help="the model through torch.compile")
    args = parser.parse_args(argv)
    config = probe_config(args.probe)
    if args.batch_size:
        config = config.replace(batch_size=args.batch_size)
    if args.contiguous:
        config = config.replace(channels_last=False)
    torch.manual_seed(0)
    model = build_model_of(config)
    layout = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(memory_format=layout).train()
    optimizer = make_optimizer(model, config)
    forward = torch.compile(model) if args.compile else model  # compiled during the warm-up steps below
    images = torch.randn(config.batch_size, 1, IMAGE_SIZE, IMAGE_SIZE).contiguous(memory_format=layout)
    labels = torch.randint(0, NUM_CLASSES, (config.batch_size,))

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bfloat16):
            logits = forward(images)
        F.cross_entropy(logits.float(), labels).backward()
        optimizer.step()

    started = time.perf_counter()
    for _ in range(10):  # warm-up: oneDNN picks and caches its kernels (and torch.compile compiles)
        step()
    warmup = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    milliseconds = 1000 * (time.perf_counter() - started) / args.steps
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(args.steps):
            step()
    events = [event for event in profiler.key_averages() if event.self_cpu_time_total > 0]
    total = sum(event.self_cpu_time_total for event in events)
    print(
        f"{args.probe}: {config.model} with {dict(config.model_options)}, batch {config.batch_size}, "
        f"{'bfloat16, ' if args.bfloat16 else ''}{'compiled, ' if args.compile else ''}"
        f"{'channels_last' if config.channels_last else 'contiguous'}, "
        f"{torch.get_num_threads()} thread(s): {milliseconds:.1f} ms a step, "
        f"{1000 * milliseconds / config.batch_size:.0f} us an image ({args.steps} steps; warm-up {warmup:.1f} s)"
    )
    for group, patterns in GROUPS.items():
        share = sum(e.self_cpu_time_total for e in events if any(p in e.key for p in patterns)) / total
        print(f"  {group:<12} {100 * share:5.1f}% of self CPU time, forward and backward")
    print("  operators, by self CPU time:")
    for event in sorted(events, key=lambda event: -event.self_cpu_time_total)[:12]:
        print(f"    {event.key:<45} {100 * event.self_cpu_time_total / total:5.1f}%  {event.count:>5} calls")


if __name__ == "__main__":
    main()
