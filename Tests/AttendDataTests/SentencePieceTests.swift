// SentencePiece Unigram against the `sentencepiece` package: three small models trained on the King
// James Bible by scripts/fixtures/sentencepiece_models.py (nmt_nfkc without byte fallback, identity
// with byte fallback and whitespace kept, and a model's own compiled rules), whose ids for tricky
// texts (accents composed and combining, full-width forms, ligatures, runs of spaces, leading and
// trailing spaces, emoji, unknown scripts, digits, a user-defined symbol, the empty string) the
// tokenizer must reproduce exactly. Malformed model files (cut short, corrupt fields, inconsistent vocabularies, another
// model type, a broken normalisation table) must give one-line errors naming the file and problem.
import Foundation
import Testing

@testable import AttendData

@Suite struct SentencePieceTests {
    static let folder = Bundle.module.resourcePath! + "/Fixtures/sentencepiece"

    /// The fixture `name`'s piece count and (text, ids) cases from expected.json.
    static func expected(_ name: String) throws -> (pieces: Int, cases: [(String, [Int])]) {
        let data = try Data(contentsOf: URL(fileURLWithPath: folder + "/expected.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let model = try #require(root[name] as? [String: Any])
        let cases = try #require(model["cases"] as? [[String: Any]]).map {
            ($0["text"] as! String, $0["ids"] as! [Int])
        }
        return (try #require(model["pieces"] as? Int), cases)
    }

    @Test(arguments: ["nfkc.model", "bytes.model", "rules.model"])
    func idsEqualSentencePiece(_ name: String) throws {
        let tokenizer = try SentencePieceTokenizer(modelFile: Self.folder + "/" + name)
        let (pieces, cases) = try Self.expected(name)
        #expect(tokenizer.pieceCount == pieces)
        #expect(cases.count == 16)
        for (text, ids) in cases {
            #expect(tokenizer.pieceIDs(text) == ids, "\(name): \(text.debugDescription)")
        }
        #expect(tokenizer.id(ofPiece: "[CLS]") == 1 && tokenizer.id(ofPiece: "[MASK]") == 4)
        #expect(tokenizer.id(ofPiece: "no such piece") == nil)
    }

    @Test func normalisationFollowsTheModelsTable() throws {
        let nfkc = try SentencePieceTokenizer(modelFile: Self.folder + "/nfkc.model")
        // NFKC: full-width letters and the ideographic space become ASCII; spaces collapse.
        #expect(nfkc.normalized("  ＬＯＲＤ　 God  ") == "▁LORD▁God")
        #expect(nfkc.normalized("ﬁ ½") == "▁fi▁1⁄2")
        #expect(nfkc.normalized("   ") == "")
        let identity = try SentencePieceTokenizer(modelFile: Self.folder + "/bytes.model")
        #expect(identity.normalized(" a  ｂ ") == "▁▁a▁▁ｂ▁")
    }

    @Test func aFolderEncodesClassifierPiecesSeparator() throws {
        try withTemporaryFolder { folder in
            try FileManager.default.copyItem(
                atPath: Self.folder + "/nfkc.model", toPath: folder + "/spm.model")
            let plain = try SentencePieceTextTokenizer(directory: folder)
            let pieces = plain.sentencePiece.pieceIDs("LORD lord")
            #expect(plain.encode("LORD lord") == [1] + pieces + [2])
            #expect(plain.vocabularySize == 600 && plain.padID == 0)
            #expect(
                TokenizerConfiguration.pretrained(directory: folder)
                    == .sentencePiece(directory: folder))
            let config = folder + "/tokenizer_config.json"
            try #"{"do_lower_case": true}"#.write(toFile: config, atomically: true, encoding: .utf8)
            let lowered = try SentencePieceTextTokenizer(directory: folder)
            #expect(
                lowered.encode("LORD lord") == [1] + plain.sentencePiece.pieceIDs("lord lord") + [2]
            )
            try #"{"split_by_punct": true}"#.write(
                toFile: config, atomically: true, encoding: .utf8)
            #expect(
                errorText { _ = try SentencePieceTextTokenizer(directory: folder) }.contains(
                    "SentencePiece split_by_punct is not supported"))
            try #"{"cls_token": "<s>"}"#.write(toFile: config, atomically: true, encoding: .utf8)
            #expect(
                errorText { _ = try SentencePieceTextTokenizer(directory: folder) }.contains(
                    "the cls_token token '<s>' is not in the vocabulary"))
        }
    }

    // MARK: malformed files

    /// The one-line error reading `bytes` as a model file gives; "" when it loads.
    func modelError(_ bytes: [UInt8]) -> String {
        errorText {
            _ = try SentencePieceTokenizer(
                model: .init(bytes: bytes, path: "m.model"), path: "m.model")
        }
    }

    @Test func malformedModelsGiveNamedErrors() throws {
        let prefix = "m.model is not a usable SentencePiece model: "
        let unknown = piece("[UNK]", type: 2), word = piece("▁a", score: -1)
        #expect(modelError(unknown + word) == "")
        #expect(modelError([]) == prefix + "no pieces")
        #expect(
            modelError([0x0A, 0x05, 0x0A]) == prefix
                + "field 1 at byte 0 is 5 bytes long, but only 1 bytes are left")
        #expect(modelError([0x0A]) == prefix + "the varint at byte 1 is cut off")
        #expect(
            modelError([0x0B, 0x00]) == prefix
                + "field 1 at byte 0 has wire type 3, which is not one of 0, 1, 2 and 5")
        #expect(modelError([0x00, 0x00]) == prefix + "field number 0 at byte 0 is not valid")
        #expect(
            modelError([0x08] + [UInt8](repeating: 0xFF, count: 12)).hasPrefix(
                prefix + "the varint at byte 1 exceeds 64 bits"))
        #expect(modelError(field(1, [0x18, 0x09])) == prefix + "piece type 9 is not one of 1…6")
        #expect(modelError(field(1, [0x10, 0x01])) == prefix + "score is not a 32-bit float")
        #expect(modelError(word + word + unknown).contains("piece 1 '▁a' is defined twice"))
        #expect(modelError(word).contains("0 pieces have type UNKNOWN; a model needs exactly one"))
        #expect(modelError(unknown + field(1, [])).contains("piece 1 is empty"))
        #expect(
            modelError(unknown + word + field(2, [0x18, 0x02]))
                == "m.model: SentencePiece model_type BPE is not supported (Unigram models are)")
        #expect(
            modelError(unknown + word + field(2, [0xC0, 0x01, 0x01])).contains(
                "treat_whitespace_as_suffix is not supported"))
        let brokenTable = field(3, field(2, [0xFF, 0xFF, 0x00, 0x00, 0x01, 0x02, 0x03, 0x04]))
        #expect(
            modelError(unknown + word + brokenTable).contains(
                "the normalization table of rule '' is broken"))
        #expect(
            errorText { _ = try SentencePieceTokenizer(modelFile: "missing/spm.model") }
                == "cannot read missing/spm.model: no such file or not readable")
    }

    @Test func everyCutOfARealModelLoadsOrFailsWithAnError() throws {
        let bytes = [UInt8](
            try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/bytes.model")))
        for end in stride(from: 0, to: bytes.count, by: 37) {
            let message = modelError(Array(bytes.prefix(end)))
            #expect(message.isEmpty || message.hasPrefix("m.model"), "\(end): \(message)")
        }
    }

    /// A length-delimited field (`bytes` shorter than 128).
    func field(_ number: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        [number << 3 | 2, UInt8(bytes.count)] + bytes
    }

    /// A `pieces` entry: the text, its score (fixed32) and its type.
    func piece(_ text: String, score: Float = 0, type: UInt8 = 1) -> [UInt8] {
        let bits = score.bitPattern
        let scoreBytes = (0..<4).map { UInt8(truncatingIfNeeded: bits >> (8 * $0)) }
        return field(1, field(1, Array(text.utf8)) + [0x15] + scoreBytes + [0x18, type])
    }
}

/// The description of the error `body` throws; "" when it throws none.
func errorText(_ body: () throws -> Void) -> String {
    do {
        try body()
        return ""
    } catch {
        return "\(error)"
    }
}
