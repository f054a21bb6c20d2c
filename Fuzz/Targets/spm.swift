/// libFuzzer entry point of the "spm" target (see docs/reliability.md): the parser
/// itself is in FuzzTargets.swift, shared with the replay of regression inputs in `make test`.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.run("spm", data, size)
}
