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
        queryFeatures: Tensor, keyFeatures: Tensor, value: Tensor, causal: Bool, denominatorOffset: Float = 1e-6,
        keyFeatureFloor: Float = 0, keyLogScale: Tensor? = nil, keyMask: Tensor? = nil,
        scanChunk: Int = PrefixSumLinearAttention.chunk
    ) -> Tensor {
        precondition(scanChunk >= 1, "linearAttention: scan chunk must be at least 1, got \(scanChunk)")
        precondition(queryFeatures.rank == 4, "linearAttention: query features must be [b, n, h, m], got \(queryFeatures.shape)")
        let (b, n, h, m) = (queryFeatures.shape[0], queryFeatures.shape[1], queryFeatures.shape[2], queryFeatures.shape[3])
        let e = value.shape.last ?? 0
        precondition(keyFeatures.shape == queryFeatures.shape, "linearAttention: key features \(keyFeatures.shape) vs query features \(queryFeatures.shape)")
        precondition(value.shape == [b, n, h, e], "linearAttention: value \(value.shape) vs features \(queryFeatures.shape)")
        if let keyLogScale {
            precondition(causal, "linearAttention: a key log-scale needs the causal form")
            precondition(keyLogScale.shape == [b, h, n], "linearAttention: key log-scale \(keyLogScale.shape), expected [\(b), \(h), \(n)]")
        }
        if let keyMask { precondition(keyMask.shape == [b, n], "linearAttention: key mask \(keyMask.shape), expected [\(b), \(n)]") }
        let featureLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: m)
        let valueLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: e)
        func withProblem<R>(_ body: (LinearAttentionProblem) -> R) -> R {
            withBaseAddresses(queryFeatures, keyFeatures, value) { q, k, v in
                withOptionalPointer(keyLogScale) { c in
                    withOptionalPointer(keyMask) { mask in
                        var problem = LinearAttentionProblem(
                            batch: b, heads: h, length: n, features: m, valueDimension: e, causal: causal,
                            denominatorOffset: denominatorOffset, keyFeatureFloor: keyFeatureFloor,
                            keyLogScale: c, keyMask: mask,
                            queryFeatures: q, queryLayout: featureLayout, keyFeatures: k, keyLayout: featureLayout,
                            value: v, valueLayout: valueLayout)
                        problem.chunkSize = scanChunk
                        return body(problem)
                    }
                }
            }
        }
        var denominator = [Float](repeating: 0, count: b * h * n)
        let output = Tensor.filled(shape: [b, n, h, e]) { out in
            withProblem { p in
                PrefixSumLinearAttention.forward(p, output: out.baseAddress!, outputLayout: valueLayout, denominator: &denominator)
            }
        }
        return output.recorded(.custom, from: [queryFeatures, keyFeatures, value]) { dy in
            let shapes = [queryFeatures.shape, keyFeatures.shape, value.shape]
            return kernelGradients(shapes, output: output, outputGradient: dy) { o, g, dx in
                withProblem { p in
                    PrefixSumLinearAttention.backward(
                        p, output: o, outputLayout: valueLayout, outputGradient: g, denominator: denominator,
                        queryFeatureGradient: dx[0], keyFeatureGradient: dx[1], valueGradient: dx[2])
                }
            }
        }
    }
}
