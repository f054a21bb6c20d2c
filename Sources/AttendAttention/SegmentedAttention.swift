// Exact softmax attention restricted to a sparse key pattern (sliding windows, BigBird blocks) as a
// differentiable tensor op around `KeySegmentAttention`: O(n · keys per row) time and memory, no
// n×m tensor, backward by recomputation from the saved log-sum-exp.
import AttendCore

extension Tensor {
    /// softmax(scale·q·kᵀ restricted to `pattern`, padded keys masked by `maskRule`)·v.
    ///
    /// - Parameters:
    ///   - query: [b, n, h, d]; key: [b, m, h, d]; value: [b, m, h, e].
    ///   - pattern: the key segments of every query tile (and an optional row window).
    ///   - keyMask: [b, m], 0 for padded keys.
    /// - Returns: [b, n, h, e]. With `.exclude`, rows that see no key are 0.
    public static func segmentedAttention(
        query: Tensor, key: Tensor, value: Tensor, scale: Float, pattern: KeySegmentPattern,
        keyMask: Tensor? = nil, maskRule: KeyMaskRule = .exclude
    ) -> Tensor {
        let (b, n, m, h, _, e) = attentionSizes("segmentedAttention", query: query, key: key, value: value, keyMask: keyMask)
        precondition(
            pattern.tileCount * pattern.queryTile >= n && (pattern.tileCount - 1) * pattern.queryTile < Swift.max(n, 1),
            "segmentedAttention: pattern has \(pattern.tileCount) tiles of \(pattern.queryTile) for \(n) queries")
        precondition(pattern.starts.indices.allSatisfy { pattern.starts[$0] >= 0 && pattern.starts[$0] + pattern.lengths[$0] <= m },
                     "segmentedAttention: pattern reads keys outside 0..<\(m)")
        let oLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: e)
        func withProblem<R>(_ body: (AttentionProblem) -> R) -> R {
            withAttentionProblem(query: query, key: key, value: value, scale: scale, causal: false, keyMask: keyMask, body)
        }
        var logSumExp = [Float](repeating: 0, count: b * h * n)
        let output = Tensor.filled(shape: [b, n, h, e]) { out in
            withProblem { p in
                KeySegmentAttention.forward(
                    p, pattern: pattern, maskRule: maskRule, output: out.baseAddress!, outputLayout: oLayout,
                    logSumExp: &logSumExp)
            }
        }
        return output.recorded(.custom, from: [query, key, value]) { dy in
            kernelGradients([query.shape, key.shape, value.shape], output: output, outputGradient: dy) { o, g, dx in
                withProblem { p in
                    KeySegmentAttention.backward(
                        p, pattern: pattern, maskRule: maskRule, output: o, outputLayout: oLayout, outputGradient: g,
                        logSumExp: logSumExp, queryGradient: dx[0], keyGradient: dx[1], valueGradient: dx[2])
                }
            }
        }
    }
}
