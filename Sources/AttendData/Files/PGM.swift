// Binary PGM ("P5", Netpbm): the simplest grey image file most viewers open, so a generated
// Pathfinder or Fashion-MNIST image can be looked at without an image library.
import Foundation

/// Reading and writing 8-bit binary PGM images.
public enum PGM {
    /// The file bytes of a `width × height` image (row-major grey levels), each pixel drawn as a
    /// `scale × scale` block so small images are visible.
    public static func encode(_ pixels: [UInt8], width: Int, height: Int, scale: Int = 1) -> [UInt8]
    {
        precondition(pixels.count == width * height, "PGM needs width × height pixels")
        precondition(scale >= 1, "PGM scale must be at least 1")
        var bytes = Array("P5\n\(width * scale) \(height * scale)\n255\n".utf8)
        bytes.reserveCapacity(bytes.count + pixels.count * scale * scale)
        for y in 0..<height {
            let row = pixels[(y * width)..<((y + 1) * width)].flatMap {
                repeatElement($0, count: scale)
            }
            for _ in 0..<scale { bytes += row }
        }
        return bytes
    }

    /// Largest width, height or maximum value read from a header: a 2^24-pixel side is far beyond
    /// any image here, and keeps width × height well inside `Int`.
    static let maximumField = 1 << 24

    /// Width, height and pixels of a binary PGM file with maximum value 255.
    public static func decode(_ bytes: [UInt8]) throws(DataError) -> (
        width: Int, height: Int, pixels: [UInt8]
    ) {
        // Header: magic, width, height, maxval as whitespace-separated fields (comments allowed),
        // then one whitespace byte and the raster.
        var fields: [Int] = []
        var offset = 2
        func fail(_ reason: String) -> DataError {
            .malformedFile(path: "<pgm>", reason: reason, hint: "expected a binary (P5) PGM file")
        }
        guard bytes.count > 2, bytes[0] == UInt8(ascii: "P"), bytes[1] == UInt8(ascii: "5") else {
            throw fail("missing the P5 magic number")
        }
        while fields.count < 3 {
            guard offset < bytes.count else { throw fail("header ends early") }
            let byte = bytes[offset]
            if byte == UInt8(ascii: "#") {
                while offset < bytes.count && bytes[offset] != 10 { offset += 1 }
            } else if byte >= 48 && byte <= 57 {
                var value = 0
                while offset < bytes.count, bytes[offset] >= 48, bytes[offset] <= 57 {
                    // Any field above `maximumField` is refused before it can overflow an Int.
                    value = value * 10 + Int(bytes[offset] - 48)
                    guard value <= maximumField else {
                        throw fail("header field at byte \(offset) is larger than \(maximumField)")
                    }
                    offset += 1
                }
                fields.append(value)
                continue
            }
            offset += 1
        }
        offset += 1
        let (width, height, maxValue) = (fields[0], fields[1], fields[2])
        guard maxValue == 255 else { throw fail("maximum value \(maxValue), only 255 is read") }
        // Each side is at most `maximumField`, so the product cannot overflow.
        guard bytes.count - offset >= width * height else {
            throw fail("raster holds \(bytes.count - offset) bytes, \(width)×\(height) needed")
        }
        return (width, height, Array(bytes[offset..<(offset + width * height)]))
    }

    /// Writes an image to `path` (see `encode`).
    public static func write(
        _ pixels: [UInt8], width: Int, height: Int, scale: Int = 1, to path: String
    ) throws {
        let data = Data(encode(pixels, width: width, height: height, scale: scale))
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

extension PathfinderSample {
    /// Writes the image to a PGM file, each pixel as a `scale × scale` block.
    public func writePGM(to path: String, scale: Int = 8) throws {
        try PGM.write(pixels, width: size, height: size, scale: scale, to: path)
    }
}
