// Adapting a pretrained BERT to another mechanism by distillation, on a tiny random BERT folder
// (tinyPretrainedFolder) and a generated text: a few steps raise the held-out cosine to the
// full-attention teacher; the written folder records the mechanism and reloads to the student
// exactly; --train selects the mechanism's parameters, the LayerNorms or everything; texts too
// short for one chunk are refused by name.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTesting
import Foundation
import Testing

@testable import AttendTrain

@Suite(.serialized, .optimizedBuildsOnly) struct AdaptationTests {
    /// Paragraphs of the tiny vocabulary's words (w5…w49) in a repeating, locally varied order.
    static func documents(_ count: Int = 40) -> [String] {
        var generator = RandomGenerator(seed: 3)
        return (0..<count).map { _ in
            (0..<60).map { _ in "w\(5 + generator.nextInt(below: 45))" }.joined(separator: " ")
        }
    }

    /// Weights large enough that attention, not the residual path, shapes the hidden states.
    static let weightScale: Float = 0.3

    /// Linformer with projected length 4: its random projections start far from full attention.
    static func linformer(_ folder: String, steps: Int = 30) -> AdaptationSettings {
        var settings = AdaptationSettings(
            model: folder, mechanism: "linformer", length: 32, scope: .mixer, learningRate: 3e-2)
        var options = MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        options.linformer.projectedLength = 4
        settings.mixerOptions = options
        settings.steps = steps
        settings.batchSize = 4
        settings.heldOutChunks = 8
        settings.checkpointEvery = 10
        settings.seed = 7
        return settings
    }

    static func texts(_ folder: String, length: Int = 32) throws -> AdaptationTexts {
        try AdaptationTexts(
            documents: documents(), tokenizer: WordPieceTokenizer(directory: folder),
            length: length,
            trainingLimit: 200, heldOutLimit: 8, source: "the test text")
    }

    @Test func adaptingRaisesTheHeldOutCosineAndTheFolderReloadsToTheStudent() throws {
        let folder = try tinyPretrainedFolder(initializerRange: Self.weightScale)
        let out = NSTemporaryDirectory() + "attend-adapt-\(UUID().uuidString)"
        defer { for path in [folder, out] { try? FileManager.default.removeItem(atPath: path) } }
        let adaptation = try Adaptation(
            settings: Self.linformer(folder), texts: try Self.texts(folder))
        let result = try adaptation.run(in: out, resume: false) { _ in }
        #expect(result.steps == 30 && result.heldOutChunks == 8)
        #expect(result.cosineBefore < 0.99, "the test must start away from the teacher")
        #expect(
            result.cosineAfter > result.cosineBefore + 0.5 * (1 - result.cosineBefore), "\(result)")

        let record = try #require(try RecordedMechanism(directory: out))
        #expect(record.name == "linformer" && record.configuration.linformer.projectedLength == 4)
        let reloaded = try Bert.load(
            directory: out, mechanism: record.name, mixerConfiguration: record.configuration
        ).model
        let ids = Indices(
            shape: [2, 32], values: adaptation.texts.heldOut.prefix(2).flatMap { $0 })
        let expected = try withoutGradient { try adaptation.student(ids) }
        #expect(try withoutGradient { try reloaded(ids) }.scalars == expected.scalars)
        for name in [
            "adapt.json", "adapt-result.json", "checkpoint.safetensors", "metrics.jsonl",
            "vocab.txt",
        ] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + name), "\(name)")
        }
    }

    @Test func longerChunksExtendTheTeachersAndStudentsPositions() throws {
        let folder = try tinyPretrainedFolder()  // 64 positions
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var settings = Self.linformer(folder)
        settings.length = 96
        let adaptation = try Adaptation(
            settings: settings, texts: try Self.texts(folder, length: 96))
        #expect(adaptation.teacher.configuration.maximumPositions == 96)
        #expect(adaptation.student.configuration.maximumPositions == 96)
        #expect(adaptation.texts.training.allSatisfy { $0.count == 96 })
    }

    @Test func trainSelectsTheMechanismTheNormsOrEverything() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let texts = try Self.texts(folder)
        func trainable(_ scope: AdaptationScope, _ mechanism: String = "linformer") throws
            -> [String]
        {
            var settings = Self.linformer(folder)
            settings.scope = scope
            settings.mechanism = mechanism
            let adaptation = try Adaptation(settings: settings, texts: texts)
            return adaptation.student.namedParameters().filter(\.1.isTrainable).map(\.0)
        }
        let mixer = try trainable(.mixer)
        #expect(
            mixer.count == 4
                && mixer.allSatisfy { $0.hasSuffix(".proj_k") || $0.hasSuffix(".proj_v") })
        let norms = try trainable(.norms)
        #expect(Set(norms).isSuperset(of: mixer) && norms.count == 4 + 10)  // 5 LayerNorms × 2
        #expect(norms.filter { !mixer.contains($0) }.allSatisfy { $0.contains("LayerNorm.") })
        let all = try trainable(.all)
        let every = try Adaptation(settings: Self.linformer(folder), texts: texts).student
        #expect(all == every.namedParameters().map(\.0))
        #expect(throws: TrainingError.self) { try trainable(.mixer, "local") }
    }

    @Test func textTooShortForAChunkIsRefusedByName() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect {
            try AdaptationTexts(
                documents: ["w5 w6 w7"], tokenizer: WordPieceTokenizer(directory: folder),
                length: 32,
                trainingLimit: 10, heldOutLimit: 2, source: "short.txt")
        } throws: { error in
            "\(error)".contains("short.txt") && "\(error)".contains("smaller --length")
        }
    }
}
