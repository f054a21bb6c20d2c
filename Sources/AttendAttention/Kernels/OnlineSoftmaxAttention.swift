// Memory-efficient exact attention (the FlashAttention algorithm of Dao et al., 2022, and Rabe &
// Staats, 2021, arranged for a CPU): queries and keys are processed in tiles; each query row keeps a
// running maximum m, a running denominator l and an unnormalised output, rescaled by e^(m_old − m_new)
// whenever a new tile raises the maximum (`OnlineSoftmaxRows`). Extra memory is O(tile²) per thread
// plus the n log-sum-exp values kept for the backward pass, which recomputes each tile's
// probabilities instead of storing the n×m matrix. Tiles are GEMMs through BLAS; exponentials run
// eight lanes at a time. The tile loops take hooks for extra score terms, so DeBERTa's disentangled
// kernel runs through them too.
//
// Layout: q, k, v, o are addressed by strides, so both [b, n, h, d] (straight out of the projections,
// no permute) and [b, h, n, d] work. Shapes: b batch, h heads, n queries, m keys, d head dimension,
// e value dimension.
import AttendCore

/// Strides, in elements, of a 4-D attention operand indexed [batch, position, head, feature].
public struct HeadLayout: Sendable {
    /// Between consecutive batch entries, positions and heads; features are contiguous.
    public var batchStride: Int, positionStride: Int, headStride: Int

    /// The [b, n, h, d] layout of projected hidden states.
    public static func positionMajor(length: Int, heads: Int, dimension: Int) -> HeadLayout {
        HeadLayout(
            batchStride: length * heads * dimension, positionStride: heads * dimension,
            headStride: dimension)
    }

    /// The [b, h, n, d] layout.
    public static func headMajor(length: Int, heads: Int, dimension: Int) -> HeadLayout {
        HeadLayout(
            batchStride: heads * length * dimension, positionStride: dimension,
            headStride: length * dimension)
    }

    @inlinable func offset(batch: Int, head: Int, position: Int = 0) -> Int {
        batch * batchStride + head * headStride + position * positionStride
    }
}

/// One attention problem: sizes, scale, masking and operand addresses.
public struct AttentionProblem: @unchecked Sendable {
    /// Sizes: batch, heads, query and key positions, q·k width d and value width e.
    public var batch: Int, heads: Int, queries: Int, keys: Int, dimension: Int, valueDimension: Int
    /// Multiplies q·k (usually 1/√d).
    public var scale: Float
    /// Query i sees key j only when j ≤ i + (keys − queries).
    public var causal: Bool
    /// [batch, keys], 0 = padding; nil = every key is real.
    public var keyMask: UnsafePointer<Float>?
    /// Queries [batch, queries, heads, dimension] through `queryLayout`.
    public var query: UnsafePointer<Float>, queryLayout: HeadLayout
    /// Keys [batch, keys, heads, dimension] through `keyLayout`.
    public var key: UnsafePointer<Float>, keyLayout: HeadLayout
    /// Values [batch, keys, heads, valueDimension] through `valueLayout`.
    public var value: UnsafePointer<Float>, valueLayout: HeadLayout

    /// A problem description; pointers must stay valid while kernels run.
    public init(
        batch: Int, heads: Int, queries: Int, keys: Int, dimension: Int, valueDimension: Int,
        scale: Float, causal: Bool, keyMask: UnsafePointer<Float>?,
        query: UnsafePointer<Float>, queryLayout: HeadLayout, key: UnsafePointer<Float>,
        keyLayout: HeadLayout,
        value: UnsafePointer<Float>, valueLayout: HeadLayout
    ) {
        (self.batch, self.heads, self.queries, self.keys) = (batch, heads, queries, keys)
        (self.dimension, self.valueDimension, self.scale, self.causal) = (
            dimension, valueDimension, scale, causal
        )
        (self.keyMask, self.query, self.queryLayout) = (keyMask, query, queryLayout)
        (self.key, self.keyLayout, self.value, self.valueLayout) = (
            key, keyLayout, value, valueLayout
        )
    }

    /// Last key index + 1 visible to query i under the causal rule.
    @inlinable func causalLimit(_ i: Int) -> Int {
        causal ? Swift.min(keys, i + keys - queries + 1) : keys
    }

    /// Runs `body(batch, head, rowStart)` for every tile of `tileRows` query rows (fewer at the
    /// end) of every (batch, head) pair, tiles in parallel: the work items of the tiled forward
    /// passes.
    @inline(__always)
    func forEachQueryTile(
        rows tileRows: Int, _ body: (_ batch: Int, _ head: Int, _ rowStart: Int) -> Void
    ) {
        let tiles = (queries + tileRows - 1) / tileRows
        Parallel.forEach(batch * heads * tiles) { item in
            let (bh, tile) = item.quotientAndRemainder(dividingBy: tiles)
            let (b, h) = bh.quotientAndRemainder(dividingBy: heads)
            body(b, h, tile * tileRows)
        }
    }
}

/// Tiled online-softmax attention, forward and backward.
public enum OnlineSoftmaxAttention {
    // Tile sizes: each tile is two BLAS calls that pack their operands, so larger tiles amortise the
    // packing and the per-call cost. At n = 4096 (8 heads, d = 64, 2 threads) 128 × 512 took 200–204
    // ms forward and 650 ms forward+backward where 64 × 256 took 211–226 and 716. The forward walks
    // every key tile once per query tile, so taller query tiles stream (and pack) the keys and values
    // fewer times: 256 rows against 128 took 44.5 / 46.8 ms at n = 2048, 175.7 / 180.2 at 4096,
    // 708 / 730 at 8192 and 2895 / 3048 at 16384 (512 rows: no better than 256 below 8192); the
    // 256 × 512 score tile (512 KiB) still fits in L2.
    /// Query rows per tile of the forward pass.
    public static let forwardQueryTile = 256
    /// Query rows per tile of the backward pass (two score-sized buffers per thread).
    public static let queryTile = 128
    /// Keys per tile.
    public static let keyTile = 512

    /// o = softmax(scale·q·kᵀ + mask)·v; writes o (in `outputLayout`) and the per-row log-sum-exp
    /// [batch, heads, queries] (−∞ for rows that see no key; their output is 0).
    public static func forward(
        _ p: AttentionProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        let keyTiles = RealKeyTiles(p)
        p.forEachQueryTile(rows: forwardQueryTile) { b, h, rowStart in
            forwardTile(
                p, batch: b, head: h, rowStart: rowStart, keyTiles: keyTiles, output: output,
                outputLayout: outputLayout, logSumExp: logSumExp)
        }
    }

    /// One query tile of `forward`: rows rowStart..<rowStart + forwardQueryTile (fewer at the end) of
    /// (b, h) against every real key tile up to their causal limit. Per key tile, S = scale·Q·Kᵀ;
    /// `addTerms(row, r, keyStart, cols)` completes tile row r (returning false, it leaves the row
    /// out: zeros, no softmax); then the mask, the running softmax and O += P·V. Finally O is
    /// normalised and the rows' log-sum-exp written. `output` and `logSumExp` are the whole tensors.
    @inline(__always)
    static func forwardTile(
        _ p: AttentionProblem, batch b: Int, head h: Int, rowStart: Int, keyTiles: RealKeyTiles,
        output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logSumExp: UnsafeMutablePointer<Float>,
        addTerms: (_ row: UnsafeMutablePointer<Float>, _ tileRow: Int, _ keyStart: Int, _ cols: Int)
            -> Bool = {
                _, _, _, _ in true
            }
    ) {
        let rows = Swift.min(forwardQueryTile, p.queries - rowStart)
        let q = p.query + p.queryLayout.offset(batch: b, head: h, position: rowStart)
        let o = output + outputLayout.offset(batch: b, head: h, position: rowStart)
        let ldo = outputLayout.positionStride
        var softmax = OnlineSoftmaxRows(
            rows: rows, output: o, outputStride: ldo, width: p.valueDimension)
        // Left uninitialised: the first GEMM of each key tile (β = 0) writes every score it reads.
        var scores = [Float](unsafeUninitializedCapacity: forwardQueryTile * keyTile) { _, count in
            count = forwardQueryTile * keyTile
        }
        scores.withUnsafeMutableBufferPointer { buffer in
            let s = buffer.baseAddress!
            keyTiles.forEach(batch: b, below: p.causalLimit(rowStart + rows - 1)) {
                keyStart, cols in
                let k = p.key + p.keyLayout.offset(batch: b, head: h, position: keyStart)
                let v = p.value + p.valueLayout.offset(batch: b, head: h, position: keyStart)
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: rows, n: cols, k: p.dimension,
                    alpha: p.scale,
                    a: q, lda: p.queryLayout.positionStride, b: k, ldb: p.keyLayout.positionStride,
                    c: s, ldc: cols)
                for r in 0..<rows {
                    let row = s + r * cols
                    guard addTerms(row, r, keyStart, cols) else {
                        row.update(repeating: 0, count: cols)
                        continue
                    }
                    applyMask(
                        p, batch: b, row: row, query: rowStart + r, keyStart: keyStart, cols: cols)
                    softmax.absorb(row: r, scores: row, count: cols)
                }
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: rows, n: p.valueDimension, k: cols,
                    a: s, lda: cols, b: v, ldb: p.valueLayout.positionStride, beta: 1, c: o,
                    ldc: ldo)
            }
        }
        softmax.finish(logSumExp: logSumExp + (b * p.heads + h) * p.queries + rowStart)
    }

    /// Gradients of `forward` by recomputation: for each key tile, every query tile's probabilities
    /// are rebuilt from the saved log-sum-exp, then
    /// dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)), dQ += scale·dS·K, dK += scale·dSᵀ·Q.
    /// Gradients are written in the layouts of q, k and v.
    public static func backward(
        _ p: AttentionProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient)
        let dvs = SendablePointer(valueGradient)
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            lses = SendablePointer(logSumExp)
        let keyTiles = RealKeyTiles(p)
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            backwardHead(
                p, batch: b, head: h, keyTiles: keyTiles, output: os.base,
                outputLayout: outputLayout,
                outputGradient: dos.base, logSumExp: lses.base, queryGradient: dqs.base,
                keyGradient: dks.base,
                valueGradient: dvs.base)
        }
    }

    /// `backward` for one (batch, head): zeroes its dq, dk and dv, then for each real key tile and
    /// each query tile that can see it rebuilds S = scale·Q·Kᵀ, lets `addTerms(row, i, keyStart,
    /// cols)` complete the row of query i (rows with log-sum-exp −∞ are left out as zeros), masks
    /// it, P = e^(S − lse), and accumulates dV, dS (handed row by row to `scoreGradient(dS_i, i,
    /// keyStart, cols)`), dQ and dK. Every pointer is a whole tensor's.
    @inline(__always)
    static func backwardHead(
        _ p: AttentionProblem, batch b: Int, head h: Int, keyTiles: RealKeyTiles,
        output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>, queryGradient: UnsafeMutablePointer<Float>,
        keyGradient: UnsafeMutablePointer<Float>, valueGradient: UnsafeMutablePointer<Float>,
        addTerms: (_ row: UnsafeMutablePointer<Float>, _ query: Int, _ keyStart: Int, _ cols: Int)
            -> Void = {
                _, _, _, _ in
            },
        scoreGradient: (_ row: UnsafePointer<Float>, _ query: Int, _ keyStart: Int, _ cols: Int) ->
            Void = {
                _, _, _, _ in
            }
    ) {
        let (d, e) = (p.dimension, p.valueDimension)
        let q = p.query + p.queryLayout.offset(batch: b, head: h)
        let k = p.key + p.keyLayout.offset(batch: b, head: h)
        let v = p.value + p.valueLayout.offset(batch: b, head: h)
        let o = output + outputLayout.offset(batch: b, head: h)
        let dO = outputGradient + outputLayout.offset(batch: b, head: h)
        let dq = queryGradient + p.queryLayout.offset(batch: b, head: h)
        let dk = keyGradient + p.keyLayout.offset(batch: b, head: h)
        let dv = valueGradient + p.valueLayout.offset(batch: b, head: h)
        let (ldq, ldk, ldv) = (
            p.queryLayout.positionStride, p.keyLayout.positionStride, p.valueLayout.positionStride
        )
        let ldo = outputLayout.positionStride
        let lse = logSumExp + (b * p.heads + h) * p.queries
        let rowDot = OnlineSoftmaxRows.correctionTerms(
            output: o, outputGradient: dO, stride: ldo, rows: p.queries, width: e)
        for i in 0..<p.queries { (dq + i * ldq).update(repeating: 0, count: d) }
        for j in 0..<p.keys {
            (dk + j * ldk).update(repeating: 0, count: d)
            (dv + j * ldv).update(repeating: 0, count: e)
        }
        var probabilities = [Float](repeating: 0, count: queryTile * keyTile)
        var scoreGradients = [Float](repeating: 0, count: queryTile * keyTile)
        probabilities.withUnsafeMutableBufferPointer { pb in
            scoreGradients.withUnsafeMutableBufferPointer { gb in
                let (P, G) = (pb.baseAddress!, gb.baseAddress!)
                keyTiles.forEach(batch: b, below: p.keys) { keyStart, cols in
                    let kt = k + keyStart * ldk, vt = v + keyStart * ldv
                    let dkt = dk + keyStart * ldk, dvt = dv + keyStart * ldv
                    p.forEachQueryTile(seeingKeysFrom: keyStart) { rowStart, rows in
                        let qt = q + rowStart * ldq, dOt = dO + rowStart * ldo,
                            dqt = dq + rowStart * ldq
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: rows, n: cols, k: d,
                            alpha: p.scale,
                            a: qt, lda: ldq, b: kt, ldb: ldk, c: P, ldc: cols)
                        for r in 0..<rows {
                            let (i, row) = (rowStart + r, P + r * cols)
                            if lse[i] == -.infinity {
                                row.update(repeating: 0, count: cols)
                                continue
                            }
                            addTerms(row, i, keyStart, cols)
                            applyMask(
                                p, batch: b, row: row, query: i, keyStart: keyStart, cols: cols)
                            _ = SoftmaxKernel.exponentiate(row, count: cols, shift: lse[i])
                        }
                        backwardThroughValues(
                            probabilities: P, rows: rows, cols: cols, outputGradient: dOt,
                            outputStride: ldo,
                            value: vt, valueStride: ldv, valueDimension: e, valueGradient: dvt,
                            probabilityGradient: G)
                        for r in 0..<rows {
                            let (i, gr) = (rowStart + r, G + r * cols)
                            SoftmaxKernel.backwardRow(
                                output: P + r * cols, outputGradient: gr, dot: rowDot[i], into: gr,
                                count: cols)
                            scoreGradient(gr, i, keyStart, cols)
                        }
                        backwardThroughScores(
                            G, rows: rows, cols: cols, scale: p.scale, query: qt, queryStride: ldq,
                            key: kt,
                            keyStride: ldk, dimension: d, queryGradient: dqt, keyGradient: dkt)
                    }
                }
            }
        }
    }

    /// dV_j += Pᵀ·dO_i and dP = dO_i·V_jᵀ for one block of `rows` queries and `cols` keys.
    @inline(__always)
    static func backwardThroughValues(
        probabilities P: UnsafePointer<Float>, rows: Int, cols: Int,
        outputGradient dO: UnsafePointer<Float>,
        outputStride ldo: Int, value v: UnsafePointer<Float>, valueStride ldv: Int,
        valueDimension e: Int,
        valueGradient dv: UnsafeMutablePointer<Float>,
        probabilityGradient dP: UnsafeMutablePointer<Float>
    ) {
        BLAS.gemm(
            transposeA: true, transposeB: false, m: cols, n: e, k: rows,
            a: P, lda: cols, b: dO, ldb: ldo, beta: 1, c: dv, ldc: ldv)
        BLAS.gemm(
            transposeA: false, transposeB: true, m: rows, n: cols, k: e,
            a: dO, lda: ldo, b: v, ldb: ldv, c: dP, ldc: cols)
    }

    /// dQ_i += α·dS·K_j and dK_j += α·dSᵀ·Q_i for one block of `rows` queries and `cols` keys, where
    /// the scores were α·Q_i·K_jᵀ.
    @inline(__always)
    static func backwardThroughScores(
        _ dS: UnsafePointer<Float>, rows: Int, cols: Int, scale alpha: Float,
        query q: UnsafePointer<Float>,
        queryStride ldq: Int, key k: UnsafePointer<Float>, keyStride ldk: Int, dimension d: Int,
        queryGradient dq: UnsafeMutablePointer<Float>, keyGradient dk: UnsafeMutablePointer<Float>
    ) {
        BLAS.gemm(
            transposeA: false, transposeB: false, m: rows, n: d, k: cols, alpha: alpha,
            a: dS, lda: cols, b: k, ldb: ldk, beta: 1, c: dq, ldc: ldq)
        BLAS.gemm(
            transposeA: true, transposeB: false, m: cols, n: d, k: rows, alpha: alpha,
            a: dS, lda: cols, b: q, ldb: ldq, beta: 1, c: dk, ldc: ldk)
    }

    /// Sets masked scores of one tile row to −∞: padded keys and, when causal, keys after the limit.
    @inline(__always)
    static func applyMask(
        _ p: AttentionProblem, batch b: Int, row: UnsafeMutablePointer<Float>, query i: Int,
        keyStart: Int, cols: Int
    ) {
        if let mask = p.keyMask {
            let maskRow = mask + b * p.keys + keyStart
            for j in 0..<cols where maskRow[j] == 0 { row[j] = -.infinity }
        }
        if p.causal {
            let limit = p.causalLimit(i) - keyStart
            if limit < cols {
                for j in Swift.max(limit, 0)..<cols { row[j] = -.infinity }
            }
        }
    }
}
