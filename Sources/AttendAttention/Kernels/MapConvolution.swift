// A 3×3 convolution over attention maps with heads as channels (evolving attention, mechanisms-a
// §5.2): maps [b, h, n, W] → [b, h, n, W], cross-correlation as PyTorch's Conv2d computes it:
//   y[o, i, c] = bias[o] + Σ_{ci, ky, kx} w[o, ci, ky, kx] · x[ci, i + a, j + b′ → column]
// with taps (a, b′) = (ky − off, kx − off): off = 1 for 'same' padding (a, b′ ∈ {−1, 0, 1}) and
// off = 2 for the causal form (a, b′ ∈ {−2, −1, 0}: only earlier queries and earlier keys are read;
// mechanisms-a §5.4). Cells outside the map read as 0.
// Maps are stored either whole (column c is key j = c) or as a band around the diagonal (column c is
// key j = c + i − before). A neighbour (i + a, j + b′) then sits in column c + b′ − shift·a, with
// shift 0 (whole) or 1 (band), so the same loops serve full and local attention maps; a band of
// width W is exactly the whole map with every cell outside the band set to 0.
// Each output row is accumulated from contiguous input rows (an axpy per tap), so the loops run on
// SIMD8. Backward: dx is the same loop with the taps mirrored, dw[o, ci, tap] a dot product over
// (b, i, c), dbias the sum of dy.
import AttendCore

/// Geometry of a map convolution.
public struct MapConvolutionShape: Sendable, Equatable {
    /// Maps b, channels (heads) h, rows n and stored columns W.
    public let batch: Int, channels: Int, rows: Int, columns: Int
    /// 0 for whole maps, 1 for diagonal bands.
    public let shift: Int
    /// 1 for 'same' taps {−1, 0, 1}, 2 for causal taps {−2, −1, 0}.
    public let tapOffset: Int

    /// A shape; `shift` ∈ {0, 1}, `tapOffset` ∈ {1, 2}.
    public init(batch: Int, channels: Int, rows: Int, columns: Int, shift: Int, tapOffset: Int) {
        precondition(shift == 0 || shift == 1, "MapConvolution: shift must be 0 or 1")
        precondition(tapOffset == 1 || tapOffset == 2, "MapConvolution: tap offset must be 1 or 2")
        (self.batch, self.channels, self.rows, self.columns) = (batch, channels, rows, columns)
        (self.shift, self.tapOffset) = (shift, tapOffset)
    }

    var mapSize: Int { rows * columns }

    /// Row offset a, column offset δ (in stored columns) and the valid column range of tap (ky, kx):
    /// output columns c with c + δ inside the map.
    @inline(__always)
    func tap(_ ky: Int, _ kx: Int) -> (a: Int, delta: Int, low: Int, high: Int) {
        let a = ky - tapOffset, b = kx - tapOffset
        let delta = b - shift * a
        return (a, delta, max(0, -delta), min(columns, columns - delta))
    }
}

/// 3×3 convolution over attention maps.
public enum MapConvolution {
    /// y = conv(x) + bias. x, y: [b, h, n, W]; weight [h, h, 3, 3]; bias [h].
    public static func forward(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
        into y: UnsafeMutablePointer<Float>, shape: MapConvolutionShape
    ) {
        let (xs, ws, bs, ys) = (
            SendablePointer(x), SendablePointer(weight), SendablePointer(bias), SendablePointer(y)
        )
        let (h, n, size) = (shape.channels, shape.rows, shape.mapSize)
        Parallel.forEach(shape.batch * h) { task in
            let (b, o) = (task / h, task % h)
            let out = ys.base + task * size
            for i in 0..<n {
                let row = out + i * shape.columns
                row.update(repeating: bs[o], count: shape.columns)
                for ci in 0..<h {
                    let input = xs.base + (b * h + ci) * size
                    for ky in 0..<3 {
                        for kx in 0..<3 {
                            let t = shape.tap(ky, kx)
                            let source = i + t.a
                            guard source >= 0, source < n, t.low < t.high else { continue }
                            let w = ws[((o * h + ci) * 3 + ky) * 3 + kx]
                            addScaled(
                                w, input + source * shape.columns + t.delta + t.low,
                                into: row + t.low, count: t.high - t.low)
                        }
                    }
                }
            }
        }
    }

    /// Gradients of Σ dy ⊙ conv(x): dx [b, h, n, W], dweight [h, h, 3, 3], dbias [h] (each written,
    /// skipped when nil).
    public static func backward(
        _ x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
        outputGradient dy: UnsafePointer<Float>,
        inputGradient dx: UnsafeMutablePointer<Float>?,
        weightGradient dw: UnsafeMutablePointer<Float>?,
        biasGradient db: UnsafeMutablePointer<Float>?, shape: MapConvolutionShape
    ) {
        let (xs, ws, gs) = (SendablePointer(x), SendablePointer(weight), SendablePointer(dy))
        let (h, n, size, columns) = (shape.channels, shape.rows, shape.mapSize, shape.columns)
        if let dx {
            let dxs = SendablePointer(dx)
            // dx[ci, i + a, c + δ] += w[o, ci, tap]·dy[o, i, c]
            Parallel.forEach(shape.batch * h) { task in
                let (b, ci) = (task / h, task % h)
                let out = dxs.base + task * size
                out.update(repeating: 0, count: size)
                for target in 0..<n {
                    let row = out + target * columns
                    for o in 0..<h {
                        let gradient = gs.base + (b * h + o) * size
                        for ky in 0..<3 {
                            for kx in 0..<3 {
                                let t = shape.tap(ky, kx)
                                let i = target - t.a
                                guard i >= 0, i < n, t.low < t.high else { continue }
                                let w = ws[((o * h + ci) * 3 + ky) * 3 + kx]
                                addScaled(
                                    w, gradient + i * columns + t.low,
                                    into: row + t.low + t.delta, count: t.high - t.low)
                            }
                        }
                    }
                }
            }
        }
        if let dw {
            let dws = SendablePointer(dw)
            Parallel.forEach(h * h) { pair in
                let (o, ci) = (pair / h, pair % h)
                for ky in 0..<3 {
                    for kx in 0..<3 {
                        let t = shape.tap(ky, kx)
                        var total: Double = 0
                        if t.low < t.high {
                            for b in 0..<shape.batch {
                                let gradient = gs.base + (b * h + o) * size
                                let input = xs.base + (b * h + ci) * size
                                for i in max(0, -t.a)..<min(n, n - t.a) {
                                    total += Double(
                                        Dot.product(
                                            gradient + i * columns + t.low,
                                            input + (i + t.a) * columns + t.low + t.delta,
                                            count: t.high - t.low))
                                }
                            }
                        }
                        dws[((o * h + ci) * 3 + ky) * 3 + kx] = Float(total)
                    }
                }
            }
        }
        if let db {
            for o in 0..<h {
                var total: Double = 0
                for b in 0..<shape.batch {
                    total += Double(Reduce.sum(gs.base + (b * h + o) * size, count: size))
                }
                db[o] = Float(total)
            }
        }
    }
}
