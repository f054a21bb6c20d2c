// Incremental decoding of Treeformer's fine (TF) attention
// (Sources/AttendAttention/Mechanisms/TreeformerAttention.swift): per head, a query sees the
// earlier keys routed to its own leaf, so the state is a key/value cache plus every cached key's
// leaf per head; a new query is routed through the same tree and attends the cached keys of its
// leaf (an empty leaf gives 0, as in the parallel form). In the bootstrap's full-attention phase
// the cache alone serves. The coarse (TC) path aggregates keep no decoding state yet, so that
// phase, and the fine phase with a `coarse_weight`, refuse.
import AttendCore

/// Treeformer's decoding state: the cache and, in the fine phase, the keys' leaves.
final class TreeDecodingState: DecodingState {
    let cache: KeyValueCache
    /// Whether queries attend within their leaf (fine phase) or to every key (full phase).
    let routed: Bool
    /// Per sequence, the leaf of each cached key for each head, [position · h + head].
    var keyLeaves: [[Int32]]

    init(cache: KeyValueCache, routed: Bool, keyLeaves: [[Int32]]) {
        (self.cache, self.routed, self.keyLeaves) = (cache, routed, keyLeaves)
    }

    /// Bytes of the cache and the leaves.
    var byteCount: Int {
        cache.byteCount + keyLeaves.reduce(0) { $0 + $1.count } * MemoryLayout<Int32>.size
    }
}

extension TreeformerAttention: DecodingAttentionCore {
    /// The cache and the prompts' key leaves (fitting the splits first on first use, as `attend`
    /// would).
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws -> any DecodingState {
        let phase = options.schedule.phase(at: context.trainingStep)
        guard phase == .full || (phase == .fine && options.coarseWeight == 0) else {
            throw MixerError.decodingUnsupported(
                mechanism: "treeformer",
                reason:
                    "its coarse (path-aggregate) attention keeps no decoding state yet; "
                    + "decode in the fine phase "
                    + "without coarse_weight")
        }
        let cache = KeyValueCache(key: key, value: value, lengths: lengths, window: nil)
        guard phase == .fine else {
            return TreeDecodingState(cache: cache, routed: false, keyLeaves: [])
        }
        if options.dataInitialization, initialized.value.scalar == 0 {
            fitSplits(query: query, key: key, mask: context.paddingMask)
        }
        let (n, h) = (key.shape[1], headCount)
        let routes = route(query: query, key: key, mask: context.paddingMask)
        let leaves = lengths.enumerated().map { i, length in
            (0..<length * h).map { index in routes.keyLeaves[(i * h + index % h) * n + index / h] }
        }
        return TreeDecodingState(cache: cache, routed: true, keyLeaves: leaves)
    }

    /// The new query against the cached keys of its leaf (or every cached key in the full phase).
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws -> Tensor {
        guard let state = state as? TreeDecodingState else {
            throw foreignState("treeformer", state)
        }
        let scale = 1 / Float(query.shape[3]).squareRoot()
        guard state.routed else {
            return state.cache.attend(query: query, key: key, value: value, scale: scale)
        }
        let (b, h) = (query.shape[0], headCount)
        let routes = route(query: query, key: key, mask: nil)  // [b·h·1] leaves
        for i in 0..<b { state.keyLeaves[i] += (0..<h).map { routes.keyLeaves[i * h + $0] } }
        state.cache.append(key: key, value: value)
        let lengths = state.cache.lengths
        let keyLeaves = state.keyLeaves
        return state.cache.attend(
            query: query, scale: scale,
            slots: { i, head in
                let leaf = routes.queryLeaves[i * h + head]
                return (0..<lengths[i]).filter { keyLeaves[i][$0 * h + head] == leaf }
            })
    }
}
