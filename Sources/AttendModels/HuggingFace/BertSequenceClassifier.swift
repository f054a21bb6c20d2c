// transformers' BertForSequenceClassification on Attend's BERT, for fine-tuning: the encoder under
// `bert.`, then dropout(tanh(pooler(h[CLS]))) → `classifier` (a new Linear(c, classes), weights
// N(0, initializer_range²), bias 0), so parameter names are transformers' and an export is a
// name-for-name copy. A checkpoint without a pooler gets a fresh one, as transformers builds it.
// Text pairs run as one sequence [CLS] a [SEP] b [SEP] (`joinedPairs` builds it from two batches);
// with a segment separator id the segment (token type) ids are derived from it: 0 up to and
// including the first [SEP], 1 after it.
// Freezing the encoder (pooler included, as `model.bert.requires_grad_(False)`) runs it without
// recording gradients, so only the classifier is differentiated and updated.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// A BERT encoder with a sequence-classification head, named as transformers names it.
public final class BertSequenceClassifier: Module {
    /// The pretrained encoder (`bert.*`).
    public let bert: Bert
    /// The new head (`classifier.weight` [classes, c], `classifier.bias` [classes]).
    public let classifier: Linear
    let dropout: Dropout
    /// The [SEP] id that splits a text pair into segments 0 and 1; nil: one segment.
    public let segmentSeparatorID: Int?
    /// Whether the encoder's parameters are frozen (only the classifier trains).
    public let isEncoderFrozen: Bool

    /// A randomly initialised model (weights as transformers initialises them); load a checkpoint
    /// into it with `loadPretrained(from:)`.
    ///
    /// - Parameters:
    ///   - configuration: the encoder's hyper-parameters (config.json).
    ///   - classCount: labels the classifier scores.
    ///   - mechanism: the registry mechanism between the pretrained q/k/v projections.
    ///   - mixerConfiguration: that mechanism's options; shape fields come from `configuration`.
    ///   - classifierDropout: dropout before the classifier (transformers: `classifier_dropout`,
    ///     else `hidden_dropout_prob`).
    ///   - segmentSeparatorID: the [SEP] id that splits a text pair into segments 0 and 1; nil:
    ///     one segment.
    ///   - freezeEncoder: whether only the classifier trains.
    ///   - seed: seeds the initial weights and the mechanism's own parameters.
    public init(
        _ configuration: BertConfiguration, classCount: Int, mechanism: String = "full",
        mixerConfiguration: MixerConfiguration? = nil, classifierDropout: Float? = nil,
        segmentSeparatorID: Int? = nil, freezeEncoder: Bool = false, seed: UInt64 = 0
    ) throws {
        bert = try Bert(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: true,
            seed: seed)
        var generator = RandomGenerator(seed: RandomGenerator.mix(seed, 0x4845_4144))  // "HEAD"
        classifier = Linear(
            inputCount: configuration.modelDimension, outputCount: classCount,
            weightInitializer: .normal(standardDeviation: configuration.initializerRange),
            biasInitializer: .zeros, generator: &generator)
        dropout = Dropout(probability: classifierDropout ?? configuration.hiddenDropout)
        self.segmentSeparatorID = segmentSeparatorID
        isEncoderFrozen = freezeEncoder
        if freezeEncoder {
            for (_, parameter) in bert.namedParameters() { parameter.isTrainable = false }
        }
    }

    /// `bert`, `dropout` and `classifier`, as in `BertForSequenceClassification`.
    public var children: [(String, any Module)] {
        [("bert", bert), ("dropout", dropout), ("classifier", classifier)]
    }

    /// Number of classes.
    public var classCount: Int { classifier.outputCount }

    /// Logits [b, classes] of token ids [b, n] ([CLS] first) with mask [b, n] (1 real, 0 padding).
    public func callAsFunction(_ ids: Indices, mask: Tensor?) throws -> ModelOutput {
        let types = segmentSeparatorID.map { segmentIDs(ids, separator: $0) }
        let pooled: Tensor
        if isEncoderFrozen {
            pooled = try withoutGradient { try pooledOutput(ids, mask: mask, tokenTypes: types) }
        } else {
            pooled = try pooledOutput(ids, mask: mask, tokenTypes: types)
        }
        return ModelOutput(logits: classifier(dropout(pooled)), context: MixerContext())
    }

    /// tanh(pooler(h[CLS])) → [b, c].
    func pooledOutput(_ ids: Indices, mask: Tensor?, tokenTypes: Indices?) throws -> Tensor {
        let hidden = try bert(ids, mask: mask, tokenTypes: tokenTypes)
        return bert.pooledOutput(hidden)!  // built with a pooler
    }

    /// Text pairs as one sequence per row ([CLS] a [SEP] b [SEP]), cut to the model's positions:
    /// `joinTextPairs`.
    public func joinedPairs(
        _ first: Indices, mask firstMask: Tensor, _ second: Indices, mask secondMask: Tensor,
        paddingID: Int
    ) -> (ids: Indices, mask: Tensor) {
        joinTextPairs(
            first, mask: firstMask, second, mask: secondMask, paddingID: paddingID,
            limit: bert.configuration.maximumPositions)
    }

    /// Segment ids [b, n]: 0 up to and including the first `separator` of each row, 1 after it.
    func segmentIDs(_ ids: Indices, separator: Int) -> Indices {
        let (b, n) = (ids.shape[0], ids.shape[1])
        var types = [Int](repeating: 0, count: b * n)
        for row in 0..<b {
            guard let first = (0..<n).first(where: { ids.values[row * n + $0] == separator }) else {
                continue
            }
            for t in (first + 1)..<n { types[row * n + t] = 1 }
        }
        return Indices(shape: [b, n], values: types)
    }
}

/// What `BertSequenceClassifier.loadPretrained(from:)` did (the report every family shares).
public typealias BertClassifierLoadReport = PretrainedClassifierLoadReport

extension BertSequenceClassifier {
    /// Copies a Hugging Face BERT checkpoint (BertModel, or a *ForSequenceClassification with
    /// `bert.` names) into the encoder, strictly: every encoder tensor must be present with its
    /// shape, except the pooler (new when absent). A `classifier.weight`/`classifier.bias` of
    /// this model's shapes is loaded too, so an exported model reloads exactly.
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive
    ) throws -> BertClassifierLoadReport {
        let names = Set(archive.names)
        let poolerNames = ["pooler.dense.weight", "pooler.dense.bias"]
        let hasPooler = poolerNames.contains { names.contains($0) || names.contains("bert." + $0) }
        let encoder = try bert.load(from: archive, optional: hasPooler ? [] : Set(poolerNames))
        return BertClassifierLoadReport(
            encoder: encoder, newPooler: !hasPooler,
            loadedClassifier: try classifier.loadHead(named: "classifier", from: archive))
    }
}
