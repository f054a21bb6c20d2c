// Fused LayerNorm and RMSNorm over the last axis, forward and backward, one pass per row each way.
// The variance is computed in two passes (Σ(x − μ)², not E[x²] − μ², which cancels for large means);
// the per-row mean and reciprocal standard deviation are saved for the backward pass.

/// Row normalisation kernels over `rows × cols` buffers.
public enum NormalizationKernel {
    /// y = (x − μ)·rstd·γ + β with μ, rstd per row; writes μ and rstd for the backward pass.
    /// `gamma`/`beta` may be nil (treated as 1 and 0).
    public static func layerNormForward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, beta: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
        reciprocalStandardDeviation rstd: UnsafeMutablePointer<Float>,
        rows: Int, cols: Int, epsilon: Float
    ) {
        let xs = SendablePointer(x), ys = SendablePointer(y)
        let means = SendablePointer(mean), rstds = SendablePointer(rstd)
        let g = gamma.map { SendablePointer($0) }, b = beta.map { SendablePointer($0) }
        Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) { range in
            for r in range {
                let row = UnsafePointer(xs.base + r * cols)
                let mu = Reduce.sum(row, count: cols) / Float(cols)
                // Two-pass variance: Σ(x − μ)² avoids the cancellation of E[x²] − μ².
                let muVector = Float8(repeating: mu)
                var acc = Float8()
                var i = 0
                while i + 8 <= cols {
                    let d = load8(row, i) - muVector
                    acc += d * d
                    i += 8
                }
                var sumSquares = acc.sum()
                while i < cols {
                    let d = row[i] - mu
                    sumSquares += d * d
                    i += 1
                }
                let inverse = 1 / (sumSquares / Float(cols) + epsilon).squareRoot()
                means[r] = mu
                rstds[r] = inverse
                let out = ys.base + r * cols
                let scale = Float8(repeating: inverse)
                i = 0
                while i + 8 <= cols {
                    var v = (load8(row, i) - muVector) * scale
                    if let g { v *= load8(g.base, i) }
                    if let b { v += load8(b.base, i) }
                    store8(v, out, i)
                    i += 8
                }
                while i < cols {
                    var v = (row[i] - mu) * inverse
                    if let g { v *= g[i] }
                    if let b { v += b[i] }
                    out[i] = v
                    i += 1
                }
            }
        }
    }

    /// Gradients of LayerNorm. With x̂ = (x − μ)·rstd and ĝ = dy·γ:
    /// dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), dγ = Σ_rows dy·x̂, dβ = Σ_rows dy.
    /// `dGamma`/`dBeta` are overwritten (nil to skip).
    public static func layerNormBackward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, outputGradient dy: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, reciprocalStandardDeviation rstd: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
        dBeta: UnsafeMutablePointer<Float>?, rows: Int, cols: Int
    ) {
        if let dx {
            let xs = SendablePointer(x), dys = SendablePointer(dy), dxs = SendablePointer(dx)
            let means = SendablePointer(mean), rstds = SendablePointer(rstd)
            let g = gamma.map { SendablePointer($0) }
            Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) { range in
                for r in range {
                    let row = xs.base + r * cols, grad = dys.base + r * cols, out = dxs.base + r * cols
                    let mu = means[r], inverse = rstds[r]
                    var sumG: Float = 0, sumGX: Float = 0
                    for i in 0..<cols {
                        let gHat = grad[i] * (g?[i] ?? 1)
                        sumG += gHat
                        sumGX += gHat * (row[i] - mu) * inverse
                    }
                    let meanG = sumG / Float(cols), meanGX = sumGX / Float(cols)
                    for i in 0..<cols {
                        let gHat = grad[i] * (g?[i] ?? 1)
                        let xHat = (row[i] - mu) * inverse
                        out[i] = inverse * (gHat - meanG - xHat * meanGX)
                    }
                }
            }
        }
        if dGamma != nil || dBeta != nil {
            // Column sums over rows: accumulate whole rows so loads stay contiguous.
            dGamma?.update(repeating: 0, count: cols)
            dBeta?.update(repeating: 0, count: cols)
            for r in 0..<rows {
                let row = x + r * cols, grad = dy + r * cols
                let mu = mean[r], inverse = rstd[r]
                if let dGamma {
                    for i in 0..<cols { dGamma[i] += grad[i] * (row[i] - mu) * inverse }
                }
                if let dBeta {
                    for i in 0..<cols { dBeta[i] += grad[i] }
                }
            }
        }
    }

    /// y = x·rstd·γ with rstd = 1/√(mean(x²) + ε) per row (T5/LLaMA RMSNorm); writes rstd.
    public static func rmsNormForward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>,
        reciprocalRootMeanSquare rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int, epsilon: Float
    ) {
        let xs = SendablePointer(x), ys = SendablePointer(y), rstds = SendablePointer(rstd)
        let g = gamma.map { SendablePointer($0) }
        Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) { range in
            for r in range {
                let row = UnsafePointer(xs.base + r * cols)
                let inverse = 1 / (Dot.product(row, row, count: cols) / Float(cols) + epsilon).squareRoot()
                rstds[r] = inverse
                let out = ys.base + r * cols
                for i in 0..<cols { out[i] = row[i] * inverse * (g?[i] ?? 1) }
            }
        }
    }

    /// dx = rstd·ĝ − x·rstd³·mean(ĝ·x) with ĝ = dy·γ; dγ = Σ_rows dy·x·rstd.
    public static func rmsNormBackward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?, outputGradient dy: UnsafePointer<Float>,
        reciprocalRootMeanSquare rstd: UnsafePointer<Float>, inputGradient dx: UnsafeMutablePointer<Float>?,
        dGamma: UnsafeMutablePointer<Float>?, rows: Int, cols: Int
    ) {
        if let dx {
            let xs = SendablePointer(x), dys = SendablePointer(dy), dxs = SendablePointer(dx)
            let rstds = SendablePointer(rstd)
            let g = gamma.map { SendablePointer($0) }
            Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) { range in
                for r in range {
                    let row = xs.base + r * cols, grad = dys.base + r * cols, out = dxs.base + r * cols
                    let inverse = rstds[r]
                    var dot: Float = 0
                    for i in 0..<cols { dot += grad[i] * (g?[i] ?? 1) * row[i] }
                    let correction = inverse * inverse * inverse * dot / Float(cols)
                    for i in 0..<cols { out[i] = inverse * grad[i] * (g?[i] ?? 1) - row[i] * correction }
                }
            }
        }
        if let dGamma {
            dGamma.update(repeating: 0, count: cols)
            for r in 0..<rows {
                let row = x + r * cols, grad = dy + r * cols, inverse = rstd[r]
                for i in 0..<cols { dGamma[i] += grad[i] * row[i] * inverse }
            }
        }
    }
}
