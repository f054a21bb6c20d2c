// Incremental decoding of evolving attention on the full base
// (Sources/AttendAttention/Mechanisms/EvolvingAttention.swift). Row t of a layer's evolved map Ã
// needs, through the causal 3×3 convolution, rows t−2…t of its mix M = (1 − ρ)·S ⊙ valid +
// ρ·Ã_prev. So each layer keeps a key/value cache and, per sequence, the last two rows of its
// scores S and of the previous layer's evolved map; the new row of Ã_prev comes from the layer
// below through the step's context (`evolving.logits`, [b, h, 1, longest row], zero past each row's
// end), and this layer's row goes up the same way. The update is the parallel form's own
// `evolvingUpdate` on the tile of those (up to) three rows, of which the last is kept. The banded
// (local) base does not decode yet.
import AttendCore

/// Evolving attention's decoding state for one layer.
final class EvolvingDecodingState: DecodingState {
    let cache: KeyValueCache
    /// Whether this layer evolves the map of the layer below (false: it is plain attention).
    let evolves: Bool
    /// Per sequence, its last (up to) two rows, oldest first, of S and of Ã_prev, [h, position +
    /// 1].
    var scoreRows: [[[Float]]], previousRows: [[[Float]]]

    init(cache: KeyValueCache, evolves: Bool, scoreRows: [[[Float]]], previousRows: [[[Float]]]) {
        (self.cache, self.evolves, self.scoreRows, self.previousRows) = (
            cache, evolves, scoreRows, previousRows
        )
    }

    /// Bytes of the cache and the kept rows.
    var byteCount: Int {
        let rows = (scoreRows + previousRows).reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
        return cache.byteCount + rows * MemoryLayout<Float>.size
    }
}

extension EvolvingAttention: DecodingAttentionCore {
    /// The cache, whether the layer evolves (a map of the prompts' shape was carried in), and the
    /// last two rows of the prompts' scores and carried map.
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> any DecodingState
    {
        guard options.base == .full else {
            throw MixerError.decodingUnsupported(
                mechanism: "evolving",
                reason: "its banded (local-base) maps have no decoding state yet; use base \"full\""
            )
        }
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let previous = context.carried[Self.carriedKey].flatMap {
            $0.shape == [b, h, n, n] ? $0.scalars : nil
        }
        let cache = KeyValueCache(key: key, value: value, lengths: lengths, window: nil)
        let (q, k) = (query.scalars, key.scalars)
        let scale = 1 / Float(d).squareRoot()
        /// Row t of a [b, h, n, n] map for sequence i, the first t + 1 entries of each head.
        func row(_ map: [Float], _ i: Int, _ t: Int) -> [Float] {
            var out: [Float] = []
            for head in 0..<h {
                let start = ((i * h + head) * n + t) * n
                out += map[start..<start + t + 1]
            }
            return out
        }
        /// scale·q_t·k_j for j ≤ t, per head.
        func scoreRow(_ i: Int, _ t: Int) -> [Float] {
            var out: [Float] = []
            for head in 0..<h {
                for j in 0...t {
                    let (qs, ks) = (((i * n + t) * h + head) * d, ((i * n + j) * h + head) * d)
                    var dot: Float = 0
                    for x in 0..<d { dot += q[qs + x] * k[ks + x] }
                    out.append(dot * scale)
                }
            }
            return out
        }
        var scoreRows: [[[Float]]] = []
        var previousRows: [[[Float]]] = []
        for i in 0..<b {
            let kept = Array(Swift.max(0, lengths[i] - 2)..<lengths[i])
            scoreRows.append(kept.map { scoreRow(i, $0) })
            if let previous {
                previousRows.append(kept.map { row(previous, i, $0) })
            } else {
                previousRows.append([])
            }
        }
        return EvolvingDecodingState(
            cache: cache, evolves: previous != nil, scoreRows: scoreRows, previousRows: previousRows
        )
    }

    /// The new row of the evolved map from the kept rows and the row the layer below carried up;
    /// softmax over it against the cached values.
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws
        -> Tensor
    {
        guard let state = state as? EvolvingDecodingState else {
            throw foreignState("evolving", state)
        }
        let cache = state.cache
        cache.append(key: key, value: value)
        let (b, h, d, e) = (query.shape[0], query.shape[2], query.shape[3], value.shape[3])
        let longest = cache.lengths.max() ?? 0
        let carried = context.carried[Self.carriedKey]
        if state.evolves {
            guard let carried, carried.shape == [b, h, 1, longest] else {
                throw MixerError.missingCarriedValue(mechanism: "evolving", key: Self.carriedKey)
            }
        }
        let below = carried?.scalars
        let q = query.scalars
        var output: [Float] = []
        var upward = [Float](repeating: 0, count: b * h * longest)
        for i in 0..<b {
            let width = cache.lengths[i]
            let scores = cache.scores(
                query: q[i * h * d..<(i + 1) * h * d], sequence: i, scale: 1 / Float(d).squareRoot()
            )
            var evolved = scores
            if state.evolves, let below {
                let previous = (0..<h).flatMap { head in
                    below[((i * h + head) * longest)...].prefix(width)
                }
                evolved = evolvedRow(
                    scores: state.scoreRows[i] + [scores],
                    previous: state.previousRows[i] + [previous],
                    width: width, heads: h)
                state.previousRows[i] = Array((state.previousRows[i] + [previous]).suffix(2))
            }
            state.scoreRows[i] = Array((state.scoreRows[i] + [scores]).suffix(2))
            for head in 0..<h {
                for j in 0..<width {
                    upward[(i * h + head) * longest + j] = evolved[head * width + j]
                }
            }
            var probabilities = evolved
            for head in 0..<h {
                probabilities.withUnsafeMutableBufferPointer {
                    let row = $0.baseAddress! + head * width
                    SoftmaxKernel.row(row, row, width)
                }
            }
            output += cache.mix(probabilities, sequence: i)
        }
        context.carried[Self.carriedKey] = Tensor(shape: [b, h, 1, longest], scalars: upward)
        return Tensor(shape: [b, 1, h, e], scalars: output)
    }

    /// The last row [h, width] of `evolvingUpdate` on the tile of the given rows (oldest first,
    /// each [h, its position + 1], zero-extended to `width`).
    func evolvedRow(scores: [[Float]], previous: [[Float]], width: Int, heads h: Int) -> [Float] {
        let rows = scores.count
        func tile(_ list: [[Float]]) -> Tensor {
            Tensor.filled(shape: [1, h, rows, width]) { out in
                out.update(repeating: 0)
                for (r, row) in list.enumerated() {
                    let length = row.count / h
                    for head in 0..<h {
                        for j in 0..<length {
                            out[(head * rows + r) * width + j] = row[head * length + j]
                        }
                    }
                }
            }
        }
        let valid = Self.masks(
            batch: 1, queries: rows, keys: width, width: width, before: 0, banded: false,
            causal: true, padding: nil
        ).valid
        let evolved = Tensor.evolvingUpdate(
            scores: tile(scores), previous: tile(previous), weight: weight.value, bias: bias.value,
            valid: valid,
            residualWeight: options.residualWeight, convolutionWeight: options.convolutionWeight,
            activation: options.activation, shift: 0, causal: true
        ).scalars
        return (0..<h).flatMap { head in
            evolved[((head * rows + rows - 1) * width)...].prefix(width)
        }
    }
}
