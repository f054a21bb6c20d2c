// The fields that BERT, DeBERTa-v2 and ViT configurations share, under one name each here and
// under transformers' keys in config.json, read and written in one place.
import AttendNN

/// A Hugging Face Transformer configuration: the encoder fields every family has.
public protocol PretrainedEncoderConfiguration {
    /// Model width c (`hidden_size`).
    var modelDimension: Int { get set }
    /// Number of layers (`num_hidden_layers`).
    var layerCount: Int { get set }
    /// Heads per layer (`num_attention_heads`).
    var headCount: Int { get set }
    /// Inner width of the feed-forward sublayer (`intermediate_size`).
    var feedForwardDimension: Int { get set }
    /// The feed-forward non-linearity (`hidden_act`, in transformers' spelling).
    var activation: Activation { get set }
    /// LayerNorm ε (`layer_norm_eps`).
    var layerNormEpsilon: Float { get set }
    /// Dropout on hidden states (`hidden_dropout_prob`), active only in training mode.
    var hiddenDropout: Float { get set }
    /// Dropout on attention probabilities (`attention_probs_dropout_prob`).
    var attentionDropout: Float { get set }
}

/// transformers' keys of the shared fields.
enum PretrainedEncoderKeys: String, CodingKey {
    case modelDimension = "hidden_size", layerCount = "num_hidden_layers"
    case headCount = "num_attention_heads", feedForwardDimension = "intermediate_size"
    case activation = "hidden_act", layerNormEpsilon = "layer_norm_eps"
    case hiddenDropout = "hidden_dropout_prob", attentionDropout = "attention_probs_dropout_prob"
}

extension PretrainedEncoderConfiguration {
    /// Overrides the shared fields with those `decoder`'s object has (an unknown `hidden_act` is
    /// an error listing the known ones).
    mutating func overrideEncoderFields(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: PretrainedEncoderKeys.self)
        try c.override(&modelDimension, .modelDimension)
        try c.override(&layerCount, .layerCount)
        try c.override(&headCount, .headCount)
        try c.override(&feedForwardDimension, .feedForwardDimension)
        if let name = try c.decodeIfPresent(String.self, forKey: .activation) {
            activation = try PretrainedFolder.activation(named: name)
        }
        try c.override(&layerNormEpsilon, .layerNormEpsilon)
        try c.override(&hiddenDropout, .hiddenDropout)
        try c.override(&attentionDropout, .attentionDropout)
    }

    /// Writes the shared fields under transformers' keys, beside the family's own.
    func encodeEncoderFields(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: PretrainedEncoderKeys.self)
        try c.encode(modelDimension, forKey: .modelDimension)
        try c.encode(layerCount, forKey: .layerCount)
        try c.encode(headCount, forKey: .headCount)
        try c.encode(feedForwardDimension, forKey: .feedForwardDimension)
        try c.encode(PretrainedFolder.name(of: activation), forKey: .activation)
        try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        try c.encode(hiddenDropout, forKey: .hiddenDropout)
        try c.encode(attentionDropout, forKey: .attentionDropout)
    }
}
