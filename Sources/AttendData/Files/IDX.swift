// The IDX format of MNIST and Fashion-MNIST (LeCun et al.): a big-endian header — two zero bytes,
// a type code (0x08 = unsigned byte), the number of dimensions — then one 32-bit size per
// dimension and the data in row-major order.

/// An unsigned-byte IDX array.
struct IDXArray: Sendable {
    /// Extent of each dimension.
    let shape: [Int]
    /// The values, row-major.
    let values: [UInt8]

    /// Parses an IDX file of unsigned bytes with `dimensions` dimensions.
    init(_ bytes: [UInt8], dimensions: Int) throws(FormatError) {
        guard bytes.count >= 4 else { throw FormatError("file is shorter than an IDX header") }
        guard bytes[0] == 0, bytes[1] == 0 else {
            throw FormatError("not an IDX file (magic number starts \(bytes[0]), \(bytes[1]))")
        }
        guard bytes[2] == 0x08 else {
            throw FormatError("IDX type code \(bytes[2]), expected 0x08 (unsigned bytes)")
        }
        guard Int(bytes[3]) == dimensions else {
            throw FormatError("IDX array has \(bytes[3]) dimensions, expected \(dimensions)")
        }
        let headerLength = 4 + 4 * dimensions
        guard bytes.count >= headerLength else { throw FormatError("truncated IDX header") }
        var shape: [Int] = []
        for d in 0..<dimensions {
            let o = 4 + 4 * d
            shape.append(
                Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8
                    | Int(bytes[o + 3]))
        }
        // The sizes come from the file: multiply with overflow checks, and stop as soon as the
        // product exceeds what the file holds (a hostile header can name 2^32 per dimension).
        let held = bytes.count - headerLength
        var count = 1
        for extent in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow, product <= held else {
                throw FormatError("IDX header promises \(shape) values, the file holds \(held)")
            }
            count = product
        }
        guard held == count else {
            throw FormatError(
                "IDX header promises \(shape) = \(count) values, the file holds \(held)")
        }
        self.shape = shape
        values = Array(bytes[headerLength...])
    }
}
