// Shape and layout ops: reshape (free), permute/transpose (materialised), slicing, concatenation,
// stacking, splitting, constant padding and explicit broadcasting. Every tensor stays contiguous, so
// slices along an axis copy `outer` blocks of `count·inner` values.

extension Tensor {
    /// Same storage under a new shape, no gradient recorded (for freshly computed values).
    func reshapedStorage(_ newShape: [Int]) -> Tensor {
        Tensor(shape: newShape, storage: storage, node: nil)
    }

    /// The same values under `newShape`; one extent may be −1 to be inferred.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var resolved = newShape
        if let unknown = newShape.firstIndex(of: -1) {
            let known = newShape.enumerated().filter { $0.offset != unknown }.reduce(1) {
                $0 * $1.element
            }
            precondition(
                known > 0 && count % known == 0,
                "reshaped: cannot infer −1 in \(newShape) for \(count) elements")
            resolved[unknown] = count / known
        }
        precondition(
            Shape.count(resolved) == count,
            "reshaped: \(shape) (\(count) elements) cannot become \(newShape)")
        if resolved == shape { return self }
        let inputShape = shape
        return reshapedStorage(resolved).recorded(.reshape, from: [self]) { dy in
            [dy.reshaped(inputShape)]
        }
    }

    /// Inserts an axis of extent 1 at `axis`.
    public func expandingDimension(at axis: Int) -> Tensor {
        let axis = axis < 0 ? axis + rank + 1 : axis
        precondition(axis >= 0 && axis <= rank, "expandingDimension: axis \(axis) for rank \(rank)")
        var newShape = shape
        newShape.insert(1, at: axis)
        return reshaped(newShape)
    }

    /// Removes an axis of extent 1.
    public func squeezingDimension(at axis: Int) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "squeezingDimension")
        precondition(shape[axis] == 1, "squeezingDimension: axis \(axis) of \(shape) is not 1")
        var newShape = shape
        newShape.remove(at: axis)
        return reshaped(newShape)
    }

    /// Axes reordered: output axis i is input axis `order[i]`. Materialised.
    public func permuted(_ order: [Int]) -> Tensor {
        precondition(
            order.sorted() == Array(0..<rank),
            "permuted: \(order) is not a permutation of the \(rank) axes of \(shape)")
        if order == Array(0..<rank) { return self }
        let y = Tensor.filled(shape: order.map { shape[$0] }) { out in
            Permute.run(storage.base, shape: shape, order: order, into: out.baseAddress!)
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, axis) in order.enumerated() { inverse[axis] = i }
        return y.recorded(.permute, from: [self]) { dy in [dy.permuted(inverse)] }
    }

    /// Two axes swapped. Materialised.
    public func transposed(_ first: Int = -2, _ second: Int = -1) -> Tensor {
        let a = Shape.normalize(axis: first, rank: rank, op: "transposed")
        let b = Shape.normalize(axis: second, rank: rank, op: "transposed")
        var order = Array(0..<rank)
        order.swapAt(a, b)
        return permuted(order)
    }

    /// Elements `range` of `axis` (a copy).
    public func sliced(alongAxis axis: Int, _ range: Range<Int>) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "sliced")
        precondition(
            range.lowerBound >= 0 && range.upperBound <= shape[axis],
            "sliced: range \(range) outside 0..<\(shape[axis]) of axis \(axis) in \(shape)")
        if range == 0..<shape[axis] { return self }
        let (outer, length, inner) = Shape.split(shape, at: axis)
        var newShape = shape
        newShape[axis] = range.count
        let block = range.count * inner
        let y = Tensor.filled(shape: newShape) { out in
            for o in 0..<outer {
                (out.baseAddress! + o * block).update(
                    from: storage.base + (o * length + range.lowerBound) * inner, count: block)
            }
        }
        let inputShape = shape
        return y.recorded(.slice, from: [self]) { dy in
            [
                dy.padded(
                    alongAxis: axis, before: range.lowerBound,
                    after: inputShape[axis] - range.upperBound)
            ]
        }
    }

    /// Joins tensors along `axis`; all other extents must agree.
    public static func concatenated(_ parts: [Tensor], alongAxis axis: Int) -> Tensor {
        precondition(!parts.isEmpty, "concatenated: no tensors")
        let first = parts[0]
        let axis = Shape.normalize(axis: axis, rank: first.rank, op: "concatenated")
        for part in parts {
            var a = part.shape, b = first.shape
            precondition(
                a.count == b.count, "concatenated: ranks differ, \(part.shape) vs \(first.shape)")
            a[axis] = 0
            b[axis] = 0
            precondition(
                a == b, "concatenated: \(part.shape) and \(first.shape) differ off axis \(axis)")
        }
        if parts.count == 1 { return first }
        let lengths = parts.map { $0.shape[axis] }
        var newShape = first.shape
        newShape[axis] = lengths.reduce(0, +)
        let (outer, total, inner) = Shape.split(newShape, at: axis)
        let y = Tensor.filled(shape: newShape) { out in
            var start = 0
            for (part, length) in zip(parts, lengths) {
                for o in 0..<outer {
                    (out.baseAddress! + (o * total + start) * inner).update(
                        from: part.storage.base + o * length * inner, count: length * inner)
                }
                start += length
            }
        }
        return y.recorded(.concatenate, from: parts) { dy, needs in
            var start = 0
            return zip(lengths, needs).map { length, needed in
                defer { start += length }
                return needed ? dy.sliced(alongAxis: axis, start..<(start + length)) : nil
            }
        }
    }

    /// Stacks equal-shaped tensors along a new axis.
    public static func stacked(_ parts: [Tensor], alongAxis axis: Int = 0) -> Tensor {
        precondition(!parts.isEmpty, "stacked: no tensors")
        return concatenated(parts.map { $0.expandingDimension(at: axis) }, alongAxis: axis)
    }

    /// Splits `axis` into consecutive pieces of the given sizes.
    public func split(alongAxis axis: Int, sizes: [Int]) -> [Tensor] {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "split")
        precondition(
            sizes.reduce(0, +) == shape[axis],
            "split: sizes \(sizes) do not add up to \(shape[axis]) along axis \(axis)")
        var start = 0
        return sizes.map { size in
            defer { start += size }
            return sliced(alongAxis: axis, start..<(start + size))
        }
    }

    /// Pads `axis` with `before` and `after` copies of `value`.
    public func padded(alongAxis axis: Int, before: Int, after: Int, value: Float = 0) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "padded")
        precondition(before >= 0 && after >= 0, "padded: negative padding \(before), \(after)")
        if before == 0 && after == 0 { return self }
        let (outer, length, inner) = Shape.split(shape, at: axis)
        var newShape = shape
        newShape[axis] = length + before + after
        let newLength = newShape[axis]
        let y = Tensor.filled(shape: newShape) { out in
            out.initialize(repeating: value)
            for o in 0..<outer {
                (out.baseAddress! + (o * newLength + before) * inner).update(
                    from: storage.base + o * length * inner, count: length * inner)
            }
        }
        return y.recorded(.pad, from: [self]) { dy in
            [dy.sliced(alongAxis: axis, before..<(before + length))]
        }
    }

    /// This tensor repeated along broadcast axes to `target` (materialised).
    public func broadcast(to target: [Int]) -> Tensor {
        if shape == target { return self }
        precondition(
            Shape.broadcast(shape, target) == target,
            "broadcast: \(shape) cannot be broadcast to \(target)")
        let y = Tensor.zipped(Tensor.zeros(target), self.detached()) { $1 }
        let inputShape = shape
        return y.recorded(.broadcast, from: [self]) { dy in [dy.summed(toShape: inputShape)] }
    }
}
