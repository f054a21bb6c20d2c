// The affine map of a Linear layer as one op: y = x·Wᵀ + b with W stored [out, in] (PyTorch and
// Hugging Face layout). The bias is written into the output first and the GEMM accumulates onto it
// (beta = 1), which saves the extra pass a separate broadcast add would cost.

extension Tensor {
    /// x·Wᵀ + b for x [..., in], weight [out, in], bias [out] → [..., out].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let (outCount, inCount) = (weight.shape[0], weight.shape[1])
        precondition(
            x.shape.last == inCount, "linear: input \(x.shape) has last axis ≠ \(inCount) (weight \(weight.shape))")
        if let bias { precondition(bias.shape == [outCount], "linear: bias \(bias.shape), expected [\(outCount)]") }
        let rows = x.count / Swift.max(inCount, 1)
        let y = Tensor.filled(shape: Array(x.shape.dropLast()) + [outCount]) { out in
            let c = out.baseAddress!
            if let bias {
                for r in 0..<rows { (c + r * outCount).update(from: bias.storage.base, count: outCount) }
            }
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: outCount, k: inCount,
                a: x.storage.base, lda: inCount, b: weight.storage.base, ldb: inCount,
                beta: bias == nil ? 0 : 1, c: c, ldc: outCount)
        }
        let inputs = [x, weight] + [bias].compactMap { $0 }
        return y.recorded(.linear, from: inputs) { dy, needs in
            let g2 = dy.reshaped([rows, outCount])
            let dx = needs[0] ? matmul(g2, weight).reshaped(x.shape) : nil  // dY·W
            let dw = needs[1] ? matmul(g2, x.reshaped([rows, inCount]), transposeA: true) : nil  // dYᵀ·X
            guard bias != nil else { return [dx, dw] }
            return [dx, dw, needs[2] ? g2.summed(alongAxes: [0]) : nil]  // Σ_rows dY
        }
    }
}
