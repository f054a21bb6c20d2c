// Local (sliding-window) attention: each query attends only to the keys near it, so cost is
// O(n·w·d) time and O(n·w) memory instead of O(n²). The pattern of Longformer's sliding window
// (Beltagy et al., 2020, arXiv:2004.05150) and of xformers' `local_1d_pattern`; causal windows as in
// lucidrains/local-attention (look back only).
// - Bidirectional: query i sees keys j with |i − j| ≤ ⌊w/2⌋ (w + 1 keys for even w).
// - Causal: query i sees the w most recent keys including itself, i − w < j ≤ i.
// The band of a tile of queries is one contiguous key range read in place by the segment kernel
// (Kernels/KeySegmentAttention.swift); keys of the band outside a row's window are masked.
// Shapes: b batch, n sequence, h heads, d head dimension, w window.
import AttendCore
import AttendNN

/// Softmax attention over a sliding window of keys around (or, causally, before) each query.
public final class LocalAttention: AttentionCore {
    /// Options of the local mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Window size w: bidirectional windows reach ⌊w/2⌋ keys on each side, causal windows hold
        /// the w most recent keys. A window sees every key, and equals full attention, once
        /// ⌊w/2⌋ ≥ n − 1 (bidirectional) or w ≥ n (causal).
        public var windowSize = 128

        /// Defaults: w = 128.
        public init() {}

        /// A window of `windowSize` keys.
        public init(windowSize: Int) { self.windowSize = windowSize }

        /// Decodes the options, keeping the default window when absent.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&windowSize, .windowSize)
        }

        enum CodingKeys: String, CodingKey { case windowSize = "window_size" }
    }

    /// The window size w.
    public let windowSize: Int

    /// Local attention with window `windowSize` (≥ 1).
    public init(windowSize: Int) throws {
        guard windowSize >= 1 else {
            throw MixerError.invalidConfiguration(
                mechanism: "local", problem: "window size must be at least 1, got \(windowSize)")
        }
        self.windowSize = windowSize
    }

    /// q, k [b, n, h, d], v [b, n, h, e] → [b, n, h, e], each query seeing its window of keys.
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        let n = query.shape[1]
        guard key.shape[1] == n else {
            throw MixerError.invalidConfiguration(
                mechanism: "local",
                problem:
                    "sliding windows need as many keys as queries, got \(n) and \(key.shape[1])")
        }
        let pattern = LocalAttention.pattern(
            length: n, windowSize: windowSize, causal: context.isCausal)
        return Tensor.segmentedAttention(
            query: query, key: key, value: value, scale: 1 / Float(query.shape[3]).squareRoot(),
            pattern: pattern, keyMask: context.paddingMask, maskRule: .exclude)
    }

    /// Keys query i may see: [i − before, i + after] clipped to the sequence.
    public static func window(windowSize w: Int, causal: Bool) -> KeySegmentPattern.RowWindow {
        causal ? .init(before: w - 1, after: 0) : .init(before: w / 2, after: w / 2)
    }

    /// Query rows per kernel tile: a tile's band is (tile + reach) keys wide for a row window of
    /// `reach` + 1 keys, so small windows use small tiles to waste little; 64 rows keep GEMMs
    /// efficient for large ones.
    static func queryTile(reach: Int) -> Int { Swift.min(64, Swift.max(16, reach / 2)) }

    /// The band of each query tile as one key segment, shared by every head.
    public static func pattern(length n: Int, windowSize w: Int, causal: Bool) -> KeySegmentPattern
    {
        let window = window(windowSize: w, causal: causal)
        let tile = queryTile(reach: window.before + window.after)
        let tiles = (n + tile - 1) / tile
        let segments = (0..<tiles).map { t -> [Range<Int>] in
            let first = t * tile, last = Swift.min(n, first + tile) - 1
            return [Swift.max(0, first - window.before)..<Swift.min(n, last + window.after + 1)]
        }
        return KeySegmentPattern(
            queryTile: tile, tileCount: tiles, sharedAcrossHeads: true, segments: segments,
            window: window)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "local",
        summary:
            "sliding-window attention, banded kernel (Longformer's window, Beltagy et al. 2020)",
        capabilities: {
            var c = Capabilities(supportsCausal: true, complexity: "O(n·w·d) time, O(n·w) memory")
            c.canSeeEveryKey = true
            return c
        }(),
        options: LocalAttention.Options.self,
        kernelOps: [SegmentedAttentionOp.self],
        make: { configuration, generator in
            try MultiHeadAttention(
                mechanism: "local", configuration: configuration,
                core: LocalAttention(windowSize: configuration.local.windowSize),
                generator: &generator)
        })
}

extension LocalAttention: DecodingAttentionCore {
    /// A ring buffer of each prompt's last w keys and values (the causal window).
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws -> any DecodingState {
        KeyValueCache(key: key, value: value, lengths: lengths, window: windowSize)
    }

    /// The new query against the w most recent keys, itself included.
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws -> Tensor {
        guard let cache = state as? KeyValueCache else { throw foreignState("local", state) }
        let scale = 1 / Float(query.shape[3]).squareRoot()
        return cache.attend(query: query, key: key, value: value, scale: scale)
    }
}

extension LocalAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "local"

    /// The window: at least one key, at most the longest sequence a model accepts.
    public static let limits: [OptionLimit<Self>] = [
        .whole("window_size", \.windowSize, 1...1_048_576)
    ]
}

extension MixerConfiguration {
    /// Sliding-window attention's options (`mixer_options.local`).
    public var local: LocalAttention.Options {
        get { self[LocalAttention.Options.self] }
        set { self[LocalAttention.Options.self] = newValue }
    }
}
