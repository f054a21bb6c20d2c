#!/usr/bin/env bash
# Creates the Python environments the peer benchmarks and fixture scripts use, with the CPU-only
# build of torch (a plain `pip install torch` would pull the multi-GB CUDA build). Idempotent.
#   scripts/peer-venv.sh [DIR]   -> DIR/main (default .venv-peers/main) and DIR/ls (long-short-transformer)
set -euo pipefail
dir=${1:-.venv-peers}
torch_pin=torch==2.13.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

make_env() {  # name, requirement files or packages…
    local env="$dir/$1"; shift
    [ -x "$env/bin/python" ] || python3 -m venv "$env"
    "$env/bin/pip" install -q "$torch_pin"
    if "$env/bin/pip" install --dry-run "$@" 2>/dev/null | grep -E 'Would install.* torch-[0-9]'; then
        echo "peer-venv: refusing: these packages would replace the CPU build of torch" >&2
        exit 1
    fi
    "$env/bin/pip" install -q "$@"
    "$env/bin/python" -c "import torch; assert torch.__version__.endswith('+cpu'), torch.__version__"
}

make_env main -r "$here/fixtures/requirements.txt" -r "$here/fixtures/requirements-models.txt" \
    -r "$here/../Benchmarks/peers/requirements-onnx.txt"
make_env ls numpy safetensors einops long-short-transformer==0.0.5 rotary-embedding-torch==0.1.5
echo "peer-venv: ready in $dir (main, ls)"
