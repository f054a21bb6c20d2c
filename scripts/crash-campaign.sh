#!/usr/bin/env bash
# Crash-consistency campaign: `kill -9` a tiny `attend train --checkpoint-every 1` at random moments
# (while it starts, trains, writes checkpoints and metrics, and while a --resume rewrites them),
# resume after every kill, and check each run that finishes against an uninterrupted one:
#   - every checkpoint left by a kill opens (`attend inspect`),
#   - metrics hold each training step once, in order, with the reference run's losses, and one
#     final evaluation equal to the reference's,
#   - no temporary file (`.*.tmp-*`) is left in the run directory,
#   - the final model and checkpoint are byte-identical to the reference's.
# Prints one summary line; exit status 1 when any check failed.
#
#   scripts/crash-campaign.sh [--kills 100] [--steps 60] [--seed 1] [--attend .build/release/attend]
# `make test` runs a short one (CrashConsistencyTests); docs/reliability.md records long ones.
set -euo pipefail

kills=100
steps=60
seed=1
attend=.build/release/attend
while (($#)); do
    case "$1" in
        --kills) kills=$2 ;;
        --steps) steps=$2 ;;
        --seed) seed=$2 ;;
        --attend) attend=$2 ;;
        *) echo "crash-campaign.sh: unknown option $1 (see the comment at the top)" >&2; exit 2 ;;
    esac
    shift 2
done
[[ -x $attend ]] || { echo "crash-campaign.sh: $attend is not built (make build)" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/attend-crash-XXXXXX")
trap 'rm -rf "$work"' EXIT
flags=(--task listops --preset tiny --steps "$steps" --checkpoint-every 1 --threads 1)
RANDOM=$seed

# The uninterrupted reference, and its duration in milliseconds (kills land within it).
start=$(date +%s%N)
"$attend" train "${flags[@]}" --out "$work/reference" >/dev/null 2>&1
duration=$((($(date +%s%N) - start) / 1000000))

# "step loss" of every training record, and the final evaluation's loss.
train_losses() {
    grep '"event":"train"' "$1/metrics.jsonl" | sed -E 's/.*"loss":([^,}]*).*"step":([0-9]+).*/\2 \1/'
}
evaluations() { grep '"event":"evaluate"' "$1/metrics.jsonl" | sed -E 's/.*"loss":([^,}]*).*/\1/'; }

problems=0
problem() { echo "crash-campaign.sh: $*" >&2; problems=$((problems + 1)); }

# Checks a finished run against the reference.
check_finished() {
    local run=$1
    cmp -s "$run/model.safetensors" "$work/reference/model.safetensors" \
        || problem "$run: final model differs from the uninterrupted run's"
    cmp -s "$run/checkpoint.safetensors" "$work/reference/checkpoint.safetensors" \
        || problem "$run: final checkpoint differs from the uninterrupted run's"
    [[ $(train_losses "$run") == $(train_losses "$work/reference") ]] \
        || problem "$run: training records lost, duplicated or different"
    [[ $(evaluations "$run") == $(evaluations "$work/reference") ]] \
        || problem "$run: final evaluation missing, repeated or different"
    if ls -A "$run" | grep -q '\.tmp-'; then problem "$run: temporary files left: $(ls -A "$run")"; fi
}

killed=0 during_resume=0 finished=0 corrupt=0 runs=1
run="$work/run-1"
while ((killed < kills)); do
    resuming=0
    if [[ -f $run/checkpoint.safetensors ]]; then
        resuming=1
        "$attend" train --resume --threads 1 --out "$run" >/dev/null 2>>"$work/errors" &
    else
        "$attend" train "${flags[@]}" --out "$run" >/dev/null 2>>"$work/errors" &
    fi
    pid=$!
    delay=$(((RANDOM * 32768 + RANDOM) % (duration + 1)))
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    if kill -9 "$pid" 2>/dev/null; then
        { wait "$pid"; } 2>/dev/null || true  # quiet: bash would report "Killed"
        killed=$((killed + 1))
        during_resume=$((during_resume + resuming))
        if [[ -f $run/checkpoint.safetensors ]] \
            && ! "$attend" inspect "$run/checkpoint.safetensors" >/dev/null 2>&1; then
            corrupt=$((corrupt + 1))
            problem "$run: corrupt checkpoint after kill $killed"
            break
        fi
    else
        status=0
        wait "$pid" || status=$?
        if ((status != 0)); then
            problem "$run: attend train exited with $status: $(tail -n 1 "$work/errors")"
            break
        fi
        finished=$((finished + 1))
        check_finished "$run"
        runs=$((runs + 1))
        run="$work/run-$runs"
    fi
done
# The run in progress is finished without kills and checked too.
if ((problems == 0)) && [[ -d $run ]]; then
    if [[ -f $run/checkpoint.safetensors ]]; then
        "$attend" train --resume --threads 1 --out "$run" >/dev/null 2>>"$work/errors"
    else
        "$attend" train "${flags[@]}" --out "$run" >/dev/null 2>>"$work/errors"
    fi
    finished=$((finished + 1))
    check_finished "$run"
fi
echo "crash campaign: $killed kills ($during_resume during resumes) over $finished runs of $steps" \
    "steps (uninterrupted run ${duration} ms): $corrupt corrupt checkpoints, $problems problems"
((problems == 0))
