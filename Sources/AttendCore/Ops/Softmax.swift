// Softmax and log-softmax along any axis (the last axis runs in place; others are permuted there and
// back). Masking is done by the caller with `maskedFill(…, with: -.infinity)`; rows with every
// entry masked come out as zeros.

extension Tensor {
    /// e^x / Σ e^x along `axis`.
    public func softmax(alongAxis axis: Int = -1) -> Tensor {
        rowwise(
            alongAxis: axis, .softmax, forward: SoftmaxKernel.forward,
            backward: SoftmaxKernel.backward)
    }

    /// x − log Σ e^x along `axis`.
    public func logSoftmax(alongAxis axis: Int = -1) -> Tensor {
        rowwise(
            alongAxis: axis, .logSoftmax, forward: SoftmaxKernel.logForward,
            backward: SoftmaxKernel.logBackward)
    }

    /// A row kernel applied along `axis` (moved last, then back), recorded as `op` with a backward
    /// kernel that reads the output and its gradient.
    private func rowwise(
        alongAxis axis: Int, _ op: Op,
        forward: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, _ rows: Int, _ cols: Int) ->
            Void,
        backward:
            @escaping (
                _ output: UnsafePointer<Float>, _ outputGradient: UnsafePointer<Float>,
                UnsafeMutablePointer<Float>,
                _ rows: Int, _ cols: Int
            ) -> Void
    ) -> Tensor {
        alongLastAxis(axis) { x in
            let cols = x.shape.last ?? 1
            let rows = x.count / Swift.max(cols, 1)
            let y = Tensor.filled(shape: x.shape) { out in
                forward(x.storage.base, out.baseAddress!, rows, cols)
            }
            return y.recorded(op, from: [x]) { dy in
                [
                    Tensor.filled(shape: y.shape) { dx in
                        backward(y.storage.base, dy.storage.base, dx.baseAddress!, rows, cols)
                    }
                ]
            }
        }
    }

    /// Moves `axis` last, applies `body`, and moves it back.
    private func alongLastAxis(_ axis: Int, _ body: (Tensor) -> Tensor) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "softmax")
        if axis == rank - 1 { return body(self) }
        var order = Array(0..<rank)
        order.swapAt(axis, rank - 1)
        return body(permuted(order)).permuted(order)
    }
}
