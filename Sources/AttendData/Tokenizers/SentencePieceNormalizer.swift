// SentencePiece's normaliser (google/sentencepiece, normalizer.cc), byte for byte: the model's
// precompiled table maps the longest matching prefix of the remaining text to its replacement
// (for `nmt_nfkc`, DeBERTa-v2/v3's rule: NFKC plus the NMT clean-ups, e.g. control characters
// dropped and odd spaces made plain), user-defined symbols are kept as written, spaces become
// "▁", and the whitespace switches add a leading "▁" and drop leading, trailing and repeated
// spaces. Because the table itself is read, every rule a model was trained with is reproduced,
// whatever its name.
//
// The table is `uint32 size` + a darts-clone double-array trie of `size` bytes + the replacement
// strings, each ended by a NUL; a trie value is the offset of its replacement. The trie is walked
// with every index checked, so a corrupt table can only miss, never trap.

/// Text normalisation as a SentencePiece model describes it.
struct SentencePieceNormalizer: Sendable {
    /// The double array's units.
    private let units: [UInt32]
    /// The replacement strings, NUL-terminated.
    private let replacements: [UInt8]
    /// Symbols that are matched before normalisation and kept as written.
    private let userDefined: PieceTrie
    private let addDummyPrefix: Bool, removeExtraWhitespaces: Bool, escapeWhitespaces: Bool

    /// U+2581 "▁", SentencePiece's written space.
    static let spaceSymbol: [UInt8] = [0xE2, 0x96, 0x81]
    /// sentencepiece keeps at most this many prefix matches of the table (`kMaxTrieResultsSize`).
    private static let maximumMatches = 32

    /// The normaliser of `model`; `path` names the file in errors.
    init(_ model: SentencePieceModel, path: String) throws {
        let table = model.precompiledCharsmap
        if table.isEmpty {
            (units, replacements) = ([], [])
        } else {
            let size =
                table.count > 4
                ? Int(table[0]) | Int(table[1]) << 8 | Int(table[2]) << 16 | Int(table[3]) << 24
                : Int.max
            guard size < table.count - 4, size % 4 == 0 else {
                throw TokenizerError.malformedSentencePieceModel(
                    path: path,
                    problem: "the normalization table of rule '\(model.normalizerName)' is "
                        + "broken (its trie size exceeds the table)")
            }
            units = stride(from: 4, to: 4 + size, by: 4).map { i in
                UInt32(table[i]) | UInt32(table[i + 1]) << 8 | UInt32(table[i + 2]) << 16
                    | UInt32(table[i + 3]) << 24
            }
            replacements = Array(table[(4 + size)...])
        }
        userDefined = PieceTrie(
            model.pieces.enumerated().filter { $0.element.type == .userDefined }.map {
                ($0.element.bytes, $0.offset)
            })
        addDummyPrefix = model.addDummyPrefix
        removeExtraWhitespaces = model.removeExtraWhitespaces
        escapeWhitespaces = model.escapeWhitespaces
    }

    /// The normalised UTF-8 bytes of `text` (empty when it holds only spaces).
    func normalize(_ text: [UInt8]) -> [UInt8] {
        var position = 0
        if removeExtraWhitespaces {  // leading spaces
            while position < text.count {
                let (replacement, consumed) = normalizedPrefix(text, at: position)
                guard replacement.elementsEqual([0x20]) else { break }
                position += consumed
            }
        }
        guard position < text.count else { return [] }
        var output: [UInt8] = []
        output.reserveCapacity(text.count * 3 / 2 + 3)
        let space = escapeWhitespaces ? Self.spaceSymbol : [0x20]
        if addDummyPrefix { output += space }
        var previousIsSpace = removeExtraWhitespaces
        while position < text.count {
            let (replacement, consumed) = normalizedPrefix(text, at: position)
            var piece = replacement[...]
            if previousIsSpace { piece = piece.drop { $0 == 0x20 } }
            if let last = piece.last {
                for byte in piece {
                    if byte == 0x20 && escapeWhitespaces {
                        output += space
                    } else {
                        output.append(byte)
                    }
                }
                previousIsSpace = last == 0x20
            }
            position += consumed
            if !removeExtraWhitespaces { previousIsSpace = false }
        }
        if removeExtraWhitespaces {  // trailing spaces
            while output.count >= space.count && output.suffix(space.count).elementsEqual(space) {
                output.removeLast(space.count)
            }
        }
        return output
    }

    /// The replacement of the longest prefix of `text[position...]` and the bytes it covers: a
    /// user-defined symbol as written, else the table's longest match, else one character.
    private func normalizedPrefix(_ text: [UInt8], at position: Int) -> ([UInt8], Int) {
        if let symbol = userDefined.longestMatch(in: text, at: position) {
            return (Array(text[position..<(position + symbol.length)]), symbol.length)
        }
        var longest: (length: Int, offset: Int)?
        var matches = 0
        walkTable(text, from: position) { length, offset in
            if matches < Self.maximumMatches && length > (longest?.length ?? 0) {
                longest = (length, offset)
            }
            matches += 1
        }
        if let longest, let replacement = replacement(at: longest.offset) {
            return (replacement, longest.length)
        }
        let length = Swift.min(utf8Length(leadingByte: text[position]), text.count - position)
        return (Array(text[position..<(position + length)]), length)
    }

    /// The NUL-terminated replacement at `offset`; nil when the offset is outside the strings.
    private func replacement(at offset: Int) -> [UInt8]? {
        guard offset >= 0, offset < replacements.count else { return nil }
        let end = replacements[offset...].firstIndex(of: 0) ?? replacements.endIndex
        return Array(replacements[offset..<end])
    }

    /// darts-clone's `commonPrefixSearch`: calls `found(length, value)` for every key of the
    /// trie that is a prefix of `text[position...]`, shortest first.
    private func walkTable(_ text: [UInt8], from position: Int, _ found: (Int, Int) -> Void) {
        guard !units.isEmpty else { return }
        func offset(_ unit: UInt32) -> Int { Int((unit >> 10) << ((unit & (1 << 9)) >> 6)) }
        var node = offset(units[0])
        for index in position..<text.count {
            node ^= Int(text[index])
            guard node >= 0, node < units.count else { return }
            let unit = units[node]
            guard unit & ((1 << 31) | 0xFF) == UInt32(text[index]) else { return }
            node ^= offset(unit)
            if (unit >> 8) & 1 == 1 {  // a key ends here; its value is in the leaf unit
                guard node >= 0, node < units.count else { return }
                found(index - position + 1, Int(units[node] & ((1 << 31) - 1)))
            }
        }
    }
}

/// Bytes of the UTF-8 character starting with `byte`, as sentencepiece counts them (1 for a
/// continuation or invalid byte).
func utf8Length(leadingByte byte: UInt8) -> Int {
    switch byte >> 4 {
    case 0xC, 0xD: 2
    case 0xE: 3
    case 0xF: 4
    default: 1
    }
}
