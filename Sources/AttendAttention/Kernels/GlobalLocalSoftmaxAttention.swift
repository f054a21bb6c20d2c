// One softmax over two key groups (Transformer-LS, Zhu et al., 2021): every query row t attends to a
// prefix of a small set of global keys (landmarks) and to a contiguous window of ordinary keys,
// [global ‖ local], normalised together. The global prefix length and the window depend on t:
// - windows: `segments(w, e)` — query t in segment g = ⌊t/w⌋ sees keys [g·w − e, (g+1)·w + e)
//   (Transformer-LS bidirectional, e = max(⌊w/2⌋, 1)); `trailing(w)` — keys (t − w, t] (its causal form);
// - globals: all R, or `chunked(l, r)` — r landmarks per chunk of l positions, query t sees those of
//   chunks strictly before ⌊t/l⌋ (causal).
// Windows are clipped to [0, n), which is the reference's zero-padding plus mask, so n need not be a
// multiple of anything. Padded keys and invalid landmarks are masked; padded query rows give 0 (the
// reference zero-fills them after its softmax). Rows are processed in tiles: one GEMM for the tile's
// scores against the union of its rows' keys, per-row masks, softmax, one GEMM per key group for the
// output. The per-row log-sum-exp is kept; the backward pass recomputes each tile's probabilities
// (no n×(R + window) tensor is stored), so memory stays O(n) beyond the inputs.
//
// Shapes: b batch, h heads, n positions, R global keys, d head dimension, all addressed through
// `HeadLayout` ([b, n, h, d] and [b, R, h, d]).
import AttendCore

/// Which local keys a query row sees.
public enum LocalWindow: Sendable, Equatable {
    /// Segments of w queries, each seeing its segment widened by `extra` keys on both sides.
    case segments(size: Int, extra: Int)
    /// The w most recent keys, the query's own included.
    case trailing(size: Int)
}

/// Which global keys a query row sees.
public enum GlobalVisibility: Sendable, Equatable {
    /// Every global key.
    case all
    /// `rank` global keys per chunk of `size` positions, visible only to queries of later chunks.
    case chunked(size: Int, rank: Int)
}

/// One global+local attention problem.
public struct GlobalLocalProblem: @unchecked Sendable {
    /// Sizes: batch, heads, positions n, global keys g and head width d.
    public var batch: Int, heads: Int, length: Int, globals: Int, dimension: Int
    /// Multiplies every q·k.
    public var scale: Float
    /// Which neighbouring keys each query sees.
    public var window: LocalWindow
    /// Which global keys each query sees.
    public var visibility: GlobalVisibility
    /// [batch, length], 0 = padding (keys masked, query rows zeroed); nil = all real.
    public var keyMask: UnsafePointer<Float>?
    /// [batch, globals], 0 = a landmark nobody may see (e.g. made only of padding); nil = all valid.
    public var globalMask: UnsafePointer<Float>?
    /// Query, key and value, [batch, length, heads, dimension] through `layout`.
    public var query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>
    /// Layout of query, key, value and the output.
    public var layout: HeadLayout
    /// Global keys and values, [batch, globals, heads, dimension] through `globalLayout`.
    public var globalKey: UnsafePointer<Float>, globalValue: UnsafePointer<Float>
    /// Layout of the global keys and values.
    public var globalLayout: HeadLayout

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        batch: Int, heads: Int, length: Int, globals: Int, dimension: Int, scale: Float,
        window: LocalWindow, visibility: GlobalVisibility,
        keyMask: UnsafePointer<Float>?, globalMask: UnsafePointer<Float>?,
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        layout: HeadLayout,
        globalKey: UnsafePointer<Float>, globalValue: UnsafePointer<Float>, globalLayout: HeadLayout
    ) {
        (self.batch, self.heads, self.length, self.globals, self.dimension) = (
            batch, heads, length, globals, dimension
        )
        (self.scale, self.window, self.visibility) = (scale, window, visibility)
        (self.keyMask, self.globalMask) = (keyMask, globalMask)
        (self.query, self.key, self.value, self.layout) = (query, key, value, layout)
        (self.globalKey, self.globalValue, self.globalLayout) = (
            globalKey, globalValue, globalLayout
        )
    }

    /// Local keys [lower, upper) of query t (non-decreasing in t).
    @inlinable func localRange(_ t: Int) -> (lower: Int, upper: Int) {
        switch window {
        case .segments(let w, let e):
            let start = (t / w) * w
            return (Swift.max(0, start - e), Swift.min(length, start + w + e))
        case .trailing(let w):
            return (Swift.max(0, t - w + 1), t + 1)
        }
    }

    /// Number of global keys (a prefix) query t sees (non-decreasing in t).
    @inlinable func globalCount(_ t: Int) -> Int {
        switch visibility {
        case .all: return globals
        case .chunked(let l, let r): return Swift.min(globals, (t / l) * r)
        }
    }

    /// Query rows per tile.
    var tileRows: Int {
        switch window {
        case .segments(let w, _): return w * Swift.max(1, 32 / w)
        case .trailing: return 32
        }
    }

    @inlinable func isReal(batch b: Int, position t: Int) -> Bool {
        keyMask.map { $0[b * length + t] != 0 } ?? true
    }
}

/// Forward and backward of global+local softmax attention.
public enum GlobalLocalSoftmaxAttention {
    /// One tile's geometry: rows [start, start + rows), global prefix G, local keys [lower, upper).
    struct Tile {
        let start: Int, rows: Int, globalCount: Int, lower: Int, upper: Int
        var width: Int { globalCount + upper - lower }
    }

    static func tile(_ p: GlobalLocalProblem, _ index: Int) -> Tile {
        let start = index * p.tileRows
        let rows = Swift.min(p.tileRows, p.length - start)
        return Tile(
            start: start, rows: rows, globalCount: p.globalCount(start + rows - 1),
            lower: p.localRange(start).lower, upper: p.localRange(start + rows - 1).upper)
    }

    /// Writes o (in `p.layout`) and the per-row log-sum-exp [batch, heads, length] (−∞ for rows that
    /// see nothing or are padding; their output is 0).
    public static func forward(
        _ p: GlobalLocalProblem, output: UnsafeMutablePointer<Float>,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        let out = SendablePointer(output), lses = SendablePointer(logSumExp)
        let tiles = (p.length + p.tileRows - 1) / p.tileRows
        let d = p.dimension
        Parallel.forEach(p.batch * p.heads * tiles) { item in
            let (bh, index) = item.quotientAndRemainder(dividingBy: tiles)
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let t = tile(p, index)
            var scores = [Float](repeating: 0, count: t.rows * t.width)
            scores.withUnsafeMutableBufferPointer { s in
                let S = s.baseAddress!
                computeScores(p, batch: b, head: h, tile: t, into: S)
                let lse = lses.base + bh * p.length + t.start
                for r in 0..<t.rows {
                    lse[r] = SoftmaxKernel.normalizeRow(S + r * t.width, count: t.width)
                }
                let o = out.base + p.layout.offset(batch: b, head: h, position: t.start)
                let ld = p.layout.positionStride
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: t.rows, n: d, k: t.globalCount,
                    a: S, lda: t.width, b: p.globalValue + p.globalLayout.offset(batch: b, head: h),
                    ldb: p.globalLayout.positionStride, c: o, ldc: ld)
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: t.rows, n: d, k: t.upper - t.lower,
                    a: S + t.globalCount, lda: t.width,
                    b: p.value + p.layout.offset(batch: b, head: h, position: t.lower), ldb: ld,
                    beta: 1, c: o, ldc: ld)
            }
        }
    }

    /// Gradients by recomputation, per (batch, head), tiles in order (tiles share local keys):
    /// P = exp(S − lse); dV += Pᵀ·dO; dP = dO·Vᵀ; dS = P ⊙ (dP − rowsum(dO ⊙ O));
    /// dQ = scale·dS·K; dK += scale·dSᵀ·Q — each split into its global and local column ranges.
    public static func backward(
        _ p: GlobalLocalProblem, output: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>, globalKeyGradient: UnsafeMutablePointer<Float>,
        globalValueGradient: UnsafeMutablePointer<Float>
    ) {
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            lses = SendablePointer(logSumExp)
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient),
            dvs = SendablePointer(valueGradient)
        let dgks = SendablePointer(globalKeyGradient), dgvs = SendablePointer(globalValueGradient)
        let tiles = (p.length + p.tileRows - 1) / p.tileRows
        let d = p.dimension
        let (ld, gld) = (p.layout.positionStride, p.globalLayout.positionStride)
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let head = p.layout.offset(batch: b, head: h),
                globalHead = p.globalLayout.offset(batch: b, head: h)
            let q = p.query + head, k = p.key + head, v = p.value + head
            let gk = p.globalKey + globalHead, gv = p.globalValue + globalHead
            let o = os.base + head, dO = dos.base + head
            let dq = dqs.base + head, dk = dks.base + head, dv = dvs.base + head
            let dgk = dgks.base + globalHead, dgv = dgvs.base + globalHead
            let lse = lses.base + bh * p.length
            for index in 0..<tiles {
                let t = tile(p, index)
                let (w, G, L) = (t.width, t.globalCount, t.upper - t.lower)
                var probabilities = [Float](repeating: 0, count: t.rows * w)
                var gradient = [Float](repeating: 0, count: t.rows * w)
                probabilities.withUnsafeMutableBufferPointer { pb in
                    gradient.withUnsafeMutableBufferPointer { gb in
                        let P = pb.baseAddress!, dS = gb.baseAddress!
                        computeScores(p, batch: b, head: h, tile: t, into: P)
                        for r in 0..<t.rows {
                            OnlineSoftmaxRows.recompute(
                                P + r * w, count: w, logSumExp: lse[t.start + r])
                        }
                        let qt = q + t.start * ld, dOt = dO + t.start * ld, dqt = dq + t.start * ld
                        let kl = k + t.lower * ld, vl = v + t.lower * ld
                        // dV̄ += P_gᵀ·dO ; dV_local += P_lᵀ·dO
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: G, n: d, k: t.rows,
                            a: P, lda: w, b: dOt, ldb: ld, beta: 1, c: dgv, ldc: gld)
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: L, n: d, k: t.rows,
                            a: P + G, lda: w, b: dOt, ldb: ld, beta: 1, c: dv + t.lower * ld,
                            ldc: ld)
                        // dP = dO·[V̄ ‖ V_local]ᵀ
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: t.rows, n: G, k: d,
                            a: dOt, lda: ld, b: gv, ldb: gld, c: dS, ldc: w)
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: t.rows, n: L, k: d,
                            a: dOt, lda: ld, b: vl, ldb: ld, c: dS + G, ldc: w)
                        for r in 0..<t.rows {
                            let gr = dS + r * w
                            SoftmaxKernel.backwardRow(
                                output: P + r * w, outputGradient: gr,
                                dot: Dot.product(dOt + r * ld, o + (t.start + r) * ld, count: d),
                                into: gr, count: w)
                        }
                        // dQ = scale·(dS_g·K̄ + dS_l·K_local); dK̄ += scale·dS_gᵀ·Q; dK_local += scale·dS_lᵀ·Q
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: t.rows, n: d, k: G,
                            alpha: p.scale,
                            a: dS, lda: w, b: gk, ldb: gld, c: dqt, ldc: ld)
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: t.rows, n: d, k: L,
                            alpha: p.scale,
                            a: dS + G, lda: w, b: kl, ldb: ld, beta: 1, c: dqt, ldc: ld)
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: G, n: d, k: t.rows,
                            alpha: p.scale,
                            a: dS, lda: w, b: qt, ldb: ld, beta: 1, c: dgk, ldc: gld)
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: L, n: d, k: t.rows,
                            alpha: p.scale,
                            a: dS + G, lda: w, b: qt, ldb: ld, beta: 1, c: dk + t.lower * ld,
                            ldc: ld)
                    }
                }
            }
        }
    }

    /// Masked, scaled scores of one tile: [rows, G + L] with the global block first; −∞ where a row
    /// may not look (beyond its global prefix, invalid landmark, outside its window, padded key), and
    /// whole rows −∞ for padded queries.
    static func computeScores(
        _ p: GlobalLocalProblem, batch b: Int, head h: Int, tile t: Tile,
        into S: UnsafeMutablePointer<Float>
    ) {
        let (w, G) = (t.width, t.globalCount)
        let ld = p.layout.positionStride
        let q = p.query + p.layout.offset(batch: b, head: h, position: t.start)
        BLAS.gemm(
            transposeA: false, transposeB: true, m: t.rows, n: G, k: p.dimension, alpha: p.scale,
            a: q, lda: ld, b: p.globalKey + p.globalLayout.offset(batch: b, head: h),
            ldb: p.globalLayout.positionStride,
            c: S, ldc: w)
        BLAS.gemm(
            transposeA: false, transposeB: true, m: t.rows, n: t.upper - t.lower, k: p.dimension,
            alpha: p.scale,
            a: q, lda: ld, b: p.key + p.layout.offset(batch: b, head: h, position: t.lower),
            ldb: ld,
            c: S + G, ldc: w)
        let globalMask = p.globalMask.map { $0 + b * p.globals }
        let keyMask = p.keyMask.map { $0 + b * p.length }
        for r in 0..<t.rows {
            let row = S + r * w
            let position = t.start + r
            guard p.isReal(batch: b, position: position) else {
                row.update(repeating: -.infinity, count: w)
                continue
            }
            let visible = p.globalCount(position)
            if visible < G { (row + visible).update(repeating: -.infinity, count: G - visible) }
            if let globalMask {
                for j in 0..<visible where globalMask[j] == 0 { row[j] = -.infinity }
            }
            let (lower, upper) = p.localRange(position)
            let local = row + G
            if lower > t.lower { local.update(repeating: -.infinity, count: lower - t.lower) }
            if upper < t.upper {
                (local + (upper - t.lower)).update(repeating: -.infinity, count: t.upper - upper)
            }
            if let keyMask {
                for j in lower..<upper where keyMask[j] == 0 { local[j - t.lower] = -.infinity }
            }
        }
    }
}
