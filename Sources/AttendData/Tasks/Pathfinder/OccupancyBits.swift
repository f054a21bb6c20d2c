// A bit per pixel, row by row, for the one whole-image dilation the Pathfinder generator needs:
// where may a paddle's tail go so that the paddle (its mask used as the dilation kernel, as
// snakes2's `seed_snake` does with `cv2.dilate`) misses every occupied pixel? Shifting whole
// 64-pixel words per kernel offset keeps this cheap even at 128 × 128 (Path-X).

/// A binary image stored as 64-bit words per row.
struct OccupancyBits {
    let height: Int
    let width: Int
    let wordsPerRow: Int
    private(set) var words: [UInt64]

    /// Bits set where `image` exceeds `threshold`.
    init(_ image: GrayImage, above threshold: Float) {
        height = image.height
        width = image.width
        wordsPerRow = (width + 63) / 64
        words = [UInt64](repeating: 0, count: height * wordsPerRow)
        for y in 0..<height {
            for x in 0..<width where image[y, x] > threshold {
                words[y * wordsPerRow + x / 64] |= 1 << UInt64(x % 64)
            }
        }
    }

    private init(height: Int, width: Int) {
        self.height = height
        self.width = width
        wordsPerRow = (width + 63) / 64
        words = [UInt64](repeating: 0, count: height * wordsPerRow)
    }

    /// Sets every bit within `width` pixels of an edge.
    mutating func setBorder(_ border: Int) {
        for y in 0..<height {
            for x in 0..<width
            where y < border || y >= height - border || x < border || x >= width - border {
                words[y * wordsPerRow + x / 64] |= 1 << UInt64(x % 64)
            }
        }
    }

    func isSet(_ y: Int, _ x: Int) -> Bool {
        words[y * wordsPerRow + x / 64] >> UInt64(x % 64) & 1 == 1
    }

    /// Binary dilation: bit (y, x) of the result is set when any in-image (y + dy, x + dx) over
    /// `offsets` is set here.
    func dilated(by offsets: [Offset]) -> OccupancyBits {
        var out = OccupancyBits(height: height, width: width)
        for offset in offsets {
            let (dy, dx) = (offset.dy, offset.dx)
            for y in max(0, -dy)..<min(height, height - dy) {
                let source = (y + dy) * wordsPerRow
                let target = y * wordsPerRow
                for w in 0..<wordsPerRow {
                    out.words[target + w] |= shiftedWord(row: source, word: w, by: dx)
                }
            }
        }
        // Clear bits past the right edge that shifts may have filled.
        if width % 64 != 0 {
            let keep: UInt64 = (1 << UInt64(width % 64)) - 1
            for y in 0..<height { out.words[y * wordsPerRow + wordsPerRow - 1] &= keep }
        }
        return out
    }

    /// Word `word` of a row shifted so that result bit x holds source bit x + dx (0 outside).
    private func shiftedWord(row: Int, word: Int, by dx: Int) -> UInt64 {
        // Source bits x + dx for x in [64·word, 64·word + 64): a 64-bit window starting at bit b.
        let b = 64 * word + dx
        let index = b >= 0 ? b / 64 : (b - 63) / 64
        let shift = b - 64 * index
        func source(_ i: Int) -> UInt64 { i >= 0 && i < wordsPerRow ? words[row + i] : 0 }
        if shift == 0 { return source(index) }
        return source(index) >> UInt64(shift) | source(index + 1) << UInt64(64 - shift)
    }

    /// Indices y·width + x of the clear bits in row-major order (numpy's `nonzero(1 − mask)`).
    func clearIndices() -> [Int32] {
        var result: [Int32] = []
        for y in 0..<height {
            for w in 0..<wordsPerRow {
                var clear = ~words[y * wordsPerRow + w]
                while clear != 0 {
                    let x = 64 * w + clear.trailingZeroBitCount
                    if x >= width { break }
                    result.append(Int32(y * width + x))
                    clear &= clear - 1
                }
            }
        }
        return result
    }
}
