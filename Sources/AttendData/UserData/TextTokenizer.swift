// The tokenizer of a task built from a user's texts: a choice saved with the run (see
// `TokenizerConfiguration`), so evaluation and prediction encode new texts exactly as training did.

/// Turns a text into token ids below `vocabularySize`, never producing `padID`.
public protocol TextTokenizer: Sendable {
    /// Rows of the token embedding.
    var vocabularySize: Int { get }
    /// The id padding uses.
    var padID: Int { get }
    /// The ids of `text`.
    func encode(_ text: String) -> [Int]
}

/// Byte-level tokens: every UTF-8 byte is one token (see `ByteTokenizer`).
public struct ByteLevelTokenizer: TextTokenizer {
    /// 256 bytes plus padding.
    public var vocabularySize: Int { ByteTokenizer.vocabularySize }
    /// 0.
    public var padID: Int { ByteTokenizer.padID }

    /// A byte-level tokenizer.
    public init() {}

    /// The byte + 1 of each UTF-8 byte of `text`.
    public func encode(_ text: String) -> [Int] { ByteTokenizer.encode(text) }
}
