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
    query: Tensor, key: Tensor, positionKey: Tensor?, positionQuery: Tensor?, index: RelativePositionIndex
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
        let rows = Indices(shape: [b, h, n, m], values: (0..<(b * h)).flatMap { _ in
            (0..<n).flatMap { i in (0..<m).map { j in index.row(query: i, key: j) } }
        })
        bias = c.gathered(alongAxis: 3, rows)  // [b, h, n, m]: C[i, δ(i−j)]
    }
    if let positionQuery {
        let k = key.permuted([0, 2, 1, 3])  // [b, h, m, d]
        let pm = Tensor.matmul(k, heads(positionQuery), transposeB: true)  // [b, h, m, R]
        let rows = Indices(shape: [b, h, m, n], values: (0..<(b * h)).flatMap { _ in
            (0..<m).flatMap { j in (0..<n).map { i in index.row(query: i, key: j) } }
        })
        let p2c = pm.gathered(alongAxis: 3, rows).permuted([0, 1, 3, 2])  // [b, h, n, m]: Pm[j, δ(i−j)]
        bias = bias.map { $0 + p2c } ?? p2c
    }
    return bias
}

/// Disentangled attention with every score materialised: the oracle for the tiled kernel.
///
/// - Parameters:
///   - query: [b, n, h, d]; key: [b, m, h, d]; value: [b, m, h, e].
///   - positionKey: Kr [R, h, d], the used rows of the relative table through the key projection
///     (content-to-position term), or nil.
///   - positionQuery: Qr [R, h, d], the same rows through the query projection (position-to-content
///     term), or nil.
///   - index: which of the R rows each (i, j) reads.
///   - scale: applied to every term (1/√(d·(1 + number of position terms))).
///   - queryMask: [b, n], 0 for padded queries; keyMask: [b, m], 0 for padded keys.
/// - Returns: [b, n, h, e].
public func referenceDisentangledAttention(
    query: Tensor, key: Tensor, value: Tensor, positionKey: Tensor?, positionQuery: Tensor?,
    index: RelativePositionIndex, scale: Float, causal: Bool = false, queryMask: Tensor? = nil,
    keyMask: Tensor? = nil
) -> Tensor {
    let bias = disentangledPositionBias(
        query: query, key: key, positionKey: positionKey, positionQuery: positionQuery, index: index)
    return referenceAttention(
        query: query, key: key, value: value, scale: scale, causal: causal, keyMask: keyMask,
        allowed: queryMask?.reshaped([query.shape[0], 1, query.shape[1], 1]), bias: bias.map { $0 * scale })
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
        let (b, n, m, h, d, e) = attentionSizes(
            "disentangledAttention", query: query, key: key, value: value, keyMask: keyMask)
        let R = index.rowCount
        precondition(index.queries == n && index.keys == m, "disentangledAttention: index built for \(index.queries)×\(index.keys), got \(n)×\(m)")
        for table in [positionKey, positionQuery].compactMap({ $0 }) {
            precondition(table.shape == [R, h, d], "disentangledAttention: position table \(table.shape), expected [\(R), \(h), \(d)]")
        }
        if let queryMask { precondition(queryMask.shape == [b, n], "disentangledAttention: query mask \(queryMask.shape), expected [\(b), \(n)]") }
        let oLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: e)
        func withProblem<T>(_ body: (DisentangledProblem) -> T) -> T {
            withAttentionProblem(query: query, key: key, value: value, scale: scale, causal: causal, keyMask: keyMask) { a in
                withOptionalPointer(queryMask) { qm in
                    withOptionalPointer(positionKey) { kr in
                        withOptionalPointer(positionQuery) { qr in
                            index.rowOfDistance.withUnsafeBufferPointer { rows in
                                body(DisentangledProblem(
                                    attention: a, queryMask: qm, positionKey: kr, positionQuery: qr,
                                    relativeRows: R, rowOfDistance: rows.baseAddress!))
                            }
                        }
                    }
                }
            }
        }
        var logSumExp = [Float](repeating: 0, count: b * h * n)
        let output = Tensor.filled(shape: [b, n, h, e]) { out in
            withProblem { p in
                DisentangledAttentionKernel.forward(p, output: out.baseAddress!, outputLayout: oLayout, logSumExp: &logSumExp)
            }
        }
        let tables = [positionKey, positionQuery].compactMap { $0 }
        return output.recorded(.custom, from: [query, key, value] + tables) { dy in
            // dKr and dQr come per batch entry, [b, R, h, d], and are summed over it below.
            let shapes = [query.shape, key.shape, value.shape] + tables.map { _ in [b, R, h, d] }
            let gradients = kernelGradients(shapes, output: output, outputGradient: dy) { o, g, dx in
                var tableGradients = dx[3...].makeIterator()
                withProblem { p in
                    DisentangledAttentionKernel.backward(
                        p, output: o, outputLayout: oLayout, outputGradient: g, logSumExp: logSumExp,
                        queryGradient: dx[0], keyGradient: dx[1], valueGradient: dx[2],
                        positionKeyGradient: positionKey.map { _ in tableGradients.next()! },
                        positionQueryGradient: positionQuery.map { _ in tableGradients.next()! })
                }
            }
            let tableGradients = gradients.dropFirst(3).map { $0.summed(alongAxes: [0]) }
            return Array(gradients.prefix(3)) + tableGradients
        }
    }
}
