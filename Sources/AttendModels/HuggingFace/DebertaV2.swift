// DeBERTa-v2/v3 (He et al., 2020; HF `DebertaV2Model`) with module names equal to Hugging Face's
// parameter keys, so a `config.json` + `model.safetensors` directory loads by name:
//   embeddings.{word_embeddings, position_embeddings?, token_type_embeddings?, embed_proj?, LayerNorm}
//   encoder.layer.N.attention.self.{query_proj, key_proj, value_proj, pos_key_proj?, pos_query_proj?}
//   encoder.layer.N.attention.output.{dense, LayerNorm}, encoder.layer.N.intermediate.dense,
//   encoder.layer.N.output.{dense, LayerNorm}, encoder.rel_embeddings, encoder.LayerNorm
// The attention is Attend's `DisentangledSelfAttention`; the relative table lives once in the encoder
// (`RelativePositionEmbeddings`) and is normalised once per forward pass, as in the reference.
// Also the enhanced mask decoder of the official pre-training code (microsoft/DeBERTa,
// apps/models/masked_language_model.py): absolute positions enter only just before the MLM head.
// Shapes: b batch, n tokens, c hidden size.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// `DebertaV2Config` as read from `config.json`, with the reference's defaults for absent keys.
/// The fields BERT and ViT also have are `PretrainedEncoderConfiguration`'s.
public struct DebertaV2Configuration: PretrainedEncoderConfiguration, Codable, Sendable, Equatable {
    /// Rows of the word-embedding table (`vocab_size`).
    public var vocabularySize = 128_100
    /// Model width c (`hidden_size`).
    public var modelDimension = 1536
    /// Number of layers (`num_hidden_layers`).
    public var layerCount = 24
    /// Heads per layer (`num_attention_heads`).
    public var headCount = 24
    /// Inner width of the feed-forward sublayer (`intermediate_size`).
    public var feedForwardDimension = 6144
    /// The feed-forward non-linearity (`hidden_act`).
    public var activation: Activation = .gelu
    /// Dropout on hidden states (`hidden_dropout_prob`).
    public var hiddenDropout: Float = 0.1
    /// Dropout on attention probabilities (`attention_probs_dropout_prob`).
    public var attentionDropout: Float = 0.1
    /// Rows of the absolute position table (`max_position_embeddings`).
    public var maximumPositions = 512
    /// Rows of the segment table (`type_vocab_size`; 0: none).
    public var typeVocabularySize = 0
    /// LayerNorm ε (`layer_norm_eps`).
    public var layerNormEpsilon: Float = 1e-7
    /// Whether layers add relative-position terms (`relative_attention`).
    public var relativeAttention = false
    /// −1 (or < 1) means `maximumPositions`.
    public var maxRelativePositions = -1
    /// ≤ 0: no log buckets.
    public var positionBuckets = -1
    /// "c2p", "p2c" (the reference accepts "p2c|c2p" or a list).
    public var positionAttentionTypes: [String] = []
    /// Whether position terms reuse the content key/query projections (`share_att_key`).
    public var shareAttentionKey = false
    /// "layer_norm" normalises the relative table.
    public var normalizeRelativeEmbeddings: [String] = ["none"]
    /// Whether absolute position embeddings are added to the input (`position_biased_input`).
    public var positionBiasedInput = true
    /// Width of the token embeddings when different from `modelDimension` (then `embed_proj`
    /// maps it).
    public var embeddingSize: Int?
    /// Head width when not hidden/heads.
    public var attentionHeadSize: Int?
    /// Width of the convolution branch (`conv_kernel_size`); only 0 (none) is supported.
    public var convolutionKernelSize = 0

    /// The reference's defaults (the xlarge shape).
    public init() {}

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size"
        case maximumPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case relativeAttention = "relative_attention"
        case maxRelativePositions = "max_relative_positions", positionBuckets = "position_buckets"
        case positionAttentionTypes = "pos_att_type", shareAttentionKey = "share_att_key"
        case normalizeRelativeEmbeddings = "norm_rel_ebd", positionBiasedInput =
            "position_biased_input"
        case embeddingSize = "embedding_size", attentionHeadSize = "attention_head_size"
        case convolutionKernelSize = "conv_kernel_size"
    }

    /// Decodes config.json, keeping the reference's default for each absent key.
    public init(from decoder: any Decoder) throws {
        self.init()
        try overrideEncoderFields(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.override(&vocabularySize, .vocabularySize)
        try c.override(&maximumPositions, .maximumPositions)
        try c.override(&typeVocabularySize, .typeVocabularySize)
        try c.override(&relativeAttention, .relativeAttention)
        try c.override(&maxRelativePositions, .maxRelativePositions)
        try c.override(&positionBuckets, .positionBuckets)
        try Self.overrideList(&positionAttentionTypes, c, .positionAttentionTypes)
        try c.override(&shareAttentionKey, .shareAttentionKey)
        try Self.overrideList(&normalizeRelativeEmbeddings, c, .normalizeRelativeEmbeddings)
        try c.override(&positionBiasedInput, .positionBiasedInput)
        try c.override(&embeddingSize, .embeddingSize)
        try c.override(&attentionHeadSize, .attentionHeadSize)
        try c.override(&convolutionKernelSize, .convolutionKernelSize)
    }

    /// Writes transformers' keys: `pos_att_type` as a list, `norm_rel_ebd` as the "a|b" string
    /// transformers' encoder splits (it cannot read a list there).
    public func encode(to encoder: any Encoder) throws {
        try encodeEncoderFields(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabularySize, forKey: .vocabularySize)
        try c.encode(maximumPositions, forKey: .maximumPositions)
        try c.encode(typeVocabularySize, forKey: .typeVocabularySize)
        try c.encode(relativeAttention, forKey: .relativeAttention)
        try c.encode(maxRelativePositions, forKey: .maxRelativePositions)
        try c.encode(positionBuckets, forKey: .positionBuckets)
        try c.encode(positionAttentionTypes, forKey: .positionAttentionTypes)
        try c.encode(shareAttentionKey, forKey: .shareAttentionKey)
        try c.encode(
            normalizeRelativeEmbeddings.joined(separator: "|"), forKey: .normalizeRelativeEmbeddings
        )
        try c.encode(positionBiasedInput, forKey: .positionBiasedInput)
        try c.encodeIfPresent(embeddingSize, forKey: .embeddingSize)
        try c.encodeIfPresent(attentionHeadSize, forKey: .attentionHeadSize)
        try c.encode(convolutionKernelSize, forKey: .convolutionKernelSize)
    }

    /// Replaces `list` with the "a|b" string or list of strings at `key`, lower-cased and trimmed;
    /// leaves it when the key is absent or null.
    static func overrideList(
        _ list: inout [String], _ c: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys
    ) throws {
        if (try? c.decodeNil(forKey: key)) ?? true { return }
        let items: [String]
        if let list = try? c.decode([String].self, forKey: key) {
            items = list
        } else {
            items = try c.decode(String.self, forKey: key).split(separator: "|").map(String.init)
        }
        list = items.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            .filter { !$0.isEmpty }
    }

    /// Reads `config.json`.
    public static func load(path: String) throws -> DebertaV2Configuration {
        try PretrainedFolder.configuration(Self.self, at: path)
    }

    /// k: relative distances are clipped to ±k and the table has 2k rows.
    public var relativeSpan: Int {
        let maximum = maxRelativePositions < 1 ? maximumPositions : maxRelativePositions
        return positionBuckets > 0 ? positionBuckets : maximum
    }

    /// The attention options this configuration describes (after `validate`).
    public func attentionOptions() throws -> DisentangledAttention.Options {
        var options = DisentangledAttention.Options()
        options.positionTerms = try positionAttentionTypes.map { name in
            guard let term = PositionTerm(rawValue: name) else {
                throw PretrainedModelError.unsupportedValue(
                    field: "pos_att_type", value: name, reason: "known terms are c2p and p2c")
            }
            return term
        }
        options.buckets = RelativePositionBuckets(
            bucketSize: positionBuckets,
            maxPosition: maxRelativePositions < 1 ? maximumPositions : maxRelativePositions)
        options.shareAttentionKey = shareAttentionKey
        options.normalizeRelativeEmbeddings = normalizeRelativeEmbeddings.contains("layer_norm")
        options.layerNormEpsilon = layerNormEpsilon
        return options
    }

    /// Rejects what this implementation does not reproduce, naming the field.
    public func validate() throws {
        if convolutionKernelSize > 0 {
            throw PretrainedModelError.unsupportedValue(
                field: "conv_kernel_size", value: "\(convolutionKernelSize)",
                reason:
                    "the convolution branch after the first layer (DeBERTa-v2 xlarge) is not implemented; v3 checkpoints have none"
            )
        }
        if !relativeAttention && !positionAttentionTypes.isEmpty {
            throw PretrainedModelError.unsupportedValue(
                field: "pos_att_type", value: positionAttentionTypes.joined(separator: "|"),
                reason: "position terms need relative_attention = true")
        }
        _ = try attentionOptions()
    }
}

/// Word (+ absolute position) (+ token type) embeddings, optional projection, LayerNorm, padding zeroed.
public final class DebertaV2Embeddings: Module {
    /// The token table [vocabulary, width].
    public let wordEmbeddings: Embedding
    /// The absolute position table [positions, width]; nil without `position_biased_input`.
    public let positionEmbeddings: Embedding?
    /// The token-type table [types, width]; nil when `type_vocab_size` is 0.
    public let tokenTypeEmbeddings: Embedding?
    /// width → c projection (`embed_proj`); nil when the widths agree.
    public let projection: Linear?
    /// LayerNorm over the summed (and projected) embeddings.
    public let norm: LayerNorm
    /// Dropout on the embeddings (`hidden_dropout_prob`).
    public let dropout: Dropout

    init(_ config: DebertaV2Configuration, generator: inout RandomGenerator) {
        let width = config.embeddingSize ?? config.modelDimension
        let initializer = Initializer.normal(standardDeviation: 0.02)
        wordEmbeddings = Embedding(
            count: config.vocabularySize, dimension: width, initializer: initializer,
            generator: &generator)
        positionEmbeddings =
            config.positionBiasedInput
            ? Embedding(
                count: config.maximumPositions, dimension: width, initializer: initializer,
                generator: &generator) : nil
        tokenTypeEmbeddings =
            config.typeVocabularySize > 0
            ? Embedding(
                count: config.typeVocabularySize, dimension: width, initializer: initializer,
                generator: &generator) : nil
        projection =
            width != config.modelDimension
            ? Linear(
                inputCount: width, outputCount: config.modelDimension, bias: false,
                weightInitializer: initializer, generator: &generator)
            : nil
        norm = LayerNorm(dimension: config.modelDimension, epsilon: config.layerNormEpsilon)
        dropout = Dropout(probability: config.hiddenDropout)
    }

    /// The tables present, `embed_proj` when present, `LayerNorm` and `dropout`: HF names.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [("word_embeddings", wordEmbeddings)]
        if let positionEmbeddings { list.append(("position_embeddings", positionEmbeddings)) }
        if let tokenTypeEmbeddings { list.append(("token_type_embeddings", tokenTypeEmbeddings)) }
        if let projection { list.append(("embed_proj", projection)) }
        return list + [("LayerNorm", norm), ("dropout", dropout)]
    }

    /// ids [b, n], token types [b, n] (nil = 0), mask [b, n] → [b, n, c].
    func callAsFunction(_ ids: Indices, tokenTypes: Indices?, mask: Tensor) -> Tensor {
        let (b, n) = (ids.shape[0], ids.shape[1])
        var x = wordEmbeddings(ids)
        if let positionEmbeddings {
            x =
                x
                + positionEmbeddings(Indices(Array(0..<n))).reshaped([
                    1, n, positionEmbeddings.dimension,
                ])
        }
        if let tokenTypeEmbeddings {
            x =
                x
                + tokenTypeEmbeddings(
                    tokenTypes ?? Indices(shape: [b, n], values: [Int](repeating: 0, count: b * n)))
        }
        if let projection { x = projection(x) }
        return dropout(norm(x) * mask.reshaped([b, n, 1]))
    }
}

/// A dense layer, dropout, and LayerNorm over the residual sum (HF `DebertaV2SelfOutput`/`DebertaV2Output`).
public final class DebertaV2ResidualOutput: Module {
    /// The projection to c before the residual sum.
    public let dense: Linear
    /// LayerNorm over the residual sum.
    public let norm: LayerNorm
    /// Dropout on the projection (`hidden_dropout_prob`).
    public let dropout: Dropout

    init(inputCount: Int, config: DebertaV2Configuration, generator: inout RandomGenerator) {
        dense = Linear(
            inputCount: inputCount, outputCount: config.modelDimension,
            weightInitializer: .normal(standardDeviation: 0.02),
            biasInitializer: .zeros, generator: &generator)
        norm = LayerNorm(dimension: config.modelDimension, epsilon: config.layerNormEpsilon)
        dropout = Dropout(probability: config.hiddenDropout)
    }

    /// `dense`, `LayerNorm`, `dropout`: HF names.
    public var children: [(String, any Module)] {
        [("dense", dense), ("LayerNorm", norm), ("dropout", dropout)]
    }

    /// LayerNorm(dropout(dense(x)) + residual).
    func callAsFunction(_ x: Tensor, residual: Tensor) -> Tensor {
        norm(dropout(dense(x)) + residual)
    }
}

/// One encoder layer: disentangled self-attention (or a registry mechanism between its content
/// projections) + output, then the BERT feed-forward.
public final class DebertaV2Layer: Module {
    /// Disentangled self-attention (`attention.self`).
    public let attention: DisentangledSelfAttention
    /// The registry mechanism run between the content projections instead of the disentangled
    /// attention (its parameters under `attention.self`); nil: DeBERTa's own attention.
    public let core: (any AttentionCore)?
    /// Projection of the heads back to c, with residual and LayerNorm (`attention.output`).
    public let attentionOutput: DebertaV2ResidualOutput
    /// Feed-forward c → f projection (`intermediate.dense`).
    public let intermediate: Linear
    /// The feed-forward non-linearity (`hidden_act`).
    public let activation: Activation
    /// Feed-forward f → c projection, with residual and LayerNorm (`output`).
    public let output: DebertaV2ResidualOutput

    init(
        _ config: DebertaV2Configuration, options: DisentangledAttention.Options,
        core: (any AttentionCore)?, generator: inout RandomGenerator
    ) {
        self.core = core
        let headDimension = config.attentionHeadSize ?? config.modelDimension / config.headCount
        attention = DisentangledSelfAttention(
            dimension: config.modelDimension, headCount: config.headCount,
            headDimension: headDimension, options: options,
            positionDropout: config.hiddenDropout, initializer: .normal(standardDeviation: 0.02),
            generator: &generator)
        attentionOutput = DebertaV2ResidualOutput(
            inputCount: config.headCount * headDimension, config: config, generator: &generator)
        intermediate = Linear(
            inputCount: config.modelDimension, outputCount: config.feedForwardDimension,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
        activation = config.activation
        output = DebertaV2ResidualOutput(
            inputCount: config.feedForwardDimension, config: config, generator: &generator)
    }

    /// HF: `attention.self` (and a registry core's parameters there), `attention.output`,
    /// `intermediate.dense`, `output`.
    public var children: [(String, any Module)] {
        [("attention.self", attention)]
            + (core.map { [("attention.self", $0 as any Module)] } ?? [])
            + [
                ("attention.output", attentionOutput), ("intermediate.dense", intermediate),
                ("output", output),
            ]
    }

    /// Keys and values from `hidden`, queries from `queryStates` (default `hidden`), residual on the queries.
    public func callAsFunction(
        _ hidden: Tensor, queryStates: Tensor? = nil, relativeEmbeddings: Tensor?, mask: Tensor?
    ) throws -> Tensor {
        let mixed: Tensor
        if let core {
            mixed = try attention.attend(hidden, queryStates: queryStates, core: core, mask: mask)
        } else {
            mixed = try attention(
                hidden, queryStates: queryStates, relativeEmbeddings: relativeEmbeddings,
                paddingMask: mask)
        }
        let attended = attentionOutput(mixed, residual: queryStates ?? hidden)
        return output(activation(intermediate(attended)), residual: attended)
    }
}

/// The encoder: layers plus the shared relative table (`rel_embeddings`, `LayerNorm`), which exists
/// only with `relative_attention`.
public final class DebertaV2Encoder: Module {
    /// The encoder layers, first to last (`layer.<i>`).
    public let layers: [DebertaV2Layer]
    /// The shared relative-position table; nil without `relative_attention`.
    public let relativePositions: RelativePositionEmbeddings?

    init(
        _ config: DebertaV2Configuration, cores: [(any AttentionCore)?],
        generator: inout RandomGenerator
    ) throws {
        let options = try config.attentionOptions()
        layers = cores.map { core in
            DebertaV2Layer(config, options: options, core: core, generator: &generator)
        }
        relativePositions =
            config.relativeAttention
            ? RelativePositionEmbeddings(
                rows: 2 * config.relativeSpan, dimension: config.modelDimension,
                normalized: options.normalizeRelativeEmbeddings, epsilon: config.layerNormEpsilon,
                generator: &generator)
            : nil
    }

    /// `layer.<i>`, then the relative table's `rel_embeddings` and `LayerNorm` when present.
    public var children: [(String, any Module)] {
        layers.enumerated().map { ("layer.\($0.offset)", $0.element as any Module) }
            + (relativePositions?.children ?? [])
    }
}

/// Hidden states of a DeBERTa-v2 forward pass.
public struct DebertaV2Output {
    /// [b, n, c]: the last layer's output.
    public var lastHiddenState: Tensor { hiddenStates[hiddenStates.count - 1] }
    /// The embedding output, then every layer's output (layerCount + 1 tensors).
    public let hiddenStates: [Tensor]
    /// The normalised relative table the layers used (nil without relative attention).
    public let relativeEmbeddings: Tensor?
    /// [b, n] padding mask.
    public let mask: Tensor
}

/// HF `DebertaV2Model`: embeddings and encoder.
public final class DebertaV2Model: Module {
    /// The hyper-parameters (config.json).
    public let configuration: DebertaV2Configuration
    /// The attention: `deberta` (its own disentangled attention) or the registry mechanism run
    /// between the content projections (`DebertaV2Mechanisms.swift`).
    public let mechanism: String
    /// Token (and position, token-type) embeddings (`embeddings`).
    public let embeddings: DebertaV2Embeddings
    /// The layers and relative table (`encoder`).
    public let encoder: DebertaV2Encoder

    /// A randomly initialised model (N(0, 0.02) weights, as the reference's `_init_weights`)
    /// running `mechanism` (with `mixerConfiguration`'s options) in every layer; the seed also
    /// seeds a mechanism's own parameters.
    public init(
        _ configuration: DebertaV2Configuration, mechanism: String = DebertaV2Model.ownMechanism,
        mixerConfiguration: MixerConfiguration? = nil, seed: UInt64 = 0
    ) throws {
        try configuration.validate()
        self.configuration = configuration
        self.mechanism = mechanism
        let cores = try Self.cores(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration, seed: seed)
        var generator = RandomGenerator(seed: seed)
        embeddings = DebertaV2Embeddings(configuration, generator: &generator)
        encoder = try DebertaV2Encoder(configuration, cores: cores, generator: &generator)
    }

    /// `embeddings` and `encoder`, as in HF `DebertaV2Model`.
    public var children: [(String, any Module)] {
        [("embeddings", embeddings), ("encoder", encoder)]
    }

    /// ids [b, n], attention mask [b, n] (1 = token; nil = none padded), token types [b, n].
    public func callAsFunction(
        _ ids: Indices, attentionMask: Tensor? = nil, tokenTypes: Indices? = nil
    ) throws -> DebertaV2Output {
        guard ids.shape.count == 2 else {
            throw MixerError.shapeMismatch(
                mechanism: "deberta", expected: "token ids [batch, length]", got: ids.shape)
        }
        let (b, n) = (ids.shape[0], ids.shape[1])
        let mask = attentionMask ?? Tensor.ones([b, n])
        var states = [embeddings(ids, tokenTypes: tokenTypes, mask: mask)]
        let table = encoder.relativePositions?.normalizedTable()
        for layer in encoder.layers {
            states.append(
                try layer(states[states.count - 1], relativeEmbeddings: table, mask: attentionMask))
        }
        return DebertaV2Output(hiddenStates: states, relativeEmbeddings: table, mask: mask)
    }

    /// Loads `config.json` and `model.safetensors` (or a sharded index) from a directory.
    public static func load(directory: String) throws -> DebertaV2Model {
        let configuration = try DebertaV2Configuration.load(
            path: PretrainedFolder.configurationPath(in: directory))
        let model = try DebertaV2Model(configuration)
        let weights = try PretrainedFolder.weightsPath(in: directory)
        try model.load(checkpoint: try Safetensors.open(weights))
        return model
    }

    /// Copies a checkpoint's tensors in by HF name, strictly, through the one pretrained loader. A
    /// `deberta.` prefix (task-model checkpoints) is removed and tensors outside it (task heads)
    /// are skipped; like the reference, `position_ids` buffers and an unused
    /// `embeddings.position_embeddings` are skipped too. A registry mechanism's own parameters
    /// keep their initial values.
    @discardableResult
    public func load(checkpoint: any SafetensorsArchive) throws -> PretrainedLoadReport {
        let hasPositions = embeddings.positionEmbeddings != nil
        let naming = CheckpointNaming(
            prefix: "deberta.",
            isSkipped: { name in
                name.hasSuffix("position_ids")
                    || (name == "embeddings.position_embeddings.weight" && !hasPositions)
            })
        return try loadPretrained(
            from: checkpoint, naming: naming, optional: Set(mechanismParameterNames))
    }
}

/// HF `DebertaV2LMPredictionHead`: dense → activation → LayerNorm → tied word embeddings + bias.
public final class DebertaV2LMHead: Module {
    /// c → c projection (`dense`).
    public let dense: Linear
    /// The non-linearity after `dense` (`hidden_act`).
    public let activation: Activation
    /// LayerNorm before the tied output projection.
    public let norm: LayerNorm
    /// Per-token output bias [vocabulary].
    public let bias: Parameter

    init(_ config: DebertaV2Configuration, generator: inout RandomGenerator) {
        dense = Linear(
            inputCount: config.modelDimension, outputCount: config.modelDimension,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
        activation = config.activation
        norm = LayerNorm(dimension: config.modelDimension, epsilon: config.layerNormEpsilon)
        bias = Parameter(.zeros([config.vocabularySize]))
    }

    /// `bias`, the head's own parameter.
    public var ownParameters: [(String, Parameter)] { [("bias", bias)] }
    /// `dense` and `LayerNorm`: HF names.
    public var children: [(String, any Module)] { [("dense", dense), ("LayerNorm", norm)] }

    /// [..., c] → [..., vocabulary] against the word-embedding table [vocabulary, c].
    public func callAsFunction(_ x: Tensor, wordEmbeddings: Tensor) -> Tensor {
        Tensor.linear(norm(activation(dense(x))), weight: wordEmbeddings, bias: bias.value)
    }
}

/// DeBERTa's enhanced mask decoder (EMD) for masked-language-model pre-training: absolute positions
/// enter only here, just before the MLM head. With H the input of the last encoder layer and z the
/// absolute position embeddings, the last layer runs `steps` more times with shared weights, queries
/// starting at z + H and replaced by each pass's output while keys and values stay H; the MLM head
/// reads the final queries. (The reference does this only when `position_biased_input` is false.)
///
/// Checkpoint names: `position_embeddings.weight`, `lm_head.{dense, LayerNorm, bias}`.
public final class DebertaV2EnhancedMaskDecoder: Module {
    /// Absolute position table [positions, c] added to the decoder's first queries.
    public let positionEmbeddings: Embedding
    /// The masked-language-model head reading the final queries.
    public let lmHead: DebertaV2LMHead
    /// Passes of the last layer (the reference: 2).
    public let steps: Int

    /// A decoder for `model`'s configuration.
    public init(_ config: DebertaV2Configuration, steps: Int = 2, seed: UInt64 = 1) {
        var generator = RandomGenerator(seed: seed)
        positionEmbeddings = Embedding(
            count: config.maximumPositions, dimension: config.modelDimension,
            initializer: .normal(standardDeviation: 0.02), generator: &generator)
        lmHead = DebertaV2LMHead(config, generator: &generator)
        self.steps = steps
    }

    /// `position_embeddings` and `lm_head`: HF names.
    public var children: [(String, any Module)] {
        [("position_embeddings", positionEmbeddings), ("lm_head", lmHead)]
    }

    /// The decoder's final query states [b, n, c] for an encoder pass of `model`.
    public func decoded(_ encoded: DebertaV2Output, model: DebertaV2Model, attentionMask: Tensor?)
        throws -> Tensor
    {
        // the input of the last layer
        let states = encoded.hiddenStates[encoded.hiddenStates.count - 2]
        let (n, c) = (states.shape[1], states.shape[2])
        guard n <= positionEmbeddings.count else {
            throw MixerError.sequenceTooLong(
                mechanism: "deberta EMD", length: n, maximum: positionEmbeddings.count)
        }
        let last = model.encoder.layers[model.encoder.layers.count - 1]
        var query = positionEmbeddings(Indices(Array(0..<n))).reshaped([1, n, c]) + states
        for _ in 0..<steps {
            query = try last(
                states, queryStates: query, relativeEmbeddings: encoded.relativeEmbeddings,
                mask: attentionMask)
        }
        return query
    }

    /// MLM logits [b, n, vocabulary] through the decoder and the head (tied to the word embeddings).
    public func callAsFunction(
        _ encoded: DebertaV2Output, model: DebertaV2Model, attentionMask: Tensor?
    ) throws -> Tensor {
        lmHead(
            try decoded(encoded, model: model, attentionMask: attentionMask),
            wordEmbeddings: model.embeddings.wordEmbeddings.weight.value)
    }
}
