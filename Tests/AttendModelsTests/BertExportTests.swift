// Export: a BERT trained by Attend (a tiny one, a few AdamW steps on token reconstruction with tied
// embeddings, full attention) saved with `Bert.save(to:)` must be a folder transformers loads.
// The committed Fixtures/bert-export/ is such an export; scripts/fixtures/models_bert.py export
// loaded it with `BertModel.from_pretrained` (transformers 5.24.0) and stored transformers' outputs
// next to it (transformers-outputs.safetensors). Here:
// - Attend's outputs on the committed export equal transformers' within 1e-5;
// - training again and exporting gives the layout transformers was checked on (config.json byte for
//   byte; the same tensor names, dtypes and shapes), and reloading that export gives the same model.
// Record mode (ATTEND_RECORD_EXPORT=1) rewrites the committed export from a fresh training run;
// then run the Python script to refresh transformers' outputs.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct BertExportTests {
    static let configuration: BertConfiguration = {
        var c = BertConfiguration(
            vocabularySize: 50, modelDimension: 24, layerCount: 2, headCount: 3,
            feedForwardDimension: 40)
        c.maximumPositions = 16
        c.hiddenDropout = 0
        c.attentionDropout = 0
        return c
    }()

    /// Token ids [2, 12] and mask (row 1 padded after 7 tokens).
    static func inputs() -> (Indices, Tensor) {
        var generator = RandomGenerator(seed: 11)
        var ids = (0..<24).map { _ in 1 + generator.nextInt(below: 49) }
        let mask = (0..<24).map { i -> Float in i >= 12 + 7 ? 0 : 1 }
        for i in 19..<24 { ids[i] = 0 }
        return (Indices(shape: [2, 12], values: ids), Tensor(shape: [2, 12], scalars: mask))
    }

    /// A tiny BERT after 8 AdamW steps of predicting its own input tokens through the tied word
    /// embeddings (logits = h·Eᵀ), so every weight has moved away from its initialisation.
    static func trainedModel() throws -> (model: Bert, losses: [Float]) {
        let model = try Bert(configuration, seed: 5)
        model.train()
        let optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0)
        let (ids, mask) = inputs()
        let targets = zip(ids.values, mask.scalars).map { $1 == 0 ? -100 : $0 }
        var losses: [Float] = []
        for _ in 0..<8 {
            let (loss, gradients) = try valueAndGradient(of: model) { model in
                let hidden = try model(ids, mask: mask).reshaped([24, 24])  // [b·n, c]
                let logits = Tensor.matmul(
                    // [b·n, vocabulary]
                    hidden, model.embeddings.words.weight.value, transposeB: true)
                return crossEntropy(logits: logits, targets: targets)
            }
            losses.append(loss.scalar)
            optimizer.step(gradients, learningRate: 1e-2)
        }
        model.eval()
        return (model, losses)
    }

    static var committedFolder: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "Fixtures/bert-export"
        ).path
    }

    @Test func exportedModelGivesTransformersOutputs() throws {
        let folder = try fixtureFolder("bert-export")
        let model = try Bert.load(directory: folder).model
        let attend = try SafetensorsFile(path: folder + "/attend-outputs.safetensors")
        let transformers = try SafetensorsFile(path: folder + "/transformers-outputs.safetensors")
        let hidden = try withoutGradient {
            try model(try attend.indices("ids"), mask: try attend.tensor("mask"))
        }
        let tolerance = Tolerance(absolute: 1e-5, relative: 1e-5)
        try assertClose(
            hidden, try transformers.tensor("last_hidden_state"), tolerance,
            "last hidden state vs transformers")
        try assertClose(
            try #require(model.pooledOutput(hidden)), try transformers.tensor("pooler_output"),
            tolerance, "pooler vs transformers")
    }

    @Test func freshExportHasTheCheckedLayoutAndReloadsExactly() throws {
        let (model, losses) = try Self.trainedModel()
        #expect(losses.last! < losses.first! * 0.9, "training lowers the loss: \(losses)")
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "export-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try model.save(to: scratch)
        let committed = try fixtureFolder("bert-export")
        #expect(
            try String(contentsOfFile: scratch + "/config.json", encoding: .utf8)
                == String(contentsOfFile: committed + "/config.json", encoding: .utf8))
        // The same layout as the export transformers was checked on: names, dtypes, shapes. (Values
        // differ with any change to initialisation or training numerics, and need not match.)
        let fresh = try SafetensorsFile(path: scratch + "/model.safetensors")
        let stored = try SafetensorsFile(path: committed + "/model.safetensors")
        #expect(fresh.names == stored.names)
        #expect(fresh.metadata == ["format": "pt"] && stored.metadata == fresh.metadata)
        for name in fresh.names {
            let (a, b) = (try fresh.info(name), try stored.info(name))
            #expect(
                a.dtype == b.dtype && a.shape == b.shape,
                "\(name): \(a.dtype) \(a.shape) vs committed \(b.dtype) \(b.shape)")
        }
        let (ids, mask) = Self.inputs()
        let reloaded = try Bert.load(directory: scratch).model
        let expected = try withoutGradient { try model(ids, mask: mask) }
        #expect(try withoutGradient { try reloaded(ids, mask: mask) }.scalars == expected.scalars)
    }

    @Test func onlyFullAttentionModelsExport() throws {
        let local = try Bert(
            Self.configuration, mechanism: Mechanisms.names.first { $0 != "full" } ?? "full")
        guard local.mechanism != "full" else { return }  // only full attention is registered
        #expect(throws: PretrainedModelError.self) {
            try local.save(to: FileManager.default.temporaryDirectory.path + "/never")
        }
    }

    /// Record mode: writes a fresh export and Attend's outputs on `inputs()` into the committed
    /// fixture folder (then run `scripts/fixtures/models_bert.py export` and rebuild).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["ATTEND_RECORD_EXPORT"] == "1"))
    func recordExport() throws {
        let committedFolder = Self.committedFolder
        let (model, _) = try Self.trainedModel()
        try model.save(to: committedFolder)
        let (ids, mask) = Self.inputs()
        let hidden = try withoutGradient { try model(ids, mask: mask) }
        try Safetensors.write(
            [
                ("ids", .int64(ids)),
                ("mask", .int64(Indices(shape: [2, 12], values: mask.scalars.map { Int($0) }))),
                ("last_hidden_state", .float(hidden)),
                ("pooler_output", .float(model.pooledOutput(hidden)!)),
            ],
            to: committedFolder + "/attend-outputs.safetensors")
    }
}
