// Row-wise softmax and log-softmax over contiguous rows, forward and backward, and the two row
// kernels every softmax in Attend is built from (`exponentiate`, `backwardRow`), so the tiled
// attention kernels share them too.
import Foundation

// The row maximum is subtracted before exp so no term overflows; it cancels in the ratio. A row whose
// entries are all −∞ (every key masked) yields zeros rather than NaN (−∞ from log-softmax).

/// Softmax over the last axis of a `rows × cols` buffer.
public enum SoftmaxKernel {
    /// y[r, :] = softmax(x[r, :]).
    public static func forward(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        forEachRow(x, y, rows: rows, cols: cols) { xr, yr in row(xr, yr, cols) }
    }

    /// Softmax of one row; `x` and `y` may alias.
    @inlinable @inline(__always)
    public static func row(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ cols: Int)
    {
        let m = Reduce.max(x, count: cols)
        if m == -.infinity {
            y.update(repeating: 0, count: cols)
            return
        }
        let sum = exponentiate(x, into: y, count: cols, shift: m)
        scale(y, count: cols, by: 1 / sum)
    }

    /// Softmax of one row in place; returns its log-sum-exp m + log Σ e^(x − m), the value the tiled
    /// attention kernels save for their backward pass (−∞, and a zero row, when every entry is −∞).
    @inlinable @inline(__always)
    public static func normalizeRow(_ row: UnsafeMutablePointer<Float>, count: Int) -> Float {
        let m = Reduce.max(row, count: count)
        if m == -.infinity {
            row.update(repeating: 0, count: count)
            return -.infinity
        }
        let sum = exponentiate(row, count: count, shift: m)
        scale(row, count: count, by: 1 / sum)
        return m + Foundation.log(sum)
    }

    /// y[i] *= factor.
    @usableFromInline @inline(__always)
    static func scale(_ y: UnsafeMutablePointer<Float>, count: Int, by factor: Float) {
        let vector = Float8(repeating: factor)
        var i = 0
        while i + 8 <= count {
            store8(load8(y, i) * vector, y, i)
            i += 8
        }
        while i < count {
            y[i] *= factor
            i += 1
        }
    }

    /// y[j] = e^(x[j] − shift) for j < `count`; returns Σ_j y[j]. `x` and `y` may be the same buffer.
    ///
    /// Callers pass the row maximum (or a saved log-sum-exp) as `shift`, so no term overflows.
    @inlinable @inline(__always)
    public static func exponentiate(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, shift: Float
    ) -> Float {
        let s = Float8(repeating: shift)
        var total = Float8()
        var i = 0
        while i + 8 <= count {
            let e = VectorMath.expOfShifted(load8(x, i) - s)
            store8(e, y, i)
            total += e
            i += 8
        }
        var sum = total.sum()
        if i < count {
            let rest = count - i
            var e = VectorMath.expOfShifted(loadPartial(x, i, rest) - s)
            for lane in rest..<8 { e[lane] = 0 }
            storePartial(e, y, i, rest)
            sum += e.sum()
        }
        return sum
    }

    /// row[j] = e^(row[j] − shift) in place; returns Σ_j row[j].
    @inlinable @inline(__always)
    public static func exponentiate(_ row: UnsafeMutablePointer<Float>, count: Int, shift: Float)
        -> Float
    {
        exponentiate(UnsafePointer(row), into: row, count: count, shift: shift)
    }

    /// dx = y ⊙ (dy − Σ_c dy·y): the softmax Jacobian applied without forming it.
    public static func backward(
        output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        forEachRow(y, dy, dx, rows: rows, cols: cols) { yr, gr, dxr in
            backwardRow(
                output: yr, outputGradient: gr, dot: Dot.product(yr, gr, count: cols), into: dxr,
                count: cols)
        }
    }

    /// dx = y ⊙ (dy − dot) for one row, where `dot` = Σ_c dy·y (attention kernels know it as dO·O).
    /// `dx` may be `dy`.
    @inlinable @inline(__always)
    public static func backwardRow(
        output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>, dot: Float,
        into dx: UnsafeMutablePointer<Float>, count: Int
    ) {
        let correction = Float8(repeating: dot)
        Elementwise.zipRow(y, xStride: 1, dy, yStride: 1, dx, count: count) {
            $0 * ($1 - correction)
        }
    }

    /// y[r, :] = x[r, :] − log Σ exp(x[r, :]).
    public static func logForward(
        _ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        forEachRow(x, y, rows: rows, cols: cols) { xr, yr in
            let m = Reduce.max(xr, count: cols)
            if m == -.infinity {
                // Every entry masked: −∞ (the log of the zeros `row` gives), not −∞ − (−∞) = NaN.
                yr.update(repeating: -.infinity, count: cols)
                return
            }
            var sum: Float = 0
            var i = 0
            let shift = Float8(repeating: m)
            while i + 8 <= cols {
                sum += VectorMath.exp(load8(xr, i) - shift).sum()
                i += 8
            }
            while i < cols {
                sum += VectorMath.exp(xr[i] - m)
                i += 1
            }
            // (x − m) − log Σ, not x − (m + log Σ): m + log Σ would round at m's magnitude
            // (an ulp of 6e-5 at m = 1000) and take that error into every output.
            let logSum = Foundation.log(sum)
            Elementwise.zipRow(xr, xStride: 1, xr, yStride: 0, yr, count: cols) {
                a, _ in (a - m) - logSum
            }
        }
    }

    /// dx = dy − softmax(x)·Σ_c dy, with softmax(x) = exp(y).
    public static func logBackward(
        output y: UnsafePointer<Float>, outputGradient dy: UnsafePointer<Float>,
        into dx: UnsafeMutablePointer<Float>, rows: Int, cols: Int
    ) {
        forEachRow(y, dy, dx, rows: rows, cols: cols) { yr, gr, dxr in
            let total = Reduce.sum(gr, count: cols)
            Elementwise.zipRow(yr, xStride: 1, gr, yStride: 1, dxr, count: cols) { yv, g in
                g - VectorMath.exp(yv) * total
            }
        }
    }

    /// Runs `body(x_r, y_r)` on every row of two `rows × cols` buffers, in chunks of about
    /// `Elementwise.grain` elements across threads.
    @inline(__always)
    private static func forEachRow(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int,
        _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        forEachRow(x, x, y, rows: rows, cols: cols) { xr, _, yr in body(xr, yr) }
    }

    /// `forEachRow` over three buffers, as backward passes read them: `body(y_r, dy_r, dx_r)`.
    @inline(__always)
    private static func forEachRow(
        _ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
        rows: Int,
        cols: Int,
        _ body: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void
    ) {
        let (ys, dys, dxs) = (SendablePointer(y), SendablePointer(dy), SendablePointer(dx))
        Parallel.forEachChunk(rows, grain: max(1, Elementwise.grain / max(cols, 1))) { range in
            for r in range { body(ys.base + r * cols, dys.base + r * cols, dxs.base + r * cols) }
        }
    }
}

/// Dot products of contiguous vectors.
public enum Dot {
    /// Σ x[i]·y[i].
    @inlinable @inline(__always)
    public static func product(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int)
        -> Float
    {
        var a0 = Float8(), a1 = Float8()
        var i = 0
        while i + 16 <= count {
            a0 += load8(x, i) * load8(y, i)
            a1 += load8(x, i + 8) * load8(y, i + 8)
            i += 16
        }
        if i + 8 <= count {
            a0 += load8(x, i) * load8(y, i)
            i += 8
        }
        var total = (a0 + a1).sum()
        while i < count {
            total += x[i] * y[i]
            i += 1
        }
        return total
    }
}
