// The gzip container (RFC 1952) around DEFLATE: header fields, one or more members, and the CRC-32
// and length trailer, which are checked. Also dictzip (the dictd `.dict.dz` format): a gzip file
// whose extra field lists independently compressed chunks, so any chunk can be inflated alone.

/// Gzip decoding with integrity checks.
enum Gzip {
    /// Decompresses every member of a gzip file, checking each member's CRC-32 and length.
    static func decompress(_ data: [UInt8]) throws(FormatError) -> [UInt8] {
        try data.withUnsafeBufferPointer { (input) throws(FormatError) -> [UInt8] in
            var output: [UInt8] = []
            var offset = 0
            // The magic number is checked before anything else is believed.
            let first = try Header(input, at: 0)
            let hint = sizeHint(input, first)
            output.reserveCapacity(hint)
            repeat {
                let header = offset == 0 ? first : try Header(input, at: offset)
                let memberStart = output.count
                let end = try Inflate.decode(
                    input, from: header.dataOffset, expectedSize: hint, appendingTo: &output)
                guard end + 8 <= input.count else {
                    throw FormatError("gzip trailer missing (truncated file)")
                }
                let crc = readUInt32(input, end)
                let size = readUInt32(input, end + 4)
                let produced = output.count - memberStart
                let actual = output.withUnsafeBufferPointer { buffer in
                    CRC32.checksum(UnsafeBufferPointer(rebasing: buffer[memberStart...]))
                }
                guard actual == crc else {
                    throw FormatError("CRC-32 mismatch: trailer says \(crc), data gives \(actual)")
                }
                guard UInt32(truncatingIfNeeded: produced) == size else {
                    throw FormatError("length mismatch: trailer says \(size), inflated \(produced)")
                }
                offset = end + 8
                // Some writers pad with zeros after the last member; stop at anything but a header.
            } while offset + 2 <= input.count && input[offset] == 0x1F && input[offset + 1] == 0x8B
            return output
        }
    }

    /// The output size a gzip file's trailer suggests (0 when it is not a gzip file).
    static func outputSizeHint(_ data: [UInt8]) -> Int {
        data.withUnsafeBufferPointer { input in
            (try? Header(input, at: 0)).map { sizeHint(input, $0) } ?? 0
        }
    }

    /// ISIZE of the last member (exact for the usual single-member file), taken only as a hint:
    /// never more than the compressed bytes after `header` could inflate to.
    private static func sizeHint(_ input: UnsafeBufferPointer<UInt8>, _ header: Header) -> Int {
        Swift.min(
            Int(readUInt32(input, input.count - 4)),
            Inflate.largestOutput(compressedBytes: input.count - header.dataOffset))
    }

    /// The fields of a gzip member header that a reader needs.
    struct Header {
        /// Offset of the first DEFLATE byte.
        let dataOffset: Int
        /// The FEXTRA field's bytes (empty when absent).
        let extra: [UInt8]

        init(_ input: UnsafeBufferPointer<UInt8>, at start: Int) throws(FormatError) {
            guard start + 10 <= input.count, input[start] == 0x1F, input[start + 1] == 0x8B else {
                throw FormatError("not a gzip file (bad magic number at byte \(start))")
            }
            guard input[start + 2] == 8 else {
                throw FormatError("unsupported gzip compression method \(input[start + 2])")
            }
            let flags = input[start + 3]
            var offset = start + 10
            var extra: [UInt8] = []
            if flags & 0x04 != 0 {
                guard offset + 2 <= input.count else { throw FormatError("truncated gzip header") }
                let length = Int(input[offset]) | Int(input[offset + 1]) << 8
                guard offset + 2 + length <= input.count else {
                    throw FormatError("truncated gzip extra field")
                }
                extra = Array(input[(offset + 2)..<(offset + 2 + length)])
                offset += 2 + length
            }
            for flag: UInt8 in [0x08, 0x10] where flags & flag != 0 {  // file name, comment
                while offset < input.count && input[offset] != 0 { offset += 1 }
                offset += 1
            }
            if flags & 0x02 != 0 { offset += 2 }  // header CRC
            guard offset <= input.count else { throw FormatError("truncated gzip header") }
            dataOffset = offset
            self.extra = extra
        }
    }

    /// Decompresses the dictzip chunks in `chunks` (indices into the file's chunk list) and
    /// returns each chunk's bytes. Falls back to an error when the file has no chunk table.
    static func dictzipChunks(_ data: [UInt8], _ chunks: [Int]) throws(FormatError) -> [[UInt8]] {
        try data.withUnsafeBufferPointer { (input) throws(FormatError) -> [[UInt8]] in
            let table = try DictzipTable(try Header(input, at: 0))
            var starts = [Int](repeating: 0, count: table.sizes.count + 1)
            starts[0] = try Header(input, at: 0).dataOffset
            for (i, size) in table.sizes.enumerated() { starts[i + 1] = starts[i] + size }
            var result: [[UInt8]] = []
            for chunk in chunks {
                guard chunk >= 0 && chunk < table.sizes.count else {
                    throw FormatError(
                        "dictzip chunk \(chunk) out of range 0..<\(table.sizes.count)")
                }
                guard starts[chunk + 1] <= input.count else {
                    throw FormatError("dictzip chunk \(chunk) runs past the end (truncated file)")
                }
                // Each chunk ends with a full flush, not a final block, so it is decoded from its
                // own bytes with an empty final stored block appended.
                var bytes = Array(input[starts[chunk]..<starts[chunk + 1]])
                bytes += [0x03, 0x00]  // a final fixed-Huffman block holding only end-of-block
                var output: [UInt8] = []
                _ = try bytes.withUnsafeBufferPointer { (chunkInput) throws(FormatError) -> Int in
                    try Inflate.decode(
                        chunkInput, from: 0, expectedSize: table.chunkLength, appendingTo: &output)
                }
                result.append(output)
            }
            return result
        }
    }

    /// The number of dictzip chunks and their uncompressed length.
    static func dictzipLayout(_ data: [UInt8]) throws(FormatError) -> (count: Int, chunkLength: Int)
    {
        try data.withUnsafeBufferPointer { (input) throws(FormatError) in
            let table = try DictzipTable(try Header(input, at: 0))
            return (table.sizes.count, table.chunkLength)
        }
    }

    private static func readUInt32(_ input: UnsafeBufferPointer<UInt8>, _ offset: Int) -> UInt32 {
        UInt32(input[offset]) | UInt32(input[offset + 1]) << 8 | UInt32(input[offset + 2]) << 16
            | UInt32(input[offset + 3]) << 24
    }
}

/// The dictzip `RA` subfield: version, chunk length, chunk count, compressed size of each chunk.
private struct DictzipTable {
    let chunkLength: Int
    let sizes: [Int]

    init(_ header: Gzip.Header) throws(FormatError) {
        let extra = header.extra
        var offset = 0
        while offset + 4 <= extra.count {
            let length = Int(extra[offset + 2]) | Int(extra[offset + 3]) << 8
            if extra[offset] == 0x52 && extra[offset + 1] == 0x41 && length >= 6
                && offset + 4 + length <= extra.count
            {
                let field = Array(extra[(offset + 4)..<(offset + 4 + length)])
                func word(_ i: Int) -> Int { Int(field[2 * i]) | Int(field[2 * i + 1]) << 8 }
                chunkLength = word(1)
                let count = word(2)
                guard 6 + 2 * count <= field.count else {
                    throw FormatError("dictzip chunk table shorter than its count \(count)")
                }
                sizes = (0..<count).map { word(3 + $0) }
                return
            }
            offset += 4 + length
        }
        throw FormatError("gzip file has no dictzip chunk table (RA extra field)")
    }
}
