// The part of a run's model configuration that says it was fine-tuned from a Hugging Face folder:
// the folder (read once, when training starts), its config.json as parsed, the labels, whether the
// encoder is frozen and how text pairs are segmented. Stored inside `ModelConfiguration`, so a
// run's config.json alone rebuilds the model's shape for `attend eval`, `--resume` and
// `attend export`, without the original folder.
import AttendAttention
import Foundation

/// Fine-tuning from a pretrained checkpoint: what the model is built from.
public struct PretrainedInitialization: Codable, Sendable, Equatable {
    /// The Hugging Face model folder the encoder weights come from.
    public var directory: String
    /// Its config.json.
    public var bert: BertConfiguration
    /// The class names in label order (exported as `id2label`).
    public var labels: [String]
    /// Train only the classifier, keeping the pretrained encoder fixed.
    public var freezeEncoder = false
    /// The [SEP] id splitting text pairs ([CLS] a [SEP] b [SEP]) into segments 0 and 1; nil when
    /// every example is one text.
    public var segmentSeparatorID: Int?
    /// How the folder's position table was grown to `bert.maximumPositions` rows; nil when the
    /// run uses the folder's own table.
    public var positionExtension: PositionExtension?
    /// The rows of the folder's own position table when it was grown, else nil.
    public var trainedPositions: Int?

    /// A fine-tuning of the folder `directory` whose config.json is `bert`.
    public init(directory: String, bert: BertConfiguration, labels: [String]) {
        self.directory = directory
        self.bert = bert
        self.labels = labels
    }

    enum CodingKeys: String, CodingKey {
        case directory, bert, labels
        case freezeEncoder = "freeze_encoder"
        case segmentSeparatorID = "segment_separator_id"
        case positionExtension = "position_extension", trainedPositions = "trained_positions"
    }

    /// Decodes the options: `directory`, `bert` and `labels` are required, the rest keep their
    /// defaults.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            directory: try c.decode(String.self, forKey: .directory),
            bert: try c.decode(BertConfiguration.self, forKey: .bert),
            labels: try c.decode([String].self, forKey: .labels))
        try c.override(&freezeEncoder, .freezeEncoder)
        try c.override(&segmentSeparatorID, .segmentSeparatorID)
        try c.override(&positionExtension, .positionExtension)
        try c.override(&trainedPositions, .trainedPositions)
    }
}

extension BertSequenceClassifier {
    /// The classifier that `configuration` (mechanism, classes, seed) and its `pretrained` part
    /// describe, with random weights until `loadPretrained` or a run's model file fills them.
    public convenience init(
        _ configuration: ModelConfiguration, pretrained: PretrainedInitialization
    ) throws {
        try self.init(
            pretrained.bert, classCount: configuration.classCount, mechanism: configuration.mixer,
            mixerConfiguration: configuration.mixerOptions,
            segmentSeparatorID: pretrained.segmentSeparatorID,
            freezeEncoder: pretrained.freezeEncoder, seed: configuration.seed)
    }
}
