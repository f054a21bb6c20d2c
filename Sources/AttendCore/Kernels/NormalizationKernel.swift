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
        Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) {
            range in
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
    /// One parallel pass over x and dy; every output is overwritten (nil to skip).
    public static func layerNormBackward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>,
        mean: UnsafePointer<Float>, reciprocalStandardDeviation rstd: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?, dGamma: UnsafeMutablePointer<Float>?,
        dBeta: UnsafeMutablePointer<Float>?, rows: Int, cols: Int
    ) {
        let xs = SendablePointer(x), dys = SendablePointer(dy), dxs = dx.map { SendablePointer($0) }
        let means = SendablePointer(mean), rstds = SendablePointer(rstd)
        let g = RowScale(gamma)
        let (wantsGamma, wantsBeta) = (dGamma != nil, dBeta != nil)
        RowParts.run(rows: rows, cols: cols, columnSums: [dGamma, dBeta]) { range, sums in
            let (gammaSums, betaSums) = (sums, sums + cols)
            for r in range {
                let row = xs.base + r * cols, grad = dys.base + r * cols
                let mu = Float8(repeating: means[r]), inverse = Float8(repeating: rstds[r])
                // dx needs the row's two means first; then one pass writes dx and adds dγ, dβ.
                var (meanG, meanGX) = (Float8(), Float8())
                if dxs != nil {
                    var sumG = Float8(), sumGX = Float8()
                    forEachBlock(cols) { i, lanes in
                        let gHat = loadLanes(grad, i, lanes) * g.load(i, lanes)
                        sumG += gHat
                        sumGX += gHat * (loadLanes(row, i, lanes) - mu) * inverse
                    }
                    meanG = Float8(repeating: sumG.sum() / Float(cols))
                    meanGX = Float8(repeating: sumGX.sum() / Float(cols))
                }
                forEachBlock(cols) { i, lanes in
                    let dyBlock = loadLanes(grad, i, lanes)
                    let xHat = (loadLanes(row, i, lanes) - mu) * inverse
                    if let dxs {
                        let gHat = dyBlock * g.load(i, lanes)
                        storeLanes(
                            inverse * (gHat - meanG - xHat * meanGX), dxs.base + r * cols, i, lanes)
                    }
                    if wantsGamma {
                        storeLanes(
                            loadLanes(gammaSums, i, lanes) + dyBlock * xHat, gammaSums, i, lanes)
                    }
                    if wantsBeta {
                        storeLanes(loadLanes(betaSums, i, lanes) + dyBlock, betaSums, i, lanes)
                    }
                }
            }
        }
    }

    /// y = x·rstd·γ with rstd = 1/√(mean(x²) + ε) per row (T5/LLaMA RMSNorm); writes rstd.
    public static func rmsNormForward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
        into y: UnsafeMutablePointer<Float>,
        reciprocalRootMeanSquare rstd: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        epsilon: Float
    ) {
        let xs = SendablePointer(x), ys = SendablePointer(y), rstds = SendablePointer(rstd)
        let g = gamma.map { SendablePointer($0) }
        Parallel.forEachChunk(rows, grain: Swift.max(1, Elementwise.grain / Swift.max(cols, 1))) {
            range in
            for r in range {
                let row = UnsafePointer(xs.base + r * cols)
                let inverse =
                    1 / (Dot.product(row, row, count: cols) / Float(cols) + epsilon).squareRoot()
                rstds[r] = inverse
                let out = ys.base + r * cols
                for i in 0..<cols { out[i] = row[i] * inverse * (g?[i] ?? 1) }
            }
        }
    }

    /// dx = rstd·ĝ − x·rstd³·mean(ĝ·x) with ĝ = dy·γ; dγ = Σ_rows dy·x·rstd. One parallel pass;
    /// every output is overwritten (nil to skip).
    public static func rmsNormBackward(
        _ x: UnsafePointer<Float>, gamma: UnsafePointer<Float>?,
        outputGradient dy: UnsafePointer<Float>,
        reciprocalRootMeanSquare rstd: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?,
        dGamma: UnsafeMutablePointer<Float>?, rows: Int, cols: Int
    ) {
        let xs = SendablePointer(x), dys = SendablePointer(dy), dxs = dx.map { SendablePointer($0) }
        let rstds = SendablePointer(rstd)
        let g = RowScale(gamma)
        let wantsGamma = dGamma != nil
        RowParts.run(rows: rows, cols: cols, columnSums: [dGamma]) { range, gammaSums in
            for r in range {
                let row = xs.base + r * cols, grad = dys.base + r * cols
                let inverse = Float8(repeating: rstds[r])
                // dx needs the row's dot product first; then one pass writes dx and adds dγ.
                var correction = Float8()
                if dxs != nil {
                    var dot = Float8()
                    forEachBlock(cols) { i, lanes in
                        dot +=
                            loadLanes(grad, i, lanes) * g.load(i, lanes) * loadLanes(row, i, lanes)
                    }
                    correction = inverse * inverse * inverse * (dot.sum() / Float(cols))
                }
                forEachBlock(cols) { i, lanes in
                    let (dyBlock, xBlock) = (loadLanes(grad, i, lanes), loadLanes(row, i, lanes))
                    if let dxs {
                        let gHat = dyBlock * g.load(i, lanes)
                        storeLanes(
                            inverse * gHat - xBlock * correction, dxs.base + r * cols, i, lanes)
                    }
                    if wantsGamma {
                        storeLanes(
                            loadLanes(gammaSums, i, lanes) + dyBlock * xBlock * inverse, gammaSums,
                            i, lanes)
                    }
                }
            }
        }
    }
}

/// γ of a normalisation, or ones when it has none, eight lanes at a time.
private struct RowScale: @unchecked Sendable {
    let values: UnsafePointer<Float>?

    init(_ values: UnsafePointer<Float>?) { self.values = values }

    @inline(__always)
    func load(_ i: Int, _ lanes: Int) -> Float8 {
        guard let values else { return Float8(repeating: 1) }
        return loadLanes(values, i, lanes)
    }
}

/// Calls `body(i, lanes)` for the blocks of eight values of a row of `count`, the last one short.
@inline(__always)
private func forEachBlock(_ count: Int, _ body: (_ start: Int, _ lanes: Int) -> Void) {
    var i = 0
    while i + 8 <= count {
        body(i, 8)
        i += 8
    }
    if i < count { body(i, count - i) }
}

/// Eight values from `i` (the lanes past `lanes` read as 0).
@inline(__always)
private func loadLanes(_ p: UnsafePointer<Float>, _ i: Int, _ lanes: Int) -> Float8 {
    lanes == 8 ? load8(p, i) : loadPartial(p, i, lanes)
}

@inline(__always)
private func storeLanes(_ v: Float8, _ p: UnsafeMutablePointer<Float>, _ i: Int, _ lanes: Int) {
    if lanes == 8 { store8(v, p, i) } else { storePartial(v, p, i, lanes) }
}

/// Row-parallel passes that also sum per-column terms over all rows (dγ, dβ).
///
/// The rows are cut into parts that depend only on the sizes; each part adds its rows' terms into its
/// own zeroed buffers, and the parts are summed in order at the end. So the sums are the same
/// whatever the thread count, and no serial pass over the rows remains.
private enum RowParts {
    /// Most parts: enough to keep every core of a typical machine busy.
    static let maximumParts = 16

    /// Runs `body(rows, sums)` over every part, where `sums` holds `columnSums.count` zeroed rows of
    /// `cols` values in `columnSums` order; then writes each non-nil output as the total of its rows.
    static func run(
        rows: Int, cols: Int, columnSums outputs: [UnsafeMutablePointer<Float>?],
        _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let rowsPerPart = Swift.max(1, Elementwise.grain / Swift.max(cols, 1))
        let parts = Swift.max(1, Swift.min(maximumParts, rows / rowsPerPart))
        let size = (rows + parts - 1) / parts
        let width = outputs.count * cols
        var partials = [Float](repeating: 0, count: Swift.max(parts * width, 1))
        partials.withUnsafeMutableBufferPointer { buffer in
            let base = SendablePointer(buffer.baseAddress!)
            Parallel.forEach(parts) { part in
                let start = part * size
                let end = Swift.min(rows, start + size)
                if start < end { body(start..<end, base.base + part * width) }
            }
            for (k, output) in outputs.enumerated() {
                guard let output else { continue }
                output.update(repeating: 0, count: cols)
                for part in 0..<parts {
                    let partial = base.base + part * width + k * cols
                    forEachBlock(cols) { i, lanes in
                        storeLanes(
                            loadLanes(output, i, lanes) + loadLanes(partial, i, lanes), output, i,
                            lanes)
                    }
                }
            }
        }
    }
}
