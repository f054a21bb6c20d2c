// Gathers and their scatter-add adjoints: index selection along an axis (embedding lookup is the
// axis-0 case), take-along-axis, top-k, and one-hot encoding.

extension Tensor {
    /// Slices `indices` of `axis`, in order: the result's `axis` becomes `indices.shape`.
    /// Repeated indices are allowed; their gradients add up.
    public func indexSelect(alongAxis axis: Int, _ indices: Indices) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "indexSelect")
        let (outer, length, inner) = Shape.split(shape, at: axis)
        for i in indices.values where i < 0 || i >= length {
            preconditionFailure(
                "indexSelect: index \(i) outside 0..<\(length) of axis \(axis) in \(shape)")
        }
        let outShape = Array(shape[..<axis]) + indices.shape + Array(shape[(axis + 1)...])
        let picked = indices.count
        let y = Tensor.filled(shape: outShape) { out in
            let source = storage.base
            for o in 0..<outer {
                for (j, i) in indices.values.enumerated() {
                    (out.baseAddress! + (o * picked + j) * inner).update(
                        from: source + (o * length + i) * inner, count: inner)
                }
            }
        }
        let inputShape = shape
        return y.recorded(.indexSelect, from: [self]) { dy in
            [
                Tensor.filled(shape: inputShape) { dx in
                    dx.initialize(repeating: 0)
                    let g = dy.storage.base
                    for o in 0..<outer {
                        for (j, i) in indices.values.enumerated() {
                            let target = dx.baseAddress! + (o * length + i) * inner
                            BLAS.axpy(
                                count: inner, alpha: 1, x: g + (o * picked + j) * inner, y: target)
                        }
                    }
                }
            ]
        }
    }

    /// Rows of an embedding `table` [vocabulary, width] for each index: `[indices.shape…, width]`.
    public static func embedding(_ table: Tensor, _ indices: Indices) -> Tensor {
        precondition(
            table.rank == 2, "embedding: table must be [vocabulary, width], got \(table.shape)")
        return table.indexSelect(alongAxis: 0, indices)
    }

    /// y[…, j, …] = x[…, indices[…, j, …], …] along `axis` (PyTorch `gather`): `indices` has this
    /// tensor's rank and shape except along `axis`.
    public func gathered(alongAxis axis: Int, _ indices: Indices) -> Tensor {
        let axis = Shape.normalize(axis: axis, rank: rank, op: "gathered")
        precondition(indices.shape.count == rank, "gathered: indices \(indices.shape) vs \(shape)")
        for a in 0..<rank where a != axis {
            precondition(
                indices.shape[a] == shape[a], "gathered: indices \(indices.shape) vs \(shape)")
        }
        let (outer, length, inner) = Shape.split(shape, at: axis)
        let picked = indices.shape[axis]
        func sourceOffset(_ o: Int, _ j: Int, _ i: Int) -> Int {
            let index = indices.values[(o * picked + j) * inner + i]
            precondition(
                index >= 0 && index < length, "gathered: index \(index) outside 0..<\(length)")
            return (o * length + index) * inner + i
        }
        let y = Tensor.filled(shape: indices.shape) { out in
            for o in 0..<outer {
                for j in 0..<picked {
                    for i in 0..<inner {
                        out[(o * picked + j) * inner + i] = storage.base[sourceOffset(o, j, i)]
                    }
                }
            }
        }
        let inputShape = shape
        return y.recorded(.gather, from: [self]) { dy in
            [
                Tensor.filled(shape: inputShape) { dx in
                    dx.initialize(repeating: 0)
                    for o in 0..<outer {
                        for j in 0..<picked {
                            for i in 0..<inner {
                                dx[sourceOffset(o, j, i)] +=
                                    dy.storage.base[(o * picked + j) * inner + i]
                            }
                        }
                    }
                }
            ]
        }
    }

    /// The `k` largest values along the last axis, in descending order, with their positions.
    /// Ties keep the earlier position first.
    public func topK(_ k: Int) -> (values: Tensor, indices: Indices) {
        let cols = shape.last ?? 1
        precondition(k >= 1 && k <= cols, "topK: k = \(k) must be in 1...\(cols)")
        let rows = count / Swift.max(cols, 1)
        var positions = [Int](repeating: 0, count: rows * k)
        withUnsafeBufferPointer { x in
            for r in 0..<rows {
                let row = x.baseAddress! + r * cols
                let order = (0..<cols).sorted { a, b in
                    row[a] > row[b] || (row[a] == row[b] && a < b)
                        || (row[a].isNaN && !row[b].isNaN)
                }
                for j in 0..<k { positions[r * k + j] = order[j] }
            }
        }
        let indices = Indices(shape: Array(shape.dropLast()) + [k], values: positions)
        return (gathered(alongAxis: -1, indices), indices)
    }

    /// One-hot rows: `[indices.shape…, classes]`, 1 at each index.
    public static func oneHot(_ indices: Indices, classes: Int) -> Tensor {
        filled(shape: indices.shape + [classes]) { out in
            out.initialize(repeating: 0)
            for (row, i) in indices.values.enumerated() {
                precondition(i >= 0 && i < classes, "oneHot: index \(i) outside 0..<\(classes)")
                out[row * classes + i] = 1
            }
        }
    }
}
