// Why a tokenizer could not be loaded or could not encode a request; each case carries what the user
// needs to fix it (the file, the field, the token).

/// A tokenizer loading or encoding failure.
public enum TokenizerError: Error, CustomStringConvertible, Equatable {
    /// A file could not be read.
    case unreadableFile(path: String, reason: String)
    /// A folder holds neither tokenizer.json nor vocab.txt.
    case noTokenizerFiles(directory: String)
    /// tokenizer.json is not valid JSON or lacks a required field.
    case malformedTokenizerJSON(path: String, problem: String)
    /// tokenizer.json describes a tokenizer this library does not implement.
    case unsupported(path: String, component: String, type: String)
    /// The vocabulary's ids are not 0..<count.
    case vocabularyIDsNotDense(path: String, missing: Int, count: Int)
    /// A token the tokenizer needs is not in the vocabulary.
    case missingSpecialToken(String, role: String)
    /// The maximum length cannot hold [CLS] and [SEP].
    case maximumLengthTooSmall(Int)
    /// A sequence is longer than the padding length.
    case sequenceLongerThanPadding(Int, padding: Int)
    /// A SentencePiece model file is corrupt or inconsistent.
    case malformedSentencePieceModel(path: String, problem: String)
    /// A SentencePiece model uses a feature this library does not implement.
    case unsupportedSentencePiece(path: String, feature: String)

    /// One line naming the file or token at fault.
    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            return "cannot read \(path): \(reason)"
        case .noTokenizerFiles(let directory):
            return "\(directory) holds neither tokenizer.json nor vocab.txt"
        case .malformedTokenizerJSON(let path, let problem):
            return "\(path) is not a usable tokenizer.json: \(problem)"
        case .unsupported(let path, let component, let type):
            // A SentencePiece tokenizer.json is read from the spm.model it was converted from.
            let hint = type == "Unigram" ? "; put the model's spm.model beside it" : ""
            return
                "\(path): \(component) of type '\(type)' is not supported (WordPiece with BertNormalizer and BertPreTokenizer is\(hint))"
        case .vocabularyIDsNotDense(let path, let missing, let count):
            return
                "\(path): the vocabulary of \(count) tokens has no token with id \(missing); ids must be 0..<\(count)"
        case .missingSpecialToken(let token, let role):
            return "the \(role) token '\(token)' is not in the vocabulary"
        case .maximumLengthTooSmall(let length):
            return "maximum length \(length) cannot hold [CLS] and [SEP]; use at least 2"
        case .sequenceLongerThanPadding(let length, let padding):
            return "a sequence of \(length) tokens is longer than the padding length \(padding)"
        case .malformedSentencePieceModel(let path, let problem):
            return "\(path) is not a usable SentencePiece model: \(problem)"
        case .unsupportedSentencePiece(let path, let feature):
            return "\(path): SentencePiece \(feature) is not supported (Unigram models are)"
        }
    }
}
