// SentencePiece's model file (`spm.model`, the serialised `ModelProto` of
// google/sentencepiece's sentencepiece_model.proto), decoded with the fields encoding needs:
//   1 pieces (repeated): 1 piece (string), 2 score (float), 3 type (NORMAL 1, UNKNOWN 2,
//     CONTROL 3, USER_DEFINED 4, UNUSED 5, BYTE 6)
//   2 trainer_spec: 3 model_type (UNIGRAM 1, BPE 2, WORD 3, CHAR 4), 24
//     treat_whitespace_as_suffix, 35 byte_fallback
//   3 normalizer_spec: 1 name, 2 precompiled_charsmap, 3 add_dummy_prefix, 4
//     remove_extra_whitespaces, 5 escape_whitespaces
// Absent fields take the proto's defaults (proto2: a Unigram model, the three whitespace switches
// on). Other fields (training options, self-test data, the denormaliser) are skipped. The checks
// are sentencepiece's own when it loads a model: pieces non-empty and distinct, exactly one
// UNKNOWN piece; a model type other than Unigram, or whitespace as a suffix, is refused by name.
import Foundation

/// The kind of a SentencePiece vocabulary entry.
public enum SentencePieceType: Int, Sendable {
    /// An ordinary piece, matched in text with its score.
    case normal = 1
    /// The unknown piece (exactly one per model).
    case unknown = 2
    /// A control symbol ([CLS], [SEP], [PAD]…), never matched in text.
    case control = 3
    /// A user-defined symbol, always kept whole where it occurs in text.
    case userDefined = 4
    /// An entry that encoding never produces.
    case unused = 5
    /// A byte piece `<0x00>`…`<0xFF>` for byte fallback.
    case byte = 6
}

/// A SentencePiece model file's vocabulary, model type and normalisation.
public struct SentencePieceModel: Sendable {
    /// One vocabulary entry: its UTF-8 bytes, log-probability score and kind.
    public struct Piece: Sendable, Equatable {
        /// The piece's text as UTF-8 bytes (whitespace written as U+2581 "▁").
        public var bytes: [UInt8]
        /// The unigram log-probability (higher is likelier).
        public var score: Float
        /// The entry's kind.
        public var type: SentencePieceType
    }

    /// The vocabulary in id order.
    public var pieces: [Piece] = []
    /// Whether characters no piece covers are spelled as byte pieces instead of the unknown id.
    public var byteFallback = false
    /// The normalisation rule's name (`nmt_nfkc`, `identity`…), for messages.
    public var normalizerName = ""
    /// The compiled normalisation table (empty: text is kept as written).
    public var precompiledCharsmap: [UInt8] = []
    /// Whether a space is put before the text, so its first word is spelled like the others.
    public var addDummyPrefix = true
    /// Whether leading, trailing and repeated spaces are removed.
    public var removeExtraWhitespaces = true
    /// Whether spaces are written as U+2581 "▁".
    public var escapeWhitespaces = true

    /// The model in the file at `path`.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError.unreadableFile(path: path, reason: "no such file or not readable")
        }
        try self.init(bytes: [UInt8](data), path: path)
    }

    /// The model serialised in `bytes`; `path` names the file in errors.
    public init(bytes: [UInt8], path: String) throws {
        do throws(ProtobufError) {
            try decode(bytes[...])
        } catch {
            throw TokenizerError.malformedSentencePieceModel(path: path, problem: error.problem)
        }
        try check(path: path)
    }

    private var modelType: UInt64 = 1
    private var whitespaceAsSuffix = false

    private mutating func decode(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) {
        var message = ProtobufReader(bytes)
        while let field = try message.next() {
            let value = field.value
            switch field.number {
            case 1: pieces.append(try Self.piece(value.data("pieces[\(pieces.count)]")))
            case 2: try decodeTrainerSpec(value.data("trainer_spec"))
            case 3: try decodeNormalizerSpec(value.data("normalizer_spec"))
            default: continue
            }
        }
    }

    private static func piece(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) -> Piece {
        var piece = Piece(bytes: [], score: 0, type: .normal)
        var message = ProtobufReader(bytes)
        while let field = try message.next() {
            let value = field.value
            switch field.number {
            case 1: piece.bytes = Array(try value.data("piece"))
            case 2: piece.score = try value.float("score")
            case 3:
                let code = try value.integer("type")
                guard let type = SentencePieceType(rawValue: Int(truncatingIfNeeded: code)),
                    code <= 6
                else {
                    throw ProtobufError(problem: "piece type \(code) is not one of 1…6")
                }
                piece.type = type
            default: continue
            }
        }
        return piece
    }

    private mutating func decodeTrainerSpec(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) {
        var message = ProtobufReader(bytes)
        while let field = try message.next() {
            let value = field.value
            switch field.number {
            case 3: modelType = try value.integer("trainer_spec.model_type")
            case 24:
                whitespaceAsSuffix = try value.integer("treat_whitespace_as_suffix") != 0
            case 35: byteFallback = try value.integer("trainer_spec.byte_fallback") != 0
            default: continue
            }
        }
    }

    private mutating func decodeNormalizerSpec(_ bytes: ArraySlice<UInt8>) throws(ProtobufError) {
        var message = ProtobufReader(bytes)
        while let field = try message.next() {
            let value = field.value
            switch field.number {
            case 1:
                let name = try value.data("normalizer_spec.name")
                normalizerName = String(decoding: name, as: UTF8.self)
            case 2: precompiledCharsmap = Array(try value.data("precompiled_charsmap"))
            case 3: addDummyPrefix = try value.integer("add_dummy_prefix") != 0
            case 4: removeExtraWhitespaces = try value.integer("remove_extra_whitespaces") != 0
            case 5: escapeWhitespaces = try value.integer("escape_whitespaces") != 0
            default: continue
            }
        }
    }

    /// Sentencepiece's own checks when it loads a model, and what this implementation encodes.
    private func check(path: String) throws {
        let types = [1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"]
        guard modelType == 1 else {
            throw TokenizerError.unsupportedSentencePiece(
                path: path,
                feature: "model_type \(types[Int(truncatingIfNeeded: modelType)] ?? "\(modelType)")"
            )
        }
        guard !whitespaceAsSuffix else {
            throw TokenizerError.unsupportedSentencePiece(
                path: path, feature: "treat_whitespace_as_suffix")
        }
        guard !pieces.isEmpty else {
            throw TokenizerError.malformedSentencePieceModel(path: path, problem: "no pieces")
        }
        var seen: Set<[UInt8]> = []
        for (id, piece) in pieces.enumerated() {
            guard !piece.bytes.isEmpty else {
                throw TokenizerError.malformedSentencePieceModel(
                    path: path, problem: "piece \(id) is empty")
            }
            guard seen.insert(piece.bytes).inserted else {
                throw TokenizerError.malformedSentencePieceModel(
                    path: path,
                    problem: "piece \(id) '\(String(decoding: piece.bytes, as: UTF8.self))' "
                        + "is defined twice")
            }
        }
        let unknown = pieces.indices.filter { pieces[$0].type == .unknown }
        guard unknown.count == 1 else {
            throw TokenizerError.malformedSentencePieceModel(
                path: path,
                problem: "\(unknown.count) pieces have type UNKNOWN; a model needs exactly one")
        }
    }
}
