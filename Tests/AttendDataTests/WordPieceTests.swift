// WordPiece and BERT basic tokenisation on a small hand-made vocabulary: each rule of the reference
// (greedy longest match with "##", [UNK] for unmatchable and over-long words, punctuation and CJK
// splitting, cleaning, accent stripping, special tokens in the raw text, truncation, padding) checked
// on inputs whose answers follow from the rule alone. The expected normalisations were confirmed
// against Hugging Face `tokenizers` 0.23.3 (BertNormalizer) by hand.
import AttendCore
import Foundation
import Testing

@testable import AttendData

/// [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4, then words and pieces.
let tinyVocabulary = [
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
    "un", "##aff", "##able", "the", "fox", "!", ".", ",", "?", "cafe", "naive", "北", "京", "a",
    "##a",
    "##aa", "$", "σ", "##α", "##σ", "i", "##stanbul", "hello", "world", "ecole", "[", "]", "##s",
    "##b",
]

func tinyTokenizer(_ basic: BasicTokenizer = BasicTokenizer()) throws -> WordPieceTokenizer {
    try WordPieceTokenizer(vocabulary: tinyVocabulary, basic: basic)
}

@Suite struct WordPieceTests {
    @Test func greedyLongestMatchWithContinuationPrefix() throws {
        let t = try tinyTokenizer()
        #expect(t.tokenize("unaffable") == ["un", "##aff", "##able"])
        // "aaaaa": longest first → a, ##aa, ##aa.
        #expect(t.tokenize("aaaaa") == ["a", "##aa", "##aa"])
        #expect(t.tokenize("the fox!") == ["the", "fox", "!"])
    }

    @Test func unmatchableRemainderMakesTheWholeWordUnknown() throws {
        let t = try tinyTokenizer()
        // "unaffablez": un ##aff ##able then no "##z": the whole word is one [UNK].
        #expect(t.tokenIDs("unaffablez the") == [1, 8])
        #expect(t.tokenize("zebra") == ["[UNK]"])
    }

    @Test func wordsOverOneHundredScalarsAreUnknown() throws {
        let t = try tinyTokenizer()
        #expect(t.tokenize(String(repeating: "a", count: 100)).count == 51)  // a, 49 × ##aa, ##a
        #expect(t.tokenize(String(repeating: "a", count: 101)) == ["[UNK]"])
        // Scalars, not grapheme clusters: 60 × "a\u{301}" is 120 scalars once accents are kept.
        let kept = try tinyTokenizer(BasicTokenizer(lowercases: true, stripsAccents: false))
        #expect(kept.tokenize(String(repeating: "a\u{301}", count: 60)) == ["[UNK]"])
    }

    @Test func punctuationIsIsolatedIncludingASCIISymbols() throws {
        let t = try tinyTokenizer()
        #expect(t.tokenize("fox,the?!") == ["fox", ",", "the", "?", "!"])
        #expect(t.tokenize("$a") == ["$", "a"])
        let words = BasicTokenizer().words("a+b=c «x» 12.5%")
        #expect(
            words.map { String(String.UnicodeScalarView($0)) } == [
                "a", "+", "b", "=", "c", "«", "x", "»", "12", ".", "5", "%",
            ])
    }

    @Test func cjkIdeographsBecomeWordsButKanaAndHangulDoNot() throws {
        let words = BasicTokenizer().words("北京タワー한국")
        #expect(words.map { String(String.UnicodeScalarView($0)) } == ["北", "京", "タワー한국"])
        #expect(try tinyTokenizer().tokenize("北京") == ["北", "京"])
    }

    @Test func cleaningDropsControlsAndMapsWhitespace() throws {
        let basic = BasicTokenizer()
        let cleaned = String(
            String.UnicodeScalarView(
                basic.normalized(
                    "a\u{0}b\u{7}c\u{200D}d\u{FEFF}e\u{FFFD}f\u{85}g\u{E000}h\ti\u{A0}j\u{3000}k\u{378}"
                )))
        // NUL, BEL, ZWJ, BOM, U+FFFD, NEL (Cc before White_Space), private use: dropped; tab,
        // no-break and ideographic spaces: ' '; the unassigned U+0378 is kept.
        #expect(cleaned == "abcdefgh i j k\u{378}")
    }

    @Test func accentsAreStrippedAndCaseLoweredPerScalar() throws {
        let t = try tinyTokenizer()
        #expect(t.tokenize("Café NAÏVE") == ["cafe", "naive"])
        #expect(t.tokenize("e\u{301}cole") == ["ecole"])
        #expect(t.tokenize("İstanbul") == ["i", "##stanbul"])
        #expect(t.tokenize("ΣΑΣ") == ["σ", "##α", "##σ"])  // no final-sigma rule
        let cased = try tinyTokenizer(BasicTokenizer(lowercases: false))
        #expect(cased.tokenize("Café") == ["[UNK]"])
        let keepAccents = BasicTokenizer(lowercases: true, stripsAccents: false)
        #expect(String(String.UnicodeScalarView(keepAccents.normalized("CAFÉ"))) == "café")
    }

    @Test func specialTokensInTheRawTextKeepTheirIds() throws {
        let t = try tinyTokenizer()
        #expect(t.tokenIDs("hello[SEP]world [MASK]") == [27, 3, 28, 4])
        // Matched before normalisation: "[sep]" is ordinary text.
        #expect(t.tokenize("[sep]") == ["[", "[UNK]", "]"])
    }

    @Test func encodingAddsClassifierAndSeparatorAndTruncates() throws {
        let t = try tinyTokenizer()
        #expect(try t.encode("the fox!") == [2, 8, 9, 10, 3])
        #expect(try t.encode("the fox!", maximumLength: 4) == [2, 8, 9, 3])
        #expect(try t.encode("", maximumLength: 2) == [2, 3])
        #expect(throws: TokenizerError.maximumLengthTooSmall(1)) {
            try t.encode("the", maximumLength: 1)
        }
    }

    @Test func batchesArePaddedWithMasks() throws {
        let t = try tinyTokenizer()
        let batch = try t.encode(["the fox", "fox"], maximumLength: 8)
        #expect(batch.ids.shape == [2, 4])
        #expect(batch.ids.values == [2, 8, 9, 3, 2, 9, 3, 0])
        #expect(batch.attentionMask.scalars == [1, 1, 1, 1, 1, 1, 1, 0])
        #expect(batch.lengths == [4, 3])
        let fixed = try t.encode(["fox"], padding: .fixed(6))
        #expect(fixed.ids.values == [2, 9, 3, 0, 0, 0])
        #expect(throws: TokenizerError.sequenceLongerThanPadding(5, padding: 3)) {
            try t.encode(["the fox!"], padding: .fixed(3))
        }
    }

    @Test func missingSpecialTokensAreNamed() {
        #expect(throws: TokenizerError.missingSpecialToken("[CLS]", role: "classifier")) {
            try WordPieceTokenizer(vocabulary: ["[PAD]", "[UNK]", "[SEP]"])
        }
    }

    @Test func vocabularyTextAndTokenizerJSONGiveTheSameTokenizer() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "wordpiece-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try (tinyVocabulary.joined(separator: "\n") + "\n").write(
            to: folder.appendingPathComponent("vocab.txt"), atomically: true, encoding: .utf8)
        let vocab = Dictionary(
            uniqueKeysWithValues: tinyVocabulary.enumerated().map { ($0.element, $0.offset) })
        let json: [String: Any] = [
            "version": "1.0",
            "added_tokens": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].enumerated().map {
                ["id": $0.offset, "content": $0.element, "special": true]
            },
            "normalizer": [
                "type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                "strip_accents": NSNull(), "lowercase": true,
            ],
            "pre_tokenizer": ["type": "BertPreTokenizer"],
            "post_processor": [
                "type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2],
            ],
            "model": [
                "type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100, "vocab": vocab,
            ],
        ]
        let jsonPath = folder.appendingPathComponent("tokenizer.json").path
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: jsonPath))
        let fromText = try WordPieceTokenizer(
            vocabularyFile: folder.appendingPathComponent("vocab.txt").path)
        let fromJSON = try WordPieceTokenizer(tokenizerFile: jsonPath)
        #expect(fromText.vocabulary == fromJSON.vocabulary)
        #expect(fromText.basic == fromJSON.basic)
        for text in ["Unaffable FOX!", "北京 hello[SEP]world", "Café ΣΑΣ İstanbul", "zebra aaaaa"] {
            #expect(try fromText.encode(text) == fromJSON.encode(text), "\(text)")
        }
    }

    @Test func unsupportedTokenizerJSONIsRefusedByName() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent(
            "bpe-\(UUID().uuidString).json"
        ).path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try #"{"model": {"type": "BPE", "vocab": {}}}"#.write(
            toFile: path, atomically: true, encoding: .utf8)
        #expect(throws: TokenizerError.unsupported(path: path, component: "model", type: "BPE")) {
            try WordPieceTokenizer(tokenizerFile: path)
        }
        #expect(throws: TokenizerError.noTokenizerFiles(directory: "/nonexistent")) {
            try WordPieceTokenizer(directory: "/nonexistent")
        }
    }
}
