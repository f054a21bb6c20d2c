// Transformer-MLK, the linear-attention form of Transformer-MGK (Nguyen et al., 2022; mechanisms-a.md
// §2.8). Of the reference's two linear codes this follows the language-model one
// (`CudaFastWeightSumTwoLinearTransformerLayer`, `rbf2keys`): sum-normalised elu + 1 features, the
// component features mixed after the feature map with the clamped priors, a normalising denominator
// (+1e-5), the 1/√d factor the code applies after normalising, and a causal form by prefix sums. (The
// LRA code mixes the keys before the feature map and has no denominator.) It is registered as its own
// mechanism, `mgk-linear`, because its cost (O(n·M·d²)), causal algorithm and capabilities differ from
// the softmax form; it shares the layer, its parameters and its options (`MixerConfiguration.mgk`).
// Shapes: b batch, n queries, m keys, h heads, M components, d head dimension, e value dimension.
import AttendCore

/// Linear attention with a mixture of keys (Transformer-MLK; mechanisms-a.md §2.8, the language-model
/// code's `rbf2keys` form): φ(x) = (elu(x) + 1)/Σ_f (elu(x) + 1)_f on queries and on every component
/// key, the component features mixed with the (clamped) priors, k̃_j = Σ_r π_r·φ(k_jr), and
///     o_i = scale·φ(q_i)ᵀ(Σ_j k̃_j v_jᵀ) / (φ(q_i)·Σ_j k̃_j + ε),
/// the sums over visible keys (j ≤ i when causal: prefix sums, computed in chunks of `chunk`).
///
/// - Parameters: query [b, n, h, d]; keys [b, m, M, h, d]; value [b, m, h, e]; priors [h, M] (already
///   clamped); keyMask [b, m].
/// - Returns: [b, n, h, e].
public func mixtureOfLinearKeysAttention(
    query: Tensor, keys: Tensor, value: Tensor, priors: Tensor, scale: Float,
    epsilon: Float = MixtureOfGaussianKeysAttention.linearDenominatorOffset,
    causal: Bool = false, keyMask: Tensor? = nil, chunk: Int = 64
) -> Tensor {
    let (b, n, h) = (query.shape[0], query.shape[1], query.shape[2])
    let (m, M, e) = (keys.shape[1], keys.shape[2], value.shape[3])
    precondition(
        keys.shape == [b, m, M, h, query.shape[3]],
        "mixtureOfLinearKeysAttention: keys \(keys.shape) vs query \(query.shape)")
    let q = linearKeyFeatures(query).permuted([0, 2, 1, 3])  // [b, h, n, d]
    var k = mixedLinearKeyFeatures(keys, priors: priors)  // [b, m, h, d]
    if let keyMask { k = k * keyMask.reshaped([b, m, 1, 1]) }
    let keysByHead = k.permuted([0, 2, 1, 3])  // [b, h, m, d]
    let v = value.permuted([0, 2, 1, 3])  // [b, h, m, e]
    let numerator: Tensor, denominator: Tensor  // [b, h, n, e], [b, h, n, 1]
    if !causal {
        let state = Tensor.matmul(keysByHead, v, transposeA: true)  // [b, h, d, e]
        let total = keysByHead.summed(alongAxes: [2], keepingDimensions: true)  // [b, h, 1, d]
        numerator = Tensor.matmul(q, state)
        denominator = Tensor.matmul(q, total, transposeB: true)
    } else {
        precondition(n == m, "causal linear attention needs as many queries as keys")
        let chunks = (n + chunk - 1) / chunk
        let padding = chunks * chunk - n
        func chunked(_ x: Tensor) -> Tensor {  // [b, h, n, f] → [b, h, chunks, chunk, f]
            x.padded(alongAxis: 2, before: 0, after: padding).reshaped([
                b, h, chunks, chunk, x.shape[3],
            ])
        }
        let (qc, kc, vc) = (chunked(q), chunked(keysByHead), chunked(v))
        let lower = Tensor.filled(shape: [chunk, chunk]) { out in
            for i in 0..<chunk { for j in 0..<chunk { out[i * chunk + j] = j <= i ? 1 : 0 } }
        }
        // [b, h, chunks, chunk, chunk]
        let within = Tensor.matmul(qc, kc, transposeB: true) * lower
        let states = Tensor.matmul(kc, vc, transposeA: true)  // [b, h, chunks, d, e]
        let before = states.cumulativeSum(alongAxis: 2, exclusive: true)
        let totals = kc.summed(alongAxes: [3], keepingDimensions: true)  // [b, h, chunks, 1, d]
        let totalsBefore = totals.cumulativeSum(alongAxis: 2, exclusive: true)
        let num = Tensor.matmul(within, vc) + Tensor.matmul(qc, before)  // [b, h, chunks, chunk, e]
        let den =
            within.summed(alongAxes: [4], keepingDimensions: true)
            + Tensor.matmul(qc, totalsBefore, transposeB: true)  // [b, h, chunks, chunk, 1]
        numerator = num.reshaped([b, h, chunks * chunk, e]).sliced(alongAxis: 2, 0..<n)
        denominator = den.reshaped([b, h, chunks * chunk, 1]).sliced(alongAxis: 2, 0..<n)
    }
    return (numerator / (denominator + epsilon) * scale).permuted([0, 2, 1, 3])  // [b, n, h, e]
}

/// φ(x) = (elu(x) + 1)/Σ_f (elu(x) + 1)_f along the last axis, where
/// elu(x) + 1 = relu(x) + e^{min(x, 0)}.
public func linearKeyFeatures(_ x: Tensor) -> Tensor {
    let positive = x.relu() + x.clamped(upper: 0).exp()
    return positive / positive.summed(alongAxes: [x.rank - 1], keepingDimensions: true)
}

/// k̃_j = Σ_r π_r·φ(k_jr) of component keys [b, m, M, h, d] with priors [h, M] → [b, m, h, d].
public func mixedLinearKeyFeatures(_ keys: Tensor, priors: Tensor) -> Tensor {
    let (M, h) = (keys.shape[2], keys.shape[3])
    let weighted = linearKeyFeatures(keys) * priors.permuted([1, 0]).reshaped([1, 1, M, h, 1])
    return weighted.summed(alongAxes: [2])
}

extension MixtureOfGaussianKeysAttention {
    /// ε in the linear form's denominator (the reference code's 1e-5).
    public static let linearDenominatorOffset: Float = 1e-5

    /// Working memory of the linear form: the frame with M key projections, the elu + 1 features of
    /// queries and of every component's keys, their mixture and the contractions, each with its
    /// gradient; causal, the [b, h, n/64, 64, 64] within-chunk maps and the per-chunk states.
    static func linearWorkingMemory(_ configuration: MixerConfiguration, _ size: PassSize)
        -> Double
    {
        let M = Double(configuration.mgk.components)
        let widened = widthScaled(configuration)
        let chunk = 64.0
        // Causal maps cover whole chunks: the sequence padded to a multiple of 64.
        var padded = size
        padded.length = Swift.max(size.length - 1, 0) / Int(chunk) * Int(chunk) + Int(chunk)
        let maps = size.causal ? 6.0 : 0
        return WorkingMemory.frame(widened, size, coreActivations: 12 + 8 * M)
            + WorkingMemory.maps(maps, keysPerQuery: chunk, widened, padded)
    }

    /// Registry entry of the linear form.
    public static let linearEntry = Mechanism(
        name: "mgk-linear",
        summary:
            "Transformer-MLK: linear attention over prior-mixed key features (Nguyen et al. 2022)",
        capabilities: Capabilities(
            supportsCausal: true, complexity: "O(n·M·d²) time, O(n·d) memory"),
        options: MixtureOfGaussianKeysAttention.Options.self,
        workingMemory: linearWorkingMemory,
        make: { configuration, generator in
            try MixtureOfGaussianKeysAttention(
                configuration: configuration, form: .linear, generator: &generator)
        })
}
