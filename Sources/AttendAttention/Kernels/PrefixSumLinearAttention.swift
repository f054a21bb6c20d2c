// Normalised linear attention on feature maps (Katharopoulos et al., 2020; the FAVOR+ contraction of
// Choromanski et al., 2020). Query t and a real key j ∈ V(t) (every key, or j ≤ t when causal) meet
// through the key's effective features
//     k′_j(t) = k̂_j·e^(c_j − c_t) + f·1,
// and y_t = Σ_j (q′_t·k′_j(t))·v_j / (Σ_j q′_t·k′_j(t) + ε·Σ_f q′_tf).
// - c (optional, causal only) is a non-decreasing per-position log-scale: Performer's running maximum
//   of the key logits, so key features can be stabilised by a maximum that never looks ahead. The
//   factor e^(c_j − c_t) ≤ 1 is a decay, handled like gated linear attention's.
// - f is a floor added to every real key's features after stabilisation (Performer's ε = 1e-4, times
//   m^(−1/2)); it is never decayed, so it is carried as a separate sum of values.
// - ε is the denominator guard of performer-pytorch's causal path (1e-6 on every feature of the key
//   sum); rows that see no key give 0, not 0/0.
// Padded keys have all-zero k̂ and are left out of the floor's sums (key mask).
//
// Cost O(n·m·e) with O(m·e) state per head. Values get a column of ones (ṽ = [v, 1]), so numerator and
// denominator are one product with an m×(e+1) state S = Σ_j k̂_j e^(c_j − c_ref)·ṽ_jᵀ. The causal form
// is a chunked scan: inside a chunk of T positions the exact product ((Q′K̂ᵀ) ⊙ D)·Ṽ with the masked
// decay matrix D_tj = e^(c_j − c_t) (j ≤ t), across chunks the carried state, rescaled when c rises;
// no n×m×e tensor is formed. The backward pass is two scans: forward for the query gradient (it needs
// the prefix state), reverse for key and value gradients (they need the suffix state
// R = Σ_{t later} e^(c_ref − c_t)·q′_t g̃_tᵀ), with g̃_t = [dy_t/D_t, −(dy_t·y_t)/D_t] the gradient of
// [numerator, denominator]. Every exponent is ≤ 0, so nothing overflows.
//
// Shapes: b batch, h heads, n positions, m features, e value dimension. Features and values are
// addressed through `HeadLayout` ([b, n, h, ·] straight from the projections); the log-scale and
// denominators are [b, h, n]; the key mask is [b, n].
import AttendCore

/// One linear-attention problem: sizes, direction, stabilisation, guard and operand addresses.
public struct LinearAttentionProblem: @unchecked Sendable {
    /// Sizes: batch, heads, positions, feature count m and value width e.
    public var batch: Int, heads: Int, length: Int, features: Int, valueDimension: Int
    /// Position t sees only positions j ≤ t.
    public var causal: Bool
    /// ε added to every feature of the key sum in the denominator.
    public var denominatorOffset: Float
    /// f added to every feature of every real key (undecayed).
    public var keyFeatureFloor: Float
    /// c [batch, heads, length], non-decreasing along positions (causal only); nil = no decay.
    public var keyLogScale: UnsafePointer<Float>?
    /// [batch, length], 0 = padding (only the floor reads it; padded keys must have zero features).
    public var keyMask: UnsafePointer<Float>?
    /// Positions per chunk of the causal scan (results do not depend on it beyond rounding).
    public var chunkSize = PrefixSumLinearAttention.chunk
    /// Query features [batch, length, heads, features] through `queryLayout`.
    public var queryFeatures: UnsafePointer<Float>, queryLayout: HeadLayout
    /// Key features [batch, length, heads, features] through `keyLayout`.
    public var keyFeatures: UnsafePointer<Float>, keyLayout: HeadLayout
    /// Values [batch, length, heads, valueDimension] through `valueLayout`.
    public var value: UnsafePointer<Float>, valueLayout: HeadLayout

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        batch: Int, heads: Int, length: Int, features: Int, valueDimension: Int, causal: Bool,
        denominatorOffset: Float, keyFeatureFloor: Float = 0,
        keyLogScale: UnsafePointer<Float>? = nil,
        keyMask: UnsafePointer<Float>? = nil,
        queryFeatures: UnsafePointer<Float>, queryLayout: HeadLayout,
        keyFeatures: UnsafePointer<Float>, keyLayout: HeadLayout,
        value: UnsafePointer<Float>, valueLayout: HeadLayout
    ) {
        precondition(causal || keyLogScale == nil, "a key log-scale (decay) needs the causal form")
        (self.batch, self.heads, self.length, self.features) = (batch, heads, length, features)
        (self.valueDimension, self.causal, self.denominatorOffset) = (
            valueDimension, causal, denominatorOffset
        )
        (self.keyFeatureFloor, self.keyLogScale, self.keyMask) = (
            keyFeatureFloor, keyLogScale, keyMask
        )
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

    /// Per-(batch, head) views and scratch shared by the passes.
    struct Head {
        let q: UnsafePointer<Float>, k: UnsafePointer<Float>, ldq: Int, ldk: Int
        /// Ṽ [n, e+1] contiguous.
        let v: UnsafeMutablePointer<Float>
        /// c [n] or nil.
        let logScale: UnsafePointer<Float>?
        /// 1/0 per position (nil = all real).
        let real: UnsafePointer<Float>?
        let n: Int, m: Int, e: Int
        var ea: Int { e + 1 }
    }

    /// Writes y (in `outputLayout`) and the guarded denominators D [batch, heads, length].
    public static func forward(
        _ p: LinearAttentionProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        denominator: UnsafeMutablePointer<Float>
    ) {
        let out = SendablePointer(output), den = SendablePointer(denominator)
        Parallel.forEach(p.batch * p.heads) { bh in
            withHead(p, bh) { head in
                let (n, e, ea) = (head.n, head.e, head.ea)
                var rows = [Float](repeating: 0, count: n * ea)  // [numerator, D] per position
                rows.withUnsafeMutableBufferPointer { r in
                    let R = r.baseAddress!
                    if p.causal {
                        causalProducts(p, head, into: R)
                    } else {
                        bidirectionalProducts(p, head, into: R)
                    }
                    let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
                    let o = out.base + outputLayout.offset(batch: b, head: h)
                    let ldo = outputLayout.positionStride
                    let denRow = den.base + bh * n
                    for t in 0..<n {
                        let row = R + t * ea
                        let guarded =
                            row[e] + p.denominatorOffset
                            * Reduce.sum(head.q + t * head.ldq, count: head.m)
                        denRow[t] = guarded
                        let inverse: Float = guarded == 0 ? 0 : 1 / guarded
                        let yt = o + t * ldo
                        for c in 0..<e { yt[c] = row[c] * inverse }
                    }
                }
            }
        }
    }

    /// Gradients of `forward` with respect to query features, key features and values, written in
    /// their layouts. `output` and `denominator` are what `forward` produced; c is a constant.
    public static func backward(
        _ p: LinearAttentionProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, denominator: UnsafePointer<Float>,
        queryFeatureGradient: UnsafeMutablePointer<Float>,
        keyFeatureGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            dens = SendablePointer(denominator)
        let dqs = SendablePointer(queryFeatureGradient), dks = SendablePointer(keyFeatureGradient)
        let dvs = SendablePointer(valueGradient)
        Parallel.forEach(p.batch * p.heads) { bh in
            let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
            withHead(p, bh) { head in
                let (n, e, ea) = (head.n, head.e, head.ea)
                let y = os.base + outputLayout.offset(batch: b, head: h)
                let dy = dos.base + outputLayout.offset(batch: b, head: h)
                let ldo = outputLayout.positionStride
                let dRow = dens.base + bh * n
                // G̃ [n, e+1]: gradient of [numerator, D] per position.
                var rowGradient = [Float](repeating: 0, count: n * ea)
                for t in 0..<n where dRow[t] != 0 {
                    let inverse = 1 / dRow[t]
                    let yt = y + t * ldo, gt = dy + t * ldo
                    var dot: Float = 0
                    for c in 0..<e {
                        rowGradient[t * ea + c] = gt[c] * inverse
                        dot += gt[c] * yt[c]
                    }
                    rowGradient[t * ea + e] = -dot * inverse
                }
                let gradients = Gradients(
                    dq: dqs.base + p.queryLayout.offset(batch: b, head: h),
                    dk: dks.base + p.keyLayout.offset(batch: b, head: h),
                    dv: dvs.base + p.valueLayout.offset(batch: b, head: h),
                    ldv: p.valueLayout.positionStride)
                rowGradient.withUnsafeBufferPointer { g in
                    if p.causal {
                        causalQueryGradient(p, head, g.baseAddress!, gradients)
                        causalKeyValueGradients(p, head, g.baseAddress!, gradients)
                    } else {
                        bidirectionalGradients(p, head, g.baseAddress!, gradients)
                    }
                    // The guard's own term: ∂D_t/∂q′_t gains ε·1.
                    if p.denominatorOffset != 0 {
                        for t in 0..<n {
                            BLAS.axpyConstant(
                                count: head.m, alpha: p.denominatorOffset * g[t * ea + e],
                                y: gradients.dq + t * head.ldq)
                        }
                    }
                }
            }
        }
    }

    struct Gradients {
        let dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
            dv: UnsafeMutablePointer<Float>
        let ldv: Int
    }

    // MARK: Bidirectional

    /// [N, D] = Q′·S + f·σ ⊗ Σ_real ṽ with S = K̂ᵀṼ (σ_t = Σ_f q′_tf).
    static func bidirectionalProducts(
        _ p: LinearAttentionProblem, _ head: Head, into R: UnsafeMutablePointer<Float>
    ) {
        let (n, m, ea) = (head.n, head.m, head.ea)
        var state = [Float](repeating: 0, count: m * ea)
        state.withUnsafeMutableBufferPointer { s in
            BLAS.gemm(
                transposeA: true, transposeB: false, m: m, n: ea, k: n,
                a: head.k, lda: head.ldk, b: head.v, ldb: ea, c: s.baseAddress!, ldc: ea)
            BLAS.gemm(
                transposeA: false, transposeB: false, m: n, n: ea, k: m,
                a: head.q, lda: head.ldq, b: s.baseAddress!, ldb: ea, c: R, ldc: ea)
        }
        if p.keyFeatureFloor != 0 {
            let total = realRowSums(head)
            for t in 0..<n {
                let weight = p.keyFeatureFloor * Reduce.sum(head.q + t * head.ldq, count: m)
                BLAS.axpy(count: ea, alpha: weight, x: total, y: R + t * ea)
            }
        }
    }

    /// Bidirectional gradients: S = K̂ᵀṼ, dQ′ = G̃·Sᵀ + f·(g̃_t·Σ_real ṽ)·1; R = Q′ᵀG̃, dK̂ = Ṽ·Rᵀ,
    /// dV = K̂·R[:, :e] + f·real_j·Σ_t σ_t g_t.
    static func bidirectionalGradients(
        _ p: LinearAttentionProblem, _ head: Head, _ g: UnsafePointer<Float>, _ d: Gradients
    ) {
        let (n, m, e, ea) = (head.n, head.m, head.e, head.ea)
        var state = [Float](repeating: 0, count: m * ea)
        state.withUnsafeMutableBufferPointer { s in
            let S = s.baseAddress!
            BLAS.gemm(
                transposeA: true, transposeB: false, m: m, n: ea, k: n,
                a: head.k, lda: head.ldk, b: head.v, ldb: ea, c: S, ldc: ea)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: n, n: m, k: ea,
                a: g, lda: ea, b: S, ldb: ea, c: d.dq, ldc: head.ldq)
            BLAS.gemm(
                transposeA: true, transposeB: false, m: m, n: ea, k: n,
                a: head.q, lda: head.ldq, b: g, ldb: ea, c: S, ldc: ea)
            BLAS.gemm(
                transposeA: false, transposeB: true, m: n, n: m, k: ea,
                a: head.v, lda: ea, b: S, ldb: ea, c: d.dk, ldc: head.ldk)
            BLAS.gemm(
                transposeA: false, transposeB: false, m: n, n: e, k: m,
                a: head.k, lda: head.ldk, b: S, ldb: ea, c: d.dv, ldc: d.ldv)
        }
        guard p.keyFeatureFloor != 0 else { return }
        let total = realRowSums(head)
        var weighted = [Float](repeating: 0, count: e)  // Σ_t σ_t g_t
        for t in 0..<n {
            let sigma = Reduce.sum(head.q + t * head.ldq, count: m)
            BLAS.axpy(count: e, alpha: sigma, x: g + t * ea, y: &weighted)
            BLAS.axpyConstant(
                count: m, alpha: p.keyFeatureFloor * Dot.product(g + t * ea, total, count: ea),
                y: d.dq + t * head.ldq)
        }
        for j in 0..<n where head.isReal(j) {
            BLAS.axpy(count: e, alpha: p.keyFeatureFloor, x: weighted, y: d.dv + j * d.ldv)
        }
    }

    /// Builds the per-head view (Ṽ with its ones column) and runs `body`.
    static func withHead(_ p: LinearAttentionProblem, _ bh: Int, _ body: (Head) -> Void) {
        let (b, h) = bh.quotientAndRemainder(dividingBy: p.heads)
        let (n, e) = (p.length, p.valueDimension)
        let v = p.value + p.valueLayout.offset(batch: b, head: h)
        let ldv = p.valueLayout.positionStride
        let real = p.keyMask.map { $0 + b * n }
        var augmented = [Float](repeating: 1, count: n * (e + 1))
        augmented.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress!
            for t in 0..<n { (base + t * (e + 1)).update(from: v + t * ldv, count: e) }
            body(
                Head(
                    q: p.queryFeatures + p.queryLayout.offset(batch: b, head: h),
                    k: p.keyFeatures + p.keyLayout.offset(batch: b, head: h),
                    ldq: p.queryLayout.positionStride, ldk: p.keyLayout.positionStride, v: base,
                    logScale: p.keyLogScale.map { $0 + bh * n }, real: real, n: n, m: p.features,
                    e: e))
        }
    }

    /// Σ_{real j} ṽ_j.
    static func realRowSums(_ head: Head) -> [Float] {
        var total = [Float](repeating: 0, count: head.ea)
        for j in 0..<head.n where head.isReal(j) {
            BLAS.axpy(count: head.ea, alpha: 1, x: head.v + j * head.ea, y: &total)
        }
        return total
    }

    @inline(__always)
    static func scale(_ x: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        if factor == 1 { return }
        for i in 0..<count { x[i] *= factor }
    }
}

extension PrefixSumLinearAttention.Head {
    @inline(__always) func isReal(_ t: Int) -> Bool { real.map { $0[t] != 0 } ?? true }
}

extension BLAS {
    /// y[i] += alpha for i in 0..<count.
    @inline(__always)
    static func axpyConstant(count: Int, alpha: Float, y: UnsafeMutablePointer<Float>) {
        if alpha == 0 { return }
        for i in 0..<count { y[i] += alpha }
    }
}
