// Materialising axis permutations. The output is written in order; each output row (last output
// axis) is a contiguous copy when that axis is also the input's last axis, a strided gather otherwise.
import Foundation

/// Copies for `permuted(_:)`.
public enum Permute {
    /// Writes `x` (shape `shape`) permuted by `order` into `y`.
    public static func run(
        _ x: UnsafePointer<Float>, shape: [Int], order: [Int], into y: UnsafeMutablePointer<Float>
    ) {
        let inputStrides = Shape.strides(shape)
        let outShape = order.map { shape[$0] }
        let strides = order.map { inputStrides[$0] }
        let rank = outShape.count
        guard rank > 0 else {
            y[0] = x[0]
            return
        }
        let rowLength = outShape[rank - 1]
        let innerStride = strides[rank - 1]
        let rows = Shape.count(outShape) / max(rowLength, 1)
        if rowLength == 0 || rows == 0 { return }
        let xs = SendablePointer(x)
        let ys = SendablePointer(y)
        Parallel.forEachChunk(rows, grain: max(1, Elementwise.grain / rowLength)) { range in
            // Multi-index of the first row of this chunk, then counted up row by row.
            var index = [Int](repeating: 0, count: rank)
            var rest = range.lowerBound
            for axis in stride(from: rank - 2, through: 0, by: -1) {
                index[axis] = rest % outShape[axis]
                rest /= outShape[axis]
            }
            for row in range {
                var offset = 0
                for axis in 0..<(rank - 1) { offset += index[axis] * strides[axis] }
                let target = ys.base + row * rowLength
                if innerStride == 1 {
                    target.update(from: xs.base + offset, count: rowLength)
                } else {
                    for i in 0..<rowLength { target[i] = xs.base[offset + i * innerStride] }
                }
                var axis = rank - 2
                while axis >= 0 {
                    index[axis] += 1
                    if index[axis] < outShape[axis] { break }
                    index[axis] = 0
                    axis -= 1
                }
            }
        }
    }
}
