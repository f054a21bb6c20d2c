// The decoding state of softmax attention: every past key and value (full attention), or only the
// last w of them in a ring buffer (causal local attention, whose query t sees t − w < j ≤ t). One
// step appends each sequence's new key and value and attends its query over the cached rows with
// two matrix–vector products per head; the order of the rows in a ring does not matter to softmax.
// Storage: one flat buffer [b, slots, h, ·] per tensor, like the projections' [b, n, h, d] layout,
// so a head's rows are a strided matrix; `slots` doubles as sequences grow (up to w for a window).
import AttendCore

/// Cached keys and values of softmax attention, all positions or a sliding window.
public final class KeyValueCache: DecodingState {
    /// h, d, e.
    let heads: Int, keyDimension: Int, valueDimension: Int
    /// Rows kept per sequence when only the last `window` positions are visible; nil keeps all.
    let window: Int?
    /// Rows each sequence can hold before the buffers grow.
    private(set) var slots: Int
    /// [b, slots, h, d] and [b, slots, h, e].
    private var keys: [Float], values: [Float]
    /// Positions each sequence has seen.
    public private(set) var lengths: [Int]

    /// An empty cache for `batch` sequences.
    init(batch: Int, heads: Int, keyDimension: Int, valueDimension: Int, window: Int?, slots: Int) {
        (self.heads, self.keyDimension, self.valueDimension) = (heads, keyDimension, valueDimension)
        self.window = window
        self.slots = Swift.max(1, window.map { Swift.min($0, slots) } ?? slots)
        keys = [Float](repeating: 0, count: batch * self.slots * heads * keyDimension)
        values = [Float](repeating: 0, count: batch * self.slots * heads * valueDimension)
        lengths = [Int](repeating: 0, count: batch)
    }

    /// A cache holding the first `lengths[i]` positions of k [b, n, h, d] and v [b, n, h, e].
    convenience init(key: Tensor, value: Tensor, lengths: [Int], window: Int?) {
        let (b, n, h, d, e) = (
            key.shape[0], key.shape[1], key.shape[2], key.shape[3], value.shape[3]
        )
        self.init(batch: b, heads: h, keyDimension: d, valueDimension: e, window: window, slots: n)
        let (ks, vs) = (key.scalars, value.scalars)
        for i in 0..<b {
            for p in 0..<lengths[i] {
                append(
                    sequence: i, key: ks, keyOffset: (i * n + p) * h * d, value: vs,
                    valueOffset: (i * n + p) * h * e)
            }
        }
    }

    /// Bytes of the two buffers.
    public var byteCount: Int { (keys.count + values.count) * MemoryLayout<Float>.size }

    /// Stores one position's keys and values (all heads) as sequence `i`'s next position.
    private func append(
        sequence i: Int, key: [Float], keyOffset: Int, value: [Float], valueOffset: Int
    ) {
        let position = lengths[i]
        // Room for one more row: doubling, up to the window (a ring is full once it holds w rows).
        if position >= slots && slots < (window ?? Int.max) {
            grow(to: Swift.min(2 * slots, window ?? Int.max))
        }
        let slot = window.map { position % $0 } ?? position
        let (hd, he) = (heads * keyDimension, heads * valueDimension)
        let rowStart = (i * slots + slot)
        keys.replaceSubrange(
            rowStart * hd..<(rowStart + 1) * hd, with: key[keyOffset..<keyOffset + hd])
        values.replaceSubrange(
            rowStart * he..<(rowStart + 1) * he, with: value[valueOffset..<valueOffset + he])
        lengths[i] = position + 1
    }

    /// Re-lays the buffers out with room for `newSlots` rows per sequence.
    private func grow(to newSlots: Int) {
        let b = lengths.count
        func relaid(_ old: [Float], width: Int) -> [Float] {
            var new = [Float](repeating: 0, count: b * newSlots * width)
            for i in 0..<b {
                new.replaceSubrange(
                    i * newSlots * width..<(i * newSlots + slots) * width,
                    with: old[i * slots * width..<(i + 1) * slots * width])
            }
            return new
        }
        keys = relaid(keys, width: heads * keyDimension)
        values = relaid(values, width: heads * valueDimension)
        slots = newSlots
    }

    /// Appends k, v [b, 1, h, ·] and returns softmax(scale·q·Kᵀ)·V [b, 1, h, e] over the visible
    /// rows.
    func attend(query: Tensor, key: Tensor, value: Tensor, scale: Float) -> Tensor {
        let b = lengths.count
        let (h, d, e) = (heads, keyDimension, valueDimension)
        append(key: key, value: value)
        let visible = lengths.map { length in window.map { Swift.min($0, length) } ?? length }
        let slots = self.slots
        return Tensor.filled(shape: [b, 1, h, e]) { out in
            let o = SendablePointer(out.baseAddress!)
            query.withUnsafeBufferPointer { q in
                keys.withUnsafeBufferPointer { kb in
                    values.withUnsafeBufferPointer { vb in
                        let (qs, kp, vp) = (
                            SendablePointer(q.baseAddress!), SendablePointer(kb.baseAddress!),
                            SendablePointer(vb.baseAddress!)
                        )
                        Parallel.forEach(b * h) { bh in
                            let (i, head) = bh.quotientAndRemainder(dividingBy: h)
                            let rows = visible[i]
                            var scores = [Float](repeating: 0, count: rows)
                            scores.withUnsafeMutableBufferPointer { s in
                                let p = s.baseAddress!
                                BLAS.gemv(
                                    transpose: false, m: rows, n: d, alpha: scale,
                                    a: kp.base + (i * slots * h + head) * d, lda: h * d,
                                    x: qs.base + bh * d, y: p)
                                SoftmaxKernel.row(p, p, rows)
                                BLAS.gemv(
                                    transpose: true, m: rows, n: e,
                                    a: vp.base + (i * slots * h + head) * e,
                                    lda: h * e, x: p, y: o.base + bh * e)
                            }
                        }
                    }
                }
            }
        }
    }

    /// Takes in k, v [b, 1, h, ·] as each sequence's next position.
    func append(key: Tensor, value: Tensor) {
        let (hd, he) = (heads * keyDimension, heads * valueDimension)
        let (ks, vs) = (key.scalars, value.scalars)
        for i in lengths.indices {
            append(sequence: i, key: ks, keyOffset: i * hd, value: vs, valueOffset: i * he)
        }
    }

    /// The slots sequence i's latest query sees: every cached row (in a ring, the window's).
    func visibleSlots(_ i: Int) -> [Int] {
        Array(0..<(window.map { Swift.min($0, lengths[i]) } ?? lengths[i]))
    }

    /// A term added to scale·q·k: (sequence, head, slot, that head's key row) → score.
    typealias ScoreBias = (_ sequence: Int, _ head: Int, _ slot: Int, _ key: ArraySlice<Float>) ->
        Float

    /// Extra keys [count, h, d] and values [count, h, e] one sequence's query sees beside the
    /// cache.
    struct ExtraRows {
        var keys: [Float] = [], values: [Float] = []
    }

    /// softmax(scale·q·K + bias)·V [b, 1, h, e] of queries q [b, 1, h, d] over the cache slots
    /// `slots(sequence, head)` lists and the sequence's `extra` rows, under one softmax (call after
    /// `append`). In a cache of every position a slot is the position.
    func attend(
        query: Tensor, scale: Float, slots: (_ sequence: Int, _ head: Int) -> [Int],
        bias: ScoreBias? = nil,
        extra: [ExtraRows]? = nil
    ) -> Tensor {
        let (b, h, d, e) = (lengths.count, heads, keyDimension, valueDimension)
        let q = query.scalars
        var out = [Float](repeating: 0, count: b * h * e)
        for bh in 0..<(b * h) {
            let (i, head) = bh.quotientAndRemainder(dividingBy: h)
            let queryRow = q[bh * d..<(bh + 1) * d]
            func dot(_ row: ArraySlice<Float>) -> Float {
                zip(queryRow, row).reduce(0) { $0 + $1.0 * $1.1 }
            }
            let listed = slots(i, head)
            var scores = listed.map { slot -> Float in
                let start = ((i * self.slots + slot) * h + head) * d
                let row = keys[start..<start + d]
                return dot(row) * scale + (bias?(i, head, slot, row) ?? 0)
            }
            let added = extra?[i] ?? ExtraRows()
            let extraRows = added.keys.count / (h * d)
            for r in 0..<extraRows {
                let start = (r * h + head) * d
                scores.append(dot(added.keys[start..<start + d]) * scale)
            }
            scores.withUnsafeMutableBufferPointer {
                SoftmaxKernel.row($0.baseAddress!, $0.baseAddress!, $0.count)
            }
            for (weight, slot) in zip(scores, listed) {
                let start = ((i * self.slots + slot) * h + head) * e
                for x in 0..<e { out[bh * e + x] += weight * values[start + x] }
            }
            for r in 0..<extraRows {
                let (weight, start) = (scores[listed.count + r], (r * h + head) * e)
                for x in 0..<e { out[bh * e + x] += weight * added.values[start + x] }
            }
        }
        return Tensor(shape: [b, 1, h, e], scalars: out)
    }

    /// scale·q·k of one sequence's query rows q [h·d] (all heads) against its cached rows, [h,
    /// rows]; in a cache of every position, row j is position j.
    func scores(query q: ArraySlice<Float>, sequence i: Int, scale: Float) -> [Float] {
        let (h, d, rows) = (heads, keyDimension, visibleSlots(i).count)
        var out = [Float](repeating: 0, count: h * rows)
        for head in 0..<h {
            for j in 0..<rows {
                let (keyStart, queryStart) = (
                    ((i * slots + j) * h + head) * d, q.startIndex + head * d
                )
                var dot: Float = 0
                for x in 0..<d { dot += q[queryStart + x] * keys[keyStart + x] }
                out[head * rows + j] = dot * scale
            }
        }
        return out
    }

    /// Σ_j w_j·v_j over one sequence's cached rows for weights [h, rows], → [h, e].
    func mix(_ weights: [Float], sequence i: Int) -> [Float] {
        let (h, e) = (heads, valueDimension)
        let rows = weights.count / h
        var out = [Float](repeating: 0, count: h * e)
        for head in 0..<h {
            for j in 0..<rows {
                let (weight, start) = (weights[head * rows + j], ((i * slots + j) * h + head) * e)
                if weight == 0 { continue }
                for x in 0..<e { out[head * e + x] += weight * values[start + x] }
            }
        }
        return out
    }
}
