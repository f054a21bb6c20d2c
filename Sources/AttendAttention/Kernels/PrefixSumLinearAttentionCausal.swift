// The causal scans of Kernels/PrefixSumLinearAttention.swift (see its header for the formulas): the
// forward product and the two backward scans, chunk by chunk, with the per-position decay
// e^(c_j − c_t) applied inside chunks and to the carried states, and the undecayed key floor carried
// as a running sum of values.
import AttendCore

extension PrefixSumLinearAttention {
    /// The causal scan: for each chunk, [N, D]_t = e^(c_prev − c_t)·q′_t·S + Σ_{j≤t in chunk} (q′_t·k̂_j)
    /// e^(c_j − c_t) ṽ_j + f·σ_t·Σ_{real j≤t} ṽ_j, then S ← e^(c_prev − c_end)·S + Σ_j k̂_j e^(c_j − c_end) ṽ_jᵀ.
    static func causalProducts(
        _ p: LinearAttentionProblem, _ head: Head, into R: UnsafeMutablePointer<Float>
    ) {
        let (m, ea) = (head.m, head.ea)
        forwardChunks(p, head) { start, rows, S, A, reference, floorSum in
            let qc = head.q + start * head.ldq, kc = head.k + start * head.ldk
            let vc = head.v + start * ea, Rc = R + start * ea
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: ea, k: m,
                a: qc, lda: head.ldq, b: S, ldb: ea, c: Rc, ldc: ea)
            if let c = head.logScale.map({ $0 + start }) {
                for t in 0..<rows {
                    scale(Rc + t * ea, count: ea, by: VectorMath.exp(reference - c[t]))
                }
            }
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: rows, k: m,
                a: qc, lda: head.ldq, b: kc, ldb: head.ldk, c: A, ldc: rows)
            maskAndDecay(A, size: rows, logScale: head.logScale.map { $0 + start })
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: ea, k: rows,
                a: A, lda: rows, b: vc, ldb: ea, beta: 1, c: Rc, ldc: ea)
            if p.keyFeatureFloor != 0 {
                for t in 0..<rows {
                    if head.isReal(start + t) {
                        BLAS.axpy(count: ea, alpha: 1, x: vc + t * ea, y: &floorSum)
                    }
                    let weight = p.keyFeatureFloor * Reduce.sum(qc + t * head.ldq, count: m)
                    BLAS.axpy(count: ea, alpha: weight, x: floorSum, y: Rc + t * ea)
                }
            }
        }
    }

    /// Forward scan for dQ′: dq′_t = e^(c_prev − c_t)·S·g̃_t + ((G̃_c Ṽ_cᵀ) ⊙ D)·K̂_c + f·(g̃_t·Σ_{real j≤t} ṽ_j)·1.
    static func causalQueryGradient(
        _ p: LinearAttentionProblem, _ head: Head, _ g: UnsafePointer<Float>, _ d: Gradients
    ) {
        let (m, ea) = (head.m, head.ea)
        forwardChunks(p, head) { start, rows, S, A, reference, floorSum in
            let kc = head.k + start * head.ldk, vc = head.v + start * ea, gc = g + start * ea
            let dqc = d.dq + start * head.ldq
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: m, k: ea,
                a: gc, lda: ea, b: S, ldb: ea, c: dqc, ldc: head.ldq)
            if let c = head.logScale.map({ $0 + start }) {
                for t in 0..<rows {
                    scale(dqc + t * head.ldq, count: m, by: VectorMath.exp(reference - c[t]))
                }
            }
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: rows, k: ea,
                a: gc, lda: ea, b: vc, ldb: ea, c: A, ldc: rows)
            maskAndDecay(A, size: rows, logScale: head.logScale.map { $0 + start })
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: m, k: rows,
                a: A, lda: rows, b: kc, ldb: head.ldk, beta: 1, c: dqc, ldc: head.ldq)
            if p.keyFeatureFloor != 0 {
                for t in 0..<rows {
                    if head.isReal(start + t) {
                        BLAS.axpy(count: ea, alpha: 1, x: vc + t * ea, y: &floorSum)
                    }
                    let shift = p.keyFeatureFloor * Dot.product(gc + t * ea, floorSum, count: ea)
                    BLAS.axpyConstant(count: m, alpha: shift, y: dqc + t * head.ldq)
                }
            }
        }
    }

    /// The chunk walk both forward scans share: `body(start, rows, S, A, c_ref, floorSum)` for each
    /// chunk in order, with the state S [m, ea] of the chunks before (kept relative to log-scale
    /// c_ref), a chunk × chunk scratch block A, and the running Σ_{real j} ṽ_j the body extends;
    /// after each chunk, S takes in its keys and values (`advanceState`).
    static func forwardChunks(
        _ p: LinearAttentionProblem, _ head: Head,
        _ body: (
            _ start: Int, _ rows: Int, _ state: UnsafePointer<Float>,
            _ scores: UnsafeMutablePointer<Float>,
            _ reference: Float, _ floorSum: inout [Float]
        ) -> Void
    ) {
        var state = [Float](repeating: 0, count: head.m * head.ea)
        var floorSum = [Float](repeating: 0, count: head.ea)  // Σ_{real j so far} ṽ_j
        var scores = [Float](repeating: 0, count: p.chunkSize * p.chunkSize)
        var scaled = [Float](repeating: 0, count: p.chunkSize * head.ea)
        var reference = initialLogScale
        state.withUnsafeMutableBufferPointer { s in
            scores.withUnsafeMutableBufferPointer { a in
                scaled.withUnsafeMutableBufferPointer { w in
                    let (S, A, W) = (s.baseAddress!, a.baseAddress!, w.baseAddress!)
                    var start = 0
                    while start < head.n {
                        let rows = Swift.min(p.chunkSize, head.n - start)
                        body(start, rows, S, A, reference, &floorSum)
                        reference = advanceState(
                            head, S, chunkStart: start, rows: rows, reference: reference, scratch: W
                        )
                        start += p.chunkSize
                    }
                }
            }
        }
    }

    /// Reverse scan for dK̂ and dV with the suffix state R = Σ_{t in later chunks} e^(c_end − c_t)·q′_t g̃_tᵀ
    /// (c_end: the log-scale at this chunk's last position):
    /// dk̂_j = e^(c_j − c_end)·R·ṽ_j + ((G̃_c Ṽ_cᵀ) ⊙ D)ᵀ·Q′_c,
    /// dv_j = e^(c_j − c_end)·(Rᵀk̂_j)[:e] + ((Q′_c K̂_cᵀ) ⊙ D)ᵀ·G_c + f·real_j·Σ_{t≥j} σ_t g_t.
    static func causalKeyValueGradients(
        _ p: LinearAttentionProblem, _ head: Head, _ g: UnsafePointer<Float>, _ d: Gradients
    ) {
        let (n, m, e, ea) = (head.n, head.m, head.e, head.ea)
        var state = [Float](repeating: 0, count: m * ea)
        var weighted = [Float](repeating: 0, count: e)  // Σ_{t so far, from the end} σ_t g_t
        var scores = [Float](repeating: 0, count: p.chunkSize * p.chunkSize)
        var scaled = [Float](repeating: 0, count: p.chunkSize * ea)
        let chunks = (n + p.chunkSize - 1) / p.chunkSize
        state.withUnsafeMutableBufferPointer { s in
            scores.withUnsafeMutableBufferPointer { a in
                scaled.withUnsafeMutableBufferPointer { w in
                    let (R, A, W) = (s.baseAddress!, a.baseAddress!, w.baseAddress!)
                    for index in stride(from: chunks - 1, through: 0, by: -1) {
                        let start = index * p.chunkSize
                        let rows = Swift.min(p.chunkSize, n - start)
                        let qc = head.q + start * head.ldq, kc = head.k + start * head.ldk
                        let vc = head.v + start * ea, gc = g + start * ea
                        let dkc = d.dk + start * head.ldk, dvc = d.dv + start * d.ldv
                        let c = head.logScale.map { $0 + start }
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: rows, n: m, k: ea,
                            a: vc, lda: ea, b: R, ldb: ea, c: dkc, ldc: head.ldk)
                        BLAS.gemm(
                            transposeA: false, transposeB: false, m: rows, n: e, k: m,
                            a: kc, lda: head.ldk, b: R, ldb: ea, c: dvc, ldc: d.ldv)
                        if let c {
                            for j in 0..<rows {
                                let factor = VectorMath.exp(c[j] - c[rows - 1])
                                scale(dkc + j * head.ldk, count: m, by: factor)
                                scale(dvc + j * d.ldv, count: e, by: factor)
                            }
                        }
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: rows, n: rows, k: ea,
                            a: gc, lda: ea, b: vc, ldb: ea, c: A, ldc: rows)
                        maskAndDecay(A, size: rows, logScale: c)
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: rows, n: m, k: rows,
                            a: A, lda: rows, b: qc, ldb: head.ldq, beta: 1, c: dkc, ldc: head.ldk)
                        BLAS.gemm(
                            transposeA: false, transposeB: true, m: rows, n: rows, k: m,
                            a: qc, lda: head.ldq, b: kc, ldb: head.ldk, c: A, ldc: rows)
                        maskAndDecay(A, size: rows, logScale: c)
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: rows, n: e, k: rows,
                            a: A, lda: rows, b: gc, ldb: ea, beta: 1, c: dvc, ldc: d.ldv)
                        if p.keyFeatureFloor != 0 {
                            for t in stride(from: rows - 1, through: 0, by: -1) {
                                let sigma = Reduce.sum(qc + t * head.ldq, count: m)
                                BLAS.axpy(count: e, alpha: sigma, x: gc + t * ea, y: &weighted)
                                if head.isReal(start + t) {
                                    BLAS.axpy(
                                        count: e, alpha: p.keyFeatureFloor, x: weighted,
                                        y: dvc + t * d.ldv)
                                }
                            }
                        }
                        guard index > 0 else { continue }
                        // R ← e^(c_end′ − c_end)·R + Σ_{t∈chunk} q′_t (e^(c_end′ − c_t) g̃_t)ᵀ, c_end′ the
                        // previous chunk's last log-scale.
                        var source = gc
                        if let c {
                            let previousEnd = c[-1]
                            scale(R, count: m * ea, by: VectorMath.exp(previousEnd - c[rows - 1]))
                            for t in 0..<rows {
                                (W + t * ea).update(from: gc + t * ea, count: ea)
                                scale(W + t * ea, count: ea, by: VectorMath.exp(previousEnd - c[t]))
                            }
                            source = UnsafePointer(W)
                        }
                        BLAS.gemm(
                            transposeA: true, transposeB: false, m: m, n: ea, k: rows,
                            a: qc, lda: head.ldq, b: source, ldb: ea, beta: 1, c: R, ldc: ea)
                    }
                }
            }
        }
    }

    /// The log-scale before the first position: below any real one, and finite so differences of two
    /// such values are 0, not NaN.
    static let initialLogScale: Float = -1e30

    /// S ← e^(c_ref − c_end)·S + K̂_cᵀ·(e^(c_j − c_end) ṽ_j); returns the new reference c_end.
    static func advanceState(
        _ head: Head, _ S: UnsafeMutablePointer<Float>, chunkStart start: Int, rows: Int,
        reference: Float,
        scratch W: UnsafeMutablePointer<Float>
    ) -> Float {
        let (m, ea) = (head.m, head.ea)
        let kc = head.k + start * head.ldk
        var source = UnsafePointer(head.v + start * ea)
        var newReference = reference
        if let c = head.logScale.map({ $0 + start }) {
            newReference = c[rows - 1]
            scale(S, count: m * ea, by: VectorMath.exp(reference - newReference))
            for j in 0..<rows {
                (W + j * ea).update(from: source + j * ea, count: ea)
                scale(W + j * ea, count: ea, by: VectorMath.exp(c[j] - newReference))
            }
            source = UnsafePointer(W)
        }
        BLAS.gemm(
            transposeA: true, transposeB: false, m: m, n: ea, k: rows,
            a: kc, lda: head.ldk, b: source, ldb: ea, beta: 1, c: S, ldc: ea)
        return newReference
    }

    /// Zeroes the strict upper triangle of a row-major size×size chunk matrix and multiplies entry
    /// (t, j ≤ t) by e^(c_j − c_t) when there is a log-scale.
    static func maskAndDecay(
        _ a: UnsafeMutablePointer<Float>, size: Int, logScale c: UnsafePointer<Float>?
    ) {
        for t in 0..<size {
            let row = a + t * size
            if t + 1 < size { (row + t + 1).update(repeating: 0, count: size - t - 1) }
            guard let c else { continue }
            let ct = Float8(repeating: c[t])
            var j = 0
            while j + 8 <= t + 1 {
                store8(load8(row, j) * VectorMath.exp(load8(c, j) - ct), row, j)
                j += 8
            }
            while j <= t {
                row[j] *= VectorMath.exp(c[j] - c[t])
                j += 1
            }
        }
    }
}
