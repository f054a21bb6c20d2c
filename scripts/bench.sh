#!/usr/bin/env bash
# `make bench`: every Attend benchmark suite, then the PyTorch peers on the same shapes and thread
# count, writing JSON/CSV and SVG next to each other in docs/results/. Timings are reported, never
# asserted. Set PEER_PYTHON to a Python with the peer packages, or let this script build
# .venv-peers with scripts/peer-venv.sh (CPU torch; a large download the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
attend=.build/release/attend
out=docs/results
threads=${THREADS:-$(nproc)}
lengths=${LENGTHS:-512,1024,2048,4096,8192,16384}
mkdir -p "$out"

peer_python=${PEER_PYTHON:-}
if [ -z "$peer_python" ]; then
    [ -x .venv-peers/main/bin/python ] || scripts/peer-venv.sh .venv-peers
    peer_python=.venv-peers/main/bin/python
fi
peer() { "$peer_python" "Benchmarks/peers/$1" --threads "$threads" "${@:2}"; }

$attend bench core --threads "$threads" --json "$out/core.json" | tee "$out/core.txt"
peer core.py --attend "$out/core.json" | tee -a "$out/core.txt"

$attend bench attention --threads "$threads" --lengths "$lengths" --backward \
    --json "$out/attention.json" --csv "$out/attention.csv" --svg "$out/attention.svg" | tee "$out/attention.txt"
peer attention.py --attend "$out/attention.json" --lengths "$lengths" --backward \
    --peers full-kernel,performer,linformer,bigbird,flash-gau | tee -a "$out/attention.txt"
$attend bench attention --threads "$threads" --lengths "$lengths" --causal \
    --json "$out/attention-causal.json" --svg "$out/attention-causal.svg" | tee "$out/attention-causal.txt"

$attend bench ffn --threads "$threads" --json "$out/ffn.json" | tee "$out/ffn.txt"
peer ffn.py --attend "$out/ffn.json" | tee -a "$out/ffn.txt"

$attend bench train --threads "$threads" --json "$out/train.json" | tee "$out/train.txt"
peer train.py --attend "$out/train.json" | tee -a "$out/train.txt"
echo "bench: results in $out/"
