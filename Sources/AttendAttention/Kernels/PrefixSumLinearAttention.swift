// Normalised linear attention on feature maps (Katharopoulos et al., 2020; the FAVOR+ contraction of
// Choromanski et al., 2020): with query features q′_i and key features k′_j (all ≥ 0),
//     y_i = Σ_{j∈V(i)} (q′_i·k′_j)·v_j / q′_i·(Σ_{j∈V(i)} k′_j + ε·1),
// where V(i) is every key (bidirectional) or j ≤ i (causal). ε is the denominator guard of
// performer-pytorch's causal path (1e-6 added to every feature of the key sum); it keeps rows that see
// no key at 0 instead of 0/0.
//
// Both directions are O(n·m·e) with O(m·e) state per head. Appending a column of ones to the values
// (ṽ = [v, 1]) turns numerator and denominator into one product with an m×(e+1) state
// S̃ = Σ k′_j ṽ_jᵀ. The causal form is a chunked scan: inside a chunk of T positions the exact masked
// product tril(Q′_c K′_cᵀ)·Ṽ_c (a T×T matmul), across chunks the carried state, so no n×m×e tensor is
// ever formed. The backward pass is two scans: a forward one for the query gradient (it needs the
// prefix state) and a reverse one for key and value gradients (they need the suffix state
// R̃ = Σ_{i≥j} q′_i g̃_iᵀ), with g̃_i = [dy_i/D_i, −(dy_i·y_i)/D_i] the gradient of [numerator, D].
//
// Shapes: b batch, h heads, n positions, m features, e value dimension. Operands are addressed through
// `HeadLayout`, so [b, n, h, ·] tensors straight from the projections need no permute.
import AttendCore

/// One linear-attention problem: sizes, direction, guard and operand addresses.
public struct LinearAttentionProblem: @unchecked Sendable {
    public var batch: Int, heads: Int, length: Int, features: Int, valueDimension: Int
    /// Position i sees only positions j ≤ i.
    public var causal: Bool
    /// ε added to every feature of the key sum in the denominator.
    public var denominatorOffset: Float
    public var queryFeatures: UnsafePointer<Float>, queryLayout: HeadLayout
    public var keyFeatures: UnsafePointer<Float>, keyLayout: HeadLayout
    public var value: UnsafePointer<Float>, valueLayout: HeadLayout

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        batch: Int, heads: Int, length: Int, features: Int, valueDimension: Int, causal: Bool,
        denominatorOffset: Float,
        queryFeatures: UnsafePointer<Float>, queryLayout: HeadLayout,
        keyFeatures: UnsafePointer<Float>, keyLayout: HeadLayout,
        value: UnsafePointer<Float>, valueLayout: HeadLayout
    ) {
        (self.batch, self.heads, self.length, self.features) = (batch, heads, length, features)
        (self.valueDimension, self.causal, self.denominatorOffset) = (valueDimension, causal, denominatorOffset)
        (self.queryFeatures, self.queryLayout) = (queryFeatures, queryLayout)
        (self.keyFeatures, self.keyLayout) = (keyFeatures, keyLayout)
        (self.value, self.valueLayout) = (value, valueLayout)
    }
}

/// Bidirectional and causal (chunked prefix-sum) linear attention, forward and backward.
public enum PrefixSumLinearAttention {
    /// Positions per chunk of the causal scan: the T×T masked product costs T·(m + e) per position,
    /// the carried state 2·m·e; 64 keeps the first small next to the second at m = 256, e = 64.
    public static let chunk = 64

    /// Writes y (in `outputLayout`) and the guarded denominators D [batch, heads, length].
    public static func forward(
        _ p: LinearAttentionProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        denominator: UnsafeMutablePointer<Float>
    ) {
        let out = SendablePointer(output), den = SendablePointer(denominator)
        let (n, m, e) = (p.length, p.features, p.valueDimension)
        let ea = e + 1
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let q = p.queryFeatures + p.queryLayout.offset(batch: b, head: h)
            let k = p.keyFeatures + p.keyLayout.offset(batch: b, head: h)
            let (ldq, ldk) = (p.queryLayout.positionStride, p.keyLayout.positionStride)
            let o = out.base + outputLayout.offset(batch: b, head: h)
            let ldo = outputLayout.positionStride
            var augmented = augmentedValues(p, batch: b, head: h)  // [n, e+1]
            var state = [Float](repeating: 0, count: m * ea)  // S̃ = Σ k′ ṽᵀ
            var rows = [Float](repeating: 0, count: chunk * ea)  // [numerator, D] per row
            var scores = [Float](repeating: 0, count: chunk * chunk)
            augmented.withUnsafeMutableBufferPointer { vt in
                state.withUnsafeMutableBufferPointer { s in
                    rows.withUnsafeMutableBufferPointer { r in
                        scores.withUnsafeMutableBufferPointer { a in
                            let v = vt.baseAddress!, S = s.baseAddress!, R = r.baseAddress!, A = a.baseAddress!
                            if !p.causal {
                                // S̃ = K′ᵀ·Ṽ over the whole sequence.
                                BLAS.gemm(
                                    transposeA: true, transposeB: false, m: m, n: ea, k: n,
                                    a: k, lda: ldk, b: v, ldb: ea, c: S, ldc: ea)
                            }
                            var start = 0
                            while start < n {
                                let rowsHere = Swift.min(chunk, n - start)
                                defer { start += chunk }
                                let qc = q + start * ldq, kc = k + start * ldk, vc = v + start * ea
                                // [N, D] = Q′_c·S̃ (the state before this chunk when causal).
                                BLAS.gemm(
                                    transposeA: false, transposeB: false, m: rowsHere, n: ea, k: m,
                                    a: qc, lda: ldq, b: S, ldb: ea, c: R, ldc: ea)
                                if p.causal {
                                    // += tril(Q′_c K′_cᵀ)·Ṽ_c, then S̃ += K′_cᵀ Ṽ_c.
                                    BLAS.gemm(
                                        transposeA: false, transposeB: true, m: rowsHere, n: rowsHere, k: m,
                                        a: qc, lda: ldq, b: kc, ldb: ldk, c: A, ldc: rowsHere)
                                    zeroAboveDiagonal(A, size: rowsHere)
                                    BLAS.gemm(
                                        transposeA: false, transposeB: false, m: rowsHere, n: ea, k: rowsHere,
                                        a: A, lda: rowsHere, b: vc, ldb: ea, beta: 1, c: R, ldc: ea)
                                    BLAS.gemm(
                                        transposeA: true, transposeB: false, m: m, n: ea, k: rowsHere,
                                        a: kc, lda: ldk, b: vc, ldb: ea, beta: 1, c: S, ldc: ea)
                                }
                                let denRow = den.base + bh * n + start
                                for i in 0..<rowsHere {
                                    let row = R + i * ea
                                    let guarded = row[e] + p.denominatorOffset * Reduce.sum(qc + i * ldq, count: m)
                                    denRow[i] = guarded
                                    let inverse: Float = guarded == 0 ? 0 : 1 / guarded
                                    let yi = o + (start + i) * ldo
                                    for c in 0..<e { yi[c] = row[c] * inverse }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Gradients of `forward` with respect to query features, key features and values, written in
    /// their layouts. `output` and `denominator` are what `forward` produced.
    public static func backward(
        _ p: LinearAttentionProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, denominator: UnsafePointer<Float>,
        queryFeatureGradient: UnsafeMutablePointer<Float>, keyFeatureGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        let os = SendablePointer(output), dos = SendablePointer(outputGradient), dens = SendablePointer(denominator)
        let dqs = SendablePointer(queryFeatureGradient), dks = SendablePointer(keyFeatureGradient)
        let dvs = SendablePointer(valueGradient)
        let (n, m, e) = (p.length, p.features, p.valueDimension)
        let ea = e + 1
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            let q = p.queryFeatures + p.queryLayout.offset(batch: b, head: h)
            let k = p.keyFeatures + p.keyLayout.offset(batch: b, head: h)
            let (ldq, ldk, ldv) = (p.queryLayout.positionStride, p.keyLayout.positionStride, p.valueLayout.positionStride)
            let dq = dqs.base + p.queryLayout.offset(batch: b, head: h)
            let dk = dks.base + p.keyLayout.offset(batch: b, head: h)
            let dv = dvs.base + p.valueLayout.offset(batch: b, head: h)
            let y = os.base + outputLayout.offset(batch: b, head: h)
            let dy = dos.base + outputLayout.offset(batch: b, head: h)
            let ldo = outputLayout.positionStride
            let dRow = dens.base + bh * n
            var augmented = augmentedValues(p, batch: b, head: h)  // Ṽ [n, e+1]
            // G̃ [n, e+1]: gradient of [numerator, D] per row.
            var rowGradient = [Float](repeating: 0, count: n * ea)
            for i in 0..<n where dRow[i] != 0 {
                let inverse = 1 / dRow[i]
                let yi = y + i * ldo, gi = dy + i * ldo
                var dot: Float = 0
                for c in 0..<e {
                    rowGradient[i * ea + c] = gi[c] * inverse
                    dot += gi[c] * yi[c]
                }
                rowGradient[i * ea + e] = -dot * inverse
            }
            var state = [Float](repeating: 0, count: m * ea)
            var scores = [Float](repeating: 0, count: chunk * chunk)
            augmented.withUnsafeMutableBufferPointer { vt in
                rowGradient.withUnsafeMutableBufferPointer { gt in
                    state.withUnsafeMutableBufferPointer { s in
                        scores.withUnsafeMutableBufferPointer { a in
                            let v = vt.baseAddress!, g = gt.baseAddress!, S = s.baseAddress!, A = a.baseAddress!
                            if p.causal {
                                causalQueryGradient(p, ldq: ldq, k: k, ldk: ldk, v: v, g: g, state: S, scores: A, dq: dq)
                                S.update(repeating: 0, count: m * ea)
                                causalKeyValueGradients(
                                    p, q: q, ldq: ldq, k: k, ldk: ldk, v: v, g: g, state: S, scores: A,
                                    dk: dk, dv: dv, ldv: ldv)
                            } else {
                                // S̃ = K′ᵀṼ; dQ′ = G̃·S̃ᵀ.
                                BLAS.gemm(
                                    transposeA: true, transposeB: false, m: m, n: ea, k: n,
                                    a: k, lda: ldk, b: v, ldb: ea, c: S, ldc: ea)
                                BLAS.gemm(
                                    transposeA: false, transposeB: true, m: n, n: m, k: ea,
                                    a: g, lda: ea, b: S, ldb: ea, c: dq, ldc: ldq)
                                // R̃ = Q′ᵀG̃; dK′ = Ṽ·R̃ᵀ; dV = K′·R̃[:, :e].
                                BLAS.gemm(
                                    transposeA: true, transposeB: false, m: m, n: ea, k: n,
                                    a: q, lda: ldq, b: g, ldb: ea, c: S, ldc: ea)
                                BLAS.gemm(
                                    transposeA: false, transposeB: true, m: n, n: m, k: ea,
                                    a: v, lda: ea, b: S, ldb: ea, c: dk, ldc: ldk)
                                BLAS.gemm(
                                    transposeA: false, transposeB: false, m: n, n: e, k: m,
                                    a: k, lda: ldk, b: S, ldb: ea, c: dv, ldc: ldv)
                            }
                            // The guard's own term: ∂D_i/∂q′_i gains ε·1.
                            if p.denominatorOffset != 0 {
                                for i in 0..<n {
                                    let shift = p.denominatorOffset * g[i * ea + e]
                                    let row = dq + i * ldq
                                    for f in 0..<m { row[f] += shift }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Forward scan for dQ′: dq′_c = G̃_c·S̃ᵀ + tril(G̃_c Ṽ_cᵀ)·K′_c, then S̃ += K′_cᵀṼ_c.
    static func causalQueryGradient(
        _ p: LinearAttentionProblem, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
        v: UnsafePointer<Float>, g: UnsafePointer<Float>, state S: UnsafeMutablePointer<Float>,
        scores A: UnsafeMutablePointer<Float>, dq: UnsafeMutablePointer<Float>
    ) {
        let (n, m, ea) = (p.length, p.features, p.valueDimension + 1)
        var start = 0
        while start < n {
            let rows = Swift.min(chunk, n - start)
            defer { start += chunk }
            let kc = k + start * ldk, vc = v + start * ea, gc = g + start * ea, dqc = dq + start * ldq
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: m, k: ea,
                a: gc, lda: ea, b: S, ldb: ea, c: dqc, ldc: ldq)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: rows, k: ea,
                a: gc, lda: ea, b: vc, ldb: ea, c: A, ldc: rows)
            zeroAboveDiagonal(A, size: rows)
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: m, k: rows,
                a: A, lda: rows, b: kc, ldb: ldk, beta: 1, c: dqc, ldc: ldq)
            BLAS.gemm(
                transposeA: true, transposeB: false, m: m, n: ea, k: rows,
                a: kc, lda: ldk, b: vc, ldb: ea, beta: 1, c: S, ldc: ea)
        }
    }

    /// Reverse scan for dK′ and dV with the suffix state R̃ = Σ_{later chunks} Q′ᵀG̃:
    /// dk′_c = Ṽ_c·R̃ᵀ + tril(G̃_c Ṽ_cᵀ)ᵀ·Q′_c and dv_c = K′_c·R̃[:, :e] + tril(Q′_c K′_cᵀ)ᵀ·G_c.
    static func causalKeyValueGradients(
        _ p: LinearAttentionProblem, q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
        v: UnsafePointer<Float>, g: UnsafePointer<Float>, state R: UnsafeMutablePointer<Float>,
        scores A: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
        dv: UnsafeMutablePointer<Float>, ldv: Int
    ) {
        let (n, m, e) = (p.length, p.features, p.valueDimension)
        let ea = e + 1
        let chunks = (n + chunk - 1) / chunk
        for index in stride(from: chunks - 1, through: 0, by: -1) {
            let start = index * chunk
            let rows = Swift.min(chunk, n - start)
            let qc = q + start * ldq, kc = k + start * ldk, vc = v + start * ea, gc = g + start * ea
            let dkc = dk + start * ldk, dvc = dv + start * ldv
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: m, k: ea,
                a: vc, lda: ea, b: R, ldb: ea, c: dkc, ldc: ldk)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: rows, k: ea,
                a: gc, lda: ea, b: vc, ldb: ea, c: A, ldc: rows)
            zeroAboveDiagonal(A, size: rows)
            BLAS.gemm(
                transposeA: true, transposeB: false, m: rows, n: m, k: rows,
                a: A, lda: rows, b: qc, ldb: ldq, beta: 1, c: dkc, ldc: ldk)
            BLAS.gemm(
                transposeA: false, transposeB: false, m: rows, n: e, k: m,
                a: kc, lda: ldk, b: R, ldb: ea, c: dvc, ldc: ldv)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: rows, k: m,
                a: qc, lda: ldq, b: kc, ldb: ldk, c: A, ldc: rows)
            zeroAboveDiagonal(A, size: rows)
            BLAS.gemm(
                transposeA: true, transposeB: false, m: rows, n: e, k: rows,
                a: A, lda: rows, b: gc, ldb: ea, beta: 1, c: dvc, ldc: ldv)
            BLAS.gemm(
                transposeA: true, transposeB: false, m: m, n: ea, k: rows,
                a: qc, lda: ldq, b: gc, ldb: ea, beta: 1, c: R, ldc: ea)
        }
    }

    /// Ṽ = [v, 1] for one (batch, head), contiguous [n, e+1].
    static func augmentedValues(_ p: LinearAttentionProblem, batch b: Int, head h: Int) -> [Float] {
        let (n, e) = (p.length, p.valueDimension)
        let v = p.value + p.valueLayout.offset(batch: b, head: h)
        let ldv = p.valueLayout.positionStride
        var result = [Float](repeating: 1, count: n * (e + 1))
        result.withUnsafeMutableBufferPointer { r in
            for i in 0..<n { (r.baseAddress! + i * (e + 1)).update(from: v + i * ldv, count: e) }
        }
        return result
    }

    /// Zeroes the strict upper triangle of a row-major size×size matrix (j > i).
    @inline(__always)
    static func zeroAboveDiagonal(_ a: UnsafeMutablePointer<Float>, size: Int) {
        for i in 0..<size where i + 1 < size { (a + i * size + i + 1).update(repeating: 0, count: size - i - 1) }
    }
}
