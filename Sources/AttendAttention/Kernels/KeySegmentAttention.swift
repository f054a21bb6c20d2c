// Sparse exact attention where each tile of queries reads a short list of contiguous key ranges
// ("segments"): the band of a sliding window (local attention) or the gathered key blocks of
// BigBird's block-sparse layout (Zaheer et al., 2020). The segments of one tile are at most a few
// hundred keys, so a tile's scores fit in one buffer and the softmax is done in a single pass
// (no online rescaling). Scores and weighted sums are BLAS GEMMs on each segment read in place
// through strides (no copy of the keys); exponentials run eight lanes at a time. (Measured on one
// core for a 64-query × 192-key × d 64 tile: sgemm about twice as fast as a register-blocked SIMD8
// dot-product loop, 4 rows per key.)
//
// Extra memory: one [tile, keys of the tile] score buffer per thread plus the log-sum-exp of every
// row, kept for the backward pass, which recomputes each tile's probabilities (like
// OnlineSoftmaxAttention's) instead of storing them. Time and memory are O(n · keys per row).
//
// Shapes: b batch, h heads, n queries, m keys, d head dimension, e value dimension; operands are
// addressed through `HeadLayout`, so [b, n, h, d] works without a permute.
import AttendCore

/// Which keys each tile of queries reads, as contiguous key ranges, plus an optional per-row window.
public struct KeySegmentPattern: Sendable, Equatable {
    /// Query rows per tile (the last tile may be shorter).
    public let queryTile: Int
    /// Tiles per head: ⌈queries / queryTile⌉.
    public let tileCount: Int
    /// Whether every head reads the same segments (then the table has one entry per tile).
    public let sharedAcrossHeads: Bool
    /// Segment table in compressed rows: the segments of entry t are
    /// `starts[offsets[t]..<offsets[t+1]]` with the matching `lengths`; entry t = head·tileCount +
    /// tile (or tile alone when shared across heads).
    public let starts: [Int], lengths: [Int], offsets: [Int]
    /// When set, query i sees key j only when i − before ≤ j ≤ i + after (sliding windows whose
    /// band is not tile-aligned); nil when every key of the segments is seen.
    public let window: RowWindow?

    /// A key window relative to the query position.
    public struct RowWindow: Sendable, Equatable {
        /// Keys visible before the query, and after it.
        public let before: Int, after: Int
        /// A window reaching `before` keys back and `after` keys ahead.
        public init(before: Int, after: Int) {
            self.before = before
            self.after = after
        }
    }

    /// A pattern from per-entry segment lists (`segments[t]` for entry t, in the order of the table).
    public init(
        queryTile: Int, tileCount: Int, sharedAcrossHeads: Bool, segments: [[Range<Int>]],
        window: RowWindow?
    ) {
        precondition(queryTile > 0, "KeySegmentPattern: query tile must be positive")
        var starts: [Int] = [], lengths: [Int] = [], offsets = [0]
        for list in segments {
            for range in list where !range.isEmpty {
                starts.append(range.lowerBound)
                lengths.append(range.count)
            }
            offsets.append(starts.count)
        }
        self.queryTile = queryTile
        self.tileCount = tileCount
        self.sharedAcrossHeads = sharedAcrossHeads
        self.starts = starts
        self.lengths = lengths
        self.offsets = offsets
        self.window = window
    }

    /// Index range into `starts`/`lengths` of the segments that (head, tile) reads.
    @inlinable func segmentRange(head: Int, tile: Int) -> Range<Int> {
        let entry = sharedAcrossHeads ? tile : head * tileCount + tile
        return offsets[entry]..<offsets[entry + 1]
    }

    /// Number of keys (with repeats) that (head, tile) reads.
    func width(head: Int, tile: Int) -> Int {
        segmentRange(head: head, tile: tile).reduce(0) { $0 + lengths[$1] }
    }

    /// Largest number of keys any tile reads.
    var maximumWidth: Int {
        var widest = 0
        for entry in 0..<(offsets.count - 1) {
            widest = Swift.max(
                widest, (offsets[entry]..<offsets[entry + 1]).reduce(0) { $0 + lengths[$1] })
        }
        return widest
    }
}

/// How a padded key (mask value 0) is kept out of the softmax.
public enum KeyMaskRule: Sendable, Equatable {
    /// Its score becomes −∞: probability exactly 0; a row that sees no real key outputs 0.
    case exclude
    /// (1 − mask)·penalty is added to its score (BERT's and BigBird's −10000 convention): a row whose
    /// keys are all padded averages them uniformly instead of returning 0.
    case additive(penalty: Float)
}

/// Segment-sparse softmax attention, forward and backward.
public enum KeySegmentAttention {
    /// o = softmax(scale·q·kᵀ over the tile's segments, masked)·v. Writes o in `outputLayout` and the
    /// per-row log-sum-exp [batch, heads, queries] (−∞ for rows that see no key; their output is 0).
    /// `p.causal` must be false: causal windows are expressed through `pattern.window`.
    public static func forward(
        _ p: AttentionProblem, pattern: KeySegmentPattern, maskRule: KeyMaskRule,
        output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        precondition(
            !p.causal, "KeySegmentAttention: express causality through the pattern's window")
        let out = SendablePointer(output), lse = SendablePointer(logSumExp)
        let tiles = pattern.tileCount
        Parallel.forEach(p.batch * p.heads * tiles) { item in
            let (bh, tile) = item.quotientAndRemainder(dividingBy: tiles)
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let rowStart = tile * pattern.queryTile
            let rows = Swift.min(pattern.queryTile, p.queries - rowStart)
            if rows <= 0 { return }
            let segments = pattern.segmentRange(head: h, tile: tile)
            let cols = pattern.width(head: h, tile: tile)
            let q = p.query + p.queryLayout.offset(batch: b, head: h, position: rowStart)
            let o = out.base + outputLayout.offset(batch: b, head: h, position: rowStart)
            let ldo = outputLayout.positionStride
            let lseRow = lse.base + bh * p.queries + rowStart
            guard cols > 0 else {
                for r in 0..<rows {
                    (o + r * ldo).update(repeating: 0, count: p.valueDimension)
                    lseRow[r] = -.infinity
                }
                return
            }
            var scores = [Float](repeating: 0, count: rows * cols)
            scores.withUnsafeMutableBufferPointer { buffer in
                let s = buffer.baseAddress!
                computeScores(
                    p, pattern: pattern, batch: b, head: h, segments: segments, q: q, scores: s,
                    rows: rows, cols: cols)
                for r in 0..<rows {
                    let row = s + r * cols
                    mask(
                        p, pattern: pattern, rule: maskRule, batch: b, segments: segments, row: row,
                        query: rowStart + r)
                    lseRow[r] = SoftmaxKernel.normalizeRow(row, count: cols)
                }
                // o = Σ_segments P[:, segment]·V[segment]
                var column = 0
                for (index, segment) in segments.enumerated() {
                    let (start, length) = (pattern.starts[segment], pattern.lengths[segment])
                    let v = p.value + p.valueLayout.offset(batch: b, head: h, position: start)
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows, n: p.valueDimension,
                        k: length,
                        a: s + column, lda: cols, b: v, ldb: p.valueLayout.positionStride,
                        beta: index == 0 ? 0 : 1, c: o, ldc: ldo)
                    column += length
                }
            }
        }
    }

    /// Gradients of `forward` by recomputation, one (batch, head) per thread (key segments of
    /// different tiles overlap, so their dK/dV accumulate in place):
    /// P = exp(S − lse), dV += Pᵀ·dO, dP = dO·Vᵀ, dS = P ⊙ (dP − rowsum(dO ⊙ O)),
    /// dQ = scale·dS·K, dK += scale·dSᵀ·Q. Gradients are written in the layouts of q, k and v.
    public static func backward(
        _ p: AttentionProblem, pattern: KeySegmentPattern, maskRule: KeyMaskRule,
        output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>,
        logSumExp: UnsafePointer<Float>, queryGradient: UnsafeMutablePointer<Float>,
        keyGradient: UnsafeMutablePointer<Float>, valueGradient: UnsafeMutablePointer<Float>
    ) {
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient)
        let dvs = SendablePointer(valueGradient)
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            lses = SendablePointer(logSumExp)
        let (d, e) = (p.dimension, p.valueDimension)
        let (ldq, ldk, ldv) = (
            p.queryLayout.positionStride, p.keyLayout.positionStride, p.valueLayout.positionStride
        )
        let ldo = outputLayout.positionStride
        let widest = pattern.maximumWidth
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let dk = dks.base + p.keyLayout.offset(batch: b, head: h)
            let dv = dvs.base + p.valueLayout.offset(batch: b, head: h)
            for j in 0..<p.keys {
                (dk + j * ldk).update(repeating: 0, count: d)
                (dv + j * ldv).update(repeating: 0, count: e)
            }
            var probabilities = [Float](
                repeating: 0, count: pattern.queryTile * Swift.max(widest, 1))
            var scoreGradient = probabilities
            var rowDot = [Float](repeating: 0, count: pattern.queryTile)
            probabilities.withUnsafeMutableBufferPointer { P in
                scoreGradient.withUnsafeMutableBufferPointer { G in
                    let s = P.baseAddress!, g = G.baseAddress!
                    for tile in 0..<pattern.tileCount {
                        let rowStart = tile * pattern.queryTile
                        let rows = Swift.min(pattern.queryTile, p.queries - rowStart)
                        if rows <= 0 { continue }
                        let q =
                            p.query + p.queryLayout.offset(batch: b, head: h, position: rowStart)
                        let dq =
                            dqs.base + p.queryLayout.offset(batch: b, head: h, position: rowStart)
                        let o = os.base + outputLayout.offset(batch: b, head: h, position: rowStart)
                        let dO =
                            dos.base + outputLayout.offset(batch: b, head: h, position: rowStart)
                        let lse = lses.base + bh * p.queries + rowStart
                        let segments = pattern.segmentRange(head: h, tile: tile)
                        let cols = pattern.width(head: h, tile: tile)
                        for r in 0..<rows { (dq + r * ldq).update(repeating: 0, count: d) }
                        if cols == 0 { continue }
                        // P = exp(S − lse), rebuilt from the forward's log-sum-exp.
                        computeScores(
                            p, pattern: pattern, batch: b, head: h, segments: segments, q: q,
                            scores: s, rows: rows, cols: cols)
                        for r in 0..<rows {
                            let row = s + r * cols
                            rowDot[r] = Dot.product(dO + r * ldo, o + r * ldo, count: e)
                            mask(
                                p, pattern: pattern, rule: maskRule, batch: b, segments: segments,
                                row: row, query: rowStart + r)
                            OnlineSoftmaxRows.recompute(row, count: cols, logSumExp: lse[r])
                        }
                        // dP = dO·Vᵀ per segment; dV[segment] += P[:, segment]ᵀ·dO
                        var column = 0
                        for segment in segments {
                            let (start, length) = (
                                pattern.starts[segment], pattern.lengths[segment]
                            )
                            let v =
                                p.value + p.valueLayout.offset(batch: b, head: h, position: start)
                            BLAS.gemm(
                                transposeA: false, transposeB: true, m: rows, n: length, k: e,
                                a: dO, lda: ldo, b: v, ldb: ldv, c: g + column, ldc: cols)
                            BLAS.gemm(
                                transposeA: true, transposeB: false, m: length, n: e, k: rows,
                                a: s + column, lda: cols, b: dO, ldb: ldo, beta: 1,
                                c: dv + start * ldv, ldc: ldv)
                            column += length
                        }
                        // dS = P ⊙ (dP − D)
                        for r in 0..<rows {
                            let gr = g + r * cols
                            SoftmaxKernel.backwardRow(
                                output: s + r * cols, outputGradient: gr, dot: rowDot[r], into: gr,
                                count: cols)
                        }
                        // dQ += scale·dS[:, segment]·K[segment]; dK[segment] += scale·dS[:, segment]ᵀ·Q
                        column = 0
                        for segment in segments {
                            let (start, length) = (
                                pattern.starts[segment], pattern.lengths[segment]
                            )
                            let k = p.key + p.keyLayout.offset(batch: b, head: h, position: start)
                            BLAS.gemm(
                                transposeA: false, transposeB: false, m: rows, n: d, k: length,
                                alpha: p.scale,
                                a: g + column, lda: cols, b: k, ldb: ldk, beta: 1, c: dq, ldc: ldq)
                            BLAS.gemm(
                                transposeA: true, transposeB: false, m: length, n: d, k: rows,
                                alpha: p.scale,
                                a: g + column, lda: cols, b: q, ldb: ldq, beta: 1,
                                c: dk + start * ldk, ldc: ldk)
                            column += length
                        }
                    }
                }
            }
        }
    }

    /// S[:, segment] = scale·Q_tile·K[segment]ᵀ for each segment, side by side in `scores` (row stride
    /// `cols`).
    @inline(__always)
    static func computeScores(
        _ p: AttentionProblem, pattern: KeySegmentPattern, batch b: Int, head h: Int,
        segments: Range<Int>,
        q: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        var column = 0
        for segment in segments {
            let (start, length) = (pattern.starts[segment], pattern.lengths[segment])
            let k = p.key + p.keyLayout.offset(batch: b, head: h, position: start)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: length, k: p.dimension,
                alpha: p.scale,
                a: q, lda: p.queryLayout.positionStride, b: k, ldb: p.keyLayout.positionStride,
                c: scores + column, ldc: cols)
            column += length
        }
    }

    /// Applies the key padding mask (by `rule`) and the row window (−∞ outside it) to one score row.
    @inline(__always)
    static func mask(
        _ p: AttentionProblem, pattern: KeySegmentPattern, rule: KeyMaskRule, batch b: Int,
        segments: Range<Int>, row: UnsafeMutablePointer<Float>, query i: Int
    ) {
        var column = 0
        for segment in segments {
            let (start, length) = (pattern.starts[segment], pattern.lengths[segment])
            let s = row + column
            column += length
            if let keyMask = p.keyMask {
                let m = keyMask + b * p.keys + start
                switch rule {
                case .exclude:
                    for j in 0..<length where m[j] == 0 { s[j] = -.infinity }
                case .additive(let penalty):
                    for j in 0..<length where m[j] != 1 { s[j] += (1 - m[j]) * penalty }
                }
            }
            if let window = pattern.window {
                // Keys start + j with j < i − before − start, or j > i + after − start, are outside.
                let below = Swift.min(length, Swift.max(0, i - window.before - start))
                for j in 0..<below { s[j] = -.infinity }
                let above = Swift.max(0, Swift.min(length, i + window.after - start + 1))
                for j in above..<length { s[j] = -.infinity }
            }
        }
    }
}
