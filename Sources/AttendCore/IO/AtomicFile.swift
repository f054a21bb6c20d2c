// Atomic file replacement: write a temporary file in the destination's directory, flush it to disk,
// then rename it over the destination. rename(2) within one file system is atomic, so a reader (or
// a crash) sees either the old file or the complete new one, never a half-written file.
#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Writes files so that they appear complete or not at all.
public enum AtomicFile {
    /// Creates `path` (or replaces it) with `bytes`, atomically (see `write(to:_:)`).
    public static func write(to path: String, bytes: [UInt8]) throws {
        try write(to: path) { try $0.write(bytes) }
    }

    /// The process that made `name` (a file name without its directory), when `name` is one of
    /// the temporary files `write` makes for a destination named `destination`:
    /// `.<destination>.tmp-<pid>-<random>`. A process killed mid-write leaves such a file behind.
    public static func temporaryFileOwner(_ name: String, destination: String) -> pid_t? {
        let prefix = ".\(destination).tmp-"
        guard name.hasPrefix(prefix) else { return nil }
        let fields = name.dropFirst(prefix.count)
            .split(separator: "-", omittingEmptySubsequences: false)
        let isDecimal = { (field: Substring) in
            !field.isEmpty && field.utf8.allSatisfy { (48...57).contains($0) }  // ASCII digits
        }
        guard fields.count == 2, fields.allSatisfy(isDecimal), let pid = pid_t(fields[0]),
            UInt32(fields[1]) != nil
        else { return nil }
        return pid
    }

    /// Creates `path` (or replaces it) with the bytes `body` writes to the sink.
    ///
    /// On any failure the temporary file is removed, the destination is left untouched and the
    /// error is `SafetensorsError.writeFailed` naming `path` (errors thrown by `body` pass through).
    static func write(to path: String, _ body: (FileSink) throws -> Void) throws {
        let slash = path.lastIndex(of: "/")
        let directory = slash.map { String(path[...$0]) } ?? ""
        let base = slash.map { String(path[path.index(after: $0)...]) } ?? path
        // The one place this name is made; `temporaryFileOwner` recognises it.
        let temporary = "\(directory).\(base).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            let place = directory.isEmpty ? "the current directory" : "'\(directory)'"
            throw SafetensorsError.writeFailed(
                file: path, reason: "cannot create a temporary file in \(place): \(systemMessage())"
            )
        }
        var isOpen = true
        var isRenamed = false
        defer {
            if isOpen { close(fd) }
            if !isRenamed { unlink(temporary) }
        }
        try body(FileSink(fd: fd, path: path))
        guard fsync(fd) == 0 else {
            throw SafetensorsError.writeFailed(
                file: path, reason: "flushing to disk failed: \(systemMessage())")
        }
        isOpen = false
        guard close(fd) == 0 else {
            throw SafetensorsError.writeFailed(
                file: path, reason: "closing failed: \(systemMessage())")
        }
        guard rename(temporary, path) == 0 else {
            throw SafetensorsError.writeFailed(
                file: path, reason: "cannot move the finished file into place: \(systemMessage())")
        }
        isRenamed = true
        // Persist the rename itself; a failure here loses durability, not consistency.
        let directoryFD = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}

/// The open temporary file an `AtomicFile.write` body writes into.
struct FileSink {
    let fd: Int32
    /// The destination, for error messages.
    let path: String

    /// Writes all of `bytes`, retrying partial writes and interruptions.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var next = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = writeSome(fd, next, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw SafetensorsError.writeFailed(file: path, reason: systemMessage())
            }
            next += written
            remaining -= written
        }
    }

    /// Writes the bytes of an array.
    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// One write(2) call (a file-scope name, since `FileSink.write` hides the C function).
private func writeSome(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}
