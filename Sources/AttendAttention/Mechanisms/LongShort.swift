// Transformer-LS, the Long-Short Transformer (Zhu et al., 2021, arXiv:2107.02192): every query attends,
// under one softmax, to a short-term window of keys and to r long-range landmarks, data-dependent
// mixtures of the sequence: K̄ = P·K with P = softmax over positions of X·W_p. DualLN normalises the
// two groups separately so the averaged landmarks keep up with the window keys. O(n·(w + r)·d).
// References: NVIDIA/transformer-ls `lra/attention_transformer_ls.py` (AttentionLS, bidirectional) and
// `autoregressive/model_lib/layer.py` (ChunkedLSAttention, causal); spec shared/docs/mechanisms-a.md §6.
//
// Bidirectional (LRA): K = LN_local(X·W_k), V = LN_local(X·W_v) over the full width h·d; landmarks
// K̄ = LN_global(P·K), V̄ = LN_global(P·V) with P [r, n] a softmax over real positions; a query in segment
// g = ⌊t/w⌋ sees keys [g·w − e, (g+1)·w + e), e = max(⌊w/2⌋, 1), and all r landmarks.
// Causal: the window is the w most recent keys (LN_local on K and V); landmarks are computed per chunk of
// l positions from the raw projections, K̄_c = LN_global(P_c·X_c·W_k) with r_c per chunk, and a query sees
// only landmarks of chunks strictly before its own. Its global part grows as n²·r_c/l (spec §6.5).
// Lengths need not divide w or l: windows are clipped and the last chunk is partial (the reference's
// zero padding plus masking). Padded query rows output 0 before the output projection.
//
// Checkpoint names: `query`, `key`, `value`, `output` (as MultiHeadAttention), `dynamic_projection`
// (the reference's `dconv_fc`, c → h·r), `chunk_projection` (`dconv_1`, c → h·r_c, causal form only),
// `local_norm` (`dual_ln_l` / `dual_ln_win`), `global_norm` (`dual_ln_s` / `dual_ln_dproj`).
// Shapes: b batch, n positions, c = h·d width, h heads, d head dimension, r landmarks, C chunks.
import AttendCore
import AttendNN

/// Long-short attention: its own token mixer (it needs the layer input X for the projection and
/// LayerNorms on K and V before the heads split).
public final class LongShortAttention: TokenMixer {
    /// Options of the Long-Short mechanism. Defaults: the LRA "Transformer-LS (w, r) = (8, 32)"
    /// setting for the bidirectional form and the enwik8 chunking (l = 16, rank 1) for the causal one.
    public struct Options: Codable, Sendable, Equatable {
        /// w: segment size (bidirectional) or number of most recent keys (causal).
        public var segmentSize = 8
        /// r: landmarks of the bidirectional form.
        public var landmarkCount = 32
        /// l: positions per chunk of the causal form.
        public var chunkSize = 16
        /// Landmarks per chunk of the causal form.
        public var chunkRank = 1

        /// Defaults.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case segmentSize = "segment_size", landmarkCount = "landmark_count"
            case chunkSize = "chunk_size", chunkRank = "chunk_rank"
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&segmentSize, .segmentSize)
            try c.override(&landmarkCount, .landmarkCount)
            try c.override(&chunkSize, .chunkSize)
            try c.override(&chunkRank, .chunkRank)
        }
    }

    /// The options in use.
    public let options: Options
    /// h and d.
    public let headCount: Int, headDimension: Int
    /// The q, k, v and output projections (c → c), named as in `MultiHeadAttention`.
    public let query: Linear, key: Linear, value: Linear, output: Linear
    /// X → per-head landmark logits, [c → h·r] (bidirectional).
    public let dynamicProjection: Linear
    /// X → per-head chunk landmark logits, [c → h·r_c] (causal).
    public let chunkProjection: Linear
    /// DualLN: on K and V over h·d (window keys) and on the landmarks.
    public let localNorm: LayerNorm, globalNorm: LayerNorm

    /// e: keys each bidirectional segment sees beyond its own on either side.
    public var extraKeys: Int { Swift.max(options.segmentSize / 2, 1) }

    /// A mixer sized by `configuration`, weights drawn from `generator` (PyTorch's Linear defaults).
    public init(configuration: MixerConfiguration, generator: inout RandomGenerator) throws {
        let (h, d) = try configuration.validatedHeads(for: "long-short")
        let o = configuration.longShort
        for (name, value) in [
            ("segment size", o.segmentSize), ("landmark count", o.landmarkCount),
            ("chunk size", o.chunkSize), ("chunk rank", o.chunkRank),
        ] where value < 1 {
            throw MixerError.invalidConfiguration(
                mechanism: "long-short", problem: "\(name) must be at least 1, got \(value)")
        }
        let c = configuration.modelDimension
        let bias = configuration.projectionBias
        options = o
        (headCount, headDimension) = (h, d)
        query = Linear(inputCount: c, outputCount: c, bias: bias, generator: &generator)
        key = Linear(inputCount: c, outputCount: c, bias: bias, generator: &generator)
        value = Linear(inputCount: c, outputCount: c, bias: bias, generator: &generator)
        output = Linear(inputCount: c, outputCount: c, bias: bias, generator: &generator)
        dynamicProjection = Linear(
            inputCount: c, outputCount: h * o.landmarkCount, generator: &generator)
        chunkProjection = Linear(inputCount: c, outputCount: h * o.chunkRank, generator: &generator)
        localNorm = LayerNorm(dimension: c)
        globalNorm = LayerNorm(dimension: c)
    }

    /// Checkpoint names (see the file header for the reference's names).
    public var children: [(String, any Module)] {
        [
            ("query", query), ("key", key), ("value", value), ("output", output),
            ("dynamic_projection", dynamicProjection), ("chunk_projection", chunkProjection),
            ("local_norm", localNorm), ("global_norm", globalNorm),
        ]
    }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let (h, d) = (headCount, headDimension)
        let c = h * d
        guard x.rank == 3, x.shape[2] == c else {
            throw MixerError.shapeMismatch(
                mechanism: "long-short", expected: "[batch, length, \(c)]", got: x.shape)
        }
        let (b, n) = (x.shape[0], x.shape[1])
        let mask = context.paddingMask
        let q = query(x).reshaped([b, n, h, d])
        let rawKey = key(x), rawValue = value(x)  // [b, n, c]
        let localKey = localNorm(rawKey), localValue = localNorm(rawValue)  // [b, n, c]
        var landmarks: (key: Tensor, value: Tensor, mask: Tensor?)  // [b, R, h, d] twice, [b, R]
        let window: LocalWindow, visibility: GlobalVisibility
        if context.isCausal {
            let (l, rank) = (options.chunkSize, options.chunkRank)
            let logits = chunkProjection(x).reshaped([b, n, h, rank])
            landmarks = Self.chunkLandmarks(
                logits: logits, key: rawKey.reshaped([b, n, h, d]),
                value: rawValue.reshaped([b, n, h, d]),
                keyMask: mask, chunkSize: l)
            window = .trailing(size: options.segmentSize)
            visibility = .chunked(size: l, rank: rank)
        } else {
            let logits = dynamicProjection(x).reshaped([b, n, h, options.landmarkCount])
            landmarks = Self.landmarks(
                logits: logits, key: localKey.reshaped([b, n, h, d]),
                value: localValue.reshaped([b, n, h, d]),
                keyMask: mask)
            window = .segments(size: options.segmentSize, extra: extraKeys)
            visibility = .all
        }
        let r = landmarks.key.shape[1]
        let globalKey = globalNorm(landmarks.key.reshaped([b, r, c])).reshaped([b, r, h, d])
        let globalValue = globalNorm(landmarks.value.reshaped([b, r, c])).reshaped([b, r, h, d])
        let mixed = Tensor.globalLocalAttention(
            query: q, key: localKey.reshaped([b, n, h, d]),
            value: localValue.reshaped([b, n, h, d]),
            globalKey: globalKey, globalValue: globalValue, scale: 1 / Float(d).squareRoot(),
            // [b, n, h, d]
            window: window, visibility: visibility, keyMask: mask, globalMask: landmarks.mask)
        return output(mixed.reshaped([b, n, c]))
    }

    /// Bidirectional landmarks before LN_global: P = softmax over real positions of `logits`
    /// [b, n, h, r], then P·key and P·value ([b, n, h, d] each) → [b, r, h, d]. The mask marks a batch
    /// entry's landmarks invalid when it has no real position.
    public static func landmarks(
        logits: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?
    ) -> (key: Tensor, value: Tensor, mask: Tensor?) {
        let (b, n) = (logits.shape[0], logits.shape[1])
        var scores = logits.permuted([0, 2, 3, 1])  // [b, h, r, n]
        if let keyMask {
            scores = scores.maskedFill(
                where: (1 - keyMask).reshaped([b, 1, 1, n]), with: -.infinity)
        }
        let weights = scores.softmax(alongAxis: -1)  // [b, h, r, n]
        func mix(_ x: Tensor) -> Tensor {
            Tensor.matmul(weights, x.permuted([0, 2, 1, 3])).permuted([0, 2, 1, 3])  // [b, r, h, d]
        }
        let r = logits.shape[3]
        let mask = keyMask.map { m in
            let any = m.max(alongAxis: 1).scalars  // [b]
            return Tensor(shape: [b, r], scalars: (0..<(b * r)).map { any[$0 / r] != 0 ? 1 : 0 })
        }
        return (mix(key), mix(value), mask)
    }

    /// Causal landmarks before LN_global: per chunk of `chunkSize` positions (the last may be partial),
    /// P_c = softmax over the chunk's real positions of `logits` [b, n, h, r_c], then P_c·key_c and
    /// P_c·value_c → [b, C·r_c, h, d] in chunk order; the mask hides landmarks of chunks with no real
    /// position.
    public static func chunkLandmarks(
        logits: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?, chunkSize l: Int
    ) -> (key: Tensor, value: Tensor, mask: Tensor?) {
        let (b, n, h, rank) = (logits.shape[0], logits.shape[1], logits.shape[2], logits.shape[3])
        let d = key.shape[3]
        let chunks = (n + l - 1) / l
        let padding = chunks * l - n
        // [b, C·l]
        let real = (keyMask ?? Tensor.ones([b, n])).padded(alongAxis: 1, before: 0, after: padding)
        let scores = logits.padded(alongAxis: 1, before: 0, after: padding)
            .reshaped([b, chunks, l, h, rank]).permuted([0, 1, 3, 4, 2])  // [b, C, h, r_c, l]
            .maskedFill(where: (1 - real).reshaped([b, chunks, 1, 1, l]), with: -.infinity)
        let weights = scores.softmax(alongAxis: -1)  // rows of all-padding chunks are 0
        func mix(_ x: Tensor) -> Tensor {
            let tiles = x.padded(alongAxis: 1, before: 0, after: padding)
                .reshaped([b, chunks, l, h, d]).permuted([0, 1, 3, 2, 4])  // [b, C, h, l, d]
            return Tensor.matmul(weights, tiles).permuted([0, 1, 3, 2, 4]).reshaped([
                b, chunks * rank, h, d,
            ])
        }
        let mask: Tensor? = keyMask.map { _ in
            let any = real.reshaped([b, chunks, l]).max(alongAxis: 2).scalars  // [b, C]
            return Tensor(
                shape: [b, chunks * rank],
                scalars: (0..<(b * chunks * rank)).map { any[$0 / rank] != 0 ? 1 : 0 })
        }
        return (mix(key), mix(value), mask)
    }

    /// Working memory: projections, the two DualLN norms and the fused kernel's output with their
    /// gradients (b·n·c each), the landmark logits and weights [b, h, r, n] (r_c per chunk when
    /// causal) with theirs, and the gradients of the five projections.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.longShort
        let r = Double(size.causal ? options.chunkRank : options.landmarkCount)
        let c = Double(configuration.modelDimension), h = Double(configuration.headCount)
        let parameters = 4 * c * c + c * h * (Double(options.landmarkCount + options.chunkRank))
        return WorkingMemory.activations(20, configuration, size)
            + WorkingMemory.maps(8, keysPerQuery: r, configuration, size)
            + WorkingMemory.bytes(parameters)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "long-short",
        summary:
            "Transformer-LS: segment window + dynamic low-rank projection, DualLN (Zhu et al. 2021)",
        capabilities: Capabilities(
            supportsCausal: true, complexity: "O(n·(w + r)·d); causal O(n·(w + n·r_c/l)·d)"),
        options: LongShortAttention.Options.self,
        kernelOps: [GlobalLocalAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try LongShortAttention(configuration: configuration, generator: &generator)
        })
}

extension LongShortAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "long_short"

    /// Segment window, landmarks (the rank r of the dynamic projection) and the causal chunks.
    public static let limits: [OptionLimit<Self>] = [
        .whole("segment_size", \.segmentSize, 1...65_536),
        .whole("landmark_count", \.landmarkCount, 1...65_536),
        .whole("chunk_size", \.chunkSize, 1...65_536),
        .whole("chunk_rank", \.chunkRank, 1...65_536),
    ]
}

extension MixerConfiguration {
    /// Transformer-LS short- and long-range attention (`mixer_options.long_short`).
    public var longShort: LongShortAttention.Options {
        get { self[LongShortAttention.Options.self] }
        set { self[LongShortAttention.Options.self] = newValue }
    }
}
