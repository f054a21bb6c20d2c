// Cumulative sum along an axis. The adjoint of a forward prefix sum is the reverse prefix sum of the
// gradient with the same inclusive/exclusive choice, and vice versa.

extension Tensor {
    /// Running sums along `axis`: inclusive by default, `exclusive` drops the current element,
    /// `reverse` sums from the end.
    public func cumulativeSum(alongAxis axis: Int, reverse: Bool = false, exclusive: Bool = false)
        -> Tensor
    {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "cumulativeSum")
        let (outer, length, inner) = Shape.split(shape, at: axis)
        let y = Tensor.filled(shape: shape) { out in
            Scan.cumulativeSum(
                storage.base, into: out.baseAddress!, outer: outer, length: length, inner: inner,
                reverse: reverse, exclusive: exclusive)
        }
        return y.recorded(.cumulativeSum, from: [self]) { dy in
            [dy.cumulativeSum(alongAxis: axis, reverse: !reverse, exclusive: exclusive)]
        }
    }
}
