// The quadratic term of FLASH (Hua et al. 2022) as a buffer-level kernel: within each chunk of L
// positions, every query attends to the chunk's keys through an un-normalised relu² kernel
//
//     o_i = Σ_{j ∈ chunk(i), j allowed} relu(scale_b·q_i·k_j + bias[clip(j − i, ±R)])² · v_j
//
// (j allowed: a real key, and j ≤ i when causal). With L = n this is the whole GAU attention. No
// softmax means no running maximum: tiles of T×T scores simply add up, so a chunk longer than a tile
// (GAU on long inputs) costs O(T²) scratch per thread, never an L×L map. The backward pass recomputes
// each score tile. A chunk that is one tile is owned by one work item (dq, dk, dv written without
// races); longer chunks with too few of them to fill the threads run two passes instead, one per key
// tile (dk, dv, bias) and one per query tile (dq), recomputing the tile in each.
//
// Layout: q, k [b, n, s] and v, o [b, n, e], contiguous. The last chunk may be shorter than L (the
// same result as padding with masked keys, without the copy).
import AttendCore

/// One chunked relu²-attention problem; the pointers must stay valid while a kernel runs.
public struct ChunkedReluSquaredProblem: @unchecked Sendable {
    /// b, n, the chunk length L, s (query/key width) and e (value width).
    public var batch: Int, length: Int, chunk: Int, dimension: Int, valueDimension: Int
    /// Key j is hidden from query i when j > i.
    public var causal: Bool
    /// Per batch entry, multiplies q·k (FLASH: 1/C; GAU: 1/real length).
    public var scales: [Float]
    /// [b, n], 0 = padding; nil = every key is real.
    public var keyMask: UnsafePointer<Float>?
    /// [2R + 1] relative-position bias indexed by clip(j − i, −R, R) + R; nil = none.
    public var bias: UnsafePointer<Float>?
    /// R, the largest distinguished offset.
    public var maximumDistance: Int
    /// q, k [b, n, s] and v [b, n, e], contiguous.
    public var query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>

    /// A problem description.
    public init(
        batch: Int, length: Int, chunk: Int, dimension: Int, valueDimension: Int, causal: Bool,
        scales: [Float], keyMask: UnsafePointer<Float>?, bias: UnsafePointer<Float>?,
        maximumDistance: Int,
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>
    ) {
        precondition(scales.count == batch, "one scale per batch entry")
        (self.batch, self.length, self.chunk, self.dimension) = (batch, length, chunk, dimension)
        (self.valueDimension, self.causal, self.scales, self.keyMask) = (
            valueDimension, causal, scales, keyMask
        )
        (self.bias, self.maximumDistance) = (bias, maximumDistance)
        (self.query, self.key, self.value) = (query, key, value)
    }

    /// Chunks in each sequence.
    var chunksPerSequence: Int { (length + chunk - 1) / chunk }
    /// Tiles in a full chunk.
    var tilesPerChunk: Int {
        (chunk + ChunkedReluSquaredAttention.tile - 1) / ChunkedReluSquaredAttention.tile
    }
}

/// Forward and backward of chunked relu² attention.
public enum ChunkedReluSquaredAttention {
    /// Query rows and keys per score tile.
    public static let tile = 256

    /// A run of rows [start, end) of one sequence, inside the chunk [chunkStart, chunkEnd).
    struct Span {
        let batch: Int, chunkStart: Int, chunkEnd: Int, start: Int, end: Int
    }

    /// Every chunk, as spans covering the whole chunk.
    static func chunks(_ p: ChunkedReluSquaredProblem) -> [Span] {
        var spans: [Span] = []
        for b in 0..<p.batch {
            for start in stride(from: 0, to: p.length, by: p.chunk) {
                let end = Swift.min(start + p.chunk, p.length)
                spans.append(
                    Span(batch: b, chunkStart: start, chunkEnd: end, start: start, end: end))
            }
        }
        return spans
    }

    /// Every tile of every chunk.
    static func tiles(_ p: ChunkedReluSquaredProblem) -> [Span] {
        chunks(p).flatMap { c in
            stride(from: c.start, to: c.end, by: tile).map { start in
                Span(
                    batch: c.batch, chunkStart: c.chunkStart, chunkEnd: c.chunkEnd, start: start,
                    end: Swift.min(start + tile, c.chunkEnd))
            }
        }
    }

    /// Writes o [b, n, e].
    public static func forward(_ p: ChunkedReluSquaredProblem, output: UnsafeMutablePointer<Float>)
    {
        let out = SendablePointer(output)
        let queryTiles = tiles(p)
        let e = p.valueDimension
        Parallel.forEach(queryTiles.count) { item in
            let rows = queryTiles[item]
            let o = out.base + (rows.batch * p.length + rows.start) * e
            o.update(repeating: 0, count: (rows.end - rows.start) * e)
            var weights = [Float](repeating: 0, count: tile * tile)
            weights.withUnsafeMutableBufferPointer { a in
                let keyEnd = p.causal ? rows.end : rows.chunkEnd
                for keyStart in stride(from: rows.chunkStart, to: keyEnd, by: tile) {
                    let keys = Span(
                        batch: rows.batch, chunkStart: rows.chunkStart, chunkEnd: rows.chunkEnd,
                        start: keyStart, end: Swift.min(keyStart + tile, keyEnd))
                    scoreTile(p, rows: rows, keys: keys, weights: a.baseAddress!, derivative: nil)
                    let v = p.value + (rows.batch * p.length + keys.start) * e
                    BLAS.gemm(
                        transposeA: false, transposeB: false, m: rows.end - rows.start, n: e,
                        k: keys.end - keys.start, a: a.baseAddress!, lda: keys.end - keys.start,
                        b: v, ldb: e, beta: 1, c: o, ldc: e)
                }
            }
        }
    }

    /// Adds the gradients of Σ o ⊙ dO to dq, dk, dv ([b, n, s], [b, n, s], [b, n, e], zeroed by the
    /// caller) and, when the problem has a bias, to `biasGradient` [2R + 1].
    public static func backward(
        _ p: ChunkedReluSquaredProblem, outputGradient: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>, biasGradient: UnsafeMutablePointer<Float>?
    ) {
        let grads = Gradients(
            output: SendablePointer(outputGradient), query: SendablePointer(queryGradient),
            key: SendablePointer(keyGradient), value: SendablePointer(valueGradient))
        let chunkSpans = chunks(p)
        let biasCount = p.bias == nil ? 0 : 2 * p.maximumDistance + 1
        let owned = p.tilesPerChunk == 1 || chunkSpans.count >= 4 * Parallel.threadCount
        // Work items: a whole chunk each (owned), or key tiles then query tiles (two passes).
        let keyItems = owned ? chunkSpans : tiles(p)
        var biasSlots = [Float](repeating: 0, count: Swift.max(1, keyItems.count * biasCount))
        biasSlots.withUnsafeMutableBufferPointer { slots in
            let slotBase = SendablePointer(slots.baseAddress!)
            Parallel.forEach(keyItems.count) { item in
                let span = keyItems[item]
                var scratch = TileScratch()
                let slot = biasCount == 0 ? nil : slotBase.base + item * biasCount
                if owned {
                    for rowStart in stride(from: span.start, to: span.end, by: tile) {
                        let rows = span.sub(rowStart, Swift.min(rowStart + tile, span.end))
                        let keyEnd = p.causal ? rows.end : span.end
                        for keyStart in stride(from: span.start, to: keyEnd, by: tile) {
                            let keys = span.sub(keyStart, Swift.min(keyStart + tile, keyEnd))
                            tilePair(
                                p, rows: rows, keys: keys, grads, &scratch, keySide: true,
                                querySide: true, biasSlot: slot)
                        }
                    }
                } else {
                    // Key tile `span`: every query tile of its chunk that can see it (tiles are
                    // aligned, so under the causal rule the first is the tile at the same place).
                    let firstRow = p.causal ? span.start : span.chunkStart
                    for rowStart in stride(from: firstRow, to: span.chunkEnd, by: tile) {
                        let rows = span.sub(rowStart, Swift.min(rowStart + tile, span.chunkEnd))
                        let keys = span.sub(
                            span.start, p.causal ? Swift.min(span.end, rows.end) : span.end)
                        tilePair(
                            p, rows: rows, keys: keys, grads, &scratch, keySide: true,
                            querySide: false, biasSlot: slot)
                    }
                }
            }
        }
        if !owned {
            let queryItems = tiles(p)
            Parallel.forEach(queryItems.count) { item in
                let rows = queryItems[item]
                var scratch = TileScratch()
                let keyEnd = p.causal ? rows.end : rows.chunkEnd
                for keyStart in stride(from: rows.chunkStart, to: keyEnd, by: tile) {
                    let keys = rows.sub(keyStart, Swift.min(keyStart + tile, keyEnd))
                    tilePair(
                        p, rows: rows, keys: keys, grads, &scratch, keySide: false, querySide: true,
                        biasSlot: nil)
                }
            }
        }
        if let biasGradient, biasCount > 0 {
            for item in 0..<keyItems.count {
                for r in 0..<biasCount { biasGradient[r] += biasSlots[item * biasCount + r] }
            }
        }
    }

    /// The gradient buffers of one backward call.
    struct Gradients: @unchecked Sendable {
        let output: SendablePointer<Float>, query: SendablePointer<Float>
        let key: SendablePointer<Float>, value: SendablePointer<Float>
    }

    /// Three T×T buffers: the weights A, the derivative 2·relu(x), and dA (then dx).
    struct TileScratch {
        var weights = [Float](repeating: 0, count: tile * tile)
        var derivative = [Float](repeating: 0, count: tile * tile)
        var gradient = [Float](repeating: 0, count: tile * tile)
    }

    /// Backward through one (query tile, key tile) pair:
    ///   dA = dO_i·V_jᵀ, dx = dA ⊙ 2·relu(x);  dV_j += Aᵀ·dO_i, dK_j += scale·dxᵀ·Q_i, bias += Σ dx
    ///   (key side), dQ_i += scale·dx·K_j (query side).
    static func tilePair(
        _ p: ChunkedReluSquaredProblem, rows: Span, keys: Span, _ g: Gradients,
        _ scratch: inout TileScratch,
        keySide: Bool, querySide: Bool, biasSlot: UnsafeMutablePointer<Float>?
    ) {
        let (m, n) = (rows.end - rows.start, keys.end - keys.start)
        guard m > 0, n > 0 else { return }
        let (s, e) = (p.dimension, p.valueDimension)
        let scale = p.scales[rows.batch]
        let rowOffset = rows.batch * p.length + rows.start
        let keyOffset = rows.batch * p.length + keys.start
        scratch.weights.withUnsafeMutableBufferPointer { aBuffer in
            scratch.derivative.withUnsafeMutableBufferPointer { rBuffer in
                scratch.gradient.withUnsafeMutableBufferPointer { gBuffer in
                    let (a, r, dx) = (
                        aBuffer.baseAddress!, rBuffer.baseAddress!, gBuffer.baseAddress!
                    )
                    scoreTile(p, rows: rows, keys: keys, weights: a, derivative: r)
                    let dO = g.output.base + rowOffset * e
                    if keySide {
                        BLAS.gemm(  // dV_j += Aᵀ·dO_i
                            transposeA: true, transposeB: false, m: n, n: e, k: m, a: a, lda: n,
                            b: dO, ldb: e, beta: 1, c: g.value.base + keyOffset * e, ldc: e)
                    }
                    BLAS.gemm(  // dA = dO_i·V_jᵀ
                        transposeA: false, transposeB: true, m: m, n: n, k: e, a: dO, lda: e,
                        b: p.value + keyOffset * e, ldb: e, c: dx, ldc: n)
                    for i in 0..<(m * n) { dx[i] *= r[i] }
                    if keySide {
                        BLAS.gemm(  // dK_j += scale·dxᵀ·Q_i
                            transposeA: true, transposeB: false, m: n, n: s, k: m, alpha: scale,
                            a: dx, lda: n,
                            b: p.query + rowOffset * s, ldb: s, beta: 1,
                            c: g.key.base + keyOffset * s, ldc: s)
                        if let biasSlot {
                            accumulateBias(p, rows: rows, keys: keys, dx: dx, into: biasSlot)
                        }
                    }
                    if querySide {
                        BLAS.gemm(  // dQ_i += scale·dx·K_j
                            transposeA: false, transposeB: false, m: m, n: s, k: n, alpha: scale,
                            a: dx, lda: n,
                            b: p.key + keyOffset * s, ldb: s, beta: 1,
                            c: g.query.base + rowOffset * s, ldc: s)
                    }
                }
            }
        }
    }

    /// weights[r, c] = relu(x)² for x = scale·q·kᵀ + bias, 0 where the key is hidden; when asked,
    /// derivative[r, c] = 2·relu(x) (0 where hidden). Both [rows, keys] with row stride = key count.
    static func scoreTile(
        _ p: ChunkedReluSquaredProblem, rows: Span, keys: Span,
        weights: UnsafeMutablePointer<Float>,
        derivative: UnsafeMutablePointer<Float>?
    ) {
        let (m, n, s) = (rows.end - rows.start, keys.end - keys.start, p.dimension)
        let scale = p.scales[rows.batch]
        BLAS.gemm(
            transposeA: false, transposeB: true, m: m, n: n, k: s, alpha: scale,
            a: p.query + (rows.batch * p.length + rows.start) * s, lda: s,
            b: p.key + (rows.batch * p.length + keys.start) * s, ldb: s, c: weights, ldc: n)
        let mask = p.keyMask.map { $0 + rows.batch * p.length + keys.start }
        let distance = p.maximumDistance
        for r in 0..<m {
            let i = rows.start + r
            let row = weights + r * n
            if let bias = p.bias {
                // Offsets j − i run left to right; clipped ends take the edge entries.
                for c in 0..<n {
                    let offset = Swift.min(Swift.max(keys.start + c - i, -distance), distance)
                    row[c] += bias[offset + distance]
                }
            }
            // Keys after the query (causal) or padded get weight 0.
            let visible = p.causal ? Swift.max(0, Swift.min(n, i - keys.start + 1)) : n
            let d = derivative.map { $0 + r * n }
            for c in 0..<n {
                let allowed = c < visible && (mask?[c] ?? 1) != 0
                let positive = allowed ? Swift.max(row[c], 0) : 0
                row[c] = positive * positive
                d?[c] = 2 * positive
            }
        }
    }

    /// bias[clip(j − i) + R] += dx[i, j] over the tile.
    static func accumulateBias(
        _ p: ChunkedReluSquaredProblem, rows: Span, keys: Span, dx: UnsafePointer<Float>,
        into slot: UnsafeMutablePointer<Float>
    ) {
        let n = keys.end - keys.start
        let distance = p.maximumDistance
        for r in 0..<(rows.end - rows.start) {
            let i = rows.start + r
            for c in 0..<n {
                let offset = Swift.min(Swift.max(keys.start + c - i, -distance), distance)
                slot[offset + distance] += dx[r * n + c]
            }
        }
    }
}

extension ChunkedReluSquaredAttention.Span {
    /// Rows [start, end) of the same chunk.
    func sub(_ start: Int, _ end: Int) -> Self {
        Self(batch: batch, chunkStart: chunkStart, chunkEnd: chunkEnd, start: start, end: end)
    }
}
