// Broadcast binary loops: both operands are described by strides over the output shape (0 along
// broadcast axes), adjacent axes that stay contiguous for both are merged, and the innermost axis
// runs through `Elementwise.zipRow`.

/// A broadcast plan for z = f(x, y) over an output shape.
public struct BroadcastPlan: Sendable {
    /// Merged output extents (outer axes first, the inner row last).
    public let extents: [Int]
    /// Strides of x and y over `extents`, in elements; 0 along broadcast axes.
    public let xStrides: [Int], yStrides: [Int]

    /// Plans a broadcast of `xShape` and `yShape` to `outShape` (which must be their broadcast).
    public init(x xShape: [Int], y yShape: [Int], out outShape: [Int]) {
        func broadcastStrides(_ shape: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: outShape.count - shape.count) + shape
            let strides = Shape.strides(padded)
            return padded.indices.map { padded[$0] == 1 ? 0 : strides[$0] }
        }
        var xs = broadcastStrides(xShape)
        var ys = broadcastStrides(yShape)
        var extents = outShape
        // Drop unit axes, then merge neighbours that are contiguous for both operands.
        var merged: [(Int, Int, Int)] = []
        for axis in extents.indices where extents[axis] != 1 {
            let current = (extents[axis], xs[axis], ys[axis])
            if let last = merged.last,
                last.1 == current.1 * current.0, last.2 == current.2 * current.0
            {
                merged[merged.count - 1] = (last.0 * current.0, current.1, current.2)
            } else {
                merged.append(current)
            }
        }
        if merged.isEmpty { merged = [(1, 0, 0)] }
        extents = merged.map(\.0)
        xs = merged.map(\.1)
        ys = merged.map(\.2)
        self.extents = extents
        self.xStrides = xs
        self.yStrides = ys
    }

    /// Runs f over every element, parallel over outer rows when the work is large.
    @inlinable @inline(__always)
    public func run(
        _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
        _ f: (Float8, Float8) -> Float8
    ) {
        let rowLength = extents[extents.count - 1]
        let innerX = xStrides[extents.count - 1]
        let innerY = yStrides[extents.count - 1]
        let rows = extents.dropLast().reduce(1, *)
        if innerX <= 1 && innerY <= 1 {
            let rowsPerChunk = max(1, Elementwise.grain / max(rowLength, 1))
            Parallel.forEachChunk(rows, grain: rowsPerChunk) { range in
                for row in range {
                    let (xo, yo) = offsets(ofRow: row)
                    Elementwise.zipRow(
                        x + xo, xStride: innerX, y + yo, yStride: innerY, z + row * rowLength,
                        count: rowLength, f)
                }
            }
        } else {
            // A strided inner axis (rare: broadcasting a transposed layout); plain scalar loop.
            for row in 0..<rows {
                let (xo, yo) = offsets(ofRow: row)
                for i in 0..<rowLength {
                    z[row * rowLength + i] =
                        f(
                            Float8(repeating: x[xo + i * innerX]),
                            Float8(repeating: y[yo + i * innerY]))[0]
                }
            }
        }
    }

    /// Offsets of x and y at the start of outer row `row`.
    @inlinable
    func offsets(ofRow row: Int) -> (Int, Int) {
        var rest = row
        var xo = 0
        var yo = 0
        var axis = extents.count - 2
        while axis >= 0 {
            let i = rest % extents[axis]
            rest /= extents[axis]
            xo += i * xStrides[axis]
            yo += i * yStrides[axis]
            axis -= 1
        }
        return (xo, yo)
    }
}
