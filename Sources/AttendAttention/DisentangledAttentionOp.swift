// Disentangled attention on [b, n, h, d] heads (DeBERTa, He et al., 2020), two ways that must agree:
// - `referenceDisentangledAttention`: the reference's formula with every intermediate materialised
//   (C = Q·Krᵀ gathered at [i, δ(i−j)], Pm = K·Qrᵀ gathered at [j, δ(i−j)] and transposed, both added
//   to Q·Kᵀ before one masked softmax); the oracle, O(n·m) memory;
// - `Tensor.disentangledAttention`: the tiled kernel (`DisentangledAttentionKernel`), which adds the
//   gathered terms tile by tile and never stores an n×m matrix.
// Masking is XSoftmax's: a query row is hidden when its query is padding (its output is 0), and padded
// keys get zero probability.
import AttendCore

/// The position terms of the scores, unscaled: C[i, δ(i−j)] + Pm[j, δ(i−j)] as [b, h, n, m], where
/// C = Q·Krᵀ (content-to-position) and Pm = K·Qrᵀ (position-to-content), gathered as the reference
/// gathers them (`torch.gather` on the last axis, then a transpose for p2c). Nil without terms.
///
/// - Parameters: as `referenceDisentangledAttention`.
public func disentangledPositionBias(
    query: Tensor, key: Tensor, positionKey: Tensor?, positionQuery: Tensor?,
    index: RelativePositionIndex
) -> Tensor? {
    let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let m = key.shape[1]
    let R = index.rowCount
    func heads(_ table: Tensor) -> Tensor {  // [R, h, d] → [b, h, R, d]
        table.permuted([1, 0, 2]).reshaped([1, h, R, d]).broadcast(to: [b, h, R, d])
    }
    var bias: Tensor?
    if let positionKey {
        let q = query.permuted([0, 2, 1, 3])  // [b, h, n, d]
        let c = Tensor.matmul(q, heads(positionKey), transposeB: true)  // [b, h, n, R]
        let rows = Indices(
            shape: [b, h, n, m],
            values: (0..<(b * h)).flatMap { _ in
                (0..<n).flatMap { i in (0..<m).map { j in index.row(query: i, key: j) } }
            })
        bias = c.gathered(alongAxis: 3, rows)  // [b, h, n, m]: C[i, δ(i−j)]
    }
    if let positionQuery {
        let k = key.permuted([0, 2, 1, 3])  // [b, h, m, d]
        let pm = Tensor.matmul(k, heads(positionQuery), transposeB: true)  // [b, h, m, R]
        let rows = Indices(
            shape: [b, h, m, n],
            values: (0..<(b * h)).flatMap { _ in
                (0..<m).flatMap { j in (0..<n).map { i in index.row(query: i, key: j) } }
            })
        // [b, h, n, m]: Pm[j, δ(i−j)]
        let p2c = pm.gathered(alongAxis: 3, rows).permuted([0, 1, 3, 2])
        bias = bias.map { $0 + p2c } ?? p2c
    }
    return bias
}

/// Disentangled attention with every score materialised: the oracle for the tiled kernel.
///
/// - Parameters:
///   - query: [b, n, h, d].
///   - key: [b, m, h, d].
///   - value: [b, m, h, e].
///   - positionKey: Kr [R, h, d], the used rows of the relative table through the key projection
///     (content-to-position term), or nil.
///   - positionQuery: Qr [R, h, d], the same rows through the query projection (position-to-content
///     term), or nil.
///   - index: which of the R rows each (i, j) reads.
///   - scale: applied to every term (1/√(d·(1 + number of position terms))).
///   - causal: whether query i sees only keys j ≤ i.
///   - queryMask: [b, n], 0 for padded queries.
///   - keyMask: [b, m], 0 for padded keys.
/// - Returns: [b, n, h, e].
public func referenceDisentangledAttention(
    query: Tensor, key: Tensor, value: Tensor, positionKey: Tensor?, positionQuery: Tensor?,
    index: RelativePositionIndex, scale: Float, causal: Bool = false, queryMask: Tensor? = nil,
    keyMask: Tensor? = nil
) -> Tensor {
    let bias = disentangledPositionBias(
        query: query, key: key, positionKey: positionKey, positionQuery: positionQuery, index: index
    )
    return referenceAttention(
        query: query, key: key, value: value, scale: scale, causal: causal, keyMask: keyMask,
        allowed: queryMask?.reshaped([query.shape[0], 1, query.shape[1], 1]),
        bias: bias.map { $0 * scale })
}

extension Tensor {
    /// Disentangled attention through the tiled kernel: the contract of
    /// `referenceDisentangledAttention` without any n×m matrix: O(n·R) extra memory per thread for the
    /// position terms (R ≤ 2k table rows).
    public static func disentangledAttention(
        query: Tensor, key: Tensor, value: Tensor, positionKey: Tensor?, positionQuery: Tensor?,
        index: RelativePositionIndex, scale: Float, causal: Bool = false, queryMask: Tensor? = nil,
        keyMask: Tensor? = nil
    ) -> Tensor {
        let (b, n, m, h, d, _) = attentionSizes(
            "disentangledAttention", query: query, key: key, value: value, keyMask: keyMask)
        let R = index.rowCount
        precondition(
            index.queries == n && index.keys == m,
            "disentangledAttention: index built for \(index.queries)×\(index.keys), got \(n)×\(m)")
        for table in [positionKey, positionQuery] {
            requireShape("disentangledAttention", "position table", table, [R, h, d])
        }
        requireShape("disentangledAttention", "query mask", queryMask, [b, n])
        return fused(
            DisentangledAttentionOp(
                query: query, key: key, value: value, positionKey: positionKey,
                positionQuery: positionQuery, index: index, scale: scale, causal: causal,
                queryMask: queryMask, keyMask: keyMask))
    }
}

/// `Tensor.disentangledAttention` as a kernel op: inputs q, k, v, Kr, Qr (the tables optional);
/// constants the query and key masks; saved the rows' log-sum-exp. The tables' gradients come per
/// batch entry, [b, R, h, d], and are summed over it.
struct DisentangledAttentionOp: HeadsKernelOp {
    static let op = Op("disentangledAttention")
    let query: Tensor, key: Tensor, value: Tensor, positionKey: Tensor?, positionQuery: Tensor?
    let index: RelativePositionIndex, scale: Float, causal: Bool, queryMask: Tensor?,
        keyMask: Tensor?

    var inputs: [Tensor?] { [query, key, value, positionKey, positionQuery] }
    var constants: [Tensor?] { [queryMask, keyMask] }

    func gradientShape(ofInput index: Int) -> [Int] {
        index < 3 ? inputs[index]!.shape : [query.shape[0]] + inputs[index]!.shape
    }

    func withProblem<T>(_ x: KernelBuffers, _ body: (DisentangledProblem) -> T) -> T {
        let attention = attentionProblem(x, keyMask: x.constant(1))
        return index.rowOfDistance.withUnsafeBufferPointer { rows in
            body(
                DisentangledProblem(
                    attention: attention, queryMask: x.constant(0), positionKey: x.optionalInput(3),
                    positionQuery: x.optionalInput(4), relativeRows: index.rowCount,
                    rowOfDistance: rows.baseAddress!))
        }
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var logSumExp = rowStatistics(query)
        withProblem(x) { p in
            DisentangledAttentionKernel.forward(
                p, output: output, outputLayout: outputLayout, logSumExp: &logSumExp)
        }
        return logSumExp
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved logSumExp: [Float]) {
        withProblem(x) { p in
            DisentangledAttentionKernel.backward(
                p, output: g.output, outputLayout: outputLayout, outputGradient: g.outputGradient,
                logSumExp: logSumExp, queryGradient: g.input(0), keyGradient: g.input(1),
                valueGradient: g.input(2),
                positionKeyGradient: g.optionalInput(3), positionQueryGradient: g.optionalInput(4))
        }
    }
}

extension DisentangledAttentionOp {
    /// Both position terms over 5 positions (the last padded), buckets of 2 up to distance 8.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
        let index = RelativePositionIndex(
            queries: 5, keys: 5, buckets: .init(bucketSize: 2, maxPosition: 8))
        let qkv = (4...6).map { Tensor.randomNormal([1, 5, 2, 3], seed: UInt64($0)) }
        let tables = (7...8).map { Tensor.randomNormal([index.rowCount, 2, 3], seed: UInt64($0)) }
        return [
            KernelOpExample("both position terms", qkv + tables) {
                Tensor.disentangledAttention(
                    query: $0[0], key: $0[1], value: $0[2], positionKey: $0[3],
                    positionQuery: $0[4], index: index, scale: 0.4, queryMask: mask,
                    keyMask: mask)
            }
        ]
    }
}
