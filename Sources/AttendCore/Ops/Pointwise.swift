// The two building blocks every elementwise op uses: a unary map and a broadcasting binary zip.
// They compute values only; each op records its own gradient rule.

extension Tensor {
    /// A new tensor with `f` applied to every element (no gradient recorded).
    @inlinable @inline(__always)
    public func mapped(_ f: (Float8) -> Float8) -> Tensor {
        withoutActuallyEscaping(f) { mapped(UnaryClosure($0)) }
    }

    /// `mapped` with a lane function, which the loop inlines (see `UnaryLaneFunction`).
    @inlinable @inline(__always)
    public func mapped<F: UnaryLaneFunction>(_ f: F) -> Tensor {
        let y = TensorStorage(uninitializedCount: count)
        Elementwise.map(storage.base, y.base, count: count, f)
        return Tensor(shape: shape, storage: y)
    }

    /// `f(a, b)` elementwise after broadcasting `a` and `b` to a common shape (no gradient recorded).
    @inlinable @inline(__always)
    public static func zipped(
        _ a: Tensor, _ b: Tensor, op: String = #function, _ f: (Float8, Float8) -> Float8
    ) -> Tensor {
        if a.shape == b.shape {
            return withoutActuallyEscaping(f) { zipped(a, b, op: op, BinaryClosure($0)) }
        }
        guard let shape = Shape.broadcast(a.shape, b.shape) else {
            preconditionFailure("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let z = TensorStorage(uninitializedCount: Shape.count(shape))
        if z.count > 0 {
            BroadcastPlan(x: a.shape, y: b.shape, out: shape).run(
                a.storage.base, b.storage.base, z.base, f)
        }
        return Tensor(shape: shape, storage: z)
    }

    /// `zipped` over two tensors of the same shape with a lane function, which the loop inlines (see
    /// `BinaryLaneFunction`). Gradient rules use it, where the upstream gradient has the input's shape.
    @inlinable @inline(__always)
    public static func zipped<F: BinaryLaneFunction>(
        _ a: Tensor, _ b: Tensor, op: String = #function, _ f: F
    ) -> Tensor {
        precondition(a.shape == b.shape, "\(op): needs equal shapes, got \(a.shape) and \(b.shape)")
        let z = TensorStorage(uninitializedCount: a.count)
        Elementwise.zip(a.storage.base, b.storage.base, z.base, count: a.count, f)
        return Tensor(shape: a.shape, storage: z)
    }

    /// `f(a, b, c)` elementwise over three tensors of the same shape (no gradient recorded).
    @inlinable @inline(__always)
    public static func zipped(
        _ a: Tensor, _ b: Tensor, _ c: Tensor, _ f: (Float8, Float8, Float8) -> Float8
    ) -> Tensor {
        precondition(
            a.shape == b.shape && b.shape == c.shape,
            "three-way elementwise op needs equal shapes, got \(a.shape), \(b.shape), \(c.shape)")
        let w = TensorStorage(uninitializedCount: a.count)
        Elementwise.zip3(a.storage.base, b.storage.base, c.storage.base, w.base, count: a.count, f)
        return Tensor(shape: a.shape, storage: w)
    }
}
