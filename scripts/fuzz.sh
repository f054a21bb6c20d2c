#!/usr/bin/env bash
# `make fuzz`: builds one libFuzzer binary per file of Fuzz/Targets and runs each for FUZZ_SECONDS
# (default 60) from its committed seed corpus, Fuzz/Corpus/<target>. Inputs that crash, time out
# or run out of memory are written to Fuzz/Regressions/<target>/ (commit them: `make test`
# replays them, FuzzRegressionTests); inputs that reach new code stay in .build/fuzz/corpus.
#
#   FUZZ_SECONDS=600 FUZZ_TARGETS="gzip tar" scripts/fuzz.sh     # longer, and only two targets
#
# How: the library modules are compiled by SwiftPM with coverage instrumentation and
# AddressSanitizer (-sanitize=fuzzer,address) and -enable-testing (the registry reaches internal
# parsers); each binary is its target's entry point, the registry Tests/AttendTrainTests/
# FuzzTargets.swift and those modules' objects, linked by swiftc. Results: docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-$(ls Fuzz/Targets | sed -n 's/\.swift$//p')}
build=.build/fuzz
modules=(AttendCore AttendNN AttendAttention AttendModels AttendData AttendTrain)

swift build --build-path "$build" -c release --target AttendTrain \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
products=$(swift build --build-path "$build" -c release --show-bin-path)
objects=()
for module in "${modules[@]}"; do objects+=("$products/$module.build"/*.o); done
mkdir -p "$build/bin" "$build/logs"

failed=0
printf '%-16s %10s %12s %8s %s\n' target seconds executions "exec/s" result
for target in $targets; do
    binary=$build/bin/$target
    if [[ ! -x $binary || Fuzz/Targets/$target.swift -nt $binary
        || Tests/AttendTrainTests/FuzzTargets.swift -nt $binary
        || -n $(find "$products" -name '*.o' -newer "$binary" -print -quit) ]]; then
        swiftc -sanitize=fuzzer,address -parse-as-library -O -enable-testing \
            -I "$products/Modules" -I Sources/COpenBLAS \
            "Fuzz/Targets/$target.swift" Tests/AttendTrainTests/FuzzTargets.swift \
            "${objects[@]}" -lopenblas -o "$binary" 2>&1 \
            | { grep -v "Cannot export local symbol '__asan" || true; }  # gold's harmless notes
    fi
    mkdir -p "$build/corpus/$target" "Fuzz/Regressions/$target"
    status=0
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="Fuzz/Regressions/$target/" "$build/corpus/$target" \
        "Fuzz/Corpus/$target" >"$build/logs/$target.log" 2>&1 || status=$?
    executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$build/logs/$target.log")
    elapsed=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$build/logs/$target.log")
    elapsed=${elapsed:-$seconds}
    result=clean
    if ((status != 0)); then
        result="FAILED (exit $status; see $build/logs/$target.log and Fuzz/Regressions/$target)"
        failed=1
    fi
    printf '%-16s %10s %12s %8s %s\n' "$target" "$elapsed" "${executions:-?}" \
        "$(( ${executions:-0} / (elapsed > 0 ? elapsed : 1) ))" "$result"
done
exit $failed
