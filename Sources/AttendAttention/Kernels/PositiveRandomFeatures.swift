// FAVOR+ positive random features for the softmax kernel (Choromanski et al., 2020, "Rethinking
// Attention with Performers"), with the numerical stabiliser of the reference code
// (google-research performer/fast_attention; performer-pytorch `softmax_kernel`):
//     x′ = d^(−1/4)·x,  z = W·x′ (m values),  h = ‖x′‖²/2,
//     query features  φ(x) = m^(−1/2)·(exp(z − h − max_f z_f) + ε),
//     key features    φ(x) = m^(−1/2)·(exp(z − h − M) + ε),
// ε = 1e-4, M the maximum of z over every real position and feature of the (batch, head). The maxima
// are constants for differentiation (the reference detaches them); they cancel in attention's ratio
// except through ε. Keys are returned without their ε, as k̂ = m^(−1/2)·exp(z − h − M): the linear
// attention kernel adds the floor m^(−1/2)·ε itself (Kernels/PrefixSumLinearAttention.swift).
// Causal keys use the running maximum M_t over positions ≤ t instead, written out as the log-scale the
// kernel rescales by, because the global maximum would let later keys change earlier outputs through
// ε (performer-pytorch issue #82). Padded keys get zero features and do not enter the maxima.
// Also here: the orthogonal Gaussian projection W (m×d) the features use.
//
// Shapes: b batch, h heads, n positions, d head dimension, m features. Inputs and features are
// addressed through `HeadLayout` ([b, n, h, d] in, [b, n, h, m] out); the log-scale is [b, h, n].
import AttendCore
import Foundation

/// Which maximum stabilises the exponentials.
public enum FeatureStabilizer: Sendable, Equatable {
    /// Per row, over its m features (queries).
    case row
    /// Over every real position and feature of a (batch, head) (bidirectional keys).
    case global
    /// Over real positions ≤ t and every feature (causal keys); written to the log-scale output.
    case prefix
}

/// One feature-map problem: sizes, stabilisation, and operand addresses.
public struct FeatureMapProblem: @unchecked Sendable {
    /// Sizes: batch, heads, positions, input width d and features m.
    public var batch: Int, heads: Int, length: Int, dimension: Int, features: Int
    /// Which maximum is subtracted before the exponentials.
    public var stabilizer: FeatureStabilizer
    /// Added to every feature after the exponential, before the m^(−1/2) scale (ε for queries, 0 for keys).
    public var offset: Float
    /// [batch, length], 0 = padding (zero features, left out of maxima); nil = every position is real.
    public var mask: UnsafePointer<Float>?
    /// Queries or keys [batch, length, heads, dimension] through `inputLayout`.
    public var input: UnsafePointer<Float>, inputLayout: HeadLayout
    /// W, [features, dimension] row-major.
    public var projection: UnsafePointer<Float>

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        batch: Int, heads: Int, length: Int, dimension: Int, features: Int,
        stabilizer: FeatureStabilizer,
        offset: Float, mask: UnsafePointer<Float>?, input: UnsafePointer<Float>,
        inputLayout: HeadLayout,
        projection: UnsafePointer<Float>
    ) {
        (self.batch, self.heads, self.length, self.dimension, self.features) = (
            batch, heads, length, dimension, features
        )
        (self.stabilizer, self.offset, self.mask) = (stabilizer, offset, mask)
        (self.input, self.inputLayout, self.projection) = (input, inputLayout, projection)
    }

    @inlinable func isReal(batch b: Int, position i: Int) -> Bool {
        mask == nil || mask![b * length + i] != 0
    }
}

/// The positive softmax-kernel feature map, forward and backward, and its random projection.
public enum PositiveRandomFeatures {
    /// ε inside the feature map (reference value).
    public static let epsilon: Float = 1e-4
    /// The log-scale before the first real position (finite, so differences of two are 0).
    public static let initialLogScale: Float = -1e30

    /// Writes φ(x) in `outputLayout`, and for `.prefix` the running maxima to `logScale` [b, h, n].
    public static func forward(
        _ p: FeatureMapProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logScale: UnsafeMutablePointer<Float>? = nil
    ) {
        precondition(
            p.stabilizer != .prefix || logScale != nil, "prefix stabilisation writes a log-scale")
        let out = SendablePointer(output), scales = logScale.map { SendablePointer($0) }
        let (n, d, m) = (p.length, p.dimension, p.features)
        let normalizer = Foundation.pow(Float(d), -0.25)
        let ratio = 1 / Float(m).squareRoot()
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let x = p.input + p.inputLayout.offset(batch: b, head: h)
            let ldx = p.inputLayout.positionStride
            let z = out.base + outputLayout.offset(batch: b, head: h)
            let ldz = outputLayout.positionStride
            // z = W·x′ for every row at once.
            BLAS.gemm(
                transposeA: false, transposeB: true, m: n, n: m, k: d, alpha: normalizer,
                a: x, lda: ldx, b: p.projection, ldb: d, c: z, ldc: ldz)
            var running = p.stabilizer == .global ? -Float.infinity : initialLogScale
            if p.stabilizer == .global {
                for i in 0..<n where p.isReal(batch: b, position: i) {
                    running = Swift.max(running, Reduce.max(z + i * ldz, count: m))
                }
            }
            for i in 0..<n {
                let row = z + i * ldz
                guard p.isReal(batch: b, position: i) else {
                    row.update(repeating: 0, count: m)
                    if let scales { scales[bh * n + i] = running }
                    continue
                }
                let rowMax = Reduce.max(row, count: m)
                let shift: Float
                switch p.stabilizer {
                case .row: shift = rowMax
                case .global: shift = running
                case .prefix:
                    running = Swift.max(running, rowMax)
                    scales![bh * n + i] = running
                    shift = running
                }
                let halfSquare =
                    Dot.product(x + i * ldx, x + i * ldx, count: d) * normalizer * normalizer / 2
                exponentiate(
                    row, count: m, shift: halfSquare + shift, scale: ratio, offset: ratio * p.offset
                )
            }
        }
    }

    /// dx from dφ, using the saved features: ∂φ_f/∂z_f = φ_f − m^(−1/2)·offset, then
    /// dx = d^(−1/4)·Wᵀ·dz − d^(−1/2)·x·Σ_f dz_f (the second term from h = ‖x′‖²/2).
    public static func backward(
        _ p: FeatureMapProblem, features: UnsafePointer<Float>,
        featureGradient: UnsafePointer<Float>,
        featureLayout: HeadLayout, inputGradient: UnsafeMutablePointer<Float>
    ) {
        let fs = SendablePointer(features), dfs = SendablePointer(featureGradient)
        let dxs = SendablePointer(inputGradient)
        let (n, d, m) = (p.length, p.dimension, p.features)
        let normalizer = Foundation.pow(Float(d), -0.25)
        let offset = p.offset / Float(m).squareRoot()
        let rowBlock = 128
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let x = p.input + p.inputLayout.offset(batch: b, head: h)
            let dx = dxs.base + p.inputLayout.offset(batch: b, head: h)
            let ldx = p.inputLayout.positionStride
            let phi = fs.base + featureLayout.offset(batch: b, head: h)
            let dphi = dfs.base + featureLayout.offset(batch: b, head: h)
            let ldf = featureLayout.positionStride
            var dz = [Float](repeating: 0, count: rowBlock * m)
            var rowSums = [Float](repeating: 0, count: rowBlock)
            dz.withUnsafeMutableBufferPointer { dzb in
                let dZ = dzb.baseAddress!
                var start = 0
                while start < n {
                    let rows = Swift.min(rowBlock, n - start)
                    defer { start += rowBlock }
                    for r in 0..<rows {
                        let i = start + r
                        let target = dZ + r * m
                        guard p.isReal(batch: b, position: i) else {
                            target.update(repeating: 0, count: m)
                            rowSums[r] = 0
                            continue
                        }
                        let f = phi + i * ldf, g = dphi + i * ldf
                        var total: Float = 0
                        for c in 0..<m {
                            let value = g[c] * (f[c] - offset)
                            target[c] = value
                            total += value
                        }
                        rowSums[r] = total
                    }
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows, n: d, k: m,
                        alpha: normalizer,
                        a: dZ, lda: m, b: p.projection, ldb: d, c: dx + start * ldx, ldc: ldx)
                    let squareNormalizer = normalizer * normalizer
                    for r in 0..<rows {
                        let i = start + r
                        let coefficient = -squareNormalizer * rowSums[r]
                        BLAS.axpy(count: d, alpha: coefficient, x: x + i * ldx, y: dx + i * ldx)
                    }
                }
            }
        }
    }

    /// row[j] = scale·e^(row[j] − shift) + offset in place.
    @inline(__always)
    static func exponentiate(
        _ row: UnsafeMutablePointer<Float>, count: Int, shift: Float, scale: Float, offset: Float
    ) {
        let s = Float8(repeating: shift), a = Float8(repeating: scale),
            c = Float8(repeating: offset)
        var j = 0
        while j + 8 <= count {
            store8(VectorMath.exp(load8(row, j) - s) * a + c, row, j)
            j += 8
        }
        while j < count {
            row[j] = VectorMath.exp(row[j] - shift) * scale + offset
            j += 1
        }
    }

    /// The FAVOR+ projection (performer-pytorch `gaussian_orthogonal_random_matrix`, scaling 0):
    /// ⌈m/d⌉ blocks, each the d orthonormal rows of the Q factor of a d×d Gaussian matrix (Gram–Schmidt
    /// in Double, twice, so rows are orthogonal to ~1e-15 before rounding), the last block cut to
    /// m mod d rows; row i is then scaled by the norm of a fresh N(0, I_d) vector, so each row has the
    /// length distribution of a Gaussian vector. Returns [m, d] row-major.
    public static func orthogonalGaussianProjection(
        rows m: Int, columns d: Int, generator: inout RandomGenerator
    ) -> [Float] {
        var result = [Float](repeating: 0, count: m * d)
        var row = 0
        while row < m {
            let block = orthonormalRows(d, generator: &generator)
            let take = Swift.min(d, m - row)
            for r in 0..<take {
                for c in 0..<d { result[(row + r) * d + c] = Float(block[r * d + c]) }
            }
            row += take
        }
        for r in 0..<m {
            var square = 0.0
            for _ in 0..<d {
                let g = Double(generator.nextNormal())
                square += g * g
            }
            let norm = Float(square.squareRoot())
            for c in 0..<d { result[r * d + c] *= norm }
        }
        return result
    }

    /// d orthonormal rows (d×d, Double) from a Gaussian matrix by modified Gram–Schmidt with one
    /// re-orthogonalisation pass ("twice is enough", Giraud et al. 2005).
    static func orthonormalRows(_ d: Int, generator: inout RandomGenerator) -> [Double] {
        var rows = (0..<(d * d)).map { _ in Double(generator.nextNormal()) }
        rows.withUnsafeMutableBufferPointer { buffer in
            let a = buffer.baseAddress!
            for i in 0..<d {
                let row = a + i * d
                for _ in 0..<2 {
                    for j in 0..<i {
                        let other = a + j * d
                        var dot = 0.0
                        for c in 0..<d { dot += row[c] * other[c] }
                        for c in 0..<d { row[c] -= dot * other[c] }
                    }
                }
                var norm = 0.0
                for c in 0..<d { norm += row[c] * row[c] }
                let inverse = 1 / norm.squareRoot()
                for c in 0..<d { row[c] *= inverse }
            }
        }
        return rows
    }
}
