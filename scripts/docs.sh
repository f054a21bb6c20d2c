#!/usr/bin/env bash
# `make docs`: the API documentation of every library target, one DocC archive each, built with
# the toolchain's own tools (the SwiftPM DocC plugin would have to be downloaded):
#   1. swift symbolgraph-extract reads the modules `make build` compiled (BIN, default
#      .build/release) and writes each target's public symbols with their `///` comments;
#   2. docc convert joins them with the target's catalogue, Sources/<Target>/<Target>.docc
#      (landing page and getting-started article), into .build/docs/<Target>.
# .build/docs/index.html links the six. Browse with
#   python3 -m http.server --directory .build/docs 8000     # then open http://localhost:8000
# DocC's warnings (a link to a symbol that no longer exists, a documented parameter the function
# lacks) are printed; DOCS_STRICT=1 turns them into errors.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/release}
targets=(AttendCore AttendNN AttendAttention AttendData AttendModels AttendTrain)
graphs=.build/symbol-graphs
out=.build/docs
strict=()
[ "${DOCS_STRICT:-0}" = 1 ] && strict=(--warnings-as-errors)

for target in "${targets[@]}"; do
    if [ ! -f "$bin/Modules/$target.swiftmodule" ]; then
        echo "docs: $bin/Modules/$target.swiftmodule is missing; run make build first" >&2
        exit 1
    fi
done
rm -rf "$graphs" "$out"
mkdir -p "$out"
for target in "${targets[@]}"; do
    echo "docs: $target"
    mkdir -p "$graphs/$target"
    swift symbolgraph-extract -module-name "$target" -I "$bin/Modules" -I Sources/COpenBLAS \
        -minimum-access-level public -skip-inherited-docs -output-dir "$graphs/$target"
    # --hosting-base-path: each archive lives in its own folder of .build/docs.
    docc convert "Sources/$target/$target.docc" --additional-symbol-graph-dir "$graphs/$target" \
        --output-path "$out/$target" --fallback-display-name "$target" \
        --fallback-bundle-identifier "attend.$target" --hosting-base-path "$target" \
        "${strict[@]}"
done

{
    echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Attend API</title></head><body>'
    echo '<h1>Attend API documentation</h1><ul>'
    for target in "${targets[@]}"; do
        lower=$(echo "$target" | tr '[:upper:]' '[:lower:]')
        echo "<li><a href=\"$target/documentation/$lower/\">$target</a></li>"
    done
    echo '</ul></body></html>'
} > "$out/index.html"
echo "docs: $out/index.html"
