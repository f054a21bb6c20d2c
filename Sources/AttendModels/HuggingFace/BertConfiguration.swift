// The `config.json` of a Hugging Face BERT-family checkpoint (transformers' BertConfig), read and
// written with its snake_case keys, so a folder exported by Attend loads in transformers unchanged.
// Only absolute learned positions exist in this model; other `position_embedding_type`s are refused
// by name instead of being silently treated as absolute.
import AttendAttention
import AttendNN
import Foundation

/// Hyper-parameters of a BERT encoder, as `config.json` spells them.
public struct BertConfiguration: PretrainedEncoderConfiguration, Codable, Sendable, Equatable {
    /// Rows of the word-embedding table (`vocab_size`).
    public var vocabularySize: Int
    /// Model width c (`hidden_size`).
    public var modelDimension: Int
    /// Number of layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Heads per layer (`num_attention_heads`).
    public var headCount: Int
    /// Inner width of the feed-forward sublayer (`intermediate_size`).
    public var feedForwardDimension: Int
    /// The feed-forward non-linearity (`hidden_act`: "gelu", "gelu_new", "relu"…).
    public var activation: Activation = .gelu
    /// LayerNorm ε (`layer_norm_eps`; BERT 1e-12).
    public var layerNormEpsilon: Float = 1e-12
    /// Rows of the position table: the longest input (`max_position_embeddings`).
    public var maximumPositions: Int = 512
    /// Rows of the segment table (`type_vocab_size`).
    public var typeVocabularySize: Int = 2
    /// Dropout on hidden states (`hidden_dropout_prob`), active only in training mode.
    public var hiddenDropout: Float = 0.1
    /// Dropout on attention probabilities (`attention_probs_dropout_prob`).
    public var attentionDropout: Float = 0.1
    /// Standard deviation of the initial weights (`initializer_range`).
    public var initializerRange: Float = 0.02
    /// Id of the padding token (`pad_token_id`).
    public var paddingTokenID: Int = 0

    /// A configuration with BERT's defaults for everything but the shape.
    public init(
        vocabularySize: Int, modelDimension: Int, layerCount: Int, headCount: Int,
        feedForwardDimension: Int
    ) {
        self.vocabularySize = vocabularySize
        self.modelDimension = modelDimension
        self.layerCount = layerCount
        self.headCount = headCount
        self.feedForwardDimension = feedForwardDimension
    }

    /// Reads `config.json`.
    public init(contentsOf path: String) throws {
        self = try PretrainedFolder.configuration(BertConfiguration.self, at: path)
        guard headCount > 0, modelDimension % headCount == 0 else {
            throw PretrainedModelError.invalidConfiguration(
                path: path,
                problem:
                    "hidden_size \(modelDimension) is not divisible by num_attention_heads \(headCount)"
            )
        }
    }

    /// Head dimension d = c/h.
    public var headDimension: Int { modelDimension / headCount }

    /// BERT's own keys (the shared ones: `PretrainedEncoderKeys`).
    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size"
        case maximumPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case initializerRange = "initializer_range", paddingTokenID = "pad_token_id"
        case positionEmbeddingType = "position_embedding_type", modelType = "model_type"
        case architectures
    }

    /// Decodes config.json: the encoder shape is required, absent settings keep their defaults;
    /// position embeddings other than "absolute" are refused.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let shape = try decoder.container(keyedBy: PretrainedEncoderKeys.self)
        self.init(
            vocabularySize: try c.decode(Int.self, forKey: .vocabularySize),
            modelDimension: try shape.decode(Int.self, forKey: .modelDimension),
            layerCount: try shape.decode(Int.self, forKey: .layerCount),
            headCount: try shape.decode(Int.self, forKey: .headCount),
            feedForwardDimension: try shape.decode(Int.self, forKey: .feedForwardDimension))
        try overrideEncoderFields(from: decoder)
        let positions = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType)
        if let positions, positions != "absolute" {
            throw PretrainedModelError.unsupported(
                feature: "position_embedding_type \"\(positions)\"", supported: ["absolute"])
        }
        try c.override(&maximumPositions, .maximumPositions)
        try c.override(&typeVocabularySize, .typeVocabularySize)
        try c.override(&initializerRange, .initializerRange)
        try c.override(&paddingTokenID, .paddingTokenID)
    }

    /// Writes transformers' spelling, with `architectures` and `model_type` so that
    /// `AutoModel.from_pretrained` picks `BertModel`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["BertModel"], forKey: .architectures)
        try c.encode("bert", forKey: .modelType)
        try c.encode(vocabularySize, forKey: .vocabularySize)
        try encodeEncoderFields(to: encoder)
        try c.encode(maximumPositions, forKey: .maximumPositions)
        try c.encode(typeVocabularySize, forKey: .typeVocabularySize)
        try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode(paddingTokenID, forKey: .paddingTokenID)
        try c.encode("absolute", forKey: .positionEmbeddingType)
    }
}
