// The affine map of a Linear layer as one op: y = x·Wᵀ + b with W stored [out, in] (PyTorch and
// Hugging Face layout). The bias is written into the output first and the GEMM accumulates onto it
// (beta = 1), which saves the extra pass a separate broadcast add would cost. A handful of rows (a
// decoding step) goes through matrix–vector products instead: GEMM's packing of W would dominate.

extension Tensor {
    /// Up to this many rows, `linear` runs matrix–vector products instead of one GEMM.
    static let matrixVectorRows = 4

    /// x·Wᵀ + b for x [..., in], weight [out, in], bias [out] → [..., out].
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(weight.rank == 2, "linear: weight must be [out, in], got \(weight.shape)")
        let (outCount, inCount) = (weight.shape[0], weight.shape[1])
        precondition(
            x.shape.last == inCount,
            "linear: input \(x.shape) has last axis ≠ \(inCount) (weight \(weight.shape))")
        if let bias {
            precondition(
                bias.shape == [outCount], "linear: bias \(bias.shape), expected [\(outCount)]")
        }
        let rows = x.count / Swift.max(inCount, 1)
        let y = Tensor.filled(shape: Array(x.shape.dropLast()) + [outCount]) { out in
            let c = out.baseAddress!
            if let bias {
                for r in 0..<rows {
                    (c + r * outCount).update(from: bias.storage.base, count: outCount)
                }
            }
            if rows <= matrixVectorRows && inCount > 0 {
                // A few rows (one decoding step): matrix–vector products over slices of W's rows on
                // every thread. GEMM would first pack all of W, which costs more than the product.
                let w = SendablePointer(weight.storage.base)
                let (input, output) = (SendablePointer(x.storage.base), SendablePointer(c))
                Parallel.forEachChunk(outCount, grain: 64) { slice in
                    for r in 0..<rows {
                        BLAS.gemv(
                            transpose: false, m: slice.count, n: inCount,
                            a: w.base + slice.lowerBound * inCount, lda: inCount,
                            x: input.base + r * inCount, beta: bias == nil ? 0 : 1,
                            y: output.base + r * outCount + slice.lowerBound)
                    }
                }
            } else {
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: rows, n: outCount, k: inCount,
                    a: x.storage.base, lda: inCount, b: weight.storage.base, ldb: inCount,
                    beta: bias == nil ? 0 : 1, c: c, ldc: outCount)
            }
        }
        let inputs = [x, weight] + [bias].compactMap { $0 }
        return y.recorded(.linear, from: inputs) { dy, needs in
            let g2 = dy.reshaped([rows, outCount])
            let dx = needs[0] ? matmul(g2, weight).reshaped(x.shape) : nil  // dY·W
            // dYᵀ·X
            let dw = needs[1] ? matmul(g2, x.reshaped([rows, inCount]), transposeA: true) : nil
            guard bias != nil else { return [dx, dw] }
            return [dx, dw, needs[2] ? g2.summed(alongAxes: [0]) : nil]  // Σ_rows dY
        }
    }
}
