// Exact softmax attention on [b, n, h, d] heads, two ways that must agree:
// - `referenceAttention`: the textbook formula with every intermediate materialised (the oracle every
//   mechanism is tested against; O(n·m) memory),
// - `fusedAttention`: the tiled online-softmax kernel, O(n) extra memory, backward by recomputation.
import AttendCore

/// softmax(scale·q·kᵀ + bias, masked)·v, materialising the [b, h, n, m] scores.
///
/// - Parameters:
///   - query: [b, n, h, d].
///   - key: [b, m, h, d].
///   - value: [b, m, h, e].
///   - scale: multiplies every q·k (usually 1/√d).
///   - causal: whether query i sees only keys j ≤ i + (m − n).
///   - keyMask: [b, m], 0 for padded keys.
///   - allowed: broadcastable to [b, h, n, m], 0 where a query may not see a key (sparse patterns).
///   - bias: added to the scaled scores, broadcastable to [b, h, n, m] (relative positions).
/// - Returns: [b, n, h, e]. Rows that see no key are 0, not NaN.
public func referenceAttention(
    query: Tensor, key: Tensor, value: Tensor, scale: Float, causal: Bool = false,
    keyMask: Tensor? = nil, allowed: Tensor? = nil, bias: Tensor? = nil
) -> Tensor {
    let q = query.permuted([0, 2, 1, 3])  // [b, h, n, d]
    let k = key.permuted([0, 2, 1, 3])  // [b, h, m, d]
    let v = value.permuted([0, 2, 1, 3])  // [b, h, m, e]
    let (b, n, m) = (query.shape[0], query.shape[1], key.shape[1])
    var scores = Tensor.matmul(q, k, transposeB: true) * scale  // [b, h, n, m]
    if let bias { scores = scores + bias }
    var hidden = Tensor.zeros([1, 1, n, m])
    if causal { hidden = hidden + causalMask(queries: n, keys: m) }
    if let keyMask { hidden = hidden + (1 - keyMask).reshaped([b, 1, 1, m]) }
    if let allowed { hidden = hidden + (1 - allowed) }
    scores = scores.maskedFill(where: hidden, with: -.infinity)
    let probabilities = scores.softmax(alongAxis: -1)
    return Tensor.matmul(probabilities, v).permuted([0, 2, 1, 3])  // [b, n, h, e]
}

/// [1, 1, n, m] with 1 where key j lies after query i (j > i + m − n): the hidden entries.
public func causalMask(queries n: Int, keys m: Int) -> Tensor {
    Tensor.filled(shape: [1, 1, n, m]) { out in
        for i in 0..<n {
            for j in 0..<m { out[i * m + j] = j > i + m - n ? 1 : 0 }
        }
    }
}

extension Tensor {
    /// Exact attention through the tiled online-softmax kernel: same contract as
    /// `referenceAttention` without `allowed`/`bias`, in O(n) extra memory.
    public static func fusedAttention(
        query: Tensor, key: Tensor, value: Tensor, scale: Float, causal: Bool = false,
        keyMask: Tensor? = nil
    ) -> Tensor {
        _ = attentionSizes("fusedAttention", query: query, key: key, value: value, keyMask: keyMask)
        return fused(
            FusedAttentionOp(
                query: query, key: key, value: value, keyMask: keyMask, scale: scale, causal: causal
            ))
    }
}

/// `Tensor.fusedAttention` as a kernel op: inputs q, k, v; constant the key mask; saved the rows'
/// log-sum-exp.
struct FusedAttentionOp: HeadsKernelOp {
    static let op = Op("fusedAttention")
    let query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?, scale: Float, causal: Bool

    func problem(_ x: KernelBuffers) -> AttentionProblem {
        attentionProblem(x, keyMask: x.constant(0))
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var logSumExp = rowStatistics(query)
        OnlineSoftmaxAttention.forward(
            problem(x), output: output, outputLayout: outputLayout, logSumExp: &logSumExp)
        return logSumExp
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved logSumExp: [Float]) {
        OnlineSoftmaxAttention.backward(
            problem(x), output: g.output, outputLayout: outputLayout,
            outputGradient: g.outputGradient,
            logSumExp: logSumExp, queryGradient: g.input(0), keyGradient: g.input(1),
            valueGradient: g.input(2))
    }
}

extension FusedAttentionOp {
    /// Causal, with the last of 5 keys padded.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
        let qkv = (1...3).map { Tensor.randomNormal([1, 5, 2, 3], seed: UInt64($0)) }
        return [
            KernelOpExample("causal, padded", qkv) {
                Tensor.fusedAttention(
                    query: $0[0], key: $0[1], value: $0[2], scale: 0.5, causal: true, keyMask: mask)
            }
        ]
    }
}
