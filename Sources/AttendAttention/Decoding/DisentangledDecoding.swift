// Incremental decoding of DeBERTa's disentangled attention
// (Sources/AttendAttention/Mechanisms/DisentangledAttention.swift): a key/value cache, and for the
// new query at position t against every cached key j ≤ t the two relative terms at the bucketed
// distance δ(t − j): q_t·Kr[δ] (content-to-position) and k_j·Qr[δ] (position-to-content). Kr and
// Qr, the relative table through the key and query projections, are computed once at prefill (the
// table and projections are fixed while decoding) and kept with the cache.
import AttendCore

/// DeBERTa's decoding state: the key/value cache and the projected relative table.
final class DisentangledDecodingState: DecodingState {
    let cache: KeyValueCache
    /// Kr and Qr [2·span, h, d] (nil without that term).
    let positionKey: [Float]?, positionQuery: [Float]?
    init(cache: KeyValueCache, positionKey: [Float]?, positionQuery: [Float]?) {
        (self.cache, self.positionKey, self.positionQuery) = (cache, positionKey, positionQuery)
    }
    /// Bytes of the cache and the projected table.
    var byteCount: Int {
        cache.byteCount + ((positionKey?.count ?? 0) + (positionQuery?.count ?? 0)) * 4
    }
}

extension DisentangledAttention {
    /// The normalised relative table the model prepared in the context.
    func carriedTable(_ context: MixerContext) throws -> Tensor {
        guard let table = context.carried[RelativePositionEmbeddings.carriedKey] else {
            throw MixerError.missingCarriedValue(
                mechanism: "deberta", key: RelativePositionEmbeddings.carriedKey)
        }
        return table
    }

    /// The causal forward of the prompts, their keys and values, and the projected relative table.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        let table = try carriedTable(context)
        let y = try self(x, context: context)
        let a = attention
        let (b, n, h, d) = (x.shape[0], x.shape[1], a.headCount, a.headDimension)
        try checkLengths(lengths, batch: b, length: n, mechanism: "deberta")
        let terms = Set(a.options.positionTerms)
        let rows = 2 * a.options.buckets.span
        guard table.rank == 2, table.shape[0] >= rows else {
            throw MixerError.shapeMismatch(
                mechanism: "deberta", expected: "relative table [\(rows), c]", got: table.shape)
        }
        let used = table.sliced(alongAxis: 0, 0..<rows)
        let cache = KeyValueCache(
            key: a.keyProjection(x).reshaped([b, n, h, d]),
            value: a.valueProjection(x).reshaped([b, n, h, d]),
            lengths: lengths, window: nil)
        let positionKey =
            terms.contains(.contentToPosition)
            ? (a.positionKeyProjection ?? a.keyProjection)(used).scalars : nil
        let positionQuery =
            terms.contains(.positionToContent)
            ? (a.positionQueryProjection ?? a.queryProjection)(used).scalars : nil
        return (
            y,
            DisentangledDecodingState(
                cache: cache, positionKey: positionKey, positionQuery: positionQuery)
        )
    }

    /// Each sequence's next position against every cached key, with both relative terms.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        guard let state = state as? DisentangledDecodingState else {
            throw foreignState("deberta", state)
        }
        let a = attention
        let (b, h, d) = (x.shape[0], a.headCount, a.headDimension)
        let q = a.queryProjection(x).reshaped([b, 1, h, d])
        let queries = q.scalars
        let buckets = a.options.buckets
        let (kr, qr, scale) = (state.positionKey, state.positionQuery, a.scale)
        let cache = state.cache
        cache.append(
            key: a.keyProjection(x).reshaped([b, 1, h, d]),
            value: a.valueProjection(x).reshaped([b, 1, h, d]))
        // The new queries' positions; every earlier key is visible.
        let positions = cache.lengths.map { $0 - 1 }
        let mixed = cache.attend(
            query: q, scale: scale, slots: { i, _ in Array(0...positions[i]) },
            bias: { i, head, j, key in
                let row = (buckets.row(positions[i] - j) * h + head) * d
                var total: Float = 0
                if let kr {
                    for x in 0..<d { total += queries[(i * h + head) * d + x] * kr[row + x] }
                }
                if let qr { for x in 0..<d { total += key[key.startIndex + x] * qr[row + x] } }
                return total * scale
            })
        return output(mixed.reshaped([b, 1, h * d]))
    }
}
