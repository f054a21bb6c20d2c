// How a run reads a user's own data: the files, their format, which fields hold the texts and the
// label, how validation is split off, the tokenizer and the label map. Saved with the run (inside
// config.json's task options), so `attend eval` and `attend predict` read new files exactly as
// training read its own.
import Foundation

/// The file formats a user's data may come in.
public enum DataFormat: String, Codable, Sendable, CaseIterable {
    /// One JSON object per line.
    case jsonl
    /// Comma-separated values with a header (RFC 4180 quoting).
    case csv
    /// Tab-separated values with a header (the same quoting).
    case tsv
    /// Plain text (a file or a folder of them) for byte-level language modelling.
    case text
    /// A folder with one sub-folder of PNG or PGM images per class.
    case images
    /// An IDX images file (MNIST layout) with its labels file beside it.
    case idx

    /// The format a path's extension implies (a folder: images), or nil.
    public static func inferred(from path: String, isDirectory: Bool) -> DataFormat? {
        if isDirectory { return .images }
        var name = path.split(separator: "/").last.map(String.init) ?? path
        if name.hasSuffix(".gz") { name.removeLast(3) }
        if name.contains("-idx") || name.hasSuffix(".idx") { return .idx }
        let suffix = name.split(separator: ".").count > 1 ? name.split(separator: ".").last! : ""
        switch suffix.lowercased() {
        case "jsonl", "ndjson": return .jsonl
        case "csv": return .csv
        case "tsv", "tab": return .tsv
        case "txt", "text": return .text
        default: return nil
        }
    }

    /// True for the image formats (a folder per class, IDX files).
    public var isImages: Bool { self == .images || self == .idx }

    /// True for the formats whose records carry named text and label fields.
    public var hasFields: Bool { self == .jsonl || self == .csv || self == .tsv }
}

/// Which fields of a JSON line or CSV/TSV column hold the texts and the label.
public struct FieldNames: Codable, Sendable, Equatable {
    /// The (first) text.
    public var text: String
    /// The second text of a pair task (two-tower model); nil for single-text classification.
    public var pair: String?
    /// The label.
    public var label: String

    enum CodingKeys: String, CodingKey { case text, pair, label }

    /// Field names; the defaults are `text` and `label`.
    public init(text: String = "text", pair: String? = nil, label: String = "label") {
        self.text = text
        self.pair = pair
        self.label = label
    }
}

/// The tokenizer a run turns texts into ids with; saved with the run so predictions use it too.
public struct TokenizerConfiguration: Codable, Sendable, Equatable {
    /// The tokenizer family: `bytes`, or `wordpiece` or `sentencepiece` (a pretrained folder's,
    /// for fine-tuning).
    public var kind: String
    /// The folder holding a `wordpiece` tokenizer's files (tokenizer.json or vocab.txt) or a
    /// `sentencepiece` one's (spm.model, tokenizer_config.json).
    public var directory: String?

    /// The tokenizer of family `kind` (checked when it is made).
    public init(kind: String, directory: String? = nil) {
        self.kind = kind
        self.directory = directory
    }

    /// Byte-level tokens (id = byte + 1, 0 = padding), for models trained from scratch.
    public static let bytes = TokenizerConfiguration(kind: "bytes")
    /// The WordPiece tokenizer of the model folder `directory`: [CLS] pieces [SEP] per text.
    public static func wordPiece(directory: String) -> TokenizerConfiguration {
        TokenizerConfiguration(kind: "wordpiece", directory: directory)
    }
    /// The SentencePiece tokenizer of the model folder `directory` (spm.model): [CLS] pieces [SEP]
    /// per text.
    public static func sentencePiece(directory: String) -> TokenizerConfiguration {
        TokenizerConfiguration(kind: "sentencepiece", directory: directory)
    }
    /// The tokenizer of the pretrained model folder `directory`: SentencePiece when it holds an
    /// spm.model (DeBERTa-v2/v3), else WordPiece.
    public static func pretrained(directory: String) -> TokenizerConfiguration {
        let model = URL(fileURLWithPath: directory)
            .appendingPathComponent(SentencePieceTextTokenizer.fileName).path
        return FileManager.default.fileExists(atPath: model)
            ? .sentencePiece(directory: directory) : .wordPiece(directory: directory)
    }
    /// The tokenizer kinds `--tokenizer` offers (`wordpiece` comes with `--init-from`).
    public static let kinds = ["bytes"]

    /// The tokenizer this configuration names.
    public func make() throws(DataError) -> any TextTokenizer {
        switch kind {
        case "bytes": return ByteLevelTokenizer()
        case "wordpiece" where directory != nil:
            return try WordPieceTextTokenizer(directory: directory!)
        case "sentencepiece" where directory != nil:
            return try SentencePieceTextTokenizer(directory: directory!)
        default:
            throw DataError.invalidConfiguration(
                task: "data",
                reason: "unknown tokenizer '\(kind)'; known: \(Self.kinds.joined(separator: ", "))")
        }
    }
}

/// A user's data set: files, format, fields, split and tokenizer.
public struct UserDataConfiguration: Codable, Sendable, Equatable {
    /// How the files are read.
    public var format: DataFormat
    /// The training file (or folder).
    public var train: String
    /// A validation file; nil: `validationFraction` of the training records, chosen by `seed`.
    public var validation: String?
    /// A test file; nil: no test split.
    public var test: String?
    /// Share of the training records held out for validation when there is no validation file.
    public var validationFraction: Double = 0.1
    /// Text and label fields (JSON lines, CSV, TSV).
    public var fields = FieldNames()
    /// Class names in label-id order; nil until the training file has been read.
    public var labels: [String]?
    /// Skip malformed records (and report how many) instead of stopping at the first.
    public var skipBadLines = false
    /// How texts become token ids.
    public var tokenizer = TokenizerConfiguration.bytes
    /// Language modelling: bytes the model reads per example.
    public var windowLength = 256
    /// Seed of the validation split and of training windows.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case format, train, validation, test, fields, labels, tokenizer, seed
        case validationFraction = "validation_fraction"
        case skipBadLines = "skip_bad_lines"
        case windowLength = "window_length"
    }

    /// Data read from `train` in `format`.
    public init(format: DataFormat, train: String) {
        self.format = format
        self.train = train
    }

    /// Decodes a data set: `format` and `train` are required, every other key keeps its default.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            format: try c.decode(DataFormat.self, forKey: .format),
            train: try c.decode(String.self, forKey: .train))
        try c.override(&validation, .validation)
        try c.override(&test, .test)
        try c.override(&validationFraction, .validationFraction)
        try c.override(&fields, .fields)
        try c.override(&labels, .labels)
        try c.override(&skipBadLines, .skipBadLines)
        try c.override(&tokenizer, .tokenizer)
        try c.override(&windowLength, .windowLength)
        try c.override(&seed, .seed)
    }
}
