// The SentencePiece tokenizer of a pretrained model folder (DeBERTa-v2/v3's spm.model) for a
// user's texts: each text becomes [CLS] pieces [SEP], as transformers' DebertaV2Tokenizer encodes
// one text. tokenizer_config.json, when present, may lower-case the text first (`do_lower_case`)
// and rename the special tokens (`cls_token`, `sep_token`, `pad_token`); `split_by_punct` is
// refused, since it is not implemented.
import Foundation

/// SentencePiece tokens of a model folder (spm.model), with [CLS] and [SEP].
public struct SentencePieceTextTokenizer: TextTokenizer {
    /// The folder's tokenizer.
    public let sentencePiece: SentencePieceTokenizer
    /// Whether texts are lower-cased before segmentation (`do_lower_case`).
    public let lowercases: Bool
    /// Ids of the classifier, separator and padding tokens.
    public let classifierID: Int, separatorID: Int, paddingID: Int

    /// The model file's name in a folder.
    public static let fileName = "spm.model"

    /// The tokenizer of the model folder `directory`.
    public init(directory: String) throws(DataError) {
        do {
            let folder = URL(fileURLWithPath: directory)
            let tokenizer = try SentencePieceTokenizer(
                modelFile: folder.appendingPathComponent(Self.fileName).path)
            let configPath = folder.appendingPathComponent("tokenizer_config.json").path
            var config: [String: Any] = [:]
            if let data = FileManager.default.contents(atPath: configPath) {
                guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
                else {
                    throw TokenizerError.unreadableFile(
                        path: configPath, reason: "not a JSON object")
                }
                config = object
            }
            if config["split_by_punct"] as? Bool == true {
                throw TokenizerError.unsupportedSentencePiece(
                    path: configPath, feature: "split_by_punct")
            }
            func id(_ key: String, default name: String) throws -> Int {
                // a plain string, or an added token {"content": …}
                let value = config[key]
                let token =
                    value as? String ?? (value as? [String: Any])?["content"] as? String ?? name
                guard let id = tokenizer.id(ofPiece: token) else {
                    throw TokenizerError.missingSpecialToken(token, role: key)
                }
                return id
            }
            (classifierID, separatorID, paddingID) = (
                try id("cls_token", default: "[CLS]"), try id("sep_token", default: "[SEP]"),
                try id("pad_token", default: "[PAD]")
            )
            lowercases = config["do_lower_case"] as? Bool ?? false
            sentencePiece = tokenizer
        } catch {
            throw DataError.invalidConfiguration(
                task: "data", reason: "tokenizer of \(directory): \(error)")
        }
    }

    /// The model's number of pieces.
    public var vocabularySize: Int { sentencePiece.pieceCount }
    /// [PAD]'s id.
    public var padID: Int { paddingID }

    /// [CLS] pieces [SEP].
    public func encode(_ text: String) -> [Int] {
        [classifierID] + sentencePiece.pieceIDs(lowercases ? text.lowercased() : text)
            + [separatorID]
    }
}
