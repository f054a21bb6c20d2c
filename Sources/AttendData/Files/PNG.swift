// PNG decoding (ISO/IEC 15948, W3C PNG 2nd edition) for image data sets: the chunk stream with
// CRC-32 checks, IHDR, PLTE and the concatenated IDAT zlib stream inflated by the project's own
// DEFLATE decoder (Inflate.swift), then the five per-row filters undone. Reads greyscale (1, 2, 4,
// 8 bits), grey + alpha, RGB, RGBA (8 bits) and palette (1, 2, 4, 8 bits) images; alpha is
// dropped, palette entries become RGB. Interlaced (Adam7) and 16-bit images are refused by name.

/// A decoded image: 8-bit samples, one (grey) or three (RGB) per pixel, interleaved row-major.
public struct DecodedImage: Sendable, Equatable {
    /// Pixels per row.
    public let width: Int
    /// Rows.
    public let height: Int
    /// 1 (grey) or 3 (RGB).
    public let channels: Int
    /// `height · width · channels` samples.
    public let samples: [UInt8]

    /// An image from its samples.
    public init(width: Int, height: Int, channels: Int, samples: [UInt8]) {
        precondition(samples.count == width * height * channels, "one sample per pixel and channel")
        (self.width, self.height, self.channels, self.samples) = (width, height, channels, samples)
    }

    /// The same image with three channels (grey repeated).
    public var rgb: DecodedImage {
        channels == 3
            ? self
            : DecodedImage(
                width: width, height: height, channels: 3,
                samples: samples.flatMap { [$0, $0, $0] })
    }

    /// Samples plane by plane (all red, then green, then blue): the order a ViT's patch
    /// projection reads channels in.
    public var planar: [UInt8] {
        guard channels > 1 else { return samples }
        return (0..<channels).flatMap { c in
            stride(from: c, to: samples.count, by: channels).map { samples[$0] }
        }
    }
}

/// The PNG reader.
enum PNG {
    static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]

    /// Decodes a PNG file's bytes.
    static func decode(_ bytes: [UInt8]) throws(FormatError) -> DecodedImage {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else {
            throw FormatError("not a PNG file (signature missing)")
        }
        var offset = 8
        var header: (width: Int, height: Int, depth: Int, colour: Int)?
        var palette: [UInt8] = []
        var compressed: [UInt8] = []
        while true {
            guard offset + 12 <= bytes.count else {
                throw FormatError("file ends before IEND (truncated)")
            }
            let length = Int(readUInt32(bytes, offset))
            let type = String(decoding: bytes[(offset + 4)..<(offset + 8)], as: UTF8.self)
            let start = offset + 8
            guard length <= bytes.count - start - 4 else {
                throw FormatError("\(type) chunk is truncated")
            }
            let stored = readUInt32(bytes, start + length)
            let actual = bytes.withUnsafeBufferPointer {
                CRC32.checksum(UnsafeBufferPointer(rebasing: $0[(offset + 4)..<(start + length)]))
            }
            guard stored == actual else {
                throw FormatError("CRC mismatch in the \(type) chunk (corrupt file)")
            }
            let data = bytes[start..<(start + length)]
            offset = start + length + 4
            switch type {
            case "IHDR":
                header = try readHeader(data)
            case "PLTE":
                palette = Array(data)
            case "IDAT":
                compressed += data
            case "IEND":
                guard let header else { throw FormatError("no IHDR chunk") }
                let raw = try inflate(compressed)
                return try image(raw, header, palette: palette)
            default:
                // Ancillary chunks (lower-case first letter) may be ignored; critical ones not.
                guard let first = type.utf8.first, first & 0x20 != 0 else {
                    throw FormatError("unknown critical chunk \(type)")
                }
            }
        }
    }

    private static func readUInt32(_ bytes: [UInt8], _ o: Int) -> UInt32 {
        UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8
            | UInt32(bytes[o + 3])
    }

    private static func readHeader(_ data: ArraySlice<UInt8>) throws(FormatError)
        -> (width: Int, height: Int, depth: Int, colour: Int)
    {
        let d = Array(data)
        guard d.count == 13 else { throw FormatError("IHDR holds \(d.count) bytes, 13 expected") }
        let width = Int(readUInt32(d, 0))
        let height = Int(readUInt32(d, 4))
        let (depth, colour) = (Int(d[8]), Int(d[9]))
        guard width > 0, height > 0 else { throw FormatError("image is \(width)×\(height)") }
        guard d[10] == 0, d[11] == 0 else {
            throw FormatError("unknown compression or filter method")
        }
        guard d[12] == 0 else {
            throw FormatError(
                "interlaced (Adam7) PNG is not supported; save it without interlacing")
        }
        let allowed: [Int: [Int]] = [0: [1, 2, 4, 8], 2: [8], 3: [1, 2, 4, 8], 4: [8], 6: [8]]
        guard let depths = allowed[colour] else {
            throw FormatError("unknown colour type \(colour)")
        }
        guard depths.contains(depth) else {
            throw FormatError(
                "\(depth)-bit samples with colour type \(colour) are not supported (8-bit are)")
        }
        return (width, height, depth, colour)
    }

    /// The zlib stream (RFC 1950) around DEFLATE: a two-byte header, the data, an Adler-32.
    private static func inflate(_ stream: [UInt8]) throws(FormatError) -> [UInt8] {
        guard stream.count >= 6 else { throw FormatError("no image data (IDAT)") }
        guard stream[0] & 0x0F == 8, (Int(stream[0]) << 8 | Int(stream[1])) % 31 == 0,
            stream[1] & 0x20 == 0
        else { throw FormatError("image data is not a zlib stream") }
        var output: [UInt8] = []
        let end = try stream.withUnsafeBufferPointer { (input) throws(FormatError) -> Int in
            try Inflate.decode(input, from: 2, appendingTo: &output)
        }
        guard end + 4 <= stream.count else {
            throw FormatError("zlib checksum missing (truncated image data)")
        }
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in output {
            a = (a + UInt32(byte)) % 65521
            b = (b + a) % 65521
        }
        guard b << 16 | a == readUInt32(stream, end) else {
            throw FormatError("Adler-32 mismatch in image data")
        }
        return output
    }

    /// Undoes the row filters and converts the samples to 8-bit grey or RGB.
    private static func image(
        _ raw: [UInt8], _ h: (width: Int, height: Int, depth: Int, colour: Int), palette: [UInt8]
    ) throws(FormatError) -> DecodedImage {
        let samplesPerPixel = [0: 1, 2: 3, 3: 1, 4: 2, 6: 4][h.colour]!
        let rowBytes = (h.width * samplesPerPixel * h.depth + 7) / 8
        let pixelBytes = max(1, samplesPerPixel * h.depth / 8)
        guard raw.count >= h.height * (rowBytes + 1) else {
            throw FormatError(
                "image data holds \(raw.count) bytes, \(h.height * (rowBytes + 1)) needed")
        }
        var rows = [UInt8](repeating: 0, count: h.height * rowBytes)
        for y in 0..<h.height {
            let filter = raw[y * (rowBytes + 1)]
            let input = y * (rowBytes + 1) + 1
            let out = y * rowBytes
            for x in 0..<rowBytes {
                let left = x >= pixelBytes ? Int(rows[out + x - pixelBytes]) : 0
                let up = y > 0 ? Int(rows[out - rowBytes + x]) : 0
                let upLeft =
                    y > 0 && x >= pixelBytes ? Int(rows[out - rowBytes + x - pixelBytes]) : 0
                let predictor: Int
                switch filter {
                case 0: predictor = 0
                case 1: predictor = left
                case 2: predictor = up
                case 3: predictor = (left + up) / 2
                case 4: predictor = paeth(left, up, upLeft)
                default: throw FormatError("row \(y) has unknown filter type \(filter)")
                }
                rows[out + x] = raw[input + x] &+ UInt8(truncatingIfNeeded: predictor)
            }
        }
        let values = unpack(
            rows, width: h.width, height: h.height, rowBytes: rowBytes, depth: h.depth,
            samplesPerPixel: samplesPerPixel)
        switch h.colour {
        case 0:
            let scale = 255 / ((1 << h.depth) - 1)
            return DecodedImage(
                width: h.width, height: h.height, channels: 1,
                samples: values.map { UInt8($0 * scale) })
        case 3:
            guard !palette.isEmpty, palette.count % 3 == 0 else {
                throw FormatError("palette image without a valid PLTE chunk")
            }
            var samples: [UInt8] = []
            samples.reserveCapacity(values.count * 3)
            for index in values {
                guard 3 * index + 2 < palette.count else {
                    throw FormatError("pixel uses palette entry \(index) of \(palette.count / 3)")
                }
                samples += palette[(3 * index)..<(3 * index + 3)]
            }
            return DecodedImage(width: h.width, height: h.height, channels: 3, samples: samples)
        default:
            // Drop alpha: grey + alpha → grey, RGBA → RGB.
            let kept = h.colour == 4 ? 1 : 3
            var samples: [UInt8] = []
            samples.reserveCapacity(h.width * h.height * kept)
            for p in 0..<(h.width * h.height) {
                for c in 0..<kept { samples.append(UInt8(values[p * samplesPerPixel + c])) }
            }
            return DecodedImage(width: h.width, height: h.height, channels: kept, samples: samples)
        }
    }

    /// The Paeth predictor: whichever of left, up, up-left is closest to left + up − up-left.
    private static func paeth(_ a: Int, _ b: Int, _ c: Int) -> Int {
        let p = a + b - c
        let (pa, pb, pc) = (abs(p - a), abs(p - b), abs(p - c))
        return pa <= pb && pa <= pc ? a : (pb <= pc ? b : c)
    }

    /// Samples of every row as integers; sub-byte depths are packed high bits first and each row
    /// starts on a byte boundary.
    private static func unpack(
        _ rows: [UInt8], width: Int, height: Int, rowBytes: Int, depth: Int, samplesPerPixel: Int
    ) -> [Int] {
        guard depth < 8 else { return rows.map(Int.init) }
        let perRow = width * samplesPerPixel
        let mask = (1 << depth) - 1
        var values: [Int] = []
        values.reserveCapacity(perRow * height)
        for y in 0..<height {
            for i in 0..<perRow {
                let bit = i * depth
                let byte = Int(rows[y * rowBytes + bit / 8])
                values.append((byte >> (8 - depth - bit % 8)) & mask)
            }
        }
        return values
    }
}
