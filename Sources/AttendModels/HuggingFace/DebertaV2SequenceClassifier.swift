// transformers' DebertaV2ForSequenceClassification on Attend's DeBERTa-v2, for fine-tuning: the
// encoder under `deberta.`, then the ContextPooler — act(pooler.dense(dropout(h[CLS]))) with
// `pooler_hidden_act` and `pooler_dropout` — then dropout (`cls_dropout`, else
// `hidden_dropout_prob`) and a `classifier` Linear(c, classes), so parameter names are
// transformers' and an export is a name-for-name copy. A folder without the pooler or the
// classifier (a DebertaV2Model) gets new ones drawn N(0, 0.02²) with zero biases, as transformers'
// `_init_weights` does. The attention between the projections is DeBERTa's own disentangled
// attention, or another registry mechanism without the relative-position terms. Freezing the
// encoder (`deberta.…`; the pooler trains, as transformers freezes only `model.deberta`) runs it
// without recording gradients.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// The head fields of a DeBERTa-v2 config.json: transformers' ContextPooler and the dropout before
/// the classifier.
public struct DebertaV2ClassifierHead: Codable, Sendable, Equatable {
    /// The pooler's non-linearity (`pooler_hidden_act`).
    public var activation: Activation = .gelu
    /// Dropout on h[CLS] before the pooler's dense layer (`pooler_dropout`).
    public var poolerDropout: Float = 0
    /// Dropout before the classifier (`cls_dropout`); nil: `hidden_dropout_prob`.
    public var classifierDropout: Float?
    /// The pooler's width (`pooler_hidden_size`); nil: `hidden_size`, the only width supported.
    public var poolerWidth: Int?

    /// transformers' defaults: GELU, no pooler dropout, the hidden dropout before the classifier.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case activation = "pooler_hidden_act", poolerDropout = "pooler_dropout"
        case classifierDropout = "cls_dropout", poolerWidth = "pooler_hidden_size"
    }

    /// Decodes the head's keys of config.json over the defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .activation) {
            activation = try PretrainedFolder.activation(named: name)
        }
        try c.override(&poolerDropout, .poolerDropout)
        try c.override(&classifierDropout, .classifierDropout)
        try c.override(&poolerWidth, .poolerWidth)
    }

    /// Writes transformers' keys.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(PretrainedFolder.name(of: activation), forKey: .activation)
        try c.encode(poolerDropout, forKey: .poolerDropout)
        try c.encodeIfPresent(classifierDropout, forKey: .classifierDropout)
        try c.encodeIfPresent(poolerWidth, forKey: .poolerWidth)
    }
}

/// A DeBERTa-v2 encoder with a sequence-classification head, named as transformers names it.
public final class DebertaV2SequenceClassifier: Module {
    /// The pretrained encoder (`deberta.*`).
    public let deberta: DebertaV2Model
    /// The ContextPooler's dense layer (`pooler.dense`), c → c.
    public let pooler: Linear
    /// The ContextPooler's non-linearity.
    public let poolerActivation: Activation
    let poolerDropout: Dropout
    let dropout: Dropout
    /// The head (`classifier.weight` [classes, c], `classifier.bias` [classes]).
    public let classifier: Linear
    /// Whether the encoder's parameters are frozen (pooler and classifier train).
    public let isEncoderFrozen: Bool

    /// A randomly initialised model (the head as transformers initialises it); load a checkpoint
    /// into it with `loadPretrained(from:)`. `mechanism` is DeBERTa's own attention (`deberta`)
    /// or a registry mechanism run between the content projections, with `mixerConfiguration`'s
    /// options (DebertaV2Mechanisms.swift).
    public init(
        _ configuration: DebertaV2Configuration, head: DebertaV2ClassifierHead, classCount: Int,
        mechanism: String = DebertaV2Model.ownMechanism,
        mixerConfiguration: MixerConfiguration? = nil, freezeEncoder: Bool = false,
        seed: UInt64 = 0
    ) throws {
        let width = configuration.modelDimension
        if let poolerWidth = head.poolerWidth, poolerWidth != width {
            throw PretrainedModelError.unsupportedValue(
                field: "pooler_hidden_size", value: "\(poolerWidth)",
                reason: "the classifier reads the pooler's output, so it must be hidden_size "
                    + "\(width)")
        }
        deberta = try DebertaV2Model(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            seed: seed)
        var generator = RandomGenerator(seed: RandomGenerator.mix(seed, 0x4845_4144))  // "HEAD"
        pooler = Linear(
            inputCount: width, outputCount: width,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
        classifier = Linear(
            inputCount: width, outputCount: classCount,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
        poolerActivation = head.activation
        poolerDropout = Dropout(probability: head.poolerDropout)
        dropout = Dropout(probability: head.classifierDropout ?? configuration.hiddenDropout)
        isEncoderFrozen = freezeEncoder
        if freezeEncoder {
            for (_, parameter) in deberta.namedParameters() { parameter.isTrainable = false }
        }
    }

    /// `deberta`, `pooler.dense` and `classifier` (and the parameterless dropouts), as in
    /// `DebertaV2ForSequenceClassification`.
    public var children: [(String, any Module)] {
        [
            ("deberta", deberta), ("pooler.dropout", poolerDropout), ("pooler.dense", pooler),
            ("dropout", dropout), ("classifier", classifier),
        ]
    }

    /// Logits [b, classes] of token ids [b, n] ([CLS] first) with mask [b, n] (1 real, 0 padding).
    public func callAsFunction(_ ids: Indices, mask: Tensor?) throws -> ModelOutput {
        let hidden: Tensor
        if isEncoderFrozen {
            hidden = try withoutGradient {
                try deberta(ids, attentionMask: mask).lastHiddenState
            }
        } else {
            hidden = try deberta(ids, attentionMask: mask).lastHiddenState
        }
        let (b, c) = (hidden.shape[0], hidden.shape[2])
        let first = hidden.sliced(alongAxis: 1, 0..<1).reshaped([b, c])
        let pooled = poolerActivation(pooler(poolerDropout(first)))
        return ModelOutput(logits: classifier(dropout(pooled)), context: MixerContext())
    }

    /// Copies a Hugging Face DeBERTa-v2 checkpoint (DebertaV2Model, or a sequence classifier with
    /// `deberta.` names) into the encoder, strictly; a `pooler.dense` and a `classifier` of this
    /// model's shapes are loaded too (an exported model reloads exactly), else they stay new.
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive
    ) throws -> PretrainedClassifierLoadReport {
        let encoder = try deberta.load(checkpoint: archive)
        let loadedPooler = try pooler.loadHead(named: "pooler.dense", from: archive)
        return PretrainedClassifierLoadReport(
            encoder: encoder, newPooler: !loadedPooler,
            loadedClassifier: try classifier.loadHead(named: "classifier", from: archive))
    }
}

extension DebertaV2SequenceClassifier: FolderClassifier {
    /// DeBERTa-v2 (and v3) folders.
    public static let modelType = "deberta-v2"
    /// For errors.
    public static let familyName = "DeBERTa-v2 classifier"
}
