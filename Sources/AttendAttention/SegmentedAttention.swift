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
        let (_, n, m, _, _, _) = attentionSizes(
            "segmentedAttention", query: query, key: key, value: value, keyMask: keyMask)
        precondition(
            pattern.tileCount * pattern.queryTile >= n
                && (pattern.tileCount - 1) * pattern.queryTile < Swift.max(n, 1),
            "segmentedAttention: pattern has \(pattern.tileCount) tiles of \(pattern.queryTile) for \(n) queries"
        )
        precondition(
            pattern.starts.indices.allSatisfy {
                pattern.starts[$0] >= 0 && pattern.starts[$0] + pattern.lengths[$0] <= m
            },
            "segmentedAttention: pattern reads keys outside 0..<\(m)")
        return fused(
            SegmentedAttentionOp(
                query: query, key: key, value: value, keyMask: keyMask, scale: scale,
                pattern: pattern,
                maskRule: maskRule))
    }
}

/// `Tensor.segmentedAttention` as a kernel op: inputs q, k, v; constant the key mask; saved the
/// rows' log-sum-exp.
struct SegmentedAttentionOp: HeadsKernelOp {
    static let op = Op("segmentedAttention")
    let query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?, scale: Float
    let pattern: KeySegmentPattern, maskRule: KeyMaskRule
    var causal: Bool { false }  // the pattern says which keys each query sees

    func problem(_ x: KernelBuffers) -> AttentionProblem {
        attentionProblem(x, keyMask: x.constant(0))
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var logSumExp = rowStatistics(query)
        KeySegmentAttention.forward(
            problem(x), pattern: pattern, maskRule: maskRule, output: output,
            outputLayout: outputLayout,
            logSumExp: &logSumExp)
        return logSumExp
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved logSumExp: [Float]) {
        KeySegmentAttention.backward(
            problem(x), pattern: pattern, maskRule: maskRule, output: g.output,
            outputLayout: outputLayout,
            outputGradient: g.outputGradient, logSumExp: logSumExp, queryGradient: g.input(0),
            keyGradient: g.input(1), valueGradient: g.input(2))
    }
}

extension SegmentedAttentionOp {
    /// Local attention's window of 4 over 6 positions, the last padded.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let qkv = (11...13).map { Tensor.randomNormal([1, 6, 2, 3], seed: UInt64($0)) }
        return [
            KernelOpExample("window of 4, padded", qkv) {
                try LocalAttention(windowSize: 4).attend(
                    query: $0[0], key: $0[1], value: $0[2], context: MixerContext(paddingMask: mask)
                )
            }
        ]
    }
}
