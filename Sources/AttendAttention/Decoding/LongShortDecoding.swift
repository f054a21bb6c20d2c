// Incremental decoding of the causal Long-Short Transformer
// (Sources/AttendAttention/Mechanisms/LongShort.swift). The short-term part is a ring buffer of the
// w most recent keys and values (after LN_local); the long-range part is the r_c landmarks of every
// finished chunk of l positions (LN_global applied), which a query sees only for chunks before its
// own, plus the open chunk's raw keys, values and landmark logits. When the open chunk fills, its
// landmarks are built by the same `chunkLandmarks` as the parallel form. One softmax covers window
// and landmarks.
import AttendCore

/// Long-Short's decoding state for a batch of sequences.
final class LongShortDecodingState: DecodingState {
    /// The trailing window of normalised keys and values.
    let window: KeyValueCache
    /// Per sequence, the landmarks of its finished chunks, [count, h, d] each.
    var landmarks: [KeyValueCache.ExtraRows]
    /// Per sequence, the open chunk's raw keys and values [r, c] and landmark logits [r, h·r_c].
    var openKeys: [[Float]], openValues: [[Float]], openLogits: [[Float]]

    init(window: KeyValueCache, batch b: Int) {
        self.window = window
        landmarks = Array(repeating: KeyValueCache.ExtraRows(), count: b)
        (openKeys, openValues, openLogits) = (
            Array(repeating: [], count: b), Array(repeating: [], count: b),
            Array(repeating: [], count: b)
        )
    }

    /// Bytes of the window, the landmarks and the open chunks.
    var byteCount: Int {
        let landmarkFloats = landmarks.reduce(0) { $0 + $1.keys.count + $1.values.count }
        let open = [openKeys, openValues, openLogits].reduce(0) {
            $0 + $1.reduce(0) { $0 + $1.count }
        }
        return window.byteCount + (landmarkFloats + open) * MemoryLayout<Float>.size
    }
}

extension LongShortAttention {
    /// The causal forward of the prompts, the trailing windows and the finished chunks' landmarks.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: any DecodingState)
    {
        let y = try self(x, context: context)
        let (b, n, h, d) = (x.shape[0], x.shape[1], headCount, headDimension)
        try checkLengths(lengths, batch: b, length: n, mechanism: "long-short")
        let rawKey = key(x)
        let rawValue = value(x)  // [b, n, c]
        let window = KeyValueCache(
            key: localNorm(rawKey).reshaped([b, n, h, d]),
            value: localNorm(rawValue).reshaped([b, n, h, d]),
            lengths: lengths, window: options.segmentSize)
        let state = LongShortDecodingState(window: window, batch: b)
        let (keys, values, logits) = (rawKey.scalars, rawValue.scalars, chunkProjection(x).scalars)
        let (c, g) = (h * d, h * options.chunkRank)
        for i in 0..<b {
            for p in 0..<lengths[i] {
                let row = i * n + p
                state.openKeys[i] += keys[row * c..<(row + 1) * c]
                state.openValues[i] += values[row * c..<(row + 1) * c]
                state.openLogits[i] += logits[row * g..<(row + 1) * g]
                closeChunkIfFull(state, sequence: i)
            }
        }
        return (y, state)
    }

    /// Each sequence's next position against its window and the landmarks of its finished chunks.
    public func step(_ x: Tensor, state: any DecodingState, context: MixerContext) throws -> Tensor
    {
        guard let state = state as? LongShortDecodingState else {
            throw foreignState("long-short", state)
        }
        let (b, h, d) = (x.shape[0], headCount, headDimension)
        let rawKey = key(x)
        let rawValue = value(x)  // [b, 1, c]
        state.window.append(
            key: localNorm(rawKey).reshaped([b, 1, h, d]),
            value: localNorm(rawValue).reshaped([b, 1, h, d]))
        let mixed = state.window.attend(
            query: query(x).reshaped([b, 1, h, d]), scale: 1 / Float(d).squareRoot(),
            slots: { i, _ in state.window.visibleSlots(i) }, extra: state.landmarks)
        let (keys, values, logits) = (rawKey.scalars, rawValue.scalars, chunkProjection(x).scalars)
        let (c, g) = (h * d, h * options.chunkRank)
        for i in 0..<b {
            state.openKeys[i] += keys[i * c..<(i + 1) * c]
            state.openValues[i] += values[i * c..<(i + 1) * c]
            state.openLogits[i] += logits[i * g..<(i + 1) * g]
            closeChunkIfFull(state, sequence: i)
        }
        return output(mixed.reshaped([b, 1, c]))
    }

    /// Turns sequence i's open chunk into landmarks once it holds l positions.
    func closeChunkIfFull(_ state: LongShortDecodingState, sequence i: Int) {
        let (h, d, l, rank) = (headCount, headDimension, options.chunkSize, options.chunkRank)
        guard state.openKeys[i].count == l * h * d else { return }
        let (landmarkKeys, landmarkValues, _) = Self.chunkLandmarks(
            logits: Tensor(shape: [1, l, h, rank], scalars: state.openLogits[i]),
            key: Tensor(shape: [1, l, h, d], scalars: state.openKeys[i]),
            value: Tensor(shape: [1, l, h, d], scalars: state.openValues[i]), keyMask: nil,
            chunkSize: l)
        state.landmarks[i].keys += globalNorm(landmarkKeys.reshaped([1, rank, h * d])).scalars
        state.landmarks[i].values += globalNorm(landmarkValues.reshaped([1, rank, h * d])).scalars
        (state.openKeys[i], state.openValues[i], state.openLogits[i]) = ([], [], [])
    }
}
