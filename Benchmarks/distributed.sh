#!/usr/bin/env bash
# Data-parallel training on this machine: the same global batch trained by 1 process × 2 threads and
# by 2 processes × 1 thread (mpirun, gradients averaged by the bucketed all-reduce), first with the
# `bench train` model in `attend bench distributed` (forward/backward, wait, all-reduce and update
# timed apart, plus all-reduce latency and bandwidth), then end to end with `attend train` on ListOps. The numbers feed
# docs/results/distributed.md. Usage: make build && Benchmarks/distributed.sh
# Environment: ATTEND (binary, default .build/release/attend), LENGTH (512), BATCH (8), RUNS (5),
# STEPS (30, for the `attend train` part), OUT (docs/results).
set -euo pipefail
cd "$(dirname "$0")/.."

bin="${ATTEND:-.build/release/attend}"
length="${LENGTH:-512}"
batch="${BATCH:-8}"
runs="${RUNS:-5}"
steps="${STEPS:-30}"
out="${OUT:-docs/results}"
[ -x "$bin" ] || { echo "distributed.sh: $bin is missing; run make build first" >&2; exit 1; }
command -v mpirun >/dev/null || { echo "distributed.sh: mpirun is missing; run scripts/setup.sh (openmpi-bin)" >&2; exit 1; }
mpirun=(mpirun --oversubscribe)
[ "$(id -u)" -ne 0 ] || mpirun+=(--allow-run-as-root)
mkdir -p "$out"

echo "== bench distributed: 1 process × 2 threads"
"${mpirun[@]}" -np 1 "$bin" bench distributed --threads 2 --lengths "$length" --batch "$batch" \
    --runs "$runs" --csv "$out/distributed-1x2.csv"
echo
echo "== bench distributed: 2 processes × 1 thread"
"${mpirun[@]}" -np 2 "$bin" bench distributed --threads 1 --lengths "$length" --batch "$batch" \
    --runs "$runs" --csv "$out/distributed-2x1.csv"

# Training throughput at the last step, before the final validation: from the run's metrics.jsonl.
report() {
    python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
records = [json.loads(line) for line in open(sys.argv[1])]
last = [r for r in records if r["event"] == "train"][-1]
share = 100 * last.get("communication_seconds", 0) / last["elapsed"]
print("step %d: %.0f tokens/s, %.1f s, %.1f%% in collective operations, loss %.4f"
      % (last["step"], last["tokens_per_second"], last["elapsed"], share, last["loss"]))
PY
}
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
flags=(train --task listops --preset cpu --steps "$steps" --checkpoint-every 0)
echo
echo "== attend train (ListOps, cpu preset, $steps steps): 1 process × 2 threads"
"$bin" "${flags[@]}" --threads 2 --out "$scratch/one" >/dev/null 2>&1
report "$scratch/one"
echo
echo "== attend train (ListOps, cpu preset, $steps steps): 2 processes × 1 thread"
"${mpirun[@]}" -np 2 "$bin" "${flags[@]}" --threads 1 --distributed mpi --out "$scratch/two" >/dev/null 2>&1
report "$scratch/two"
