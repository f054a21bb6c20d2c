// Building a WordPiece tokenizer from the files a BERT checkpoint ships:
// - vocab.txt: one token per line, the line number is the id (google-research/bert's format), with
//   the casing options from tokenizer_config.json (`do_lower_case`, `strip_accents`,
//   `tokenize_chinese_chars`) when the folder has one;
// - tokenizer.json (Hugging Face `tokenizers`): the WordPiece model's vocabulary, unknown token,
//   prefix and word limit, the BertNormalizer's switches, the added tokens (matched verbatim in the
//   raw text), the [CLS]/[SEP] of the post-processor and the padding token.
// Anything else in tokenizer.json (another model, normaliser or pre-tokeniser) is refused by name
// rather than approximated.
import Foundation

extension WordPieceTokenizer {
    /// A tokenizer from a vocab.txt file.
    public init(vocabularyFile path: String, basic: BasicTokenizer = BasicTokenizer()) throws {
        try self.init(vocabularyText: try readText(path), basic: basic)
    }

    /// A tokenizer from the text of a vocab.txt file.
    init(vocabularyText text: String, basic: BasicTokenizer = BasicTokenizer()) throws {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(vocabulary: lines, basic: basic)
    }

    /// A tokenizer from a Hugging Face tokenizer.json holding a WordPiece model.
    public init(tokenizerFile path: String) throws {
        try self.init(tokenizerJSON: Data(try readText(path).utf8), path: path)
    }

    /// A tokenizer from the contents of a tokenizer.json file; `path` names it in errors.
    init(tokenizerJSON data: Data, path: String) throws {
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TokenizerError.malformedTokenizerJSON(path: path, problem: "not a JSON object")
        }
        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError.malformedTokenizerJSON(path: path, problem: "no \"model\" object")
        }
        let modelType = model["type"] as? String ?? "(none)"
        guard modelType == "WordPiece" else {
            throw TokenizerError.unsupported(path: path, component: "model", type: modelType)
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError.malformedTokenizerJSON(
                path: path, problem: "model.vocab is not a token → id object")
        }
        var tokensByID: [Int: String] = [:]
        for (token, value) in vocab {
            guard let id = (value as? NSNumber)?.intValue, id >= 0 else {
                throw TokenizerError.malformedTokenizerJSON(
                    path: path, problem: "model.vocab[\"\(token)\"] is not an id")
            }
            tokensByID[id] = token
        }
        let vocabulary = try (0..<vocab.count).map { id in
            guard let token = tokensByID[id] else {
                throw TokenizerError.vocabularyIDsNotDense(
                    path: path, missing: id, count: vocab.count)
            }
            return token
        }
        let basic = try Self.basicTokenizer(root, path: path)
        var classifier = "[CLS]", separator = "[SEP]"
        if let post = root["post_processor"] as? [String: Any] {
            (classifier, separator) = Self.classifierAndSeparator(post) ?? (classifier, separator)
        }
        let padding = (root["padding"] as? [String: Any])?["pad_token"] as? String ?? "[PAD]"
        let added = (root["added_tokens"] as? [[String: Any]] ?? []).compactMap {
            $0["content"] as? String
        }
        try self.init(
            vocabulary: vocabulary, basic: basic,
            unknownToken: model["unk_token"] as? String ?? "[UNK]", classifierToken: classifier,
            separatorToken: separator, paddingToken: padding,
            continuationPrefix: model["continuing_subword_prefix"] as? String ?? "##",
            maximumCharactersPerWord: (model["max_input_chars_per_word"] as? NSNumber)?.intValue
                ?? 100,
            specialTokens: added.isEmpty ? nil : added)
    }

    /// The tokenizer of a model folder: tokenizer.json when present, else vocab.txt (with the
    /// casing options of tokenizer_config.json, uncased when it is absent).
    public init(directory: String) throws {
        let folder = URL(fileURLWithPath: directory)
        let json = folder.appendingPathComponent("tokenizer.json").path
        let vocab = folder.appendingPathComponent("vocab.txt").path
        if FileManager.default.fileExists(atPath: json) {
            try self.init(tokenizerFile: json)
        } else if FileManager.default.fileExists(atPath: vocab) {
            let configPath = folder.appendingPathComponent("tokenizer_config.json").path
            var basic = BasicTokenizer()
            if let data = FileManager.default.contents(atPath: configPath),
                let config = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
            {
                let lowercases = config["do_lower_case"] as? Bool ?? true
                basic = BasicTokenizer(
                    lowercases: lowercases, stripsAccents: config["strip_accents"] as? Bool,
                    splitsCJKCharacters: config["tokenize_chinese_chars"] as? Bool ?? true)
            }
            try self.init(vocabularyFile: vocab, basic: basic)
        } else {
            throw TokenizerError.noTokenizerFiles(directory: directory)
        }
    }

    /// The basic tokenizer tokenizer.json's normaliser and pre-tokeniser describe.
    static func basicTokenizer(_ root: [String: Any], path: String) throws -> BasicTokenizer {
        if let pre = root["pre_tokenizer"] as? [String: Any] {
            let type = pre["type"] as? String ?? "(none)"
            guard type == "BertPreTokenizer" else {
                throw TokenizerError.unsupported(path: path, component: "pre_tokenizer", type: type)
            }
        } else {
            throw TokenizerError.unsupported(path: path, component: "pre_tokenizer", type: "null")
        }
        guard let normalizer = root["normalizer"] as? [String: Any] else {
            return BasicTokenizer(
                lowercases: false, stripsAccents: false, cleansText: false,
                splitsCJKCharacters: false)
        }
        let type = normalizer["type"] as? String ?? "(none)"
        guard type == "BertNormalizer" else {
            throw TokenizerError.unsupported(path: path, component: "normalizer", type: type)
        }
        let lowercases = normalizer["lowercase"] as? Bool ?? true
        return BasicTokenizer(
            lowercases: lowercases, stripsAccents: normalizer["strip_accents"] as? Bool,
            cleansText: normalizer["clean_text"] as? Bool ?? true,
            splitsCJKCharacters: normalizer["handle_chinese_chars"] as? Bool ?? true)
    }

    /// [CLS] and [SEP] of a BertProcessing or TemplateProcessing post-processor.
    static func classifierAndSeparator(_ post: [String: Any]) -> (String, String)? {
        switch post["type"] as? String {
        case "BertProcessing":
            guard let cls = (post["cls"] as? [Any])?.first as? String,
                let sep = (post["sep"] as? [Any])?.first as? String
            else { return nil }
            return (cls, sep)
        case "TemplateProcessing":
            let specials = (post["single"] as? [[String: Any]] ?? []).compactMap {
                ($0["SpecialToken"] as? [String: Any])?["id"] as? String
            }
            guard let first = specials.first, let last = specials.last, specials.count >= 2 else {
                return nil
            }
            return (first, last)
        default:
            return nil
        }
    }
}

/// The UTF-8 text of a file, or `TokenizerError.unreadableFile`.
func readText(_ path: String) throws -> String {
    guard let data = FileManager.default.contents(atPath: path) else {
        throw TokenizerError.unreadableFile(path: path, reason: "no such file or not readable")
    }
    guard let text = String(data: data, encoding: .utf8) else {
        throw TokenizerError.unreadableFile(path: path, reason: "not UTF-8 text")
    }
    return text
}
