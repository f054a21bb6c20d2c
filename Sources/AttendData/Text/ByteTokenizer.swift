// Byte-level tokens, as LRA's text tasks use (tfds ByteTextEncoder): every byte is its own token,
// shifted past the reserved padding id. LRA reserves two ids (pad, end); Attend needs only
// padding, so id = byte + 1 and the vocabulary has 257 entries.

/// Bytes ↔ token ids with id 0 reserved for padding.
public enum ByteTokenizer {
    /// 256 byte values plus padding.
    public static let vocabularySize = 257
    /// The padding id.
    public static let padID = 0

    /// Token ids of `bytes`.
    public static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> [Int] {
        bytes.map { Int($0) + 1 }
    }

    /// Token ids of a string's UTF-8 bytes.
    public static func encode(_ text: String) -> [Int] { encode(Array(text.utf8)) }

    /// The bytes of `ids`, skipping padding and any id outside the vocabulary.
    public static func decode(_ ids: [Int]) -> [UInt8] {
        ids.compactMap { $0 >= 1 && $0 <= 256 ? UInt8($0 - 1) : nil }
    }

    /// The text of `ids` (invalid UTF-8 replaced).
    public static func decodeText(_ ids: [Int]) -> String {
        String(decoding: decode(ids), as: UTF8.self)
    }
}
