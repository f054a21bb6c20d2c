#!/usr/bin/env bash
# `make bench`: every Attend benchmark suite, then the PyTorch peers on the same shapes and thread
# count, writing JSON/CSV and SVG next to each other in docs/results/. Timings are reported, never
# asserted. Set PEER_PYTHON to a Python with the peer packages, or let this script build
# .venv-peers with scripts/peer-venv.sh (CPU torch; a large download the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
# Benchmarks measure the OpenBLAS kernel a user's machine gets: OpenBLAS picks it from the CPU when
# neither variable is set. Some environments pin a kernel (e.g. OPENBLAS_CORETYPE=Haswell, for tests
# that must run one known kernel); that pin stays for tests and CI, and is dropped here for the
# benchmark processes only. Every suite prints the kernel it ran. BLAS_KERNEL=NAME times another.
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
if [ -n "${BLAS_KERNEL:-}" ]; then export OPENBLAS_CORETYPE=$BLAS_KERNEL; fi
attend=.build/release/attend
out=docs/results
threads=${THREADS:-$(nproc)}
lengths=${LENGTHS:-512,1024,2048,4096,8192,16384}
runs=${RUNS:-5}
mkdir -p "$out"

peer_python=${PEER_PYTHON:-}
ls_python=${LS_PYTHON:-}
if [ -z "$peer_python" ]; then
    [ -x .venv-peers/main/bin/python ] || scripts/peer-venv.sh .venv-peers
    peer_python=.venv-peers/main/bin/python
    ls_python=${ls_python:-.venv-peers/ls/bin/python}
fi
peer() { "$peer_python" "Benchmarks/peers/$1" --threads "$threads" "${@:2}"; }

$attend bench core --threads "$threads" --json "$out/core.json" | tee "$out/core.txt"
peer core.py --attend "$out/core.json" | tee -a "$out/core.txt"

$attend bench attention --threads "$threads" --lengths "$lengths" --runs "$runs" --backward \
    --json "$out/attention.json" --csv "$out/attention.csv" --svg "$out/attention.svg" | tee "$out/attention.txt"
peer attention.py --attend "$out/attention.json" --lengths "$lengths" --runs "$runs" --backward \
    --peers full-kernel,performer,linformer,bigbird,flash-gau,deberta | tee -a "$out/attention.txt"
# long-short-transformer pins an older einops, so it lives in its own environment (LS_PYTHON).
if [ -n "$ls_python" ]; then
    "$ls_python" Benchmarks/peers/attention.py --threads "$threads" --attend "$out/attention.json" \
        --lengths "$lengths" --runs "$runs" --backward --peers long-short | tee -a "$out/attention.txt"
fi
$attend bench attention --threads "$threads" --lengths "$lengths" --runs "$runs" --causal \
    --json "$out/attention-causal.json" --svg "$out/attention-causal.svg" | tee "$out/attention-causal.txt"

$attend bench ffn --threads "$threads" --json "$out/ffn.json" | tee "$out/ffn.txt"
peer ffn.py --attend "$out/ffn.json" | tee -a "$out/ffn.txt"

$attend bench generate --threads "$threads" --mixers full,local,performer,mgk-linear,spade \
    --json "$out/generate.json" --svg "$out/generate.svg" | tee "$out/generate.txt"
peer generate.py --attend "$out/generate.json" | tee -a "$out/generate.txt"

$attend bench train --threads "$threads" --json "$out/train.json" | tee "$out/train.txt"
peer train.py --attend "$out/train.json" | tee -a "$out/train.txt"
$attend bench embed --threads "$threads" --json "$out/embed.json" | tee "$out/embed.txt"
peer embed.py --attend "$out/embed.json" | tee -a "$out/embed.txt"
peer embed_onnx.py --attend "$out/embed.json" | tee -a "$out/embed.txt"
echo "bench: results in $out/"
