// DeBERTa's disentangled attention (He et al., 2020, arXiv:2006.03654; v2/v3 as in HF
// `DebertaV2Model`): a score is content-to-content + content-to-position + position-to-content,
//     s_ij = (q_i·k_j + q_i·Kr[δ(i−j)] + k_j·Qr[δ(i−j)]) / √(d·(1 + |terms|)),
// where Kr and Qr are the relative-position table P projected by the key and query projections
// (`share_att_key`, biases included; or by separate `pos_key_proj` / `pos_query_proj`), and δ is the
// log-bucketed, clipped relative distance (`RelativePositions.swift`). O(n²·d) time like full
// attention; the tiled kernel keeps memory O(n·R) (R ≤ 2k table rows), never an n×n matrix.
//
// The table is shared by all layers and lives once per model: the registry entry's `makeShared` builds
// a `RelativePositionEmbeddings`, the model calls its `prepare(context)`, and each layer reads the
// normalised table from `context.carried`. Used alone (`Mechanisms.make`), the mixer comes wrapped
// with its own table (`StandaloneMixer`).
// Shapes: b batch, n tokens, c width, h heads, d head dimension, R relative rows used.
import AttendCore
import AttendNN

/// A relative-position term of DeBERTa's score (HF `pos_att_type`).
public enum PositionTerm: String, Codable, Sendable, CaseIterable {
    /// Content-to-position: q_i·Kr[δ(i−j)].
    case contentToPosition = "c2p"
    /// Position-to-content: k_j·Qr[δ(i−j)].
    case positionToContent = "p2c"
}

/// HF's `attention.self` of DeBERTa-v2: query/key/value projections and the disentangled scores, heads
/// merged, no output projection. Checkpoint names: `query_proj`, `key_proj`, `value_proj`, and
/// `pos_key_proj` / `pos_query_proj` when the attention key is not shared.
public final class DisentangledSelfAttention: Module {
    /// Content projections c → h·d (`query_proj`, `key_proj`, `value_proj`).
    public let queryProjection: Linear, keyProjection: Linear, valueProjection: Linear
    /// Separate position projections (`share_att_key = false`), else nil.
    public let positionKeyProjection: Linear?, positionQueryProjection: Linear?
    /// Dropout on the relative table before it is projected (HF `pos_dropout`).
    public let positionDropout: Dropout
    /// Position terms, relative buckets, key sharing and path.
    public let options: DisentangledAttention.Options
    /// h and d.
    public let headCount: Int, headDimension: Int

    /// Projections from width `dimension` to h·d; `headDimension` defaults to dimension/h.
    public init(
        dimension: Int, headCount: Int, headDimension: Int? = nil,
        options: DisentangledAttention.Options,
        positionDropout: Float = 0, initializer: Initializer? = nil,
        generator: inout RandomGenerator
    ) {
        let d = headDimension ?? dimension / headCount
        func projection(_ generator: inout RandomGenerator) -> Linear {
            Linear(
                inputCount: dimension, outputCount: headCount * d, weightInitializer: initializer,
                biasInitializer: initializer.map { _ in .zeros }, generator: &generator)
        }
        queryProjection = projection(&generator)
        keyProjection = projection(&generator)
        valueProjection = projection(&generator)
        let separate = !options.shareAttentionKey
        positionKeyProjection =
            separate && options.positionTerms.contains(.contentToPosition)
            ? projection(&generator) : nil
        positionQueryProjection =
            separate && options.positionTerms.contains(.positionToContent)
            ? projection(&generator) : nil
        self.positionDropout = Dropout(probability: positionDropout)
        self.options = options
        self.headCount = headCount
        self.headDimension = d
    }

    /// The projections under HF's names, the position ones only when present.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [
            ("query_proj", queryProjection), ("key_proj", keyProjection),
            ("value_proj", valueProjection),
        ]
        if let positionKeyProjection { list.append(("pos_key_proj", positionKeyProjection)) }
        if let positionQueryProjection { list.append(("pos_query_proj", positionQueryProjection)) }
        return list + [("pos_dropout", positionDropout)]
    }

    /// 1/√(d·(1 + number of position terms)), applied to every term (√(3d) with both).
    public var scale: Float {
        1 / (Float(headDimension) * Float(1 + Set(options.positionTerms).count)).squareRoot()
    }

    /// Keys and values from `hidden` [b, n, c], queries from `queryStates` (default `hidden`; the
    /// enhanced mask decoder passes z + H), relative table [≥ 2k, c] (may be nil only without position
    /// terms) → [b, n, h·d].
    public func callAsFunction(
        _ hidden: Tensor, queryStates: Tensor? = nil, relativeEmbeddings: Tensor?,
        paddingMask: Tensor?,
        causal: Bool = false
    ) throws -> Tensor {
        let c = queryProjection.inputCount
        guard hidden.rank == 3, hidden.shape[2] == c else {
            throw MixerError.shapeMismatch(
                mechanism: "deberta", expected: "[batch, length, \(c)]", got: hidden.shape)
        }
        if let queryStates, queryStates.shape != hidden.shape {
            throw MixerError.shapeMismatch(
                mechanism: "deberta", expected: "query states \(hidden.shape)",
                got: queryStates.shape)
        }
        let span = options.buckets.span
        let terms = Set(options.positionTerms)
        var rows: Tensor?  // [R, c], the table rows in use
        let index = RelativePositionIndex(
            queries: hidden.shape[1], keys: hidden.shape[1], buckets: options.buckets)
        if !terms.isEmpty {
            guard let table = relativeEmbeddings, table.rank == 2, table.shape[0] >= 2 * span,
                table.shape[1] == c
            else {
                throw MixerError.shapeMismatch(
                    mechanism: "deberta", expected: "relative table [\(2 * span), \(c)]",
                    got: relativeEmbeddings?.shape ?? [])
            }
            rows = positionDropout(index.usedRows(of: table))
        }
        let (b, n, h, d) = (hidden.shape[0], hidden.shape[1], headCount, headDimension)
        let q = queryProjection(queryStates ?? hidden).reshaped([b, n, h, d])
        let k = keyProjection(hidden).reshaped([b, n, h, d])
        let v = valueProjection(hidden).reshaped([b, n, h, d])
        let R = index.rowCount
        let positionKey = rows.flatMap { rows in
            terms.contains(.contentToPosition)
                ? (positionKeyProjection ?? keyProjection)(rows).reshaped([R, h, d]) : nil
        }
        let positionQuery = rows.flatMap { rows in
            terms.contains(.positionToContent)
                ? (positionQueryProjection ?? queryProjection)(rows).reshaped([R, h, d]) : nil
        }
        let mixed: Tensor  // [b, n, h, d]
        switch options.path {
        case .fused:
            mixed = Tensor.disentangledAttention(
                query: q, key: k, value: v, positionKey: positionKey, positionQuery: positionQuery,
                index: index,
                scale: scale, causal: causal, queryMask: paddingMask, keyMask: paddingMask)
        case .reference:
            mixed = referenceDisentangledAttention(
                query: q, key: k, value: v, positionKey: positionKey, positionQuery: positionQuery,
                index: index,
                scale: scale, causal: causal, queryMask: paddingMask, keyMask: paddingMask)
        }
        return mixed.reshaped([b, n, h * d])
    }
}

/// The registry's DeBERTa mixer: `DisentangledSelfAttention` (`self`) and the output projection
/// (`output`), reading the shared relative table from the context.
public final class DisentangledAttention: TokenMixer {
    /// Which implementation runs.
    public enum Path: String, Sendable, Codable {
        /// Tiled kernel, position terms added per tile.
        case fused
        /// Materialised scores and gathers (the oracle).
        case reference
    }

    /// Options of the DeBERTa mechanism, with DeBERTa-v3's defaults.
    public struct Options: Codable, Sendable, Equatable {
        /// Relative terms in the score (HF `pos_att_type`); empty = BERT attention with 1/√d.
        public var positionTerms: [PositionTerm] = [.positionToContent, .contentToPosition]
        /// Log buckets (`position_buckets` 256, `max_relative_positions` 512).
        public var buckets = RelativePositionBuckets(bucketSize: 256, maxPosition: 512)
        /// Project positions with the content projections (`share_att_key`).
        public var shareAttentionKey = true
        /// LayerNorm the relative table (`norm_rel_ebd = layer_norm`).
        public var normalizeRelativeEmbeddings = true
        /// Epsilon of that LayerNorm (`layer_norm_eps`).
        public var layerNormEpsilon: Float = 1e-7
        /// Implementation to run.
        public var path: Path = .fused

        /// DeBERTa-v3 defaults.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case positionTerms = "position_terms", buckets, shareAttentionKey =
                "share_attention_key"
            case normalizeRelativeEmbeddings = "normalize_relative_embeddings"
            case layerNormEpsilon = "layer_norm_epsilon", path
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&positionTerms, .positionTerms)
            try c.override(&buckets, .buckets)
            try c.override(&shareAttentionKey, .shareAttentionKey)
            try c.override(&normalizeRelativeEmbeddings, .normalizeRelativeEmbeddings)
            try c.override(&layerNormEpsilon, .layerNormEpsilon)
            try c.override(&path, .path)
        }
    }

    /// Projections and disentangled scores, heads merged (`self`).
    public let attention: DisentangledSelfAttention
    /// h·d → c projection after attention (`output`).
    public let output: Linear

    /// A layer sized by `configuration`.
    public init(configuration: MixerConfiguration, generator: inout RandomGenerator) throws {
        let (h, d) = try configuration.validatedHeads(for: "deberta")
        let options = configuration.deberta
        guard options.buckets.span > 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "deberta",
                problem:
                    "relative span must be positive (position buckets or maximum relative position)"
            )
        }
        attention = DisentangledSelfAttention(
            dimension: configuration.modelDimension, headCount: h, headDimension: d,
            options: options,
            generator: &generator)
        output = Linear(
            inputCount: h * d, outputCount: configuration.modelDimension,
            bias: configuration.projectionBias,
            generator: &generator)
    }

    /// `self` and `output`.
    public var children: [(String, any Module)] { [("self", attention), ("output", output)] }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        guard let table = context.carried[RelativePositionEmbeddings.carriedKey] else {
            throw MixerError.missingCarriedValue(
                mechanism: "deberta", key: RelativePositionEmbeddings.carriedKey)
        }
        let mixed = try attention(
            x, relativeEmbeddings: table, paddingMask: context.paddingMask, causal: context.isCausal
        )
        return output(mixed)
    }

    /// Working memory: the multi-head frame, the normalised relative table [2k, c] and the position
    /// keys and queries of the R ≤ 2k rows in use with their gradients; the reference path adds
    /// its [b, h, n, n] score terms, probabilities and their gradients.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.deberta
        let span = Double(options.buckets.span), c = Double(configuration.modelDimension)
        let rows = Swift.min(2 * span, 2 * Double(size.length))
        let maps = options.path == .reference ? 10.0 : 0
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.bytes(1.5 * 2 * span * c + 6 * rows * c)
            + WorkingMemory.maps(maps, keysPerQuery: Double(size.length), configuration, size)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "deberta",
        summary:
            "DeBERTa disentangled attention: content + relative-position terms, log buckets (He et al. 2020)",
        capabilities: {
            // Sees every key, but equals full attention only with no position terms (tested there), so
            // it does not claim `canSeeEveryKey`, which promises equality under the generic setting.
            Capabilities(
                supportsCausal: true,
                complexity: "O(n²·d) time like full attention; O(n·R) memory, R ≤ 2·buckets")
        }(),
        options: DisentangledAttention.Options.self,
        kernelOps: [DisentangledAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try DisentangledAttention(configuration: configuration, generator: &generator)
        },
        makeShared: { configuration, generator in
            let options = configuration.deberta
            return RelativePositionEmbeddings(
                rows: 2 * options.buckets.span, dimension: configuration.modelDimension,
                normalized: options.normalizeRelativeEmbeddings, epsilon: options.layerNormEpsilon,
                generator: &generator)
        })
}

extension DisentangledAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "deberta"

    /// Buckets (0 or −1: none; one bucket would divide by zero) and the largest distance, which
    /// must exceed half the buckets (at exactly half, the log-bucket formula divides by log 1 = 0).
    /// `buckets` keeps the key names it has always been written with (`bucketSize`).
    public static let limits: [OptionLimit<Self>] = [
        .whole("buckets.bucketSize", \.buckets.bucketSize, ranges: { _ in [-1...0, 2...65_536] }),
        .whole("buckets.maxPosition", \.buckets.maxPosition, maximumDistances),
        .number("layer_norm_epsilon", \.layerNormEpsilon, .above(0, atMost: 1)),
    ]

    /// Bucketed distances reach past half the buckets; unbucketed ones just need a table.
    private static func maximumDistances(_ options: Self) -> ClosedRange<Int> {
        let buckets = options.buckets.bucketSize
        return buckets > 0 ? (buckets / 2 + 2)...1_048_576 : 1...1_048_576
    }
}

extension MixerConfiguration {
    /// DeBERTa's disentangled attention (`mixer_options.deberta`).
    public var deberta: DisentangledAttention.Options {
        get { self[DisentangledAttention.Options.self] }
        set { self[DisentangledAttention.Options.self] = newValue }
    }
}
