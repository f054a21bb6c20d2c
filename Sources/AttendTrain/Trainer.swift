// The training loop. One step: pick the batch for this step (a function of seed and step), reseed
// dropout from (seed, step), differentiate the objective, stop on a non-finite loss, clip, update,
// log. Because nothing else carries state between steps, a run resumed from a checkpoint at step k
// repeats an uninterrupted run's steps k+1… bit for bit at the same thread count.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import Foundation

/// Loss and accuracy over a split.
public struct Evaluation: Sendable, Codable {
    public let split: String
    public let loss: Float
    public let accuracy: Float
    /// Examples (or tokens, for language modelling) counted.
    public let counted: Int
    /// Bits per token (language modelling: bits per byte).
    public var bitsPerToken: Float { loss / Float(M_LN2) }
}

/// What a finished (or interrupted) run reports.
public struct TrainingSummary: Sendable, Codable {
    public let steps: Int
    public let interrupted: Bool
    public let finalTrainingLoss: Float
    public let validation: Evaluation?
    public let tokensPerSecond: Double
    public let peakMemoryBytes: Int
    public let parameterCount: Int
    public let seconds: Double
}

/// Trains a model on a task.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let task: any SequenceTask
    public let model: any TaskModel
    public let optimizer: AdamW
    public let run: RunDirectory?
    /// Polled after every step; true stops the run with a checkpoint (Ctrl-C by default).
    public var stopRequested: () -> Bool = { InterruptFlag.isRaised }
    private var epochCache: (epoch: Int, batches: Batches)?

    /// A trainer with a fresh model; `run` nil keeps everything in memory (tests, `attend lra`).
    public init(configuration: TrainingConfiguration, task: any SequenceTask, run: RunDirectory?) throws {
        let mechanism = try Mechanisms.named(configuration.model.mixer)
        if task.isCausal && !mechanism.capabilities.supportsCausal {
            throw TrainingError.incompatible(
                "task \(task.name) is causal language modelling but mixer \(configuration.model.mixer) has no causal form; "
                    + "choose one of: \(Mechanisms.all.filter(\.capabilities.supportsCausal).map(\.name).joined(separator: ", "))")
        }
        self.configuration = configuration
        self.task = task
        model = try makeModel(for: task.kind, configuration.model)
        optimizer = AdamW(
            parameters: model.namedParameters(), beta1: configuration.beta1, beta2: configuration.beta2,
            epsilon: configuration.epsilon, weightDecay: configuration.weightDecay)
        self.run = run
    }

    /// The training batch of step `step` (0-based): epoch and position follow from the step.
    func batch(at step: Int) -> Batch {
        let perEpoch = Swift.max(task.count(of: .train) / configuration.batchSize, 1)
        let epoch = step / perEpoch
        if epochCache?.epoch != epoch {
            let batches = Batches(
                task: task, split: .train, batchSize: configuration.batchSize, epoch: epoch,
                seed: configuration.seed, dropsLast: task.count(of: .train) >= configuration.batchSize)
            epochCache = (epoch, batches)
        }
        let batches = epochCache!.batches
        return batches[step % Swift.max(batches.count, 1)]
    }

    /// Runs the remaining steps (all of them, or those after the checkpoint with `resume`).
    public func train(resume: Bool = false, progressLabel: String = "train") throws -> TrainingSummary {
        var start = 0
        if let run {
            try run.prepare()
            if resume {
                guard FileManager.default.fileExists(atPath: run.checkpointPath) else {
                    throw TrainingError.run("--resume: no checkpoint at \(run.checkpointPath)")
                }
                start = try Checkpoint.load(model: model, optimizer: optimizer, from: run.checkpointPath)
                try run.truncateMetrics(after: start)
            } else {
                try run.saveConfiguration(configuration)
                try? FileManager.default.removeItem(atPath: run.metricsPath)
            }
        }
        let schedule = configuration.learningRateSchedule
        let progress = ProgressReporter(
            label: progressLabel, total: configuration.steps, startStep: start, interval: configuration.logInterval)
        let memoryBefore = MemoryAccounting.liveBytes
        MemoryAccounting.resetPeak()
        var tokens = 0
        var lastLoss: Float = .nan
        var interrupted = false
        var lastCheckpoint: String? = resume ? run?.checkpointPath : nil
        var validation: Evaluation?
        model.train()
        var step = start
        while step < configuration.steps {
            let batch = batch(at: step)
            model.reseedRandomness(RandomGenerator.mix(configuration.seed, UInt64(step)))
            var metrics: BatchMetrics?
            var (loss, gradients) = try valueAndGradient(of: model) { model in
                let output = try model.output(for: batch, trainingStep: step)
                let m = Objective.evaluate(
                    output, batch: batch, kind: task.kind, labelSmoothing: configuration.labelSmoothing)
                metrics = m
                return m.loss
            }
            guard loss.scalar.isFinite, gradients.isFinite else {
                throw TrainingError.nonFiniteLoss(step: step + 1, loss: loss.scalar, checkpoint: lastCheckpoint)
            }
            let norm = configuration.gradientClip > 0
                ? clipGlobalNorm(&gradients, maxNorm: configuration.gradientClip) : gradients.globalNorm
            let rate = schedule.learningRate(at: step)
            optimizer.step(gradients, learningRate: rate)
            step += 1
            lastLoss = loss.scalar
            tokens += batch.realTokenCount
            let accuracy = metrics.map { Float($0.correct) / Float(Swift.max($0.counted, 1)) } ?? 0
            let tokensPerSecond = Double(tokens) / Swift.max(progress.elapsed, 1e-9)
            progress.update(step: step, loss: lastLoss, accuracy: accuracy, tokensPerSecond: tokensPerSecond)
            if step % Swift.max(configuration.logInterval, 1) == 0 || step == configuration.steps {
                try run?.log([
                    "event": "train", "step": step, "loss": Double(lastLoss), "accuracy": Double(accuracy),
                    "learning_rate": Double(rate), "gradient_norm": Double(norm),
                    "tokens_per_second": tokensPerSecond, "elapsed": progress.elapsed,
                ])
            }
            if configuration.evaluationInterval > 0 && step % configuration.evaluationInterval == 0 && step < configuration.steps {
                let e = try evaluate(.validation, limit: configuration.evaluationExamples)
                progress.note(String(format: "step %d: validation loss %.4f, accuracy %.4f", step, e.loss, e.accuracy))
                try run?.log(["event": "evaluate", "step": step, "split": e.split, "loss": Double(e.loss), "accuracy": Double(e.accuracy)])
            }
            let checkpointDue = configuration.checkpointInterval > 0 && step % configuration.checkpointInterval == 0
            if stopRequested() { interrupted = true }
            if let run, checkpointDue || interrupted || step == configuration.steps {
                try Checkpoint.save(model: model, optimizer: optimizer, step: step, to: run.checkpointPath)
                lastCheckpoint = run.checkpointPath
                if interrupted { progress.note("interrupted: checkpoint at step \(step) written to \(run.checkpointPath); continue with --resume") }
            }
            if interrupted { break }
        }
        let peak = MemoryAccounting.peakBytes - memoryBefore
        if !interrupted {
            validation = try evaluate(.validation, limit: configuration.evaluationExamples)
            if let run, let validation {
                try Checkpoint.saveModel(model, to: run.modelPath, metadata: ["task": task.name, "mixer": configuration.model.mixer])
                try run.log([
                    "event": "evaluate", "step": step, "split": validation.split, "loss": Double(validation.loss),
                    "accuracy": Double(validation.accuracy),
                ])
            }
        }
        return TrainingSummary(
            steps: step, interrupted: interrupted, finalTrainingLoss: lastLoss, validation: validation,
            tokensPerSecond: Double(tokens) / Swift.max(progress.elapsed, 1e-9), peakMemoryBytes: peak,
            parameterCount: model.parameterCount, seconds: progress.elapsed)
    }

    /// Loss and accuracy on `split` in evaluation mode (`limit` > 0 uses only the first examples).
    public func evaluate(_ split: Split, limit: Int = 0) throws -> Evaluation {
        model.eval()
        defer { model.train() }
        let batches = Batches(task: task, split: split, batchSize: configuration.batchSize, shuffled: false)
        var lossSum: Double = 0, correct = 0, counted = 0, seen = 0
        for batch in batches {
            if limit > 0 && seen >= limit { break }
            seen += batch.size
            try withoutGradient {
                let output = try model.output(for: batch, trainingStep: optimizer.stepCount)
                let m = Objective.evaluate(output, batch: batch, kind: task.kind)
                lossSum += Double(m.taskLoss) * Double(m.counted)
                correct += m.correct
                counted += m.counted
            }
        }
        return Evaluation(
            split: split.rawValue, loss: Float(lossSum / Double(Swift.max(counted, 1))),
            accuracy: Float(correct) / Float(Swift.max(counted, 1)), counted: counted)
    }
}
