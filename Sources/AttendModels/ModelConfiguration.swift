// The shape of a Transformer as data: width, depth, heads, feed-forward, positions, pooling, and the
// token mixer by registry name with its own configuration. Codable (snake_case keys), so a run's
// resolved configuration is saved next to its checkpoints and reloaded by `attend eval`.
import AttendAttention
import AttendCore
import AttendNN

/// Where position information comes from.
public enum PositionEncoding: String, Codable, Sendable, CaseIterable {
    /// Fixed sines and cosines (Vaswani et al.), as LRA uses for text, ListOps and retrieval.
    case sinusoidal
    /// A learned table, N(0, 0.02), as LRA uses for images.
    case learned
    /// Fixed sines and cosines of an image's row in half the channels and of its column in the
    /// other half, for inputs that are square images read row by row (n = side²): two pixels
    /// stacked vertically are as close as two side by side, where 1-D positions put them `side`
    /// apart. A [CLS] token gets no position.
    case sinusoidal2D = "sinusoidal_2d"
    /// None (mechanisms with their own relative positions).
    case none
}

/// How a classifier turns hidden states into one vector.
public enum Pooling: String, Codable, Sendable, CaseIterable {
    /// A learned [CLS] vector prepended to the sequence; its final state is the summary.
    case cls
    /// The mean over real (unpadded) positions.
    case mean
}

/// The feed-forward sublayer kind.
public enum FeedForwardKind: String, Codable, Sendable, CaseIterable {
    /// One FFN shared by every token.
    case dense
    /// Switch Transformer mixture of experts (top-1 routing).
    case `switch`
}

/// The kind of network a configuration builds.
public enum Architecture: String, Codable, Sendable, CaseIterable {
    /// Token embeddings and a Transformer encoder (`SequenceEncoder`) with the task's head.
    case encoder
    /// A Vision Transformer on the tokens read as grey levels of square images (`ViTClassifier`).
    case vit
}

/// Hyper-parameters of an encoder (and of the models built on it).
public struct ModelConfiguration: Codable, Sendable, Equatable {
    /// Token ids the embedding table covers.
    public var vocabularySize: Int
    /// Width c of the hidden states.
    public var modelDimension: Int
    /// Transformer blocks in the encoder.
    public var layerCount: Int
    /// Attention heads per layer; c must be divisible by it unless `headDimension` is set.
    public var headCount: Int
    /// Hidden width f of each block's feed-forward network.
    public var feedForwardDimension: Int
    /// Longest input (without the [CLS] token).
    public var maximumLength: Int
    /// Registry name of the token mixer.
    public var mixer = "full"
    /// Registry name of the mixer in layers ≥ 1, when it differs from `mixer`. Nil: the mixer's
    /// declared upper-layer mixer (`Capabilities.upperLayerMixer`, e.g. SPADE → local) or `mixer`.
    public var upperMixer: String?
    /// The mixer's own options (its shape fields are filled from this configuration).
    public var mixerOptions: MixerConfiguration?
    /// The feed-forward non-linearity.
    public var activation: Activation = .gelu
    /// Probability of the encoder's dropout layers.
    public var dropout: Float = 0.1
    /// Pre-LN (norm before each sublayer, as LRA and ViT) or post-LN (after the residual, as BERT).
    public var preNorm = true
    /// How token positions enter the model.
    public var positions: PositionEncoding = .sinusoidal
    /// Standard deviation of the initial token embeddings. 1 as LRA's: beside sinusoids of amplitude 1,
    /// tokens at BERT's 0.02 would be fifty times weaker than their positions.
    public var tokenEmbeddingScale: Float = 1
    /// How the classification head reduces [b, n, c] to [b, c].
    public var pooling: Pooling = .cls
    /// LayerNorm ε.
    public var layerNormEpsilon: Float = 1e-6
    /// The feed-forward layer of each block: dense or a Switch mixture of experts.
    public var feedForward: FeedForwardKind = .dense
    /// Experts, capacity, router losses and which layers, when `feedForward == .switch`.
    public var switchFeedForward = SwitchFeedForward.Options()
    /// Number of output classes of a classifier head.
    public var classCount = 2
    /// Width of the classifier's hidden layer (LRA: the MLP dimension).
    public var headDimension: Int?
    /// Seed for the initial weights.
    public var seed: UInt64 = 0
    /// Token encoder or Vision Transformer.
    public var architecture: Architecture = .encoder
    /// ViT patch side P (images of side √(maximum length / channels)).
    public var patchSize = 4
    /// ViT image channels C (tokens are channel-major grey levels).
    public var imageChannels = 1
    /// Fine-tuning a Hugging Face checkpoint: the model is its encoder with a new classifier, and
    /// the shape fields above only mirror it. Nil for models trained from scratch.
    public var pretrained: PretrainedInitialization?

    /// A configuration with defaults for everything but the shape.
    public init(
        vocabularySize: Int, modelDimension: Int, layerCount: Int, headCount: Int,
        feedForwardDimension: Int, maximumLength: Int
    ) {
        self.vocabularySize = vocabularySize
        self.modelDimension = modelDimension
        self.layerCount = layerCount
        self.headCount = headCount
        self.feedForwardDimension = feedForwardDimension
        self.maximumLength = maximumLength
    }

    /// The registry name of the mixer that layer `layer` runs: `mixer` in layer 0; above it,
    /// `upperMixer`, else the mechanism's declared upper-layer mixer, else `mixer`.
    public func mixerName(layer: Int) throws -> String {
        guard layer > 0 else { return mixer }
        if let upperMixer { return upperMixer }
        return try Mechanisms.named(mixer).capabilities.upperLayerMixer ?? mixer
    }

    /// The mixer configuration with this model's width, heads and length.
    public var resolvedMixer: MixerConfiguration {
        var m =
            mixerOptions
            ?? MixerConfiguration(
                modelDimension: modelDimension, headCount: headCount, maximumLength: 0)
        m.modelDimension = modelDimension
        m.headCount = headCount
        m.maximumLength = maximumLength + (pooling == .cls ? 1 : 0)
        return m
    }

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocabulary_size", modelDimension = "model_dimension", layerCount =
            "layer_count"
        case headCount = "head_count", feedForwardDimension = "feed_forward_dimension"
        case maximumLength = "maximum_length", mixer, upperMixer = "upper_mixer", mixerOptions =
            "mixer_options"
        case activation, dropout
        case preNorm = "pre_norm", positions, tokenEmbeddingScale = "token_embedding_std", pooling,
            layerNormEpsilon = "layer_norm_epsilon"
        case feedForward = "feed_forward", switchFeedForward = "switch", classCount = "class_count",
            headDimension = "head_dimension", seed
        case architecture, patchSize = "patch_size", imageChannels = "image_channels", pretrained
    }

    /// Decodes a configuration: the shape fields are required, every other key keeps its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            vocabularySize: try c.decode(Int.self, forKey: .vocabularySize),
            modelDimension: try c.decode(Int.self, forKey: .modelDimension),
            layerCount: try c.decode(Int.self, forKey: .layerCount),
            headCount: try c.decode(Int.self, forKey: .headCount),
            feedForwardDimension: try c.decode(Int.self, forKey: .feedForwardDimension),
            maximumLength: try c.decode(Int.self, forKey: .maximumLength))
        try c.override(&mixer, .mixer)
        try c.override(&upperMixer, .upperMixer)
        try c.override(&mixerOptions, .mixerOptions)
        try c.override(&activation, .activation)
        try c.override(&dropout, .dropout)
        try c.override(&preNorm, .preNorm)
        try c.override(&positions, .positions)
        try c.override(&tokenEmbeddingScale, .tokenEmbeddingScale)
        try c.override(&pooling, .pooling)
        try c.override(&layerNormEpsilon, .layerNormEpsilon)
        try c.override(&feedForward, .feedForward)
        try c.override(&switchFeedForward, .switchFeedForward)
        try c.override(&classCount, .classCount)
        try c.override(&headDimension, .headDimension)
        try c.override(&seed, .seed)
        try c.override(&architecture, .architecture)
        try c.override(&patchSize, .patchSize)
        try c.override(&imageChannels, .imageChannels)
        try c.override(&pretrained, .pretrained)
    }
}
