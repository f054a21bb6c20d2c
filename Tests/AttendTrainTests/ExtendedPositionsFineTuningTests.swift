// Fine-tuning beyond a folder's positions: a tiny BERT (64 positions) is fine-tuned and exported,
// then loaded as a fine-tuning run would load it with its table grown to 160 positions. Tiling
// keeps the trained rows, so inputs of at most 64 tokens give the fine-tuned model's own logits
// (full and local attention), while interpolation moves the positions and changes them; longer
// inputs run only on the grown model, and the run's configuration records the growth.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTesting
import AttendTrain
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct ExtendedPositionsFineTuningTests {
    let task = MajorityWordTask()

    /// Token ids [2, n]: [CLS], words from the tiny vocabulary, [SEP].
    static func ids(_ n: Int) -> Indices {
        let rows = (0..<2).map { r in [2] + (1..<(n - 1)).map { 5 + ($0 * (7 + r)) % 45 } + [3] }
        return Indices(shape: [2, n], values: rows.flatMap { $0 })
    }

    /// A folder holding a fine-tuned (and exported) tiny model, classifier included.
    func fineTunedFolder() throws -> String {
        let folder = try tinyPretrainedFolder()
        let run = temporaryRun("extended-positions")
        let exported = NSTemporaryDirectory() + "attend-fine-tuned-\(UUID().uuidString)"
        defer {
            for path in [folder, run.path] { try? FileManager.default.removeItem(atPath: path) }
        }
        let initialization = try FineTuning.initialization(
            directory: folder, task: task, freezeEncoder: false)
        var configuration = FineTuning.configuration(
            task: task, taskName: task.name, taskOptions: TaskOptions(),
            initialization: initialization, seed: 1)
        (configuration.learningRate, configuration.steps, configuration.batchSize) = (2e-3, 8, 16)
        let trainer = try Trainer(configuration: configuration, task: task, run: run)
        try FineTuning.loadPretrainedWeights(into: trainer.model, from: initialization)
        try FineTuning.saveTokenizer(from: folder, to: run)
        _ = try trainer.train()
        try HuggingFaceExport.write(run: run, to: exported)
        return exported
    }

    /// The classifier a fine-tuning run of `folder` builds and loads, with `mechanism` and the
    /// table grown to `positions` by `method` (nil: the folder's own table).
    func loaded(
        _ folder: String, mechanism: String, positions: Int? = nil,
        method: PositionExtension = .tile
    ) throws -> BertSequenceClassifier {
        var initialization = try FineTuning.initialization(
            directory: folder, task: task, freezeEncoder: false)
        if let positions {
            initialization = initialization.extendingPositions(to: positions, by: method)
        }
        var model = FineTuning.configuration(
            task: task, taskName: task.name, taskOptions: TaskOptions(),
            initialization: initialization, seed: 1
        ).model
        model.mixer = mechanism
        var options = MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        options.local.windowSize = 8
        model.mixerOptions = options
        let classifier = try BertSequenceClassifier(model, pretrained: initialization)
        let report = try FineTuning.loadPretrainedWeights(into: classifier, from: initialization)
        #expect(report.loadedClassifier && report.encoder.keptInitial.isEmpty)
        classifier.eval()
        return classifier
    }

    @Test(arguments: ["full", "local"])
    func tiledPositionsKeepTheFineTunedModelsOutputsUpToItsLength(mechanism: String) throws {
        let folder = try fineTunedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let own = try loaded(folder, mechanism: mechanism)
        let tiled = try loaded(folder, mechanism: mechanism, positions: 160)
        let interpolated = try loaded(
            folder, mechanism: mechanism, positions: 160, method: .interpolate)
        #expect(own.bert.configuration.maximumPositions == 64)
        #expect(tiled.bert.configuration.maximumPositions == 160)
        for n in [12, 64] {
            let ids = Self.ids(n)
            let expected = try withoutGradient { try own(ids, mask: nil).logits }
            let tiledLogits = try withoutGradient { try tiled(ids, mask: nil).logits }
            let movedLogits = try withoutGradient { try interpolated(ids, mask: nil).logits }
            #expect(tiledLogits.scalars == expected.scalars, "n = \(n)")
            #expect(movedLogits.scalars != expected.scalars, "interpolation moves positions")
        }
        let table = tiled.bert.embeddings.positions.weight.value.scalars
        let c = tiled.bert.configuration.modelDimension
        #expect(Array(table[(64 * c)..<(128 * c)]) == Array(table[0..<(64 * c)]))
        #expect(try withoutGradient { try tiled(Self.ids(150), mask: nil).logits }.shape == [2, 2])
        #expect(throws: PretrainedModelError.self) { try own(Self.ids(150), mask: nil) }
    }

    @Test func theRunsConfigurationRecordsTheGrownTable() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let initialization = try FineTuning.initialization(
            directory: folder, task: task, freezeEncoder: false)
        #expect(initialization.extendingPositions(to: 64, by: .tile) == initialization)
        let grown = initialization.extendingPositions(to: 200, by: .interpolate)
        #expect(grown.bert?.maximumPositions == 200 && grown.trainedPositions == 64)
        #expect(grown.extendingPositions(to: 300, by: .interpolate).trainedPositions == 64)
        let decoded = try JSONDecoder().decode(
            PretrainedInitialization.self, from: try JSONEncoder().encode(grown))
        #expect(decoded == grown && decoded.positionExtension == .interpolate)
    }
}
