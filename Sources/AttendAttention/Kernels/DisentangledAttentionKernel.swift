// DeBERTa's disentangled attention (He et al., 2020) as a tiled online-softmax kernel: the score of
// query i and key j is
//     s_ij = scale·(q_i·k_j + q_i·Kr[δ(i−j)] + k_j·Qr[δ(i−j)])
// (content-to-content, content-to-position, position-to-content), where δ maps a relative distance to
// a row of the projected relative-position table. The two position terms are read from
//     C  = scale·Q·Krᵀ   [n, R]   (computed per query tile)
//     Pᵀ = scale·Qr·Kᵀ   [R, m]   (computed once per batch entry and head)
// and added to each GEMM tile of q·kᵀ, so no [n, m] matrix is ever stored: the extra memory is one
// [R, m] table Pᵀ per thread in the forward pass ((batch, head) pairs run in groups of one per
// thread) and, in the backward pass, four [n, R]-sized buffers per thread. Both passes run through
// `OnlineSoftmaxAttention`'s tile loops (running max, rescaled denominators; probabilities recomputed
// from the saved log-sum-exp), whose hooks add the position terms to each row and, backward, scatter
// dS into dC and dPᵀ (the adjoints of the two gathers); four GEMMs turn those into gradients.
// Shapes: b batch, h heads, n queries, m keys, d head dimension, R relative rows used.
import AttendCore

/// One disentangled-attention problem: the plain attention operands plus the position terms.
public struct DisentangledProblem: @unchecked Sendable {
    /// q, k, v, sizes, key mask, causal flag and `scale` (1/√(d·(1 + number of position terms))).
    public var attention: AttentionProblem
    /// [batch, queries], 0 = padded query (its output row is 0); nil = every query is real.
    public var queryMask: UnsafePointer<Float>?
    /// Kr as [R, heads, d] (the table projected by the key projection), or nil without c2p.
    public var positionKey: UnsafePointer<Float>?
    /// Qr as [R, heads, d] (the table projected by the query projection), or nil without p2c.
    public var positionQuery: UnsafePointer<Float>?
    /// R, the rows of the relative table in use.
    public var relativeRows: Int
    /// δ(r) for r = i − j, stored at r + keys − 1 (queries + keys − 1 entries), each in 0..<R.
    public var rowOfDistance: UnsafePointer<Int32>

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        attention: AttentionProblem, queryMask: UnsafePointer<Float>?,
        positionKey: UnsafePointer<Float>?,
        positionQuery: UnsafePointer<Float>?, relativeRows: Int, rowOfDistance: UnsafePointer<Int32>
    ) {
        self.attention = attention
        self.queryMask = queryMask
        self.positionKey = positionKey
        self.positionQuery = positionQuery
        self.relativeRows = relativeRows
        self.rowOfDistance = rowOfDistance
    }

    /// Whether query i of batch entry b is real.
    @inlinable func isReal(batch b: Int, query i: Int) -> Bool {
        queryMask.map { $0[b * attention.queries + i] != 0 } ?? true
    }
}

/// Forward and backward passes of disentangled attention.
public enum DisentangledAttentionKernel {
    /// o = softmax(s)·v with the scores above; writes o (in `outputLayout`) and the per-row
    /// log-sum-exp [batch, heads, queries] (−∞ for padded queries and rows that see no key: output 0).
    public static func forward(
        _ p: DisentangledProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        let a = p.attention
        let (R, m) = (p.relativeRows, a.keys)
        let tileSize = OnlineSoftmaxAttention.forwardQueryTile
        let queryTiles = (a.queries + tileSize - 1) / tileSize
        let out = SendablePointer(output), lse = SendablePointer(logSumExp)
        let keyTiles = RealKeyTiles(a)
        // (batch, head) pairs run in groups of one per thread, so Pᵀ needs [group, R, m], not [b·h, R, m].
        let pairs = a.batch * a.heads
        let group = Swift.max(1, Swift.min(Parallel.threadCount, pairs))
        var positionToContent = [Float](
            repeating: 0, count: p.positionQuery == nil ? 0 : group * R * m)
        for first in stride(from: 0, to: pairs, by: group) {
            let members = Swift.min(group, pairs - first)
            positionToContent.withUnsafeMutableBufferPointer { buffer in
                guard let qr = p.positionQuery else { return }
                let pt = SendablePointer(buffer.baseAddress!)
                Parallel.forEach(members) { member in
                    let (b, h) = (first + member).quotientAndRemainder(dividingBy: a.heads)
                    BLAS.gemm(
                        transposeA: false, transposeB: true, m: R, n: m, k: a.dimension,
                        alpha: a.scale,
                        a: qr + h * a.dimension, lda: a.heads * a.dimension,
                        b: a.key + a.keyLayout.offset(batch: b, head: h),
                        ldb: a.keyLayout.positionStride,
                        c: pt.base + member * R * m, ldc: m)
                }
            }
            positionToContent.withUnsafeBufferPointer { ptBuffer in
                // (An empty array may still have a base address: presence is decided by the problem.)
                let ptGroup = p.positionQuery == nil ? nil : SendablePointer(ptBuffer.baseAddress!)
                Parallel.forEach(members * queryTiles) { item in
                    let (member, tile) = item.quotientAndRemainder(dividingBy: queryTiles)
                    let bh = first + member
                    let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
                    let rowStart = tile * tileSize
                    let rows = Swift.min(tileSize, a.queries - rowStart)
                    var contentToPosition = [Float](
                        repeating: 0, count: p.positionKey == nil ? 0 : tileSize * R)
                    if let kr = p.positionKey {
                        // C = scale·Q_tile·Krᵀ [rows, R]
                        contentToPosition.withUnsafeMutableBufferPointer { c in
                            BLAS.gemm(
                                transposeA: false, transposeB: true, m: rows, n: R, k: a.dimension,
                                alpha: a.scale,
                                a: a.query
                                    + a.queryLayout.offset(batch: b, head: h, position: rowStart),
                                lda: a.queryLayout.positionStride, b: kr + h * a.dimension,
                                ldb: a.heads * a.dimension, c: c.baseAddress!, ldc: R)
                        }
                    }
                    let pt = ptGroup.map { UnsafePointer($0.base + member * R * m) }
                    contentToPosition.withUnsafeBufferPointer { c in
                        OnlineSoftmaxAttention.forwardTile(
                            a, batch: b, head: h, rowStart: rowStart, keyTiles: keyTiles,
                            output: out.base,
                            outputLayout: outputLayout, logSumExp: lse.base
                        ) { row, r, keyStart, cols in
                            // Padded queries take no part: their output is 0 and their log-sum-exp −∞.
                            guard p.isReal(batch: b, query: rowStart + r) else { return false }
                            addPositionTerms(
                                p, row: row, query: rowStart + r, keyStart: keyStart, cols: cols,
                                contentToPosition: p.positionKey == nil
                                    ? nil : c.baseAddress! + r * R,
                                positionToContent: pt)
                            return true
                        }
                    }
                }
            }
        }
    }

    /// Gradients of `forward` by recomputation, per (batch, head):
    /// dV += Pᵀ·dO, dS = P ⊙ (dO·Vᵀ − rowsum(dO ⊙ O)), dQ += scale·dS·K, dK += scale·dSᵀ·Q, and the
    /// gathers' adjoints dC[i, δ(i−j)] += dS_ij, dPᵀ[δ(i−j), j] += dS_ij, which give
    /// dQ += scale·dC·Kr, dKr = scale·dCᵀ·Q, dK += scale·dPᵀᵀ·Qr, dQr = scale·dPᵀ·K.
    ///
    /// dq, dk, dv are written in the layouts of q, k, v; dKr and dQr per batch entry as
    /// [batch, R, heads, d] (the caller sums over the batch), each only when its term is present.
    public static func backward(
        _ p: DisentangledProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>,
        positionKeyGradient: UnsafeMutablePointer<Float>?,
        positionQueryGradient: UnsafeMutablePointer<Float>?
    ) {
        let a = p.attention
        let (R, n, m, d) = (p.relativeRows, a.queries, a.keys, a.dimension)
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient)
        let dvs = SendablePointer(valueGradient)
        let dkrs = positionKeyGradient.map(SendablePointer.init),
            dqrs = positionQueryGradient.map(SendablePointer.init)
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            lses = SendablePointer(logSumExp)
        let keyTiles = RealKeyTiles(a)
        let hd = a.heads * d
        Parallel.forEach(a.batch * a.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
            let q = a.query + a.queryLayout.offset(batch: b, head: h)
            let k = a.key + a.keyLayout.offset(batch: b, head: h)
            let dq = dqs.base + a.queryLayout.offset(batch: b, head: h)
            let dk = dks.base + a.keyLayout.offset(batch: b, head: h)
            let (ldq, ldk) = (a.queryLayout.positionStride, a.keyLayout.positionStride)
            let kr = p.positionKey.map { $0 + h * d }, qr = p.positionQuery.map { $0 + h * d }
            // C [n, R] and Pᵀ [R, m] recomputed; their gradients accumulate beside them.
            var c = [Float](repeating: 0, count: kr == nil ? 0 : n * R)
            var dC = [Float](repeating: 0, count: c.count)
            var pt = [Float](repeating: 0, count: qr == nil ? 0 : R * m)
            var dPt = [Float](repeating: 0, count: pt.count)
            c.withUnsafeMutableBufferPointer { C in
                dC.withUnsafeMutableBufferPointer { dCb in
                    pt.withUnsafeMutableBufferPointer { PT in
                        dPt.withUnsafeMutableBufferPointer { dPTb in
                            if let kr {
                                BLAS.gemm(
                                    transposeA: false, transposeB: true, m: n, n: R, k: d,
                                    alpha: a.scale,
                                    a: q, lda: ldq, b: kr, ldb: hd, c: C.baseAddress!, ldc: R)
                            }
                            if let qr {
                                BLAS.gemm(
                                    transposeA: false, transposeB: true, m: R, n: m, k: d,
                                    alpha: a.scale,
                                    a: qr, lda: hd, b: k, ldb: ldk, c: PT.baseAddress!, ldc: m)
                            }
                            // The plain attention gradients, with the position terms added to each
                            // recomputed row and dS scattered into dC and dPᵀ.
                            OnlineSoftmaxAttention.backwardHead(
                                a, batch: b, head: h, keyTiles: keyTiles, output: os.base,
                                outputLayout: outputLayout,
                                outputGradient: dos.base, logSumExp: lses.base,
                                queryGradient: dqs.base,
                                keyGradient: dks.base, valueGradient: dvs.base,
                                addTerms: { row, i, keyStart, cols in
                                    addPositionTerms(
                                        p, row: row, query: i, keyStart: keyStart, cols: cols,
                                        contentToPosition: kr == nil
                                            ? nil : UnsafePointer(C.baseAddress! + i * R),
                                        positionToContent: qr == nil
                                            ? nil : UnsafePointer(PT.baseAddress!))
                                },
                                scoreGradient: { dS, i, keyStart, cols in
                                    scatterPositionGradients(
                                        p, row: dS, query: i, keyStart: keyStart, cols: cols,
                                        contentToPosition: kr == nil
                                            ? nil : dCb.baseAddress! + i * R,
                                        positionToContent: qr == nil ? nil : dPTb.baseAddress!)
                                })
                            // Kr's and Qr's rows of (b, h) in their per-batch gradients
                            let tableRows = b * R * hd + h * d
                            if let kr, let dkrs {
                                // dQ += scale·dC·Kr ; dKr = scale·dCᵀ·Q
                                positionTermGradients(
                                    p, dCb.baseAddress!, storedTransposed: false, content: q,
                                    stride: ldq, gradient: dq, table: kr,
                                    tableGradient: dkrs.base + tableRows)
                            }
                            if let qr, let dqrs {
                                // dK += scale·(dPᵀ)ᵀ·Qr ; dQr = scale·dPᵀ·K
                                positionTermGradients(
                                    p, dPTb.baseAddress!, storedTransposed: true, content: k,
                                    stride: ldk, gradient: dk, table: qr,
                                    tableGradient: dqrs.base + tableRows)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The gradients of one position term's operands for one (batch, head). The term's scores are
    /// scale·X·Tᵀ for content rows X (the queries, or the keys when `storedTransposed`) and the
    /// table's rows T [R, d] of the head (stride heads·d); `g` is their gradient G [rows, R] (the
    /// gather's adjoint), stored as Gᵀ [R, rows] when `storedTransposed` (Pᵀ's layout). Adds
    /// dX += scale·G·T and writes dT = scale·Gᵀ·X.
    @inline(__always)
    static func positionTermGradients(
        _ p: DisentangledProblem, _ g: UnsafePointer<Float>, storedTransposed: Bool,
        content x: UnsafePointer<Float>, stride: Int, gradient dx: UnsafeMutablePointer<Float>,
        table t: UnsafePointer<Float>, tableGradient dt: UnsafeMutablePointer<Float>
    ) {
        let a = p.attention
        let (R, d, hd) = (p.relativeRows, a.dimension, a.heads * a.dimension)
        let rows = storedTransposed ? a.keys : a.queries
        let ldg = storedTransposed ? rows : R
        BLAS.gemm(
            transposeA: storedTransposed, transposeB: false, m: rows, n: d, k: R, alpha: a.scale,
            a: g, lda: ldg, b: t, ldb: hd, beta: 1, c: dx, ldc: stride)
        BLAS.gemm(
            transposeA: !storedTransposed, transposeB: false, m: R, n: d, k: rows, alpha: a.scale,
            a: g, lda: ldg, b: x, ldb: stride, c: dt, ldc: hd)
    }

    /// row[c] += C[i, δ(i−j)] + Pᵀ[δ(i−j), j] for the keys j = keyStart + c of one tile row.
    @inline(__always)
    static func addPositionTerms(
        _ p: DisentangledProblem, row: UnsafeMutablePointer<Float>, query i: Int, keyStart: Int,
        cols: Int,
        contentToPosition c: UnsafePointer<Float>?, positionToContent pt: UnsafePointer<Float>?
    ) {
        let m = p.attention.keys
        // δ(i − j) for j = keyStart + col sits at rowOfDistance[i − keyStart − col + m − 1].
        let rowIndex = p.rowOfDistance + (i - keyStart + m - 1)
        switch (c, pt) {
        case (let c?, let pt?):
            let column = pt + keyStart
            for col in 0..<cols {
                let delta = Int(rowIndex[-col])
                row[col] += c[delta] + column[delta * m + col]
            }
        case (let c?, nil):
            for col in 0..<cols { row[col] += c[Int(rowIndex[-col])] }
        case (nil, let pt?):
            let column = pt + keyStart
            for col in 0..<cols { row[col] += column[Int(rowIndex[-col]) * m + col] }
        case (nil, nil):
            break
        }
    }

    /// The adjoint of `addPositionTerms`: dC[i, δ] += g[c] and dPᵀ[δ, j] += g[c].
    @inline(__always)
    static func scatterPositionGradients(
        _ p: DisentangledProblem, row g: UnsafePointer<Float>, query i: Int, keyStart: Int,
        cols: Int,
        contentToPosition dc: UnsafeMutablePointer<Float>?,
        positionToContent dpt: UnsafeMutablePointer<Float>?
    ) {
        let m = p.attention.keys
        let rowIndex = p.rowOfDistance + (i - keyStart + m - 1)
        if let dc {
            for col in 0..<cols { dc[Int(rowIndex[-col])] += g[col] }
        }
        if let dpt {
            let column = dpt + keyStart
            for col in 0..<cols { column[Int(rowIndex[-col]) * m + col] += g[col] }
        }
    }
}
