// Attention maps stored as diagonal bands, for mechanisms that must materialise a local map
// (evolving attention on top of local attention): row i of a band keeps the keys
// j = i − before + c for columns c in 0..<W, W = before + after + 1; cells whose key lies outside
// the sequence hold 0. Memory is O(n·W) instead of O(n²).
// - scores:  S[b, h, i, c] = scale·q_i·k_j
// - mix:     o_i = Σ_c P[b, h, i, c]·v_j
// with their backward rules (dq_i = scale·Σ_c dS·k_j, dk_j += scale·dS·q_i; dP = dO_i·v_j,
// dv_j += P·dO_i). Heads are read in place from the [b, n, h, d] projections; one task per
// (batch, head) writes only that head's rows.
import AttendCore

/// Dense products restricted to a diagonal band.
public enum BandedAttention {
    /// Sizes of a banded problem.
    public struct Shape: Sendable {
        /// b, n, h, d and e.
        public let batch: Int, length: Int, heads: Int, dimension: Int, valueDimension: Int
        /// Keys before the query in row 0 of the band, and the band width W.
        public let before: Int, width: Int

        /// A problem of these sizes.
        public init(
            batch: Int, length: Int, heads: Int, dimension: Int, valueDimension: Int, before: Int,
            width: Int
        ) {
            (self.batch, self.length, self.heads, self.dimension) = (
                batch, length, heads, dimension
            )
            (self.valueDimension, self.before, self.width) = (valueDimension, before, width)
        }

        /// Runs `body` for every (batch, head) map in parallel with the offset of its [n, W] band.
        func forEachMap(_ body: (_ batch: Int, _ head: Int, _ offset: Int) -> Void) {
            Parallel.forEach(batch * heads) { task in
                body(task / heads, task % heads, task * length * width)
            }
        }

        /// Runs `body` for every row i of every (batch, head) map, in parallel over the maps, with
        /// the offset of the row in the [b, h, n, W] band.
        @inline(__always)
        func forEachRow(_ body: (_ batch: Int, _ head: Int, _ i: Int, _ row: Int) -> Void) {
            forEachMap { b, head, offset in
                for i in 0..<length { body(b, head, i, offset + i * width) }
            }
        }

        /// Offset of token t's vector of `size` floats for `head` in a [b, n, h, size] tensor.
        @inline(__always)
        func vector(_ b: Int, _ t: Int, _ head: Int, size: Int) -> Int {
            ((b * length + t) * heads + head) * size
        }

        /// Columns of row i whose key lies in 0..<n.
        @inline(__always)
        func columns(_ i: Int) -> Range<Int> {
            max(0, before - i)..<min(width, length + before - i)
        }
        @inline(__always)
        func key(_ i: Int, _ c: Int) -> Int { i - before + c }
    }

    /// S [b, h, n, W] = scale·q·kᵀ on the band. q, k: [b, n, h, d].
    public static func scores(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, scale: Float,
        into s: UnsafeMutablePointer<Float>,
        shape: Shape
    ) {
        let (qs, ks, ss) = (SendablePointer(query), SendablePointer(key), SendablePointer(s))
        let d = shape.dimension
        shape.forEachRow { b, head, i, row in
            let scores = ss.base + row
            scores.update(repeating: 0, count: shape.width)
            let q = qs.base + shape.vector(b, i, head, size: d)
            for c in shape.columns(i) {
                let k = ks.base + shape.vector(b, shape.key(i, c), head, size: d)
                scores[c] = scale * Dot.product(q, k, count: d)
            }
        }
    }

    /// dq, dk from dS (each written, skipped when nil).
    public static func scoresBackward(
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, scale: Float,
        scoreGradient ds: UnsafePointer<Float>,
        queryGradient dq: UnsafeMutablePointer<Float>?,
        keyGradient dk: UnsafeMutablePointer<Float>?, shape: Shape
    ) {
        let (qs, ks, gs) = (SendablePointer(query), SendablePointer(key), SendablePointer(ds))
        let dqs = dq.map { SendablePointer($0) }, dks = dk.map { SendablePointer($0) }
        let (n, h, d, w) = (shape.length, shape.heads, shape.dimension, shape.width)
        shape.forEachMap { b, head, offset in
            let map = gs.base + offset
            for i in 0..<n {
                let offset = ((b * n + i) * h + head) * d
                if let dqs { (dqs.base + offset).update(repeating: 0, count: d) }
                if let dks { (dks.base + offset).update(repeating: 0, count: d) }
            }
            for i in 0..<n {
                let qOffset = ((b * n + i) * h + head) * d
                for c in shape.columns(i) {
                    let g = scale * map[i * w + c]
                    if g == 0 { continue }
                    let kOffset = ((b * n + shape.key(i, c)) * h + head) * d
                    if let dqs {
                        addScaled(g, ks.base + kOffset, into: dqs.base + qOffset, count: d)
                    }
                    if let dks {
                        addScaled(g, qs.base + qOffset, into: dks.base + kOffset, count: d)
                    }
                }
            }
        }
    }

    /// o [b, n, h, e] = P·v on the band. P: [b, h, n, W]; v: [b, n, h, e].
    public static func mix(
        probabilities p: UnsafePointer<Float>, value: UnsafePointer<Float>,
        into o: UnsafeMutablePointer<Float>,
        shape: Shape
    ) {
        let (ps, vs, os) = (SendablePointer(p), SendablePointer(value), SendablePointer(o))
        let e = shape.valueDimension
        shape.forEachRow { b, head, i, row in
            let out = os.base + shape.vector(b, i, head, size: e)
            out.update(repeating: 0, count: e)
            for c in shape.columns(i) where ps.base[row + c] != 0 {
                let v = vs.base + shape.vector(b, shape.key(i, c), head, size: e)
                addScaled(ps.base[row + c], v, into: out, count: e)
            }
        }
    }

    /// dP [b, h, n, W] and dv [b, n, h, e] from dO (each written, skipped when nil).
    public static func mixBackward(
        probabilities p: UnsafePointer<Float>, value: UnsafePointer<Float>,
        outputGradient dout: UnsafePointer<Float>,
        probabilityGradient dp: UnsafeMutablePointer<Float>?,
        valueGradient dv: UnsafeMutablePointer<Float>?,
        shape: Shape
    ) {
        let (ps, vs, gs) = (SendablePointer(p), SendablePointer(value), SendablePointer(dout))
        let dps = dp.map { SendablePointer($0) }, dvs = dv.map { SendablePointer($0) }
        let (n, h, e, w) = (shape.length, shape.heads, shape.valueDimension, shape.width)
        shape.forEachMap { b, head, offset in
            let map = ps.base + offset
            if let dps { (dps.base + offset).update(repeating: 0, count: n * w) }
            if let dvs {
                for i in 0..<n {
                    (dvs.base + ((b * n + i) * h + head) * e).update(repeating: 0, count: e)
                }
            }
            for i in 0..<n {
                let g = gs.base + ((b * n + i) * h + head) * e
                for c in shape.columns(i) {
                    let vOffset = ((b * n + shape.key(i, c)) * h + head) * e
                    if let dps {
                        dps.base[offset + i * w + c] = Dot.product(g, vs.base + vOffset, count: e)
                    }
                    if let dvs { addScaled(map[i * w + c], g, into: dvs.base + vOffset, count: e) }
                }
            }
        }
    }
}
