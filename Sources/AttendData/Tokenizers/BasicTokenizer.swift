// BERT's basic tokenisation: what runs on the text before WordPiece sees it (Devlin et al. 2019,
// google-research/bert `BasicTokenizer`), in the order of Hugging Face `tokenizers`' BertNormalizer and
// BertPreTokenizer, which sentence-transformers and transformers' BertTokenizer use:
// 1. clean: drop NUL, U+FFFD and control, format and private-use characters (Cc, Cf, Co; tab, newline
//    and carriage return excepted), then turn every White_Space character into ' ';
// 2. put spaces around CJK ideographs so that each becomes a word of its own;
// 3. strip accents: canonical decomposition (NFD), then drop non-spacing marks (Mn);
// 4. lower-case each scalar with its full Unicode mapping (no context: 'Σ' → 'σ' everywhere);
// 5. split on whitespace and isolate every punctuation character: ASCII punctuation (which includes
//    symbols such as $ + < = > ^ ` |) or a Unicode P* category.
// Accents are stripped before lower-casing, as the Rust normaliser does. Everything counts and
// splits Unicode scalars, never Swift Characters (grapheme clusters): the reference works on code
// points, so "e\u{301}" is two characters there and must be two here.
import Foundation

/// BERT's text normalisation and word splitting.
public struct BasicTokenizer: Sendable, Equatable {
    /// Remove control characters and map every whitespace character to a space.
    public var cleansText: Bool
    /// Surround CJK ideographs with spaces.
    public var splitsCJKCharacters: Bool
    /// Decompose (NFD) and drop non-spacing marks.
    public var stripsAccents: Bool
    /// Lower-case every scalar.
    public var lowercases: Bool

    /// A basic tokenizer. `stripsAccents` nil follows `lowercases`, as BERT's uncased models and
    /// the Hugging Face normaliser do.
    public init(
        lowercases: Bool = true, stripsAccents: Bool? = nil, cleansText: Bool = true,
        splitsCJKCharacters: Bool = true
    ) {
        self.lowercases = lowercases
        self.stripsAccents = stripsAccents ?? lowercases
        self.cleansText = cleansText
        self.splitsCJKCharacters = splitsCJKCharacters
    }

    /// Steps 1–4: the normalised text as scalars.
    public func normalized(_ text: Substring) -> [Unicode.Scalar] {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count + 8)
        var isASCII = true
        for s in text.unicodeScalars {
            if cleansText {
                if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
                if Self.isWhitespace(s) {
                    scalars.append(" ")
                    continue
                }
            }
            if s.value >= 0x80 { isASCII = false }
            if splitsCJKCharacters && Self.isCJKIdeograph(s) {
                scalars += [" ", s, " "]
            } else {
                scalars.append(s)
            }
        }
        if stripsAccents && !isASCII {
            let decomposed = String(String.UnicodeScalarView(scalars))
                .decomposedStringWithCanonicalMapping
            scalars = decomposed.unicodeScalars.filter {
                $0.properties.generalCategory != .nonspacingMark
            }
        }
        guard lowercases else { return scalars }
        var lowered: [Unicode.Scalar] = []
        lowered.reserveCapacity(scalars.count)
        for s in scalars {
            if s.value < 0x80 {
                lowered.append(s.value >= 65 && s.value <= 90 ? Unicode.Scalar(s.value + 32)! : s)
            } else {
                lowered += s.properties.lowercaseMapping.unicodeScalars
            }
        }
        return lowered
    }

    /// Steps 1–5: the words of `text`, punctuation characters as words of their own.
    public func words(_ text: Substring) -> [ArraySlice<Unicode.Scalar>] {
        let scalars = normalized(text)
        var words: [ArraySlice<Unicode.Scalar>] = []
        var start = 0
        for (i, s) in scalars.enumerated() {
            if s.properties.isWhitespace {
                if start < i { words.append(scalars[start..<i]) }
                start = i + 1
            } else if Self.isPunctuation(s) {
                if start < i { words.append(scalars[start..<i]) }
                words.append(scalars[i..<(i + 1)])
                start = i + 1
            }
        }
        if start < scalars.count { words.append(scalars[start...]) }
        return words
    }

    /// Control, format, private-use or surrogate, except tab, newline and carriage return (which
    /// count as whitespace). Unassigned code points are kept, as the reference keeps them.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    /// Unicode White_Space (space, tab, newline, no-break space, ideographic space…).
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.isWhitespace
    }

    /// ASCII punctuation and symbols (33–47, 58–64, 91–96, 123–126) or a Unicode punctuation
    /// category (Pc, Pd, Ps, Pe, Pi, Pf, Po).
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if v < 0x80 {
            return (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v)
                || (123...126).contains(v)
        }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks and extensions the reference normaliser lists (its ranges:
    /// extension D ends at U+2B81F and the next range starts at U+2B920). Hiragana, Katakana and
    /// Hangul are not included: those scripts separate words with spaces.
    static func isCJKIdeograph(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F,
            0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default: return false
        }
    }
}
