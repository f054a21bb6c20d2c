# Sourced by format.sh and format-lint.sh: the Swift files the formatter owns, and a check that
# the toolchain's formatter is there. The configuration is .swift-format at the repository root.
swift_format_paths=(Package.swift Sources Tests Fuzz/Targets)
if ! swift format --version >/dev/null 2>&1; then
    echo "$0: 'swift format' not found; install a Swift 6 toolchain (it ships swift-format)" >&2
    exit 2
fi
