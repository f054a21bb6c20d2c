// Incremental decoding of Transformer-MGK
// (Sources/AttendAttention/Mechanisms/MixtureOfGaussianKeys.swift):
// - `mgk` caches every position's M component keys and its value and runs the mechanism's own tiled
//   kernel from the one new query to the cached keys (a key mask covers the shorter sequences);
// - `mgk-linear` keeps the running sums Σ k̃_j ṽ_jᵀ of its prior-mixed key features
//   (`LinearAttentionState`, no log-scale, no floor, ε = 1e-5 as the parallel form): its query
//   features sum to 1, so the state's ε·Σφ(q) is the parallel form's ε, and the output takes the
//   same 1/√d factor.
import AttendCore

/// The component keys and values of every position so far (`mgk`).
final class MixtureKeyCache: DecodingState {
    /// [M, h, d] per position, and [h, e].
    let keys: RowCache, values: RowCache
    init(keys: RowCache, values: RowCache) {
        self.keys = keys
        self.values = values
    }
    /// Bytes of both caches.
    var byteCount: Int { keys.byteCount + values.byteCount }
}

extension MixtureOfGaussianKeysAttention {
    var mechanismName: String { form == .softmax ? "mgk" : "mgk-linear" }

    /// The causal forward of the prompts and, per form, the key cache or the running sums.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        let y = try self(x, context: context)
        let (b, n, h, d) = (x.shape[0], x.shape[1], headCount, headDimension)
        try checkLengths(lengths, batch: b, length: n, mechanism: mechanismName)
        let keys = componentKeys(x)  // [b, n, M, h, d]
        let v = value(x).reshaped([b, n, h, d])
        switch form {
        case .softmax:
            return (
                y,
                MixtureKeyCache(
                    keys: RowCache(keys, lengths: lengths), values: RowCache(v, lengths: lengths))
            )
        case .linear:
            let state = LinearAttentionState(
                keyFeatures: mixedLinearKeyFeatures(keys, priors: mixturePriors()),
                keyLogScale: nil, value: v,
                lengths: lengths, keyFeatureFloor: 0,
                denominatorOffset: Self.linearDenominatorOffset)
            return (y, state)
        }
    }

    /// Each sequence's next position [b, 1, c] against its cached keys or running sums.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        let (b, h, d, M) = (x.shape[0], headCount, headDimension, options.components)
        let q = query(x).reshaped([b, 1, h, d])
        let keys = componentKeys(x)  // [b, 1, M, h, d]
        let v = value(x).reshaped([b, 1, h, d])
        let mixed: Tensor
        switch (form, state) {
        case (.softmax, let cache as MixtureKeyCache):
            cache.keys.append(keys)
            cache.values.append(v)
            let (cachedKeys, mask) = cache.keys.padded(trailing: [M, h, d])
            mixed = Tensor.mixtureOfGaussianKeysAttention(
                query: q, keys: cachedKeys, value: cache.values.padded(trailing: [h, d]).values,
                logPriors: scoreLogPriors(), inverseVariances: inverseVariances,
                gaussian: options.score == .gaussian,
                keyMask: mask)
        case (.linear, let sums as LinearAttentionState):
            mixed =
                sums.step(
                    queryFeatures: linearKeyFeatures(q),
                    keyFeatures: mixedLinearKeyFeatures(keys, priors: mixturePriors()),
                    keyLogScale: nil, value: v) * (1 / Float(d).squareRoot())
        default:
            throw foreignState(mechanismName, state)
        }
        return output(mixed.reshaped([b, 1, h * d]))
    }
}
