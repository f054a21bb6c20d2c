// Gradient accumulation: N micro-batches, each weighted by its share of the batch's counted targets
// (examples, or real tokens for language modelling), give the gradient of the whole batch. The
// micro-batches' padding masks differ (examples of different lengths), so a weighting by
// micro-batch instead of by target would fail the comparison. Tolerance `reordered`: the two
// computations do the same float32 arithmetic except for how the batch's sums are grouped.
import AttendCore
import AttendData
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendTrain

@Suite(.optimizedBuildsOnly) struct AccumulationTests {
    @Test(arguments: ["listops", "text", "bytelm"])
    func accumulatedMicroBatchesEqualTheWholeBatch(_ taskName: String) throws {
        var (configuration, task) = try tinyConfiguration(taskName, steps: 1)
        configuration.batchSize = 8
        let whole = try Trainer(configuration: configuration, task: task, run: nil)
        configuration.accumulate = 4
        let accumulated = try Trainer(configuration: configuration, task: task, run: nil)
        var batch = whole.batch(at: 0)
        if task.kind == .languageModel {
            // Byte windows all have one length: cut them to different lengths, so the micro-batches
            // hold different numbers of real tokens (the weights cᵢ/C differ from 1/N).
            let examples = (0..<8).map { row in
                let full = task.example(batch.exampleIndices[row], in: .train)
                let length = full.tokens.count * (8 - row) / 8
                return Example(
                    tokens: Array(full.tokens.prefix(length)),
                    targets: Array(full.targets!.prefix(length)))
            }
            batch = Batch.collate(
                examples, indices: batch.exampleIndices, padding: .longest, padID: task.padID)
        }
        let microCounts = batch.split(into: 4).map {
            Objective.countedTargets(in: $0, kind: task.kind)
        }
        let microMasks = batch.split(into: 4).map { $0.mask.summed().scalar }
        #expect(
            Set(microMasks).count > 1,
            "the micro-batches' padding masks should differ: \(microMasks)")
        if task.kind == .languageModel {
            #expect(
                Set(microCounts).count > 1,
                "token counts should differ across micro-batches: \(microCounts)")
        }
        let (one, oneGradients) = try whole.accumulatedGradients(on: batch, step: 0)
        let (four, fourGradients) = try accumulated.accumulatedGradients(on: batch, step: 0)
        #expect(
            Tolerance.reordered.accepts(four.loss, one.loss), "loss \(four.loss) vs \(one.loss)")
        #expect(
            four.counted == one.counted && four.correct == one.correct && four.tokens == one.tokens)
        for ((name, a), (_, b)) in zip(
            whole.model.namedParameters(), accumulated.model.namedParameters())
        {
            guard let expected = oneGradients[a] else {
                #expect(fourGradients[b] == nil, "\(name): only the accumulated run has a gradient")
                continue
            }
            let actual = try #require(fourGradients[b], "\(name): no accumulated gradient")
            try assertClose(actual, expected, .reordered, "\(taskName) gradient of \(name)")
        }
    }

    /// Evaluation runs in micro-batches (so it fits wherever a training step does) and gives the
    /// whole batches' loss and accuracy; a limit of one micro-batch evaluates only its examples.
    @Test func evaluationInMicroBatchesEqualsWholeBatches() throws {
        var (configuration, task) = try tinyConfiguration("listops", steps: 1)
        configuration.batchSize = 8
        let whole = try Trainer(configuration: configuration, task: task, run: nil)
        configuration.accumulate = 4
        let micro = try Trainer(configuration: configuration, task: task, run: nil)
        let (a, b) = (try whole.evaluate(.validation), try micro.evaluate(.validation))
        #expect(a.counted == b.counted && a.accuracy == b.accuracy)
        #expect(Tolerance.reordered.accepts(b.loss, a.loss), "loss \(b.loss) vs \(a.loss)")
        #expect(try micro.evaluate(.validation, limit: 2).counted == 2)
    }

    @Test func anAccumulationThatDoesNotDivideTheBatchIsRefused() throws {
        var (configuration, task) = try tinyConfiguration("listops", steps: 1)
        configuration.accumulate = 3
        #expect {
            _ = try Trainer(configuration: configuration, task: task, run: nil)
        } throws: { error in
            "\(error)".contains("--accumulate 3") && "\(error)".contains("divide the batch of 8")
        }
    }

    @Test func olderConfigurationsLoadWithoutAccumulationOrCheckpointing() throws {
        let (configuration, _) = try tinyConfiguration("text", steps: 1)
        var json =
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
            as! [String: Any]
        #expect(json["accumulate"] as? Int == 1 && json["checkpoint_activations"] as? Int == 0)
        json["accumulate"] = nil
        json["checkpoint_activations"] = nil
        let older = try JSONDecoder().decode(
            TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(older == configuration)
    }

    @Test func aResumedAccumulatingRunRepeatsTheUninterruptedOne() throws {
        var (configuration, task) = try tinyConfiguration("listops", steps: 6)
        configuration.accumulate = 2
        configuration.checkpointActivations = 1
        configuration.model.dropout = 0.1
        let whole = temporaryRun("accumulate-whole"), split = temporaryRun("accumulate-split")
        defer { for r in [whole, split] { try? FileManager.default.removeItem(atPath: r.path) } }
        let uninterrupted = try Trainer(configuration: configuration, task: task, run: whole)
        _ = try uninterrupted.train()
        let first = try Trainer(configuration: configuration, task: task, run: split)
        let optimizer = first.optimizer  // captured instead of the trainer, which holds the closure
        first.stopRequested = { optimizer.stepCount >= 3 }
        _ = try first.train()
        let second = try Trainer(
            configuration: try split.loadConfiguration(), task: task, run: split)
        _ = try second.train(resume: true)
        for ((name, a), (_, b)) in zip(
            uninterrupted.model.namedParameters(), second.model.namedParameters())
        {
            #expect(a.value.scalars == b.value.scalars, "parameter \(name) differs after resuming")
        }
    }
}
