// Small helpers shared by the AttendCore suites: literal tensors, seeded inputs kept away from the
// points where an op is not differentiable, naive reference loops and bitwise comparison.
import AttendCore
import Foundation

/// A tensor from a shape and row-major literal values.
func tensor(_ shape: [Int], _ values: [Float]) -> Tensor {
    Tensor(shape: shape, scalars: values)
}

/// Seeded uniform values in `range`.
func uniform(_ shape: [Int], seed: UInt64, in range: ClosedRange<Float> = -1...1) -> Tensor {
    Tensor.randomUniform(shape, seed: seed, low: range.lowerBound, high: range.upperBound)
}

/// Seeded values with magnitude in `[margin, margin + 1)` and random sign: safe inputs for relu, abs,
/// division and anything else with a kink or a pole at 0 (a finite-difference step is ~1e-3).
func awayFromZero(_ shape: [Int], seed: UInt64, margin: Float = 0.25) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    return Tensor.filled(shape: shape) { out in
        for i in out.indices {
            let magnitude = margin + generator.nextUniform()
            out[i] = generator.nextBernoulli(0.5) ? magnitude : -magnitude
        }
    }
}

/// Seeded values that are pairwise at least `spacing` apart (a shuffled ladder plus small jitter), so
/// max/min/top-k have no ties that a finite-difference step could flip.
func distinct(_ shape: [Int], seed: UInt64, spacing: Float = 0.1) -> Tensor {
    var generator = RandomGenerator(seed: seed)
    let count = Shape.count(shape)
    let order = generator.permutation(count)
    return Tensor.filled(shape: shape) { out in
        for i in out.indices {
            let jitter = 0.2 * spacing * generator.nextUniform()
            out[i] = (Float(order[i]) - Float(count) / 2) * spacing + jitter
        }
    }
}

/// Bit patterns of the elements: equality of these is bit-for-bit equality (NaNs and signed zeros
/// included), which `[Float] ==` is not.
func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

/// The naive triple loop for `op(a)·op(b)` on matrices stored row-major, accumulated in Double.
func naiveMatmul(
    _ a: [Float], _ b: [Float], m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool
) -> [Float] {
    var c = [Float](repeating: 0, count: m * n)
    for i in 0..<m {
        for j in 0..<n {
            var total = 0.0
            for l in 0..<k {
                let x = transposeA ? a[l * m + i] : a[i * k + l]
                let y = transposeB ? b[j * k + l] : b[l * n + j]
                total += Double(x) * Double(y)
            }
            c[i * n + j] = Float(total)
        }
    }
    return c
}

/// Maximum relative error of `approximation` against `reference` over `points`, ignoring points where
/// the reference is below `floor` in magnitude (there the absolute error is what matters).
func maxRelativeError(
    over points: [Float], floor: Double = 0, approximation: ([Float]) -> [Float],
    reference: (Double) -> Double
) -> (error: Double, at: Float) {
    let values = approximation(points)
    var worst = (error: 0.0, at: Float.nan)
    for (x, y) in zip(points, values) {
        let expected = reference(Double(x))
        guard Swift.abs(expected) > floor else { continue }
        let error = Swift.abs(Double(y) - expected) / Swift.abs(expected)
        if !(error <= worst.error) { worst = (error, x) }
    }
    return worst
}

/// `count` evenly spaced float32 points covering `range`.
func sweep(_ range: ClosedRange<Double>, count: Int) -> [Float] {
    (0..<count).map { i in
        Float(
            range.lowerBound + (range.upperBound - range.lowerBound) * Double(i) / Double(count - 1)
        )
    }
}

/// Every multi-index of `shape` in row-major order.
func multiIndices(_ shape: [Int]) -> [[Int]] {
    var result: [[Int]] = [[]]
    for extent in shape {
        result = result.flatMap { prefix in (0..<extent).map { prefix + [$0] } }
    }
    return result
}

/// Row-major offset of `index` in `shape`, reading broadcast (extent-1) axes at 0 and aligning
/// `shape` to the right of `index`, as NumPy broadcasting does.
func broadcastOffset(_ index: [Int], in shape: [Int]) -> Int {
    let aligned = Array(index.suffix(shape.count))
    var offset = 0
    for (axis, extent) in shape.enumerated() {
        offset = offset * extent + (extent == 1 ? 0 : aligned[axis])
    }
    return offset
}
