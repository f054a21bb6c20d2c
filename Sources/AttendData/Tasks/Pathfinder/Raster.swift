// Raster primitives for the Pathfinder generator, standing in for what snakes2.py takes from PIL,
// SciPy and OpenCV: a line drawn at the anti-aliasing scale (PIL `ImageDraw.line`: a one-pixel
// Bresenham line, or a filled rectangle for wider lines), Lanczos-3 resampling with PIL's support
// rule (`scipy.misc.imresize(..., interp='lanczos')`, output quantised to 8 bits as imresize's
// uint8 result is), binary dilation by a disc (`cv2.dilate` with a disc kernel), and discs for the
// markers. Images are row-major Float arrays; (y, x) = (row, column).
import Foundation

/// A pixel position: row `y`, column `x`.
public struct Pixel: Hashable, Sendable, CustomStringConvertible {
    /// Row.
    public var y: Int
    /// Column.
    public var x: Int

    /// The pixel at row `y`, column `x`.
    public init(y: Int, x: Int) {
        self.y = y
        self.x = x
    }

    /// `(y, x)`.
    public var description: String { "(\(y), \(x))" }
}

/// A displacement between pixels (rows `dy`, columns `dx`): an entry of a dilation kernel.
struct Offset: Hashable, Sendable {
    var dy: Int
    var dx: Int
}

/// A small row-major grey image.
struct GrayImage: Sendable {
    let height: Int
    let width: Int
    var pixels: [Float]

    init(height: Int, width: Int, value: Float = 0) {
        self.height = height
        self.width = width
        pixels = [Float](repeating: value, count: height * width)
    }

    subscript(y: Int, x: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    func contains(_ y: Int, _ x: Int) -> Bool { y >= 0 && y < height && x >= 0 && x < width }
}

enum Raster {
    /// snakes2's `translate_coord`: the point `distance` away along `angle` (y = sin, x = cos),
    /// rounded up component-wise.
    static func translate(_ point: Pixel, _ angle: Double, _ distance: Double) -> Pixel {
        Pixel(
            y: Int((Double(point.y) + distance * sin(angle)).rounded(.up)),
            x: Int((Double(point.x) + distance * cos(angle)).rounded(.up)))
    }

    /// snakes2's `flip_by_pi`: the opposite direction, kept in (−π, π].
    static func flip(_ angle: Double) -> Double { angle < 0 ? angle + .pi : angle - .pi }

    /// Sets to 1 the pixels of a line from `a` to `b` of `width` pixels: Bresenham's line for
    /// width ≤ 1; for wider lines every pixel whose centre lies within width/2 of the segment's
    /// axis and between its ends, plus the Bresenham pixels so no diagonal leaves gaps.
    static func drawLine(
        into image: inout GrayImage, from a: Pixel, to b: Pixel, width: Int
    ) {
        bresenham(from: a, to: b) { y, x in
            if image.contains(y, x) { image[y, x] = 1 }
        }
        guard width > 1 else { return }
        let dy = Double(b.y - a.y)
        let dx = Double(b.x - a.x)
        let length = (dy * dy + dx * dx).squareRoot()
        guard length > 0 else { return }
        let half = Double(width) / 2
        let reach = Int(half.rounded(.up)) + 1
        for y in (min(a.y, b.y) - reach)...(max(a.y, b.y) + reach) {
            for x in (min(a.x, b.x) - reach)...(max(a.x, b.x) + reach) where image.contains(y, x) {
                let py = Double(y - a.y)
                let px = Double(x - a.x)
                let along = (py * dy + px * dx) / length
                let across = abs(py * dx - px * dy) / length
                if along >= 0 && along <= length && across <= half { image[y, x] = 1 }
            }
        }
    }

    /// Visits the pixels of Bresenham's line from `a` to `b`, both ends included.
    static func bresenham(from a: Pixel, to b: Pixel, _ visit: (Int, Int) -> Void) {
        var x = a.x
        var y = a.y
        let dx = abs(b.x - a.x)
        let dy = -abs(b.y - a.y)
        let sx = a.x < b.x ? 1 : -1
        let sy = a.y < b.y ? 1 : -1
        var error = dx + dy
        while true {
            visit(y, x)
            if x == b.x && y == b.y { return }
            let e2 = 2 * error
            if e2 >= dy {
                error += dy
                x += sx
            }
            if e2 <= dx {
                error += dx
                y += sy
            }
        }
    }

    /// Offsets (dy, dx) of a disc of `radius`: dy² + dx² ≤ radius² (snakes2's dilation struct).
    static func disc(radius: Double) -> [Offset] {
        let r = Int(radius.rounded(.down))
        var offsets: [Offset] = []
        for dy in -r...r {
            for dx in -r...r where Double(dy * dy + dx * dx) <= radius * radius {
                offsets.append(Offset(dy: dy, dx: dx))
            }
        }
        return offsets
    }

    /// Binary dilation of a 0/1 image: every set pixel stamps `offsets` around itself (the
    /// result of `cv2.dilate` on a binary image; stamping costs set pixels × offsets, not the
    /// whole image × offsets).
    static func stamped(_ image: GrayImage, with offsets: [Offset]) -> GrayImage {
        var out = GrayImage(height: image.height, width: image.width)
        for y in 0..<image.height {
            for x in 0..<image.width where image[y, x] > 0 {
                for o in offsets where out.contains(y + o.dy, x + o.dx) {
                    out[y + o.dy, x + o.dx] = 1
                }
            }
        }
        return out
    }
}

/// Separable Lanczos-3 resampling from `inputSize` to `outputSize` per axis, with PIL's rule for
/// downscaling (the kernel widened by the scale factor), results clipped to [0, 1] and rounded to
/// multiples of 1/255 like an 8-bit image. The weights depend only on the two sizes, so one
/// resampler serves every paddle of a generator.
struct LanczosResampler: Sendable {
    let inputSize: Int
    let outputSize: Int
    /// For each output index: first input index and the normalised weights from there on.
    let taps: [(start: Int, weights: [Float])]

    init(from inputSize: Int, to outputSize: Int) {
        self.inputSize = inputSize
        self.outputSize = outputSize
        let scale = Double(inputSize) / Double(outputSize)
        let filterScale = max(scale, 1)
        let support = 3 * filterScale
        func lanczos(_ t: Double) -> Double {
            if t == 0 { return 1 }
            if abs(t) >= 3 { return 0 }
            let pt = Double.pi * t
            return 3 * sin(pt) * sin(pt / 3) / (pt * pt)
        }
        var taps: [(Int, [Float])] = []
        for i in 0..<outputSize {
            let center = (Double(i) + 0.5) * scale
            let low = max(Int((center - support + 0.5).rounded(.down)), 0)
            let high = min(Int((center + support + 0.5).rounded(.down)), inputSize)
            var weights = (low..<high).map { lanczos((Double($0) - center + 0.5) / filterScale) }
            let total = weights.reduce(0, +)
            if total != 0 { weights = weights.map { $0 / total } }
            taps.append((low, weights.map(Float.init)))
        }
        self.taps = taps
    }

    /// The output pixels whose value depends on input indices `inputs` (along one axis).
    func outputs(reading inputs: ClosedRange<Int>) -> [Int] {
        taps.indices.filter { i in
            let tap = taps[i]
            return tap.start <= inputs.upperBound
                && tap.start + tap.weights.count > inputs.lowerBound
        }
    }

    /// Resamples an image that is zero outside `rows × columns` (input coordinates), computing
    /// only the output pixels it reaches; `visit(y, x, value)` receives each of them.
    func resampleSparse(
        rows: ClosedRange<Int>, columns: ClosedRange<Int>, _ value: (Int, Int) -> Float,
        _ visit: (Int, Int, Float) -> Void
    ) {
        let outputRows = outputs(reading: rows)
        let outputColumns = outputs(reading: columns)
        // Horizontal pass over the non-zero input rows only.
        var horizontal = [Float](repeating: 0, count: rows.count * outputColumns.count)
        for (r, y) in rows.enumerated() {
            for (c, j) in outputColumns.enumerated() {
                let tap = taps[j]
                var sum: Float = 0
                for x in max(
                    tap.start, columns.lowerBound)...min(
                        tap.start + tap.weights.count - 1, columns.upperBound)
                {
                    sum += tap.weights[x - tap.start] * value(y, x)
                }
                horizontal[r * outputColumns.count + c] = sum
            }
        }
        for i in outputRows {
            let tap = taps[i]
            for (c, j) in outputColumns.enumerated() {
                var sum: Float = 0
                for y in max(
                    tap.start, rows.lowerBound)...min(
                        tap.start + tap.weights.count - 1, rows.upperBound)
                {
                    sum +=
                        tap.weights[y - tap.start]
                        * horizontal[(y - rows.lowerBound) * outputColumns.count + c]
                }
                visit(i, j, (min(max(sum, 0), 1) * 255).rounded() / 255)
            }
        }
    }

    /// `image` (inputSize × inputSize) resampled to outputSize × outputSize.
    func callAsFunction(_ image: GrayImage) -> GrayImage {
        precondition(
            image.height == inputSize && image.width == inputSize, "resampler size mismatch")
        var rows = GrayImage(height: inputSize, width: outputSize)
        for y in 0..<inputSize {
            for (j, tap) in taps.enumerated() {
                var sum: Float = 0
                for (k, w) in tap.weights.enumerated() { sum += w * image[y, tap.start + k] }
                rows[y, j] = sum
            }
        }
        var out = GrayImage(height: outputSize, width: outputSize)
        for (i, tap) in taps.enumerated() {
            for x in 0..<outputSize {
                var sum: Float = 0
                for (k, w) in tap.weights.enumerated() { sum += w * rows[tap.start + k, x] }
                out[i, x] = (min(max(sum, 0), 1) * 255).rounded() / 255
            }
        }
        return out
    }
}
