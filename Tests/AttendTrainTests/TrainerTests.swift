// The trainer's promises: a short run lowers the loss on every kind of task, a run resumed from a
// checkpoint repeats the uninterrupted run bit for bit (same thread count), a stop request writes a
// checkpoint, a non-finite loss stops with a message naming the step, and incompatible requests
// (causal task, non-causal mixer) are refused up front.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import AttendTesting
import AttendTrain
import Foundation
import Testing

/// A fresh run directory under the system temporary directory.
func temporaryRun(_ name: String) -> RunDirectory {
    let path = NSTemporaryDirectory() + "attend-\(name)-\(UUID().uuidString)"
    return RunDirectory(path: path)
}

func tinyConfiguration(_ taskName: String, mixer: String = "full", steps: Int = 40) throws
    -> (TrainingConfiguration, any SequenceTask)
{
    let task = try TaskCatalog.make(taskName, options: TaskOptions(preset: .tiny, seed: 3))
    var configuration = TrainingPresets.configuration(
        task: task, mixer: mixer, preset: .tiny, seed: 3)
    configuration.steps = steps
    return (configuration, task)
}

/// A task restricted to the first `count` training examples (other splits unchanged).
struct FirstTrainingExamples: SequenceTask {
    let base: any SequenceTask
    let count: Int
    var name: String { base.name }
    var kind: TaskKind { base.kind }
    var vocabularySize: Int { base.vocabularySize }
    var classCount: Int { base.classCount }
    var maxLength: Int { base.maxLength }
    var seed: UInt64 { base.seed }
    var classNames: [String] { base.classNames }
    func count(of split: Split) -> Int {
        split == .train ? Swift.min(count, base.count(of: .train)) : base.count(of: split)
    }
    func example(_ index: Int, in split: Split) -> Example { base.example(index, in: split) }
}

@Suite(.serialized, .optimizedBuildsOnly) struct TrainerTests {
    @Test(arguments: ["listops", "text", "retrieval", "image", "pathfinder", "bytelm"])
    func shortTrainingLowersTheLoss(_ taskName: String) throws {
        var (configuration, base) = try tinyConfiguration(
            taskName, steps: taskName == "pathfinder" ? 160 : 60)
        // Pathfinder's signal (one thin path among distractors) needs far more data than a test can
        // afford, so there the check is that the model fits 16 training images it sees many times.
        let task: any SequenceTask =
            taskName == "pathfinder" ? FirstTrainingExamples(base: base, count: 16) : base
        configuration.evaluationExamples = 64
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        let before = try trainer.evaluate(.train, limit: 64)
        _ = try trainer.train()
        let after = try trainer.evaluate(.train, limit: 64)
        #expect(
            after.loss < before.loss, "\(taskName): training loss \(before.loss) → \(after.loss)")
    }

    @Test(arguments: ["retrieval", "text", "bytelm"])
    func examplesLongerThanTheModelAreTruncated(_ taskName: String) throws {
        var (configuration, task) = try tinyConfiguration(taskName, steps: 2)
        configuration.model.maximumLength = 24  // `--seq-len 24`: shorter than every tiny passage
        #expect(task.maxLength > 24)
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        _ = try trainer.train()
        #expect(try trainer.evaluate(.validation).counted > 0)
    }

    @Test func resumedRunIsBitIdenticalToAnUninterruptedOne() throws {
        var (configuration, task) = try tinyConfiguration("listops", steps: 12)
        configuration.model.dropout = 0.1  // dropout must be reseeded identically after resuming
        let whole = temporaryRun("whole"), split = temporaryRun("split")
        defer { for r in [whole, split] { try? FileManager.default.removeItem(atPath: r.path) } }
        let uninterrupted = try Trainer(configuration: configuration, task: task, run: whole)
        _ = try uninterrupted.train()

        let first = try Trainer(configuration: configuration, task: task, run: split)
        // The optimizer, not the trainer: a closure the trainer holds must not hold the trainer
        // (the cycle leaked every trainer, LeakSanitizer found).
        let optimizer = first.optimizer
        first.stopRequested = { optimizer.stepCount >= 5 }
        let stopped = try first.train()
        #expect(stopped.interrupted && stopped.steps == 5)
        let second = try Trainer(configuration: configuration, task: task, run: split)
        let resumed = try second.train(resume: true)
        #expect(resumed.steps == 12 && !resumed.interrupted)
        for ((name, a), (_, b)) in zip(
            uninterrupted.model.namedParameters(), second.model.namedParameters())
        {
            #expect(a.value.scalars == b.value.scalars, "parameter \(name) differs after resuming")
        }
        let losses = { (run: RunDirectory) in
            run.metrics().filter { $0["event"] as? String == "train" }.map { $0["loss"] as? Double }
        }
        #expect(losses(whole) == losses(split))
    }

    @Test func stopRequestWritesACheckpoint() throws {
        let (configuration, task) = try tinyConfiguration("listops", steps: 30)
        let run = temporaryRun("stop")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        let trainer = try Trainer(configuration: configuration, task: task, run: run)
        trainer.stopRequested = { true }
        let summary = try trainer.train()
        #expect(summary.interrupted && summary.steps == 1)
        let file = try SafetensorsFile(path: run.checkpointPath)
        #expect(file.metadata["step"] == "1")
        #expect(!FileManager.default.fileExists(atPath: run.modelPath))
    }

    @Test func nonFiniteLossStopsWithTheStep() throws {
        let (configuration, task) = try tinyConfiguration("listops", steps: 10)
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        let first = trainer.model.parameters[0]
        first.value = Tensor(repeating: .nan, shape: first.shape)
        #expect {
            _ = try trainer.train()
        } throws: { error in
            guard case TrainingError.nonFiniteLoss(let step, _, _) = error else { return false }
            return step == 1 && "\(error)".contains("step 1")
        }
    }

    @Test func causalTaskRefusesANonCausalMixer() throws {
        let noncausal = Mechanisms.all.first { !$0.capabilities.supportsCausal }
        guard let noncausal else { return }  // every registered mixer is causal-capable
        let (configuration, task) = try tinyConfiguration("bytelm", mixer: noncausal.name)
        #expect(throws: TrainingError.self) {
            try Trainer(configuration: configuration, task: task, run: nil)
        }
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let (configuration, _) = try tinyConfiguration("text", mixer: "full")
        let data = try JSONEncoder().encode(configuration)
        #expect(try JSONDecoder().decode(TrainingConfiguration.self, from: data) == configuration)
    }
}
