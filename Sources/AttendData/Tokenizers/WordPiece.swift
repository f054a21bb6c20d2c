// WordPiece (Schuster & Nakajima 2012; Wu et al. 2016; BERT, Devlin et al. 2019): after basic
// tokenisation, each word is cut greedily into the longest vocabulary entries from the left, pieces
// after the first carrying the continuation prefix "##" ("unaffable" → un ##aff ##able). A word
// longer than 100 scalars, or with a remainder that no entry matches, becomes one [UNK].
// Special tokens written in the raw text ("[SEP]", "[MASK]"…) are found first, leftmost-longest and
// before any normalisation, and keep their own ids, as Hugging Face's added-token handling does.
// Encoding adds [CLS] … [SEP], truncates so the total fits a maximum length, pads a batch with
// [PAD] and marks real tokens in an attention mask.
// Loading from vocab.txt, tokenizer.json or a model folder: WordPieceLoading.swift.
import AttendCore

/// A BERT WordPiece tokenizer.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(directory: "all-MiniLM-L6-v2")
/// tokenizer.encode("The quick brown fox.")          // [101, 1996, 4248, 2829, 4419, 1012, 102]
/// let batch = tokenizer.encode(["a", "b c"], maximumLength: 256)   // padded ids + mask
/// ```
public struct WordPieceTokenizer: Sendable {
    /// Token strings by id.
    public let vocabulary: [String]
    /// Normalisation and word splitting.
    public let basic: BasicTokenizer
    /// Prefix of pieces that continue a word ("##").
    public let continuationPrefix: String
    /// Words with more scalars than this become [UNK] (BERT: 100).
    public let maximumCharactersPerWord: Int
    /// Tokens matched verbatim in the raw text, before normalisation.
    public let specialTokens: [String]
    /// Ids of the unknown, classifier, separator and padding tokens.
    public let unknownID: Int, classifierID: Int, separatorID: Int, paddingID: Int

    let ids: [String: Int]
    /// Longest vocabulary entry in scalars: no longer piece can match, so the search starts there.
    let longestEntry: Int
    let specialScalars: [[Unicode.Scalar]]

    /// A tokenizer over `vocabulary` (token strings in id order).
    ///
    /// Throws `TokenizerError.missingSpecialToken` when [UNK], [CLS], [SEP] or [PAD] (under the
    /// names given) is not in the vocabulary. `specialTokens` defaults to those four plus "[MASK]"
    /// where present.
    public init(
        vocabulary: [String], basic: BasicTokenizer = BasicTokenizer(),
        unknownToken: String = "[UNK]",
        classifierToken: String = "[CLS]", separatorToken: String = "[SEP]",
        paddingToken: String = "[PAD]",
        continuationPrefix: String = "##", maximumCharactersPerWord: Int = 100,
        specialTokens: [String]? = nil
    ) throws {
        var ids: [String: Int] = [:]
        ids.reserveCapacity(vocabulary.count)
        // a repeated entry: the last id wins
        for (id, token) in vocabulary.enumerated() { ids[token] = id }
        func id(_ token: String, _ role: String) throws -> Int {
            guard let id = ids[token] else {
                throw TokenizerError.missingSpecialToken(token, role: role)
            }
            return id
        }
        unknownID = try id(unknownToken, "unknown")
        classifierID = try id(classifierToken, "classifier")
        separatorID = try id(separatorToken, "separator")
        paddingID = try id(paddingToken, "padding")
        let defaults = [paddingToken, unknownToken, classifierToken, separatorToken, "[MASK]"]
        let specials = (specialTokens ?? defaults.filter { ids[$0] != nil }).filter { !$0.isEmpty }
        for token in specials where ids[token] == nil {
            throw TokenizerError.missingSpecialToken(token, role: "special")
        }
        self.vocabulary = vocabulary
        self.ids = ids
        self.basic = basic
        self.continuationPrefix = continuationPrefix
        self.maximumCharactersPerWord = maximumCharactersPerWord
        self.specialTokens = specials
        specialScalars = specials.map { Array($0.unicodeScalars) }
        longestEntry = vocabulary.map(\.unicodeScalars.count).max() ?? 0
    }

    /// The id of `token`, nil when it is not in the vocabulary.
    public func id(of token: String) -> Int? { ids[token] }

    /// The token string of `id`.
    public func token(of id: Int) -> String { vocabulary[id] }

    /// The WordPiece ids of `text`, without [CLS]/[SEP].
    public func tokenIDs(_ text: String) -> [Int] {
        var result: [Int] = []
        for piece in splitSpecialTokens(text) {
            switch piece {
            case .special(let id): result.append(id)
            case .text(let range):
                for word in basic.words(text[range]) { appendPieces(of: word, to: &result) }
            }
        }
        return result
    }

    /// The WordPiece token strings of `text`, without [CLS]/[SEP].
    public func tokenize(_ text: String) -> [String] { tokenIDs(text).map { vocabulary[$0] } }

    /// [CLS] ids [SEP] for one text. With `maximumLength` (which counts [CLS] and [SEP]), the
    /// WordPiece ids are cut at `maximumLength − 2`.
    public func encode(_ text: String, maximumLength: Int? = nil) throws -> [Int] {
        var pieces = tokenIDs(text)
        if let maximumLength {
            guard maximumLength >= 2 else {
                throw TokenizerError.maximumLengthTooSmall(maximumLength)
            }
            if pieces.count > maximumLength - 2 {
                pieces.removeLast(pieces.count - (maximumLength - 2))
            }
        }
        return [classifierID] + pieces + [separatorID]
    }

    /// Encodes every text, truncates to `maximumLength` and pads to the longest text of the batch
    /// (or to `padding`'s fixed length) with [PAD].
    public func encode(_ texts: [String], maximumLength: Int? = nil, padding: Padding = .longest)
        throws
        -> TokenizedBatch
    {
        let sequences = try texts.map { try encode($0, maximumLength: maximumLength) }
        return try TokenizedBatch(sequences: sequences, padding: padding, paddingID: paddingID)
    }

    /// Greedy longest-match-first pieces of one word, or [UNK] for the whole word.
    func appendPieces(of word: ArraySlice<Unicode.Scalar>, to result: inout [Int]) {
        guard word.count <= maximumCharactersPerWord else {
            result.append(unknownID)
            return
        }
        let firstNew = result.count
        var start = word.startIndex
        while start < word.endIndex {
            var end = Swift.min(word.endIndex, start + longestEntry)
            var found: Int?
            while start < end {
                var candidate = start == word.startIndex ? "" : continuationPrefix
                candidate.unicodeScalars.append(contentsOf: word[start..<end])
                if let id = ids[candidate] {
                    found = id
                    break
                }
                end -= 1
            }
            guard let id = found else {
                result.removeLast(result.count - firstNew)
                result.append(unknownID)
                return
            }
            result.append(id)
            start = end
        }
    }

    /// A stretch of raw text: ordinary text to tokenize, or a special token written out.
    enum Piece {
        case text(Range<String.Index>)
        case special(Int)
    }

    /// Splits the raw text at special tokens, leftmost match first and the longest one there.
    func splitSpecialTokens(_ text: String) -> [Piece] {
        guard !specialScalars.isEmpty else { return [.text(text.startIndex..<text.endIndex)] }
        let scalars = text.unicodeScalars
        var pieces: [Piece] = []
        var segmentStart = scalars.startIndex
        var i = scalars.startIndex
        while i < scalars.endIndex {
            var best: (length: Int, token: Int, end: String.Index)?
            for (t, special) in specialScalars.enumerated() where special.first == scalars[i] {
                var j = i
                var matched = true
                for s in special {
                    guard j < scalars.endIndex, scalars[j] == s else {
                        matched = false
                        break
                    }
                    j = scalars.index(after: j)
                }
                if matched && special.count > (best?.length ?? 0) { best = (special.count, t, j) }
            }
            if let best {
                if segmentStart < i { pieces.append(.text(segmentStart..<i)) }
                pieces.append(.special(ids[specialTokens[best.token]]!))
                i = best.end
                segmentStart = i
            } else {
                i = scalars.index(after: i)
            }
        }
        if segmentStart < scalars.endIndex { pieces.append(.text(segmentStart..<scalars.endIndex)) }
        return pieces
    }
}

/// Token ids of several texts, padded into one rectangle.
public struct TokenizedBatch: Sendable {
    /// Each text's ids, unpadded ([CLS] … [SEP]).
    public let sequences: [[Int]]
    /// [b, n] ids, padded with [PAD].
    public let ids: Indices
    /// [b, n], 1 for real tokens and 0 for padding.
    public let attentionMask: Tensor
    /// [b, n] segment ids: all 0 for single texts.
    public let tokenTypeIDs: Indices

    /// Pads `sequences` with `paddingID` (`.fixed` lengths must hold every sequence: the tokenizer
    /// truncates, padding never does).
    public init(sequences: [[Int]], padding: Padding = .longest, paddingID: Int) throws {
        let longest = sequences.map(\.count).max() ?? 0
        let width = padding.width(longest: longest)
        if longest > width {
            throw TokenizerError.sequenceLongerThanPadding(longest, padding: width)
        }
        let padded = Batch.pad(sequences, padding: padding, padID: paddingID)
        self.sequences = sequences
        ids = padded.ids
        attentionMask = padded.mask
        tokenTypeIDs = Indices(shape: ids.shape, values: [Int](repeating: 0, count: ids.count))
    }

    /// Number of texts b.
    public var count: Int { sequences.count }
    /// Padded length n.
    public var length: Int { ids.shape[1] }
    /// Real tokens per text.
    public var lengths: [Int] { sequences.map(\.count) }
}
