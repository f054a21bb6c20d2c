// A text file of records (JSON lines, CSV or TSV rows) read without loading it whole: one pass in
// 1 MiB chunks finds where every record starts and on which line, handing each record to the
// caller as it goes; later a record is read back alone with `pread`. Files larger than memory thus
// cost one pass and a few machine words per record. CSV records may span lines inside quotes.
import Foundation

/// Where one record lies in its file.
struct RecordLocation: Sendable {
    /// Byte offset of the record's first byte.
    let offset: Int
    /// Bytes in the record, without its line break.
    let length: Int
    /// Line number (from 1) the record starts on.
    let line: Int
}

/// An open, read-only file whose records are read back by location.
final class RecordFile: Sendable {
    /// The path, for error messages.
    let path: String
    private let descriptor: Int32

    /// Opens `path`, failing with a message naming it.
    init(path: String) throws(DataError) {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.missingFile(
                name: path, searched: [path], hint: "check the path given to --data")
        }
        guard !isDirectory.boolValue else {
            throw DataError.malformedFile(
                path: path, reason: "is a folder, a file of records was expected",
                hint: "pass a .jsonl, .csv or .tsv file, or --format images for a folder")
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw DataError.malformedFile(
                path: path, reason: "cannot be opened (\(String(cString: strerror(errno))))",
                hint: "check its permissions")
        }
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Calls `body` with every non-blank record in file order, reading `chunkSize` bytes at a
    /// time. With `quoting`, a line break inside double quotes does not end a record (CSV/TSV).
    func scan(
        quoting: Bool, chunkSize: Int = 1 << 20,
        _ body: (ArraySlice<UInt8>, RecordLocation) throws(DataError) -> Void
    ) throws(DataError) {
        var chunk = [UInt8](repeating: 0, count: chunkSize)
        var pending: [UInt8] = []  // the record in progress
        var recordOffset = 0
        var recordLine = 1
        var line = 1
        var fileOffset = 0
        var inQuotes = false
        func finish() throws(DataError) {
            var end = pending.endIndex
            if end > 0 && pending[end - 1] == UInt8(ascii: "\r") { end -= 1 }
            let record = pending[..<end]
            if record.contains(where: { $0 != 32 && $0 != 9 && $0 != 13 }) {
                try body(
                    record, RecordLocation(offset: recordOffset, length: end, line: recordLine))
            }
            pending.removeAll(keepingCapacity: true)
        }
        while true {
            let read = chunk.withUnsafeMutableBytes {
                pread(descriptor, $0.baseAddress, chunkSize, off_t(fileOffset))
            }
            guard read >= 0 else {
                throw DataError.malformedFile(
                    path: path, reason: "read failed (\(String(cString: strerror(errno))))",
                    hint: "check the file")
            }
            if read == 0 { break }
            for i in 0..<read {
                let byte = chunk[i]
                if quoting && byte == UInt8(ascii: "\"") { inQuotes.toggle() }
                if byte == 10 {
                    line += 1
                    if !inQuotes {
                        try finish()
                        recordOffset = fileOffset + i + 1
                        recordLine = line
                        continue
                    }
                }
                pending.append(byte)
            }
            fileOffset += read
        }
        try finish()
    }

    /// The bytes of the record at `location`.
    func bytes(at location: RecordLocation) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: location.length)
        var done = 0
        while done < location.length {
            let read = bytes.withUnsafeMutableBytes {
                pread(
                    descriptor, $0.baseAddress! + done, location.length - done,
                    off_t(location.offset + done))
            }
            // The file was indexed a moment ago; a short read means it changed under us.
            precondition(read > 0, "\(path) changed while in use (record at line \(location.line))")
            done += read
        }
        return bytes
    }
}
