// Selection ops: where, masked fill, elementwise minimum/maximum and clamp. Masks are float tensors
// where any non-zero value means "true", so they broadcast like any other operand.

extension Tensor {
    /// `a` where `condition` is non-zero, else `b`, all three broadcast to a common shape.
    public static func `where`(_ condition: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
        guard let ab = Shape.broadcast(a.shape, b.shape),
            let shape = Shape.broadcast(ab, condition.shape)
        else {
            preconditionFailure(
                "where: shapes \(condition.shape), \(a.shape), \(b.shape) do not broadcast")
        }
        let c = condition.detached().broadcast(to: shape)
        let y = zipped(c, a.detached().broadcast(to: shape), b.detached().broadcast(to: shape)) {
            m, x, z in z.replacing(with: x, where: m .!= 0)
        }
        return y.recorded(.where, from: [a, b]) { dy, needs in
            [
                needs[0]
                    ? zipped(dy, c) { g, m in g.replacing(with: 0, where: m .== 0) }.summed(
                        toShape: a.shape) : nil,
                needs[1]
                    ? zipped(dy, c) { g, m in g.replacing(with: 0, where: m .!= 0) }.summed(
                        toShape: b.shape) : nil,
            ]
        }
    }

    /// `value` where `mask` (broadcast to this shape) is non-zero; the gradient there is 0.
    public func maskedFill(where mask: Tensor, with value: Float) -> Tensor {
        precondition(
            Shape.broadcast(shape, mask.shape) == shape,
            "maskedFill: mask \(mask.shape) does not broadcast to \(shape)")
        let y = Tensor.zipped(self.detached(), mask) { x, m in
            x.replacing(with: value, where: m .!= 0)
        }
        return y.recorded(.maskedFill, from: [self]) { dy in
            [Tensor.zipped(dy, mask) { g, m in g.replacing(with: 0, where: m .!= 0) }]
        }
    }

    /// Elementwise maximum with broadcasting; ties share the gradient equally (as PyTorch).
    public static func maximum(_ a: Tensor, _ b: Tensor) -> Tensor {
        extremum(a, b, op: .maximum) { x, y in x.replacing(with: y, where: y .> x) }
    }

    /// Elementwise minimum with broadcasting; ties share the gradient equally (as PyTorch).
    public static func minimum(_ a: Tensor, _ b: Tensor) -> Tensor {
        extremum(a, b, op: .minimum) { x, y in x.replacing(with: y, where: y .< x) }
    }

    private static func extremum(
        _ a: Tensor, _ b: Tensor, op: Op, _ pick: @escaping (Float8, Float8) -> Float8
    ) -> Tensor {
        let y = zipped(a, b, pick)
        return y.recorded(op, from: [a, b]) { dy, needs in
            // Share of the gradient that goes to a: 1 where a won, ½ on ties, else 0.
            let shareA = zipped(a, b) { x, z in
                let winner = pick(x, z)
                var share = Float8(repeating: 0)
                share.replace(with: 1, where: winner .== x)
                share.replace(with: 0.5, where: x .== z)
                return share
            }
            return [
                needs[0] ? (dy * shareA).summed(toShape: a.shape) : nil,
                needs[1] ? (dy * (1 - shareA)).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elements limited to `[lower, upper]`; the gradient passes where lower ≤ x ≤ upper.
    public func clamped(lower: Float = -.infinity, upper: Float = .infinity) -> Tensor {
        precondition(lower <= upper, "clamped: lower \(lower) > upper \(upper)")
        let y = mapped { x in
            x.replacing(with: Float8(repeating: lower), where: x .< lower)
                .replacing(with: Float8(repeating: upper), where: x .> upper)
        }
        return y.recorded(.clamp, from: [self]) { dy in
            [
                Tensor.zipped(dy, self) { g, x in
                    g.replacing(with: 0, where: (x .< lower) .| (x .> upper))
                }
            ]
        }
    }
}
