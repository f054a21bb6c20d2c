// Reductions: sum, mean, max, min, argmax, variance, logsumexp, and the broadcast-undoing
// `summed(toShape:)` every broadcasting gradient rule relies on.
import Foundation

extension Tensor {
    /// Shape after reducing `axes`, keeping them as 1 or dropping them.
    private func reducedShape(_ axes: [Int], keepingDimensions: Bool) -> [Int] {
        keepingDimensions
            ? shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            : shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    }

    private func normalizedAxes(_ axes: [Int], op: String) -> [Int] {
        Array(Set(axes.map { Shape.normalize(axis: $0, rank: rank, op: op) })).sorted()
    }

    /// Sum over one axis with the axis kept as 1 (no gradient recorded).
    private func rawSum(alongAxis axis: Int) -> Tensor {
        let (outer, length, inner) = Shape.split(shape, at: axis)
        var newShape = shape
        newShape[axis] = 1
        return Tensor.filled(shape: newShape) { y in
            Reduce.sum(
                storage.base, into: y.baseAddress!, outer: outer, length: length, inner: inner)
        }
    }

    /// Sum of all elements, shape `[]`.
    public func summed() -> Tensor {
        summed(alongAxes: Array(0..<rank))
    }

    /// Sum along `axes` (negative axes count from the end).
    public func summed(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let axes = normalizedAxes(axes, op: "summed")
        var y = self.detached()
        for axis in axes { y = y.rawSum(alongAxis: axis) }
        y = y.reshapedStorage(reducedShape(axes, keepingDimensions: keepingDimensions))
        let inputShape = shape
        let keptShape = reducedShape(axes, keepingDimensions: true)
        return y.recorded(.sum, from: [self]) { dy in
            [dy.reshaped(keptShape).broadcast(to: inputShape)]  // each input feeds the sum once
        }
    }

    /// Sum along one axis.
    public func summed(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        summed(alongAxes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Mean of all elements, shape `[]`.
    public func mean() -> Tensor { summed() * (1 / Float(Swift.max(count, 1))) }

    /// Mean along `axes`.
    public func mean(alongAxes axes: [Int], keepingDimensions: Bool = false) -> Tensor {
        let axes = normalizedAxes(axes, op: "mean")
        let n = axes.reduce(1) { $0 * shape[$1] }
        return summed(alongAxes: axes, keepingDimensions: keepingDimensions)
            * (1 / Float(Swift.max(n, 1)))
    }

    /// Mean along one axis.
    public func mean(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        mean(alongAxes: [axis], keepingDimensions: keepingDimensions)
    }

    /// Sums this gradient-shaped tensor down to `target`, undoing NumPy broadcasting.
    public func summed(toShape target: [Int]) -> Tensor {
        if shape == target { return self }
        let padded = [Int](repeating: 1, count: rank - target.count) + target
        let axes = padded.indices.filter { padded[$0] == 1 && shape[$0] != 1 }
        return summed(alongAxes: axes, keepingDimensions: true).reshaped(target)
    }

    /// Max or min along `axis` with the positions, no gradient recorded.
    private func extremum(alongAxis axis: Int, smallest: Bool) -> (Tensor, [Int]) {
        let axis = Shape.normalize(axis: axis, rank: rank, op: smallest ? "min" : "max")
        let (outer, length, inner) = Shape.split(shape, at: axis)
        var positions = [Int](repeating: 0, count: outer * inner)
        let values = Tensor.filled(shape: reducedShape([axis], keepingDimensions: true)) { y in
            positions.withUnsafeMutableBufferPointer { p in
                Reduce.extremum(
                    storage.base, into: y.baseAddress!, index: p.baseAddress!, outer: outer,
                    length: length, inner: inner, smallest: smallest)
            }
        }
        return (values, positions)
    }

    private func reduceExtremum(
        alongAxis axis: Int, keepingDimensions: Bool, smallest: Bool, op: Op
    )
        -> Tensor
    {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "\(op)")
        let (values, positions) = extremum(alongAxis: axis, smallest: smallest)
        let y = values.reshapedStorage(reducedShape([axis], keepingDimensions: keepingDimensions))
        let inputShape = shape
        return y.recorded(op, from: [self]) { dy in
            // The gradient flows to the (first) position that won, as PyTorch's max(dim).
            let (outer, length, inner) = Shape.split(inputShape, at: axis)
            let g = dy.detached()
            return [
                Tensor.filled(shape: inputShape) { dx in
                    dx.initialize(repeating: 0)
                    for o in 0..<outer {
                        for i in 0..<inner {
                            dx[(o * length + positions[o * inner + i]) * inner + i] =
                                g.storage.base[o * inner + i]
                        }
                    }
                }
            ]
        }
    }

    /// Largest value along `axis`.
    public func max(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        reduceExtremum(
            alongAxis: axis, keepingDimensions: keepingDimensions, smallest: false, op: .max)
    }

    /// Smallest value along `axis`.
    public func min(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        reduceExtremum(
            alongAxis: axis, keepingDimensions: keepingDimensions, smallest: true, op: .min)
    }

    /// Largest element of the whole tensor (no gradient).
    public func maxValue() -> Float {
        withUnsafeBufferPointer { Reduce.max($0.baseAddress!, count: count) }
    }

    /// Positions of the largest values along `axis`, in row-major order of the remaining axes.
    public func argmax(alongAxis axis: Int = -1) -> [Int] {
        extremum(alongAxis: axis, smallest: false).1
    }

    /// Variance along `axes` with `correction` subtracted from the count (0 = population, as
    /// LayerNorm; 1 = unbiased, PyTorch's default for `var`).
    public func variance(
        alongAxes axes: [Int], correction: Int = 1, keepingDimensions: Bool = false
    )
        -> Tensor
    {
        let axes = normalizedAxes(axes, op: "variance")
        let n = axes.reduce(1) { $0 * shape[$1] }
        let centered = self - mean(alongAxes: axes, keepingDimensions: true)
        return centered.squared().summed(alongAxes: axes, keepingDimensions: keepingDimensions)
            * (1 / Float(n - correction))  // n ≤ correction gives NaN, as PyTorch
    }

    /// log Σ e^x along `axis`, computed stably around the maximum.
    public func logSumExp(alongAxis axis: Int, keepingDimensions: Bool = false) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "logSumExp")
        let m = withoutGradient { max(alongAxis: axis, keepingDimensions: true) }
        // A row of −∞ would give −∞ − (−∞) = NaN; shift by 0 there instead.
        let shift = m.mapped { $0.replacing(with: 0, where: $0 .== -Float.infinity) }
        let y =
            (self.detached() - shift).exp().summed(alongAxis: axis, keepingDimensions: true).log()
            + shift
        let keptShape = y.shape
        let result = y.reshapedStorage(reducedShape([axis], keepingDimensions: keepingDimensions))
        return result.recorded(.logSumExp, from: [self]) { dy in
            // d/dx logΣe^x = softmax(x). Recomputed rather than e^(x − y): y is rounded at the scale of
            // max x, and a row of −∞ would give e^(−∞ − (−∞)) = NaN where softmax gives zeros.
            [self.detached().softmax(alongAxis: axis) * dy.reshaped(keptShape)]
        }
    }
}
