// Normalised linear attention as a differentiable op on [b, n, h, ·] feature maps, through the
// prefix-sum kernel (Kernels/PrefixSumLinearAttention.swift): y_i = Σ_j (q′_i·k′_j)v_j / q′_i·(Σ_j k′_j + ε),
// over every j (bidirectional) or j ≤ i (causal), with optional per-position key stabilisation (a
// decay e^(c_j − c_i)) and an undecayed floor on key features. Any mechanism with a non-negative
// feature map (Performer's FAVOR+, a ReLU kernel, elu + 1) computes its attention with it.
import AttendCore

extension Tensor {
    /// Linear attention of feature maps: O(n·m·e) time, O(m·e) state per head, no n×n or n×m×e tensor.
    ///
    /// - Parameters:
    ///   - queryFeatures: [b, n, h, m], non-negative.
    ///   - keyFeatures: [b, n, h, m], non-negative; a padded key must have all-zero features.
    ///   - value: [b, n, h, e].
    ///   - causal: position i sees only positions j ≤ i.
    ///   - denominatorOffset: ε added to every feature of the key sum (performer-pytorch's guard); a
    ///     row that sees no key then gives 0.
    ///   - keyFeatureFloor: f added to every feature of every real key, undecayed (Performer's ε·m^(−1/2)).
    ///   - keyLogScale: [b, h, n], non-decreasing along n (causal only; a constant for differentiation):
    ///     query t sees key j through k̂_j·e^(c_j − c_t), so keys can be stabilised by a running maximum.
    ///   - keyMask: [b, n], 0 for padding (the floor skips those keys).
    ///   - scanChunk: positions per chunk of the causal scan (a tuning knob; tests shrink it).
    /// - Returns: [b, n, h, e].
    public static func linearAttention(
        queryFeatures: Tensor, keyFeatures: Tensor, value: Tensor, causal: Bool,
        denominatorOffset: Float = 1e-6,
        keyFeatureFloor: Float = 0, keyLogScale: Tensor? = nil, keyMask: Tensor? = nil,
        scanChunk: Int = PrefixSumLinearAttention.chunk
    ) -> Tensor {
        precondition(
            scanChunk >= 1, "linearAttention: scan chunk must be at least 1, got \(scanChunk)")
        precondition(
            queryFeatures.rank == 4,
            "linearAttention: query features must be [b, n, h, m], got \(queryFeatures.shape)")
        let (b, n, h) = (queryFeatures.shape[0], queryFeatures.shape[1], queryFeatures.shape[2])
        let e = value.shape.last ?? 0
        precondition(
            keyFeatures.shape == queryFeatures.shape,
            "linearAttention: key features \(keyFeatures.shape) vs query features \(queryFeatures.shape)"
        )
        precondition(
            value.shape == [b, n, h, e],
            "linearAttention: value \(value.shape) vs features \(queryFeatures.shape)")
        if let keyLogScale {
            precondition(causal, "linearAttention: a key log-scale needs the causal form")
            precondition(
                keyLogScale.shape == [b, h, n],
                "linearAttention: key log-scale \(keyLogScale.shape), expected [\(b), \(h), \(n)]")
        }
        requireShape("linearAttention", "key mask", keyMask, [b, n])
        return fused(
            LinearAttentionOp(
                queryFeatures: queryFeatures, keyFeatures: keyFeatures, value: value,
                causal: causal,
                denominatorOffset: denominatorOffset, keyFeatureFloor: keyFeatureFloor,
                keyLogScale: keyLogScale, keyMask: keyMask, scanChunk: scanChunk))
    }
}

/// `Tensor.linearAttention` as a kernel op: inputs q′, k′, v; constants the key log-scale and key
/// mask; saved the rows' denominators.
struct LinearAttentionOp: KernelOp {
    static let op = Op("linearAttention")
    static let backwardReadsOutput = true
    let queryFeatures: Tensor, keyFeatures: Tensor, value: Tensor, causal: Bool
    let denominatorOffset: Float, keyFeatureFloor: Float, keyLogScale: Tensor?, keyMask: Tensor?
    let scanChunk: Int

    var inputs: [Tensor?] { [queryFeatures, keyFeatures, value] }
    var constants: [Tensor?] { [keyLogScale, keyMask] }
    var outputShape: [Int] { value.shape }
    var valueLayout: HeadLayout {
        .positionMajor(length: value.shape[1], heads: value.shape[2], dimension: value.shape[3])
    }

    func problem(_ x: KernelBuffers) -> LinearAttentionProblem {
        let shape = queryFeatures.shape
        let (b, n, h, m) = (shape[0], shape[1], shape[2], shape[3])
        let featureLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: m)
        var problem = LinearAttentionProblem(
            batch: b, heads: h, length: n, features: m, valueDimension: value.shape[3],
            causal: causal,
            denominatorOffset: denominatorOffset, keyFeatureFloor: keyFeatureFloor,
            keyLogScale: x.constant(0), keyMask: x.constant(1),
            queryFeatures: x.input(0), queryLayout: featureLayout, keyFeatures: x.input(1),
            keyLayout: featureLayout,
            value: x.input(2), valueLayout: valueLayout)
        problem.chunkSize = scanChunk
        return problem
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var denominator = rowStatistics(queryFeatures)
        PrefixSumLinearAttention.forward(
            problem(x), output: output, outputLayout: valueLayout, denominator: &denominator)
        return denominator
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved denominator: [Float]) {
        PrefixSumLinearAttention.backward(
            problem(x), output: g.output, outputLayout: valueLayout,
            outputGradient: g.outputGradient,
            denominator: denominator, queryFeatureGradient: g.input(0),
            keyFeatureGradient: g.input(1),
            valueGradient: g.input(2))
    }
}

extension LinearAttentionOp {
    /// Bidirectional, with positive features e^(N(0, 0.5²)) of width 4 over 5 positions.
    static var gradientExamples: [KernelOpExample] {
        let features = [UInt64(6), 8].map {
            Tensor.randomNormal([1, 5, 2, 4], seed: $0, standardDeviation: 0.5).exp()
        }
        let value = Tensor.randomNormal([1, 5, 2, 3], seed: 3)
        return [
            KernelOpExample("bidirectional", features + [value]) {
                Tensor.linearAttention(
                    queryFeatures: $0[0], keyFeatures: $0[1], value: $0[2], causal: false,
                    keyFeatureFloor: 0.05)
            }
        ]
    }
}
