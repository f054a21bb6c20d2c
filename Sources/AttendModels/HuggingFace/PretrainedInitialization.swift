// The part of a run's model configuration that says it was fine-tuned from a Hugging Face folder:
// the folder (read once, when training starts), its config.json as parsed (under the family's key,
// `bert`, `vit` or `deberta_v2`), the labels, whether the encoder is frozen and how text pairs are
// segmented. Stored inside `ModelConfiguration`, so a run's config.json alone rebuilds the model's
// shape for `attend eval`, `--resume` and `attend export`, without the original folder.
import AttendAttention
import Foundation

/// The pretrained family a fine-tuning starts from, with its configuration.
public enum PretrainedArchitecture: Sendable, Equatable {
    /// A BERT encoder (`BertSequenceClassifier`).
    case bert(BertConfiguration)
    /// A Vision Transformer (`ViTClassifier`) and its preprocessor's normalisation.
    case vit(ViTConfiguration, ImageNormalization)
    /// A DeBERTa-v2 encoder and its classification head's fields (`DebertaV2SequenceClassifier`).
    case debertaV2(DebertaV2Configuration, DebertaV2ClassifierHead)

    /// transformers' `model_type`.
    public var modelType: String {
        switch self {
        case .bert: "bert"
        case .vit: "vit"
        case .debertaV2: "deberta-v2"
        }
    }

    /// The longest input in tokens (`max_position_embeddings`); nil for a ViT, which reads whole
    /// images.
    public var maximumPositions: Int? {
        switch self {
        case .bert(let bert): bert.maximumPositions
        case .vit: nil
        case .debertaV2(let deberta, _): deberta.maximumPositions
        }
    }
}

/// Fine-tuning from a pretrained checkpoint: what the model is built from.
public struct PretrainedInitialization: Codable, Sendable, Equatable {
    /// The Hugging Face model folder the encoder weights come from.
    public var directory: String
    /// The family and its config.json.
    public var architecture: PretrainedArchitecture
    /// The class names in label order (exported as `id2label`).
    public var labels: [String]
    /// Train only the classifier, keeping the pretrained encoder fixed.
    public var freezeEncoder = false
    /// The [SEP] id splitting text pairs ([CLS] a [SEP] b [SEP]) into segments 0 and 1; nil when
    /// every example is one text.
    public var segmentSeparatorID: Int?
    /// How a BERT folder's position table was grown to `architecture.maximumPositions` rows;
    /// nil when the run uses the folder's own table.
    public var positionExtension: PositionExtension?
    /// The rows of the folder's own position table when it was grown, else nil.
    public var trainedPositions: Int?

    /// A fine-tuning of the folder `directory` of family `architecture`.
    public init(directory: String, architecture: PretrainedArchitecture, labels: [String]) {
        self.directory = directory
        self.architecture = architecture
        self.labels = labels
    }

    /// A fine-tuning of the BERT folder `directory` whose config.json is `bert`.
    public init(directory: String, bert: BertConfiguration, labels: [String]) {
        self.init(directory: directory, architecture: .bert(bert), labels: labels)
    }

    /// The BERT configuration; nil for other families.
    public var bert: BertConfiguration? {
        guard case .bert(let configuration) = architecture else { return nil }
        return configuration
    }

    enum CodingKeys: String, CodingKey {
        case directory, bert, vit, labels
        case imageNormalization = "image_normalization"
        case debertaV2 = "deberta_v2", debertaV2Head = "deberta_v2_head"
        case freezeEncoder = "freeze_encoder"
        case segmentSeparatorID = "segment_separator_id"
        case positionExtension = "position_extension", trainedPositions = "trained_positions"
    }

    /// Decodes the options: `directory`, `labels` and one family's configuration (`bert`, `vit`
    /// with its `image_normalization`, or `deberta_v2` with its `deberta_v2_head`) are required,
    /// the rest keep their defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let architecture: PretrainedArchitecture
        if let vit = try c.decodeIfPresent(ViTConfiguration.self, forKey: .vit) {
            architecture = .vit(
                vit, try c.decode(ImageNormalization.self, forKey: .imageNormalization))
        } else if let deberta = try c.decodeIfPresent(
            DebertaV2Configuration.self, forKey: .debertaV2)
        {
            architecture = .debertaV2(
                deberta, try c.decode(DebertaV2ClassifierHead.self, forKey: .debertaV2Head))
        } else {
            architecture = .bert(try c.decode(BertConfiguration.self, forKey: .bert))
        }
        self.init(
            directory: try c.decode(String.self, forKey: .directory), architecture: architecture,
            labels: try c.decode([String].self, forKey: .labels))
        try c.override(&freezeEncoder, .freezeEncoder)
        try c.override(&segmentSeparatorID, .segmentSeparatorID)
        try c.override(&positionExtension, .positionExtension)
        try c.override(&trainedPositions, .trainedPositions)
    }

    /// Encodes the options with the family's configuration under its key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(directory, forKey: .directory)
        switch architecture {
        case .bert(let bert):
            try c.encode(bert, forKey: .bert)
        case .vit(let vit, let normalization):
            try c.encode(vit, forKey: .vit)
            try c.encode(normalization, forKey: .imageNormalization)
        case .debertaV2(let deberta, let head):
            try c.encode(deberta, forKey: .debertaV2)
            try c.encode(head, forKey: .debertaV2Head)
        }
        try c.encode(labels, forKey: .labels)
        try c.encode(freezeEncoder, forKey: .freezeEncoder)
        try c.encodeIfPresent(segmentSeparatorID, forKey: .segmentSeparatorID)
        try c.encodeIfPresent(positionExtension, forKey: .positionExtension)
        try c.encodeIfPresent(trainedPositions, forKey: .trainedPositions)
    }
}

extension PretrainedInitialization {
    /// The error for building a `family` model from a folder of another family.
    func wrongFamily(_ family: String) -> PretrainedModelError {
        .invalidInput(
            "\(directory) is a \(architecture.modelType) folder; a \(family) cannot be built "
                + "from it")
    }
}

extension BertSequenceClassifier {
    /// The classifier that `configuration` (mechanism, classes, seed) and its `pretrained` part
    /// (a BERT) describe, with random weights until `loadPretrained` or a run's model file fills
    /// them.
    public convenience init(
        _ configuration: ModelConfiguration, pretrained: PretrainedInitialization
    ) throws {
        guard let bert = pretrained.bert else { throw pretrained.wrongFamily("BERT classifier") }
        try self.init(
            bert, classCount: configuration.classCount, mechanism: configuration.mixer,
            mixerConfiguration: configuration.mixerOptions,
            segmentSeparatorID: pretrained.segmentSeparatorID,
            freezeEncoder: pretrained.freezeEncoder, seed: configuration.seed)
    }
}

extension ViTClassifier {
    /// The image classifier that `configuration` (mechanism, classes, seed) and its `pretrained`
    /// part (a ViT) describe, with random weights until `loadPretrained` or a run's model file
    /// fills them. A mechanism that does not run between q/k/v projections (SPADE) is refused,
    /// since the folder's projections would have nothing to feed.
    public convenience init(
        _ configuration: ModelConfiguration, pretrained: PretrainedInitialization
    ) throws {
        guard case .vit(let vit, let normalization) = pretrained.architecture else {
            throw pretrained.wrongFamily("ViT image classifier")
        }
        for layer in 0..<vit.layerCount {
            _ = try Mechanisms.core(
                try configuration.mixerName(layer: layer),
                configuration: configuration.resolvedMixer)
        }
        try self.init(
            vit, classCount: configuration.classCount, mechanism: configuration.mixer,
            upperMechanism: configuration.upperMixer,
            mixerConfiguration: configuration.mixerOptions, normalization: normalization,
            freezeEncoder: pretrained.freezeEncoder, seed: configuration.seed)
    }
}
