#!/usr/bin/env bash
# The GPU figures of docs/benchmarks.md ("GPU") in one command, each stage timed, everything written under OUT:
#
#     bash benchmarks/gpu_checks.sh OUT                    # sweep, final and notebooks, in that order
#     bash benchmarks/gpu_checks.sh OUT sweep final        # some stages only
#
#   sweep      python3 benchmarks/gpu_sweep.py: the time-to-99.4% sweep on validation, then its 5 test seeds
#              (OUT/gpu.md, OUT/fast-gpu.json, runs in OUT/sweep; about 3.5 min on an H200)
#   final      the final recipe, seeds 0-4, eager with bf16 autocast as `fit` trains on CUDA
#              (OUT/final-gpu.json, its seeds' runs in OUT/final-gpu; about 4 min)
#   notebooks  the notebook series, executed into OUT/notebooks (the committed ones untouched; about 3 min)
#
# Afterwards, copy OUT/fast-gpu.json and OUT/final-gpu.json to benchmarks/results/ (the second with the "name" and
# "description" of the record it replaces), and OUT/gpu.md into benchmarks/RESULTS.md. PYTHON picks the
# interpreter (default python3).
set -euo pipefail

usage="usage: bash benchmarks/gpu_checks.sh OUT [sweep] [final] [notebooks]"
if [ $# -lt 1 ]; then
    echo "gpu_checks.sh: name a folder for the results ($usage)" >&2
    exit 2
fi
out=$1
shift
stages=("$@")
if [ ${#stages[@]} -eq 0 ]; then
    stages=(sweep final notebooks)
fi
for stage in "${stages[@]}"; do  # every stage named right before any runs
    case $stage in
        sweep | final | notebooks) ;;
        *) echo "gpu_checks.sh: unknown stage '$stage': name sweep, final or notebooks ($usage)" >&2; exit 2 ;;
    esac
done
python=${PYTHON:-python3}
if ! "$python" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_checks.sh: $python sees no CUDA GPU; these stages time one (on a CPU: docs/benchmarks.md)" >&2
    exit 2
fi

mkdir -p "$out"
for stage in "${stages[@]}"; do
    echo "--- $stage ---"
    started=$SECONDS
    case $stage in
        sweep)
            "$python" benchmarks/gpu_sweep.py --results "$out/gpu.md" --out "$out/sweep" --record "$out/fast-gpu.json"
            ;;
        final)
            "$python" -m mnist_nb seeds --recipe final --device cuda --num-seeds 5 --out "$out/final-gpu" \
                --summary "$out/final-gpu.json"
            ;;
        notebooks)
            "$python" -m mnist_nb notebooks --output-dir "$out/notebooks"
            ;;
    esac
    echo "--- $stage: $((SECONDS - started)) s ---"
done
