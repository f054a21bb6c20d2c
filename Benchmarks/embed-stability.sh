#!/usr/bin/env bash
# Runs `attend bench embed` in several separate processes and prints, per length, each process's
# sentences/s and page faults per batch and the spread max/min: a process-to-process spread is what
# memory churn (fresh pages per batch) used to cause. Like every benchmark it runs on the OpenBLAS
# kernel a user's machine gets (OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset for these processes).
#   [RUNS=9] Benchmarks/embed-stability.sh [PROCESSES] [LENGTHS]   (default 5, 32,128,256; median of RUNS)
set -euo pipefail
cd "$(dirname "$0")/.."
processes=${1:-5}
lengths=${2:-32,128,256}
runs=${RUNS:-9}
attend=.build/release/attend
threads=${THREADS:-$(nproc)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for i in $(seq "$processes"); do
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$attend" bench embed --threads "$threads" \
        --lengths "$lengths" --runs "$runs" --json "$work/$i.json" > "$work/$i.txt" 2>/dev/null
done
head -1 "$work/1.txt"
python3 - "$work" "$processes" <<'EOF'
import json, sys
work, processes = sys.argv[1], int(sys.argv[2])
runs = [json.load(open(f"{work}/{i}.json")) for i in range(1, processes + 1)]
print(f"{'n':>5}  {'sentences/s per process':<44}  {'max/min':>7}  page faults/batch")
for rows in zip(*runs):
    n = rows[0]["length"]
    rates = [r["sentencesPerSecond"] for r in rows]
    faults = [r["pageFaultsPerBatch"] for r in rows]
    print(f"{n:>5}  {' '.join(f'{x:7.1f}' for x in rates):<44}  {max(rates) / min(rates):7.3f}  "
          + " ".join(f"{x:.0f}" for x in faults))
EOF
