// The decoding state of causal linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"):
// per (sequence, head) the running sum S = Σ_j k̂_j·e^(c_j − c)·ṽ_jᵀ [m, e + 1] (ṽ = [v, 1], so the
// last column is the denominator's Σ k′), kept relative to the running log-scale c, and Σ_j ṽ_j for
// the undecayed key floor f. It is the carried state of the chunked scan in
// Kernels/PrefixSumLinearAttention.swift, advanced one position at a time with the same formulas:
//     c ← max(c, r_t),  S ← e^(c_old − c)·S + k̂_t·e^(r_t − c)·ṽ_tᵀ,  Σṽ ← Σṽ + ṽ_t,
//     [N, D] = q′_t·S + f·(Σ_f q′_tf)·Σṽ,  y_t = N / (D + ε·Σ_f q′_tf)   (0 when that is 0),
// where k̂_t comes stabilised by its own row maximum r_t. Without a log-scale (ReLU features, elu + 1)
// c stays put and the factors are 1. Memory O(h·m·e) per sequence, whatever the context length.
import AttendCore
import Foundation

/// Running sums of causal linear attention for a batch of sequences.
public final class LinearAttentionState: DecodingState {
    /// h, m, e.
    let heads: Int, features: Int, valueDimension: Int
    /// f, added to every real key's features after stabilisation.
    let keyFeatureFloor: Float
    /// ε on every feature of the key sum.
    let denominatorOffset: Float
    /// S per (sequence, head): [b·h, m, e + 1].
    private var sums: [Float]
    /// Σ ṽ per (sequence, head): [b·h, e + 1].
    private var valueSums: [Float]
    /// c per (sequence, head), or nil when keys are not stabilised.
    private var logScale: [Float]?

    /// The state after the first `lengths[i]` positions of key features k̂ [b, n, h, m] (stabilised by
    /// the running maximum `keyLogScale` [b, h, n] when given) and values v [b, n, h, e].
    public init(
        keyFeatures: Tensor, keyLogScale: Tensor?, value: Tensor, lengths: [Int], keyFeatureFloor: Float,
        denominatorOffset: Float
    ) {
        let (b, n, h, m) = (keyFeatures.shape[0], keyFeatures.shape[1], keyFeatures.shape[2], keyFeatures.shape[3])
        let e = value.shape[3], ea = value.shape[3] + 1
        (heads, features, valueDimension) = (h, m, e)
        (self.keyFeatureFloor, self.denominatorOffset) = (keyFeatureFloor, denominatorOffset)
        sums = [Float](repeating: 0, count: b * h * m * ea)
        valueSums = [Float](repeating: 0, count: b * h * ea)
        let (k, v, c) = (keyFeatures.scalars, value.scalars, keyLogScale?.scalars)
        logScale = c.map { _ in [Float](repeating: PositiveRandomFeatures.initialLogScale, count: b * h) }
        for bh in 0..<(b * h) {
            let (i, head) = bh.quotientAndRemainder(dividingBy: h)
            let last = lengths[i] - 1
            let reference = c.map { $0[bh * n + last] }
            for j in 0...last {
                let decay = reference.map { Foundation.exp(c![bh * n + j] - $0) } ?? 1
                let row = (i * n + j) * h + head
                add(bh, keyFeatures: k, keyOffset: row * m, value: v, valueOffset: row * e, weight: decay)
            }
            if let reference { logScale![bh] = reference }
        }
    }

    /// Bytes of the sums.
    public var byteCount: Int { (sums.count + valueSums.count + (logScale?.count ?? 0)) * MemoryLayout<Float>.size }

    /// S += weight·k̂ṽᵀ and Σṽ += ṽ for one (sequence, head).
    private func add(_ bh: Int, keyFeatures k: [Float], keyOffset: Int, value v: [Float], valueOffset: Int, weight: Float) {
        let (m, e, ea) = (features, valueDimension, valueDimension + 1)
        for f in 0..<m {
            let kf = k[keyOffset + f] * weight
            if kf == 0 { continue }
            let base = (bh * m + f) * ea
            for x in 0..<e { sums[base + x] += kf * v[valueOffset + x] }
            sums[base + e] += kf
        }
        for x in 0..<e { valueSums[bh * ea + x] += v[valueOffset + x] }
        valueSums[bh * ea + e] += 1
    }

    /// Takes in the next position's key features k̂ [b, 1, h, m] (stabilised by their row maxima
    /// `keyLogScale` [b, h, 1] when the state has a log-scale) and values [b, 1, h, e], then
    /// returns the outputs [b, 1, h, e] of query features q′ [b, 1, h, m].
    public func step(queryFeatures: Tensor, keyFeatures: Tensor, keyLogScale: Tensor?, value: Tensor) -> Tensor {
        let (b, h, m, e, ea) = (keyFeatures.shape[0], heads, features, valueDimension, valueDimension + 1)
        let (q, k, v, r) = (queryFeatures.scalars, keyFeatures.scalars, value.scalars, keyLogScale?.scalars)
        var out = [Float](repeating: 0, count: b * h * e)
        for bh in 0..<(b * h) {
            var weight: Float = 1
            if let r, logScale != nil {
                let updated = Swift.max(logScale![bh], r[bh])
                let rescale = Foundation.exp(logScale![bh] - updated)
                if rescale != 1 { for x in (bh * m * ea)..<((bh + 1) * m * ea) { sums[x] *= rescale } }
                weight = Foundation.exp(r[bh] - updated)
                logScale![bh] = updated
            }
            add(bh, keyFeatures: k, keyOffset: bh * m, value: v, valueOffset: bh * e, weight: weight)
            var row = [Float](repeating: 0, count: ea)
            var querySum: Float = 0
            for f in 0..<m {
                let qf = q[bh * m + f]
                querySum += qf
                let base = (bh * m + f) * ea
                for x in 0..<ea { row[x] += qf * sums[base + x] }
            }
            for x in 0..<ea { row[x] += keyFeatureFloor * querySum * valueSums[bh * ea + x] }
            let denominator = row[e] + denominatorOffset * querySum
            let inverse: Float = denominator == 0 ? 0 : 1 / denominator
            for x in 0..<e { out[bh * e + x] = row[x] * inverse }
        }
        return Tensor(shape: [b, 1, h, e], scalars: out)
    }
}
