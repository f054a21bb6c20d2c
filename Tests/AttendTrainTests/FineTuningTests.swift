// Fine-tuning from a Hugging Face folder and exporting back to one: a tiny random BERT written by
// the test (config.json, model.safetensors, vocab.txt) is fine-tuned on a toy two-class task whose
// label is which half of the vocabulary dominates; the run starts from the folder's exact weights,
// learns the task, and its export reloads (as `--init-from` does, and as `attend embed` does) to
// the identical model. Fine-tuning defaults, freezing and the refusals are checked too.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import AttendTesting
import AttendTrain
import Foundation
import Testing

/// Sequences [CLS] w… [SEP] of 4–10 words from ids 5..<50: "positive" when more words come from
/// the upper half (ids ≥ 27), else "negative".
struct MajorityWordTask: SequenceTask {
    var name: String { "majority" }
    var kind: TaskKind { .classification }
    var vocabularySize = 50
    var classCount: Int { 2 }
    var maxLength: Int { 12 }
    var seed: UInt64 { 9 }
    var classNames: [String] { ["negative", "positive"] }
    func count(of split: Split) -> Int { split == .train ? 64 : 32 }
    func example(_ index: Int, in split: Split) -> Example {
        var random = RandomGenerator(
            seed: RandomGenerator.mix(seed, UInt64(split == .train ? 1 : 2)), stream: UInt64(index))
        let words = (0..<(4 + random.nextInt(below: 3) * 2 + 1)).map { _ in
            5 + random.nextInt(below: 45)
        }
        let upper = words.filter { $0 >= 27 }.count
        return Example(tokens: [2] + words + [3], label: 2 * upper > words.count ? 1 : 0)
    }
}

/// A folder holding a random tiny BERT (vocabulary 50, width 24, 2 layers) and its vocab.txt;
/// weights drawn N(0, `initializerRange`²).
func tinyPretrainedFolder(seed: UInt64 = 5, initializerRange: Float = 0.02) throws -> String {
    var configuration = BertConfiguration(
        vocabularySize: 50, modelDimension: 24, layerCount: 2, headCount: 3,
        feedForwardDimension: 40)
    configuration.maximumPositions = 64
    configuration.hiddenDropout = 0
    configuration.attentionDropout = 0
    configuration.initializerRange = initializerRange
    let folder = NSTemporaryDirectory() + "attend-tiny-bert-\(UUID().uuidString)"
    try Bert(configuration, seed: seed).save(to: folder)
    let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<50).map { "w\($0)" }
    try (vocabulary.joined(separator: "\n") + "\n").write(
        toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
    return folder
}

@Suite(.serialized, .optimizedBuildsOnly) struct FineTuningTests {
    let task = MajorityWordTask()

    func fineTuning(_ folder: String, freeze: Bool = false) throws -> TrainingConfiguration {
        let initialization = try FineTuning.initialization(
            directory: folder, task: task, freezeEncoder: freeze)
        return FineTuning.configuration(
            task: task, taskName: task.name, taskOptions: TaskOptions(),
            initialization: initialization, seed: 1)
    }

    @Test func defaultsAreHuggingFacesFineTuningRecipe() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let configuration = try fineTuning(folder)
        #expect(configuration.learningRate == 5e-5 && configuration.weightDecay == 0.01)
        #expect(
            configuration.schedule == .linear && configuration.beta2 == 0.999
                && configuration.epsilon == 1e-8)
        #expect(
            configuration.batchSize == 32 && configuration.steps == 3 * 2
                && configuration.warmupSteps == 1)
        #expect(
            configuration.model.maximumLength == 12
                && configuration.model.pretrained?.labels == task.classNames)
        let decoded = try JSONDecoder().decode(
            TrainingConfiguration.self, from: try JSONEncoder().encode(configuration))
        #expect(decoded == configuration, "the run's config.json keeps the pretrained part")
    }

    @Test func fineTunedRunStartsFromTheFolderLearnsAndExportsToTheSameModel() throws {
        let folder = try tinyPretrainedFolder()
        let run = temporaryRun("finetune")
        let exported = NSTemporaryDirectory() + "attend-export-\(UUID().uuidString)"
        defer {
            for path in [folder, run.path, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        var configuration = try fineTuning(folder)
        (configuration.learningRate, configuration.steps, configuration.batchSize) = (2e-3, 60, 16)
        let trainer = try Trainer(configuration: configuration, task: task, run: run)
        let report = try FineTuning.loadPretrainedWeights(
            into: trainer.model, from: configuration.model.pretrained!)
        #expect(!report.newPooler && !report.loadedClassifier)
        let stored = try SafetensorsFile(path: folder + "/model.safetensors")
        for (name, parameter) in trainer.model.namedParameters() where name.hasPrefix("bert.") {
            #expect(
                parameter.value.scalars == (try stored.tensor(String(name.dropFirst(5)))).scalars,
                "\(name)")
        }
        try FineTuning.saveTokenizer(from: folder, to: run)
        let before = try trainer.evaluate(.train)
        _ = try trainer.train()
        let after = try trainer.evaluate(.train)
        #expect(after.loss < before.loss && after.accuracy >= 0.8, "\(before) → \(after)")

        let files = try HuggingFaceExport.write(run: run, to: exported)
        #expect(files == ["config.json", "model.safetensors", "vocab.txt"])
        let config =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: exported + "/config.json")))
            as! [String: Any]
        #expect(config["architectures"] as? [String] == ["BertForSequenceClassification"])
        #expect(config["id2label"] as? [String: String] == ["0": "negative", "1": "positive"])
        let names = try SafetensorsFile(path: exported + "/model.safetensors").names
        #expect(names.contains("classifier.weight") && names.contains("bert.pooler.dense.weight"))

        let trained = trainer.model as! BertSequenceClassifier
        trained.eval()
        let reloaded = try BertSequenceClassifier(
            configuration.model, pretrained: try fineTuning(exported).model.pretrained!)
        #expect(
            try FineTuning.loadPretrainedWeights(
                into: reloaded, from: try fineTuning(exported).model.pretrained!
            ).loadedClassifier)
        reloaded.eval()
        let batch = Batches(
            task: task, split: .validation, batchSize: 32, shuffled: false, padding: .longest)[0]
        let expected = try withoutGradient { try trained(batch.tokens, mask: batch.mask).logits }
        #expect(
            try withoutGradient { try reloaded(batch.tokens, mask: batch.mask).logits }.scalars
                == expected.scalars)
        let encoder = try Bert.load(directory: exported).model  // what `attend embed` loads
        let hidden = try withoutGradient { try encoder(batch.tokens, mask: batch.mask) }
        #expect(
            hidden.scalars
                == (try withoutGradient { try trained.bert(batch.tokens, mask: batch.mask) })
                .scalars)
    }

    @Test func frozenEncoderTrainsOnlyTheClassifier() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var configuration = try fineTuning(folder, freeze: true)
        (configuration.learningRate, configuration.steps, configuration.batchSize) = (1e-2, 20, 16)
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        try FineTuning.loadPretrainedWeights(
            into: trainer.model, from: configuration.model.pretrained!)
        let start = trainer.model.namedParameters().map { ($0.0, $0.1.value.scalars) }
        let before = try trainer.evaluate(.train)
        _ = try trainer.train()
        #expect(try trainer.evaluate(.train).loss < before.loss)
        for ((name, initial), (_, parameter)) in zip(start, trainer.model.namedParameters()) {
            #expect((parameter.value.scalars == initial) == name.hasPrefix("bert."), "\(name)")
        }
    }

    @Test func unusableFoldersTasksAndRunsAreRefusedByName() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bytes = MajorityWordTask(vocabularySize: 257)  // byte-level ids
        #expect {
            try FineTuning.initialization(directory: folder, task: bytes, freezeEncoder: false)
        } throws: { "\($0)".contains("token ids up to 256, beyond the 50 tokens") }
        let other = NSTemporaryDirectory() + "attend-other-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: other) }
        try #"{"model_type": "gpt2"}"#.write(
            toFile: other + "/config.json", atomically: true, encoding: .utf8)
        #expect {
            try FineTuning.initialization(directory: other, task: task, freezeEncoder: false)
        } throws: { "\($0)".contains("gpt2 folder") && "\($0)".contains("supported: bert, vit") }
        try #"{"model_type": "vit"}"#.write(
            toFile: other + "/config.json", atomically: true, encoding: .utf8)
        #expect {
            try FineTuning.initialization(directory: other, task: task, freezeEncoder: false)
        } throws: { "\($0)".contains("is a ViT, which classifies images") }

        let scratch = temporaryRun("scratch-export")
        defer { try? FileManager.default.removeItem(atPath: scratch.path) }
        let (fromScratch, listops) = try tinyConfiguration("listops", steps: 1)
        _ = try Trainer(configuration: fromScratch, task: listops, run: scratch).train()
        #expect { try HuggingFaceExport.write(run: scratch, to: scratch.path + "/hf") } throws: {
            "\($0)".contains("trained from scratch")
        }
    }
}
