// The `config.json` of a Hugging Face ViT checkpoint (transformers' ViTConfig), read and written with
// its snake_case keys, plus the two numerics conventions of mechanisms-b §7: Hugging Face's (exact
// erf GELU, LayerNorm ε 1e-12) and the original JAX code's (tanh GELU, ε 1e-6, also timm's ε).
import AttendNN
import Foundation

/// Hyper-parameters of a Vision Transformer, as `config.json` spells them.
public struct ViTConfiguration: PretrainedEncoderConfiguration, Codable, Sendable, Equatable {
    /// The GELU and LayerNorm ε of one of the reference implementations.
    public enum Numerics: String, Codable, Sendable, CaseIterable {
        /// transformers: exact GELU, ε = 1e-12.
        case huggingFace = "hf"
        /// google-research/vision_transformer (flax): tanh GELU, ε = 1e-6.
        case jax

        /// The GELU and LayerNorm ε of this convention.
        var activationAndEpsilon: (Activation, Float) {
            switch self {
            case .huggingFace: (.gelu, 1e-12)
            case .jax: (.geluTanh, 1e-6)
            }
        }
    }

    /// Model width D (`hidden_size`).
    public var modelDimension: Int
    /// Encoder layers (`num_hidden_layers`).
    public var layerCount: Int
    /// Heads per layer (`num_attention_heads`).
    public var headCount: Int
    /// Feed-forward width (`intermediate_size`).
    public var feedForwardDimension: Int
    /// MLP non-linearity (`hidden_act`).
    public var activation: Activation
    /// LayerNorm ε (`layer_norm_eps`).
    public var layerNormEpsilon: Float
    /// Image side in pixels (`image_size`; square images).
    public var imageSize: Int
    /// Patch side P (`patch_size`).
    public var patchSize: Int
    /// Input channels C (`num_channels`).
    public var channelCount: Int
    /// Whether q/k/v have biases (`qkv_bias`).
    public var qkvBias = true
    /// Dropout on hidden states (`hidden_dropout_prob`).
    public var hiddenDropout: Float = 0
    /// Dropout on attention probabilities (`attention_probs_dropout_prob`).
    public var attentionDropout: Float = 0
    /// Standard deviation of the truncated-normal initial weights (`initializer_range`).
    public var initializerRange: Float = 0.02

    /// A configuration with transformers' defaults for everything but the shape.
    public init(
        modelDimension: Int, layerCount: Int, headCount: Int, feedForwardDimension: Int,
        imageSize: Int, patchSize: Int,
        channelCount: Int = 3, numerics: Numerics = .huggingFace
    ) {
        self.modelDimension = modelDimension
        self.layerCount = layerCount
        self.headCount = headCount
        self.feedForwardDimension = feedForwardDimension
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.channelCount = channelCount
        (activation, layerNormEpsilon) = numerics.activationAndEpsilon
    }

    /// ViT-B/16 at 224 × 224 (86M parameters).
    public static let base16 = ViTConfiguration(
        modelDimension: 768, layerCount: 12, headCount: 12, feedForwardDimension: 3072,
        imageSize: 224, patchSize: 16)

    /// Sets the GELU and ε of `numerics`.
    public mutating func use(_ numerics: Numerics) {
        (activation, layerNormEpsilon) = numerics.activationAndEpsilon
    }

    /// Patches per side.
    public var patchesPerSide: Int { imageSize / patchSize }
    /// Tokens per image: the patches and the [CLS] token.
    public var sequenceLength: Int { patchesPerSide * patchesPerSide + 1 }

    /// Reads `config.json`.
    public init(contentsOf path: String) throws {
        self = try PretrainedFolder.configuration(ViTConfiguration.self, at: path)
        if let problem = problem {
            throw PretrainedModelError.invalidConfiguration(path: path, problem: problem)
        }
    }

    /// Why this configuration cannot be built, or nil.
    public var problem: String? {
        if headCount <= 0 || modelDimension % headCount != 0 {
            return
                "hidden_size \(modelDimension) is not divisible by num_attention_heads \(headCount)"
        }
        if patchSize <= 0 || imageSize % patchSize != 0 {
            return "image_size \(imageSize) is not a multiple of patch_size \(patchSize)"
        }
        return nil
    }

    /// ViT's own keys (the shared ones: `PretrainedEncoderKeys`).
    enum CodingKeys: String, CodingKey {
        case imageSize = "image_size", patchSize = "patch_size", channelCount = "num_channels",
            qkvBias = "qkv_bias"
        case initializerRange = "initializer_range", modelType = "model_type", architectures
    }

    /// Decodes config.json over transformers' ViTConfig defaults (`base16`).
    public init(from decoder: any Decoder) throws {
        self = .base16  // transformers' ViTConfig defaults
        try overrideEncoderFields(from: decoder)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.override(&imageSize, .imageSize)
        try c.override(&patchSize, .patchSize)
        try c.override(&channelCount, .channelCount)
        try c.override(&qkvBias, .qkvBias)
        try c.override(&initializerRange, .initializerRange)
    }

    /// Writes transformers' spelling with `architectures` and `model_type`.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(["ViTModel"], forKey: .architectures)
        try c.encode("vit", forKey: .modelType)
        try encodeEncoderFields(to: encoder)
        try c.encode(imageSize, forKey: .imageSize)
        try c.encode(patchSize, forKey: .patchSize)
        try c.encode(channelCount, forKey: .channelCount)
        try c.encode(qkvBias, forKey: .qkvBias)
        try c.encode(initializerRange, forKey: .initializerRange)
    }
}
