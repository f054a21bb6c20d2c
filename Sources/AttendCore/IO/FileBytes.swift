// A file's bytes, mapped read-only into memory (POSIX mmap), so opening a multi-gigabyte checkpoint
// costs nothing until tensors are read, and each tensor is copied once, straight from the page cache.
// Tests may hand over a heap copy instead.
// Caveat of every mapping: if another process truncates the file while it is mapped, reading the
// lost pages raises SIGBUS; checkpoints are not rewritten in place by Attend (writes are atomic).
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A whole file's bytes: a read-only memory mapping (unmapped when released), or a heap copy.
final class FileBytes: @unchecked Sendable {
    /// The file's bytes (empty for an empty file).
    let bytes: UnsafeRawBufferPointer
    /// True for a mapping, false for a heap copy.
    private let isMapped: Bool

    /// Maps the file at `path`.
    init(path: String) throws(SafetensorsError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .unreadable(file: path, reason: systemMessage()) }
        defer { close(fd) }  // the mapping stays valid after the descriptor closes
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            throw .unreadable(file: path, reason: systemMessage())
        }
        guard (status.st_mode & S_IFMT) == S_IFREG else {
            throw .unreadable(file: path, reason: "not a regular file")
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            isMapped = false
            return
        }
        guard let base = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), base != MAP_FAILED else {
            throw .unreadable(file: path, reason: "cannot map it into memory: \(systemMessage())")
        }
        bytes = UnsafeRawBufferPointer(start: base, count: size)
        isMapped = true
    }

    /// A heap copy of `contents`, sized exactly, so that address sanitizer builds catch any read
    /// past the end (the robustness tests open damaged files this way).
    init(copying contents: [UInt8]) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: contents.count, alignment: 8)
        copy.copyBytes(from: contents)
        bytes = UnsafeRawBufferPointer(copy)
        isMapped = false
    }

    deinit {
        guard let base = bytes.baseAddress else { return }
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        } else {
            base.deallocate()
        }
    }
}

/// The system's message for the current `errno`.
func systemMessage(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
