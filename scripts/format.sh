#!/usr/bin/env bash
# `make format`: formats every Swift file in place with the rules in .swift-format (100 columns,
# 4-space indent; docs/formatting-and-docs.md says which rules are off and why). Safe to repeat:
# a second run changes nothing. Extra arguments go to `swift format`, e.g. `--parallel`.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/format-paths.sh
swift format format --in-place --recursive "$@" "${swift_format_paths[@]}"
