// Reductions along one axis of a row-major buffer viewed as [outer, length, inner]. Contiguous rows
// (inner = 1) use eight-lane partial sums; otherwise whole inner rows are accumulated at once, which
// keeps every load contiguous.

/// Axis reductions over raw buffers.
public enum Reduce {
    /// Sum of `count` contiguous values with eight-lane partial sums.
    @inlinable @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var a0 = Float8(), a1 = Float8()
        var i = 0
        while i + 16 <= count {
            a0 += load8(x, i)
            a1 += load8(x, i + 8)
            i += 16
        }
        if i + 8 <= count {
            a0 += load8(x, i)
            i += 8
        }
        var total = (a0 + a1).sum()
        while i < count {
            total += x[i]
            i += 1
        }
        return total
    }

    /// Largest of `count` (> 0) contiguous values.
    @inlinable @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var best = -Float.infinity
        var i = 0
        if count >= 8 {
            var m = load8(x, 0)
            i = 8
            while i + 8 <= count {
                let v = load8(x, i)
                m.replace(with: v, where: v .> m)
                i += 8
            }
            best = m.max()
        }
        while i < count {
            if x[i] > best { best = x[i] }
            i += 1
        }
        return best
    }

    /// y[o, i] = Σ_l x[o, l, i].
    public static func sum(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        outer: Int, length: Int, inner: Int
    ) {
        let xs = SendablePointer(x)
        let ys = SendablePointer(y)
        if inner == 1 {
            Parallel.forEachChunk(
                outer, grain: Swift.max(1, Elementwise.grain / Swift.max(length, 1))
            ) { range in
                for o in range { ys[o] = sum(xs.base + o * length, count: length) }
            }
            return
        }
        Parallel.forEachChunk(
            outer, grain: Swift.max(1, Elementwise.grain / Swift.max(length * inner, 1))
        ) {
            range in
            for o in range {
                let row = ys.base + o * inner
                row.initialize(repeating: 0, count: inner)
                for l in 0..<length {
                    let source = xs.base + (o * length + l) * inner
                    Elementwise.zipRow(
                        UnsafePointer(row), xStride: 1, source, yStride: 1, row, count: inner, +)
                }
            }
        }
    }

    /// y[o, i] = max_l x[o, l, i] (or min when `smallest`), with the first position of the
    /// extremum in `index`.
    public static func extremum(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
        index: UnsafeMutablePointer<Int>,
        outer: Int, length: Int, inner: Int, smallest: Bool
    ) {
        precondition(length > 0, "max/min over an empty axis")
        for o in 0..<outer {
            for i in 0..<inner {
                var best = x[o * length * inner + i]
                var bestIndex = 0
                for l in 1..<length where !best.isNaN {
                    let v = x[(o * length + l) * inner + i]
                    // NaN wins, as in PyTorch, so it is never silently hidden.
                    if v.isNaN || (smallest ? v < best : v > best) {
                        best = v
                        bestIndex = l
                    }
                }
                y[o * inner + i] = best
                index[o * inner + i] = bestIndex
            }
        }
    }
}
