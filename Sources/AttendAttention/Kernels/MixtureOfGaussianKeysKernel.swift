// Transformer-MGK attention (Nguyen et al., 2022) as a tiled online-softmax kernel. Each key position j
// has M component keys k_jr; with component log-priors log π_r and inverse variances 1/σ_r²,
//     e_ijr = (q_i·k_jr − ½‖q_i‖² − ½‖k_jr‖²)/σ_r² + log π_r      (Gaussian: −‖q_i − k_jr‖²/(2σ_r²))
//     e_ijr = q_i·k_jr/σ_r² + log π_r                               (dot-product score)
// and the attention weight of key j is Σ_r e^{e_ijr} (soft mixture) or e^{max_r e_ijr} (hard, no
// priors), normalised over j. The running maximum is taken over every (j, r), so the mixture needs no
// logarithm: w_ij = Σ_r e^{e_ijr − m_i} (mechanisms-a.md §2.6, rearranged). Each component's q·kᵀ is a
// GEMM tile; the backward pass recomputes the tiles from the saved log-sum-exp and uses
//     de_ijr = P_ijr·(dP_ij − D_i),  P_ijr = e^{e_ijr − lse_i}  (hard: P_ij on the winning component),
//     dq_i += Σ_r (Σ_j de_ijr k_jr − (Σ_j de_ijr) q_i)/σ_r²,  dk_jr += (Σ_i de_ijr q_i − (Σ_i de_ijr) k_jr)/σ_r²,
//     d log π_r = Σ_ij de_ijr (§2.7), with the norm terms only for the Gaussian score.
// Shapes: b batch, h heads, n queries, m keys, M components, d head dimension, e value dimension.
import AttendCore

/// One MGK attention problem.
public struct MixtureProblem: @unchecked Sendable {
    /// q, v (component 0's key layout is unused: keys are addressed below), sizes, key mask, causal.
    /// `attention.scale` is unused; each component has its own inverse variance.
    public var attention: AttentionProblem
    /// M.
    public var components: Int
    /// Component r's keys start at `keys + r·componentStride` and follow `attention.keyLayout`.
    public var keys: UnsafePointer<Float>
    /// Elements between consecutive components' keys.
    public var componentStride: Int
    /// 1/σ_r² per component.
    public var inverseVariances: [Float]
    /// [heads, M] log-priors (−∞ allowed: the component is off); nil = hard assignment.
    public var logPriors: UnsafePointer<Float>?
    /// Whether the squared-distance norm terms are part of the score.
    public var gaussian: Bool

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        attention: AttentionProblem, components: Int, keys: UnsafePointer<Float>,
        componentStride: Int,
        inverseVariances: [Float], logPriors: UnsafePointer<Float>?, gaussian: Bool
    ) {
        self.attention = attention
        self.components = components
        self.keys = keys
        self.componentStride = componentStride
        self.inverseVariances = inverseVariances
        self.logPriors = logPriors
        self.gaussian = gaussian
    }

    var isHard: Bool { logPriors == nil }

    /// Component r's keys of (b, h), from `position`.
    @inlinable func key(_ r: Int, batch b: Int, head h: Int, position: Int = 0) -> UnsafePointer<
        Float
    > {
        keys + r * componentStride
            + attention.keyLayout.offset(batch: b, head: h, position: position)
    }
}

/// Forward and backward passes of MGK attention.
public enum MixtureOfGaussianKeysKernel {
    static let queryTile = OnlineSoftmaxAttention.queryTile
    static let keyTile = OnlineSoftmaxAttention.keyTile

    /// o = Σ_j (w_ij / Σ_j′ w_ij′)·v_j; writes o and the per-row log-sum-exp [b, h, n] (−∞ for rows
    /// that see no key, whose output is 0).
    public static func forward(
        _ p: MixtureProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        logSumExp: UnsafeMutablePointer<Float>
    ) {
        let a = p.attention
        let M = p.components
        let keyTiles = RealKeyTiles(a)
        a.forEachQueryTile(rows: queryTile) { b, h, rowStart in
            let rows = Swift.min(queryTile, a.queries - rowStart)
            var scores = [Float](repeating: 0, count: M * queryTile * keyTile)
            var queryNorms = [Float](repeating: 0, count: rows)
            var keyNorms = [Float](repeating: 0, count: M * keyTile)
            let q = a.query + a.queryLayout.offset(batch: b, head: h, position: rowStart)
            let ldq = a.queryLayout.positionStride
            let o = output + outputLayout.offset(batch: b, head: h, position: rowStart)
            let ldo = outputLayout.positionStride
            var softmax = OnlineSoftmaxRows(
                rows: rows, output: o, outputStride: ldo, width: a.valueDimension)
            if p.gaussian {
                for r in 0..<rows {
                    queryNorms[r] = 0.5 * Dot.product(q + r * ldq, q + r * ldq, count: a.dimension)
                }
            }
            scores.withUnsafeMutableBufferPointer { s in
                keyTiles.forEach(batch: b, below: a.causalLimit(rowStart + rows - 1)) {
                    keyStart, cols in
                    componentScores(
                        p, batch: b, head: h, query: q, rows: rows, keyStart: keyStart, cols: cols,
                        scores: s.baseAddress!, queryNorms: queryNorms, firstQuery: 0,
                        keyNorms: &keyNorms)
                    for r in 0..<rows {
                        let tileMax = maskedMaximum(
                            p, batch: b, scores: s.baseAddress!, row: r, rows: rows,
                            query: rowStart + r, keyStart: keyStart, cols: cols)
                        softmax.absorb(
                            row: r, scores: s.baseAddress! + r * cols, count: cols, maximum: tileMax
                        ) { shift in
                            combine(
                                p, scores: s.baseAddress!, row: r, rows: rows, cols: cols,
                                shift: shift)
                        }
                    }
                    let v = a.value + a.valueLayout.offset(batch: b, head: h, position: keyStart)
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows, n: a.valueDimension, k: cols,
                        a: s.baseAddress!, lda: cols, b: v, ldb: a.valueLayout.positionStride,
                        beta: 1, c: o, ldc: ldo)
                }
            }
            softmax.finish(logSumExp: logSumExp + (b * a.heads + h) * a.queries + rowStart)
        }
    }

    /// Gradients of `forward` by recomputation, per (batch, head). dq, dk (all components, in the
    /// keys' layout), dv are overwritten; d log π is written per batch entry as [b, h, M] (the caller
    /// sums over b) unless the assignment is hard.
    public static func backward(
        _ p: MixtureProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, logSumExp: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>, logPriorGradient: UnsafeMutablePointer<Float>?
    ) {
        let a = p.attention
        let (M, n, m, d, e) = (p.components, a.queries, a.keys, a.dimension, a.valueDimension)
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient)
        let dvs = SendablePointer(valueGradient), dps = logPriorGradient.map(SendablePointer.init)
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            lses = SendablePointer(logSumExp)
        let keyTiles = RealKeyTiles(a)
        Parallel.forEach(a.batch * a.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
            let q = a.query + a.queryLayout.offset(batch: b, head: h)
            let v = a.value + a.valueLayout.offset(batch: b, head: h)
            let o = os.base + outputLayout.offset(batch: b, head: h)
            let dO = dos.base + outputLayout.offset(batch: b, head: h)
            let dq = dqs.base + a.queryLayout.offset(batch: b, head: h)
            let dv = dvs.base + a.valueLayout.offset(batch: b, head: h)
            func dk(_ r: Int) -> UnsafeMutablePointer<Float> {
                dks.base + r * p.componentStride + a.keyLayout.offset(batch: b, head: h)
            }
            let (ldq, ldk, ldv) = (
                a.queryLayout.positionStride, a.keyLayout.positionStride,
                a.valueLayout.positionStride
            )
            let ldo = outputLayout.positionStride
            let lse = lses.base + bh * n
            let rowDot = OnlineSoftmaxRows.correctionTerms(
                output: o, outputGradient: dO, stride: ldo, rows: n, width: e)
            var queryNorms = [Float](repeating: 0, count: n)
            for i in 0..<n {
                if p.gaussian {
                    queryNorms[i] = 0.5 * Dot.product(q + i * ldq, q + i * ldq, count: d)
                }
                (dq + i * ldq).update(repeating: 0, count: d)
            }
            for j in 0..<m {
                (dv + j * ldv).update(repeating: 0, count: e)
                for r in 0..<M { (dk(r) + j * ldk).update(repeating: 0, count: d) }
            }
            var rowSums = [Float](repeating: 0, count: M * n)  // Σ_j de_ijr
            var priorGradient = [Float](repeating: 0, count: M)
            var scores = [Float](repeating: 0, count: M * queryTile * keyTile)
            var probabilities = [Float](repeating: 0, count: queryTile * keyTile)
            var scoreGradient = [Float](repeating: 0, count: queryTile * keyTile)
            var keyNorms = [Float](repeating: 0, count: M * keyTile)
            var columnSums = [Float](repeating: 0, count: M * keyTile)
            scores.withUnsafeMutableBufferPointer { S in
                probabilities.withUnsafeMutableBufferPointer { P in
                    scoreGradient.withUnsafeMutableBufferPointer { G in
                        keyTiles.forEach(batch: b, below: m) { keyStart, cols in
                            let vt = v + keyStart * ldv, dvt = dv + keyStart * ldv
                            for i in 0..<(M * cols) { columnSums[i] = 0 }
                            a.forEachQueryTile(seeingKeysFrom: keyStart) { rowStart, rows in
                                let qt = q + rowStart * ldq, dOt = dO + rowStart * ldo,
                                    dqt = dq + rowStart * ldq
                                componentScores(
                                    p, batch: b, head: h, query: qt, rows: rows, keyStart: keyStart,
                                    cols: cols,
                                    scores: S.baseAddress!, queryNorms: queryNorms,
                                    firstQuery: rowStart,
                                    keyNorms: &keyNorms)
                                for r in 0..<rows {
                                    _ = maskedMaximum(
                                        p, batch: b, scores: S.baseAddress!, row: r, rows: rows,
                                        query: rowStart + r, keyStart: keyStart, cols: cols)
                                    componentProbabilities(
                                        p, scores: S.baseAddress!,
                                        probabilities: P.baseAddress! + r * cols, row: r,
                                        rows: rows, cols: cols, logSumExp: lse[rowStart + r])
                                }
                                // dV_j += Pᵀ·dO_i ; G = dO_i·V_jᵀ, then de_ijr = P_ijr·(G − D_i)
                                OnlineSoftmaxAttention.backwardThroughValues(
                                    probabilities: P.baseAddress!, rows: rows, cols: cols,
                                    outputGradient: dOt,
                                    outputStride: ldo, value: vt, valueStride: ldv,
                                    valueDimension: e, valueGradient: dvt,
                                    probabilityGradient: G.baseAddress!)
                                for comp in 0..<M {
                                    let dE = S.baseAddress! + comp * rows * cols
                                    for r in 0..<rows {
                                        let correction = rowDot[rowStart + r]
                                        let er = dE + r * cols, gr = G.baseAddress! + r * cols
                                        var total: Float = 0
                                        for c in 0..<cols {
                                            // er holds P_ijr
                                            let value = er[c] * (gr[c] - correction)
                                            er[c] = value
                                            total += value
                                            columnSums[comp * cols + c] += value
                                        }
                                        rowSums[comp * n + rowStart + r] += total
                                        priorGradient[comp] += total
                                    }
                                    // dQ_i += w·dE_r·K_r ; dK_r += w·dE_rᵀ·Q_i
                                    OnlineSoftmaxAttention.backwardThroughScores(
                                        dE, rows: rows, cols: cols, scale: p.inverseVariances[comp],
                                        query: qt,
                                        queryStride: ldq,
                                        key: p.key(comp, batch: b, head: h, position: keyStart),
                                        keyStride: ldk, dimension: d, queryGradient: dqt,
                                        keyGradient: dk(comp) + keyStart * ldk)
                                }
                            }
                            if p.gaussian {
                                // dk_jr −= w_r·(Σ_i de_ijr)·k_jr
                                for comp in 0..<M {
                                    let w = p.inverseVariances[comp]
                                    for c in 0..<cols {
                                        BLAS.axpy(
                                            count: d, alpha: -w * columnSums[comp * cols + c],
                                            x: p.key(
                                                comp, batch: b, head: h, position: keyStart + c),
                                            y: dk(comp) + (keyStart + c) * ldk)
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if p.gaussian {
                // dq_i −= Σ_r w_r·(Σ_j de_ijr)·q_i
                for i in 0..<n {
                    var coefficient: Float = 0
                    for comp in 0..<M {
                        coefficient += p.inverseVariances[comp] * rowSums[comp * n + i]
                    }
                    BLAS.axpy(count: d, alpha: -coefficient, x: q + i * ldq, y: dq + i * ldq)
                }
            }
            if let dps {
                for comp in 0..<M { dps[(b * a.heads + h) * M + comp] = priorGradient[comp] }
            }
        }
    }

    /// e_ijr for every component into scores[r·rows·cols + i·cols + j] (before masking); `queryNorms`
    /// holds ½‖q‖² from query `firstQuery` on.
    @inline(__always)
    static func componentScores(
        _ p: MixtureProblem, batch b: Int, head h: Int, query q: UnsafePointer<Float>, rows: Int,
        keyStart: Int,
        cols: Int, scores: UnsafeMutablePointer<Float>, queryNorms: [Float], firstQuery: Int,
        keyNorms: inout [Float]
    ) {
        let a = p.attention
        let ldk = a.keyLayout.positionStride
        for r in 0..<p.components {
            let w = p.inverseVariances[r]
            let s = scores + r * rows * cols
            let k = p.key(r, batch: b, head: h, position: keyStart)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: cols, k: a.dimension, alpha: w,
                a: q, lda: a.queryLayout.positionStride, b: k, ldb: ldk, c: s, ldc: cols)
            let prior = p.logPriors.map { $0[h * p.components + r] } ?? 0
            if p.gaussian {
                for c in 0..<cols {
                    keyNorms[r * cols + c] =
                        0.5 * w * Dot.product(k + c * ldk, k + c * ldk, count: a.dimension)
                }
                keyNorms.withUnsafeBufferPointer { kn in
                    let norms = kn.baseAddress! + r * cols
                    for i in 0..<rows {
                        let shift = Float8(repeating: prior - w * queryNorms[firstQuery + i])
                        let row = s + i * cols
                        Elementwise.zipRow(
                            UnsafePointer(row), xStride: 1, norms, yStride: 1, row, count: cols
                        ) {
                            $0 - $1 + shift
                        }
                    }
                }
            } else if prior != 0 {
                for i in 0..<(rows * cols) { s[i] += prior }
            }
        }
    }

    /// Masks row i of every component (padded keys, causal limit) and returns the row's maximum over
    /// keys and components of the combined score (hard: max_r e_ijr, written into component 0).
    @inline(__always)
    static func maskedMaximum(
        _ p: MixtureProblem, batch b: Int, scores: UnsafeMutablePointer<Float>, row i: Int,
        rows: Int,
        query: Int, keyStart: Int, cols: Int
    ) -> Float {
        var maximum = -Float.infinity
        for r in 0..<p.components {
            let row = scores + r * rows * cols + i * cols
            OnlineSoftmaxAttention.applyMask(
                p.attention, batch: b, row: row, query: query, keyStart: keyStart, cols: cols)
            maximum = Swift.max(maximum, Reduce.max(row, count: cols))
        }
        return maximum
    }

    /// Forward: row i of component 0 becomes w_ij = Σ_r e^{e_ijr − shift} (hard: e^{max_r e_ijr − shift});
    /// returns Σ_j w_ij.
    @inline(__always)
    static func combine(
        _ p: MixtureProblem, scores: UnsafeMutablePointer<Float>, row i: Int, rows: Int, cols: Int,
        shift: Float
    ) -> Float {
        let target = scores + i * cols
        let stride = rows * cols
        if p.isHard {
            for r in 1..<Swift.max(p.components, 1) {
                let other = scores + r * stride + i * cols
                for c in 0..<cols { target[c] = Swift.max(target[c], other[c]) }
            }
            return SoftmaxKernel.exponentiate(target, count: cols, shift: shift)
        }
        var total: Float = 0
        var c = 0
        let s = Float8(repeating: shift)
        while c + 8 <= cols {
            var w = Float8()
            for r in 0..<p.components {
                w += VectorMath.exp(load8(scores + r * stride + i * cols, c) - s)
            }
            store8(w, target, c)
            total += w.sum()
            c += 8
        }
        while c < cols {
            var w: Float = 0
            for r in 0..<p.components {
                w += VectorMath.exp(scores[r * stride + i * cols + c] - shift)
            }
            target[c] = w
            total += w
            c += 1
        }
        return total
    }

    /// Backward: P_ij into `probabilities`, and each component's share P_ijr in place of its score
    /// (hard: all of P_ij on the first maximising component).
    @inline(__always)
    static func componentProbabilities(
        _ p: MixtureProblem, scores: UnsafeMutablePointer<Float>,
        probabilities: UnsafeMutablePointer<Float>,
        row i: Int, rows: Int, cols: Int, logSumExp: Float
    ) {
        let stride = rows * cols
        if logSumExp == -.infinity {
            probabilities.update(repeating: 0, count: cols)
            for r in 0..<p.components {
                (scores + r * stride + i * cols).update(repeating: 0, count: cols)
            }
            return
        }
        if p.isHard {
            for c in 0..<cols {
                var best = 0
                var value = scores[i * cols + c]
                for r in 1..<Swift.max(p.components, 1)
                where scores[r * stride + i * cols + c] > value {
                    best = r
                    value = scores[r * stride + i * cols + c]
                }
                let probability = value == -.infinity ? 0 : VectorMath.exp(value - logSumExp)
                probabilities[c] = probability
                for r in 0..<p.components {
                    scores[r * stride + i * cols + c] = r == best ? probability : 0
                }
            }
            return
        }
        probabilities.update(repeating: 0, count: cols)
        for r in 0..<p.components {
            let row = scores + r * stride + i * cols
            _ = SoftmaxKernel.exponentiate(row, count: cols, shift: logSumExp)
            for c in 0..<cols { probabilities[c] += row[c] }
        }
    }
}
