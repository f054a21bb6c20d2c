// Self-pretraining through the ordinary trainer: a short pretraining run lowers the masked-token
// loss, its run directory says what it is, and a classifier initialised from it (`--init-from`)
// holds exactly its encoder (the mask token's embedding row dropped) while a model of another
// shape is refused with the names that do not fit.
import AttendCore
import AttendData
import AttendModels
import AttendNN
import AttendTrain
import Foundation
import Testing

/// The tiny pretraining run of `taskName`, `steps` steps at the task's default mask rate.
func tinyPretraining(_ taskName: String, steps: Int) throws -> (
    TrainingConfiguration, any SequenceTask
) {
    let (base, task) = try tinyConfiguration(taskName, steps: steps)
    let masking = MaskingOptions(rate: Pretraining.defaultMaskRate(for: task))
    let configuration = try Pretraining.configuration(from: base, masking: masking)
    return (
        configuration, try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
    )
}

@Suite(.serialized, .optimizedBuildsOnly) struct PretrainingTests {
    @Test(arguments: ["listops", "retrieval", "image"])
    func pretrainingLowersTheMaskedTokenLoss(_ taskName: String) throws {
        let (configuration, task) = try tinyPretraining(taskName, steps: 60)
        #expect(
            task.kind == .maskedTokens
                && configuration.model.vocabularySize == configuration.model.classCount + 1)
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        let before = try trainer.evaluate(.validation, limit: 64)
        _ = try trainer.train()
        let after = try trainer.evaluate(.validation, limit: 64)
        #expect(
            after.loss < before.loss,
            "\(taskName): masked-token loss \(before.loss) → \(after.loss)")
    }

    @Test func initFromAPretrainingRunCopiesItsEncoderExactly() throws {
        let run = temporaryRun("pretrain")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let (pretraining, task) = try tinyPretraining("listops", steps: 3)
        _ = try Trainer(configuration: pretraining, task: task, run: run).train()
        #expect(
            try run.loadConfiguration().taskOptions.masking != nil,
            "the run records that it is a pretraining")

        let (configuration, base) = try tinyConfiguration("listops", steps: 1)
        let fresh = try Trainer(configuration: configuration, task: base, run: nil).model
        let model = try Trainer(configuration: configuration, task: base, run: nil).model
        let copied = try Pretraining.loadEncoder(into: model, fromRun: run.path)
        let saved = try SafetensorsFile(path: run.modelPath)
        let initial = Dictionary(uniqueKeysWithValues: fresh.stateDictionary())
        var encoderCount = 0
        for (name, value) in model.stateDictionary() {
            guard name.hasPrefix("encoder.") else {
                #expect(
                    value.scalars == initial[name]!.scalars, "\(name) is not part of the encoder")
                continue
            }
            encoderCount += 1
            var expected = try saved.tensor(name)
            if name == "encoder.token_embedding.weight" {
                #expect(
                    expected.shape[0] == value.shape[0] + 1,
                    "the pretraining embeds one more token (mask)")
                expected = expected.sliced(alongAxis: 0, 0..<value.shape[0])
            }
            #expect(value.shape == expected.shape && value.scalars == expected.scalars, "\(name)")
        }
        #expect(copied == encoderCount && encoderCount > 0)
    }

    @Test func aModelOfAnotherShapeIsRefusedWithTheNames() throws {
        let run = temporaryRun("pretrain-mismatch")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let (pretraining, task) = try tinyPretraining("listops", steps: 1)
        _ = try Trainer(configuration: pretraining, task: task, run: run).train()
        var (configuration, base) = try tinyConfiguration("listops", steps: 1)
        configuration.model.layerCount = 2
        configuration.model.feedForwardDimension = 32
        let model = try Trainer(configuration: configuration, task: base, run: nil).model
        let before = model.stateDictionary().map(\.1.scalars)
        #expect {
            try Pretraining.loadEncoder(into: model, fromRun: run.path)
        } throws: { error in
            let message = "\(error)"
            return message.contains("missing") && message.contains("encoder.layers.1.")
                && message.contains("encoder.layers.0.feed_forward")
                && message.contains("model expects [")
        }
        #expect(
            model.stateDictionary().map(\.1.scalars) == before, "nothing is copied on a mismatch")
    }
}
