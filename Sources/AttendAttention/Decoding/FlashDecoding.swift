// Incremental decoding of FLASH's gated attention unit in mixed-chunk mode
// (Sources/AttendAttention/Mechanisms/FlashGAU.swift). Position t lies in chunk g = ⌊t/C⌋; its
// output mixes relu² attention over the keys of its own chunk up to itself (scale 1/C, relative
// bias by offset inside the chunk) and linear attention Q_lin·Σ_{h<g} K_lin[h]ᵀV[h]/C over the
// finished chunks. The state is therefore that cumulative sum plus the open chunk's quadratic keys,
// linear keys and values; when the open chunk fills, its K_linᵀV/C joins the sum.
// The quadratic mode scales its scores by 1/n, the whole sequence's length, so it cannot decode.
import AttendCore

/// FLASH's mixed-chunk state for a batch of sequences.
final class FlashDecodingState: DecodingState {
    /// C, s, e.
    let chunk: Int, shared: Int, expanded: Int
    /// Σ over finished chunks of K_linᵀV/C, per sequence, [s, e] row-major.
    private var finished: [[Float]]
    /// The open chunk's rows per sequence: quadratic keys [r, s], linear keys [r, s], values [r,
    /// e].
    private var keys: [[Float]], linearKeys: [[Float]], values: [[Float]]

    /// The state after the first `lengths[i]` positions of quadratic keys and linear keys [b, n, s]
    /// and values [b, n, e].
    init(chunk: Int, keys k: Tensor, linearKeys kl: Tensor, values v: Tensor, lengths: [Int]) {
        let (b, n, s, e) = (k.shape[0], k.shape[1], k.shape[2], v.shape[2])
        (self.chunk, shared, expanded) = (chunk, s, e)
        finished = Array(repeating: [Float](repeating: 0, count: s * e), count: b)
        (keys, linearKeys, values) = (
            Array(repeating: [], count: b), Array(repeating: [], count: b),
            Array(repeating: [], count: b)
        )
        let (ks, kls, vs) = (k.scalars, kl.scalars, v.scalars)
        for i in 0..<b {
            for p in 0..<lengths[i] {
                let row = i * n + p
                append(
                    i, key: ks[row * s..<(row + 1) * s], linearKey: kls[row * s..<(row + 1) * s],
                    value: vs[row * e..<(row + 1) * e])
                closeChunkIfFull(i)
            }
        }
    }

    /// Bytes of the sums and the open chunks.
    var byteCount: Int {
        [finished, keys, linearKeys, values].reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            * MemoryLayout<Float>.size
    }

    /// Adds one position to sequence i's open chunk.
    private func append(
        _ i: Int, key: ArraySlice<Float>, linearKey: ArraySlice<Float>, value: ArraySlice<Float>
    ) {
        keys[i] += key
        linearKeys[i] += linearKey
        values[i] += value
    }

    /// Closes sequence i's open chunk once it holds C positions.
    private func closeChunkIfFull(_ i: Int) {
        let (s, e) = (shared, expanded)
        guard keys[i].count == chunk * s else { return }
        var sum = [Float](repeating: 0, count: s * e)
        let (chunkKeys, chunkValues) = (linearKeys[i], values[i])
        for r in 0..<chunk {
            for f in 0..<s {
                let kf = chunkKeys[r * s + f]
                for x in 0..<e { sum[f * e + x] += kf * chunkValues[r * e + x] }
            }
        }
        let scale = 1 / Float(chunk)
        var total = finished[i]
        for index in sum.indices { total[index] += sum[index] * scale }
        finished[i] = total
        (keys[i], linearKeys[i], values[i]) = ([], [], [])
    }

    /// Takes in each sequence's next position (q, k, q_lin, k_lin [b, 1, s], v [b, 1, e]) and
    /// returns its attended values [b, 1, e]; `bias` is the relative-bias table over offsets
    /// ±`maximumDistance`.
    func step(
        query: Tensor, key: Tensor, linearQuery: Tensor, linearKey: Tensor, value: Tensor,
        bias: [Float]?,
        maximumDistance: Int
    ) -> Tensor {
        let (b, s, e) = (query.shape[0], shared, expanded)
        let (q, k, ql, kl, v) = (
            query.scalars, key.scalars, linearQuery.scalars, linearKey.scalars, value.scalars
        )
        var out = [Float](repeating: 0, count: b * e)
        let scale = 1 / Float(chunk)
        for i in 0..<b {
            append(
                i, key: k[i * s..<(i + 1) * s], linearKey: kl[i * s..<(i + 1) * s],
                value: v[i * e..<(i + 1) * e])
            let (openKeys, openValues, sums) = (keys[i], values[i], finished[i])
            let rows = openKeys.count / s
            let current = rows - 1
            for r in 0..<rows {
                var score: Float = 0
                for f in 0..<s { score += q[i * s + f] * openKeys[r * s + f] }
                score *= scale
                if let bias {
                    score +=
                        bias[
                            Swift.min(Swift.max(r - current, -maximumDistance), maximumDistance)
                                + maximumDistance]
                }
                let weight = Swift.max(score, 0) * Swift.max(score, 0)
                if weight == 0 { continue }
                for x in 0..<e { out[i * e + x] += weight * openValues[r * e + x] }
            }
            for f in 0..<s {
                let qf = ql[i * s + f]
                if qf == 0 { continue }
                for x in 0..<e { out[i * e + x] += qf * sums[f * e + x] }
            }
            closeChunkIfFull(i)
        }
        return Tensor(shape: [b, 1, e], scalars: out)
    }
}

extension FlashGAU {
    /// Why the unit cannot decode in its configuration, or nil.
    var decodingRefusal: String? {
        mode == .quadratic
            ? "its quadratic mode scales scores by 1/n, the whole sequence's length "
                + "(use mode \"mixed\")"
            : nil
    }

    /// The causal forward of the prompts and the mixed-chunk state after them.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        if let decodingRefusal {
            throw MixerError.decodingUnsupported(mechanism: "flash-gau", reason: decodingRefusal)
        }
        let y = try self(x, context: context)
        try checkLengths(lengths, batch: x.shape[0], length: x.shape[1], mechanism: "flash-gau")
        let (_, v, heads) = projections(x, weights: weights)
        return (
            y,
            FlashDecodingState(
                chunk: chunkSize, keys: heads[1], linearKeys: heads[3], values: v, lengths: lengths)
        )
    }

    /// Each sequence's next position against its open chunk and the finished chunks' sum.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        guard let state = state as? FlashDecodingState else {
            throw foreignState("flash-gau", state)
        }
        let w = weights
        let (u, v, heads) = projections(x, weights: w)
        let attended = state.step(
            query: heads[0], key: heads[1], linearQuery: heads[2], linearKey: heads[3], value: v,
            bias: w.relativeBias?.scalars, maximumDistance: maximumDistance)
        return Tensor.linear(u * attended, weight: w.output, bias: w.outputBias)
    }
}
