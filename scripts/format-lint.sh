#!/usr/bin/env bash
# Checks every Swift file against .swift-format without changing it: prints one line per finding
# (file:line:column: rule and fix) and exits non-zero when there is any. `scripts/format.sh` fixes
# layout findings; a missing documentation comment or an end-of-line comment past column 100
# needs a hand edit.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/format-paths.sh
swift format lint --strict --recursive "$@" "${swift_format_paths[@]}"
