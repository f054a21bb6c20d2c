// Softmax and log-softmax along any axis (the last axis runs in place; others are permuted there and
// back). Masking is done by the caller with `maskedFill(…, with: -.infinity)`; rows with every
// entry masked come out as zeros.

extension Tensor {
    /// Moves `axis` last, applies `body`, and moves it back.
    private func alongLastAxis(_ axis: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "softmax")
        if axis == rank - 1 { return body(self) }
        var order = Array(0..<rank)
        order.swapAt(axis, rank - 1)
        return body(permuted(order)).permuted(order)
    }

    /// e^x / Σ e^x along `axis`.
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        alongLastAxis(axis) { x in
            let cols = x.shape.last ?? 1
            let rows = x.count / Swift.max(cols, 1)
            let y = Tensor.filled(shape: x.shape) { out in
                SoftmaxKernel.forward(x.storage.base, into: out.baseAddress!, rows: rows, cols: cols)
            }
            return y.recorded(.softmax, from: [x]) { dy in
                [Tensor.filled(shape: y.shape) { dx in
                    SoftmaxKernel.backward(
                        output: y.storage.base, outputGradient: dy.storage.base, into: dx.baseAddress!,
                        rows: rows, cols: cols)
                }]
            }
        }
    }

    /// x − log Σ e^x along `axis`.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        alongLastAxis(axis) { x in
            let cols = x.shape.last ?? 1
            let rows = x.count / Swift.max(cols, 1)
            let y = Tensor.filled(shape: x.shape) { out in
                SoftmaxKernel.logForward(x.storage.base, into: out.baseAddress!, rows: rows, cols: cols)
            }
            return y.recorded(.logSoftmax, from: [x]) { dy in
                [Tensor.filled(shape: y.shape) { dx in
                    SoftmaxKernel.logBackward(
                        output: y.storage.base, outputGradient: dy.storage.base, into: dx.baseAddress!,
                        rows: rows, cols: cols)
                }]
            }
        }
    }
}
