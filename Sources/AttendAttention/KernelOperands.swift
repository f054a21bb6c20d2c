// What the kernel ops over [b, n, h, d] heads share (fused, segmented, disentangled, MGK, hypercube
// attention): the sizes of q, k, v checked together, their inputs, output and `AttentionProblem`
// over a kernel op's buffers (`HeadsKernelOp`), and the per-row statistics a forward pass leaves
// for backward. `Tensor.fused` (AttendCore) does the pointer plumbing and the recording.
import AttendCore

/// The sizes of q [b, n, h, d], k [b, m, h, d], v [b, m, h, e] and an optional [b, m] key mask,
/// which must agree (`op` names the caller when they do not).
func attentionSizes(
    _ op: String, query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?
) -> (b: Int, n: Int, m: Int, h: Int, d: Int, e: Int) {
    precondition(
        query.rank == 4 && key.rank == 4 && value.rank == 4, "\(op): q, k, v must be [b, n, h, d]")
    let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (m, e) = (key.shape[1], value.shape[3])
    precondition(key.shape == [b, m, h, d], "\(op): key \(key.shape) vs query \(query.shape)")
    precondition(value.shape == [b, m, h, e], "\(op): value \(value.shape) vs key \(key.shape)")
    requireShape(op, "key mask", keyMask, [b, m])
    return (b, n, m, h, d, e)
}

/// Stops naming `op` when `tensor` (a mask, scale or table read beside the heads) is present with
/// a shape other than `expected`: "op: what [shape], expected [expected]".
func requireShape(_ op: String, _ what: String, _ tensor: Tensor?, _ expected: [Int]) {
    guard let tensor else { return }
    precondition(tensor.shape == expected, "\(op): \(what) \(tensor.shape), expected \(expected)")
}

/// A kernel op over q [b, n, h, d], k [b, m, h, d] and v [b, m, h, e] heads (its inputs 0, 1, 2)
/// with an optional [b, m] key mask (by default its one constant), writing [b, n, h, e].
protocol HeadsKernelOp: KernelOp {
    var query: Tensor { get }
    var key: Tensor { get }
    var value: Tensor { get }
    var keyMask: Tensor? { get }
    var scale: Float { get }
    var causal: Bool { get }
}

extension HeadsKernelOp {
    /// Softmax attention recomputes its probabilities from the output in backward.
    static var backwardReadsOutput: Bool { true }
    var inputs: [Tensor?] { [query, key, value] }
    var constants: [Tensor?] { [keyMask] }
    var outputShape: [Int] { [query.shape[0], query.shape[1], query.shape[2], value.shape[3]] }

    /// The output's layout: [b, n, h, e] as the output projection reads it.
    var outputLayout: HeadLayout {
        .positionMajor(length: query.shape[1], heads: query.shape[2], dimension: value.shape[3])
    }

    /// The `AttentionProblem` of the heads as the projections lay them out
    /// (`HeadLayout.positionMajor`), with the key mask at `keyMask`.
    func attentionProblem(_ x: KernelBuffers, keyMask: UnsafePointer<Float>?) -> AttentionProblem {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let (m, e) = (key.shape[1], value.shape[3])
        return AttentionProblem(
            batch: b, heads: h, queries: n, keys: m, dimension: d, valueDimension: e, scale: scale,
            causal: causal, keyMask: keyMask,
            query: x.input(0), queryLayout: .positionMajor(length: n, heads: h, dimension: d),
            key: x.input(1), keyLayout: .positionMajor(length: m, heads: h, dimension: d),
            value: x.input(2), valueLayout: .positionMajor(length: m, heads: h, dimension: e))
    }
}

/// Log-sum-exp rows [b·h·n] (or any per-row statistic) that an attention kernel's forward leaves
/// for its backward.
func rowStatistics(_ query: Tensor) -> [Float] {
    [Float](repeating: 0, count: query.shape[0] * query.shape[2] * query.shape[1])
}
