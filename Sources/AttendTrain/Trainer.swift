// The training loop. One step: pick the batch for this step (a function of seed and step), reseed
// dropout from (seed, step), differentiate the objective, stop on a non-finite loss, clip, update,
// log. Because nothing else carries state between steps, a run resumed from a checkpoint at step k
// repeats an uninterrupted run's steps k+1… bit for bit at the same thread count.
//
// Data parallel (a `Communicator` of N > 1 processes): process r takes the r-th of N contiguous
// shards of each global batch, padded to the global batch's length; the gradients, weighted by the
// targets each process counted, are averaged in buckets (GradientBuckets.swift), so every process
// applies the update one process would compute on the whole batch. Process 0 alone writes files.
//
// Gradient accumulation (`accumulate` N): each process's batch is cut into N micro-batches whose
// weighted gradients are summed before the one optimizer step, so the global batch is processes ×
// micro-batch × N. Checkpoints fall on optimizer steps, so a resumed run never starts mid-batch.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import Foundation

/// Loss and accuracy over a split.
public struct Evaluation: Sendable, Codable {
    /// The split evaluated, e.g. "validation" or "test".
    public let split: String
    /// Mean loss (nats) over the counted examples or tokens.
    public let loss: Float
    /// Fraction of the counted examples or tokens predicted correctly, in [0, 1].
    public let accuracy: Float
    /// Examples (or tokens, for language modelling) counted.
    public let counted: Int
    /// Bits per token (language modelling: bits per byte).
    public var bitsPerToken: Float { loss / Float(M_LN2) }
}

/// What a finished (or interrupted) run reports.
public struct TrainingSummary: Sendable, Codable {
    /// Optimizer steps completed (fewer than configured when interrupted).
    public let steps: Int
    /// Whether the run stopped early on an interrupt (after checkpointing).
    public let interrupted: Bool
    /// Mean loss of the last training step.
    public let finalTrainingLoss: Float
    /// The final validation; nil when the run was interrupted.
    public let validation: Evaluation?
    /// Real tokens per second of the training steps (checkpoint writes included, the final
    /// validation not).
    public let tokensPerSecond: Double
    /// Peak tensor memory the run added, in bytes.
    public let peakMemoryBytes: Int
    /// Trainable parameters of the model.
    public let parameterCount: Int
    /// Wall-clock seconds of the training steps.
    public let seconds: Double
    /// Processes that trained together (1 unless distributed).
    public var processes: Int = 1
    /// Seconds in collective operations (gradient all-reduce with its packing, metrics, state
    /// broadcast); 0 for one process.
    public var communicationSeconds: Double = 0
}

/// Trains a model on a task.
public final class Trainer {
    /// The run's configuration, validated when the trainer was made.
    public let configuration: TrainingConfiguration
    /// The task whose train split is trained on and whose validation split is evaluated.
    public let task: any SequenceTask
    /// The model being trained.
    public let model: any TaskModel
    /// The optimizer over the model's parameters.
    public let optimizer: AdamW
    /// Where metrics, checkpoints and the final model go; nil writes nothing.
    public let run: RunDirectory?
    /// The processes training together (one by default).
    public let communicator: any Communicator
    /// Largest all-reduce call for gradients, in bytes (distributed runs).
    public var bucketBytes = GradientBuckets.defaultBytes
    /// Polled after every step; true stops the run with a checkpoint (Ctrl-C by default). In a
    /// distributed run, a request on any process stops all of them after the same step.
    public var stopRequested: () -> Bool = { InterruptFlag.isRaised }
    private var epochCache: (epoch: Int, batches: Batches)?
    private var buckets: GradientBuckets?
    /// Seconds spent in collective operations during `train()`.
    private var communicationSeconds = 0.0
    /// The step in progress (1-based; 0 before the first), for timeout messages.
    private var currentStep = 0

    /// A trainer with a fresh model; `run` nil keeps everything in memory (tests, `attend lra`).
    /// With a `communicator` of several processes, each trains on its shard of every batch and
    /// only rank 0 touches `run`.
    public init(
        configuration: TrainingConfiguration, task: any SequenceTask, run: RunDirectory?,
        communicator: any Communicator = SingleProcessCommunicator()
    ) throws {
        try configuration.validate()
        try Self.checkCompatible(configuration, task: task)
        self.configuration = configuration
        self.task = task
        model = try makeModel(for: task.kind, configuration.model)
        try enableActivationCheckpointing(
            in: model, everyBlocks: configuration.checkpointActivations)
        optimizer = AdamW(
            parameters: model.namedParameters(), beta1: configuration.beta1,
            beta2: configuration.beta2,
            epsilon: configuration.epsilon, weightDecay: configuration.weightDecay,
            peakLearningRate: configuration.learningRate)
        self.run = run
        self.communicator = communicator
        let n = communicator.size
        let perProcess = configuration.batchSize / n
        guard configuration.accumulate >= 1, perProcess % configuration.accumulate == 0 else {
            throw TrainingError.incompatible(
                "--accumulate \(configuration.accumulate) must be ≥ 1 and divide the batch of "
                    + "\(perProcess) examples \(n > 1 ? "per process " : "")"
                    + "into equal micro-batches; "
                    + "choose a divisor of \(perProcess)")
        }
        if n > 1 {
            guard configuration.batchSize % n == 0 else {
                throw TrainingError.incompatible(
                    "batch size \(configuration.batchSize) is not divisible by the \(n) processes: each process takes "
                        + "batch/\(n) examples of every batch; choose --batch as a multiple of \(n)"
                )
            }
            guard task.count(of: .train) >= configuration.batchSize else {
                throw TrainingError.incompatible(
                    "the training split of \(task.name) has \(task.count(of: .train)) examples, fewer than one batch of "
                        + "\(configuration.batchSize); a distributed run needs at least one full batch"
                )
            }
        }
    }

    /// Refuses a mixer without a causal form for a causal task, naming the ones that have one.
    static func checkCompatible(_ configuration: TrainingConfiguration, task: any SequenceTask)
        throws
    {
        let mechanism = try Mechanisms.named(configuration.model.mixer)
        if task.isCausal && !mechanism.capabilities.supportsCausal {
            throw TrainingError.incompatible(
                "task \(task.name) is causal language modelling but mixer \(configuration.model.mixer) has no causal form; "
                    + "choose one of: \(Mechanisms.all.filter(\.capabilities.supportsCausal).map(\.name).joined(separator: ", "))"
            )
        }
    }

    /// The process that writes logs, checkpoints and the model: rank 0's run directory.
    private var writer: RunDirectory? { communicator.isRoot ? run : nil }
    private var isDistributed: Bool { communicator.size > 1 }
    /// Examples longer than the model's longest input (`--seq-len`) are cut, keeping their start.
    private var padding: Padding { .longestUpTo(configuration.model.maximumLength) }
    /// Examples per evaluation batch: one process's training micro-batch. Evaluation keeps no
    /// activations for gradients, so it then needs less memory than the step the memory check
    /// measured; Path-X at preset `lra` evaluated whole batches of 512 at 13.0 GiB resident after
    /// training at 5.9 GiB with `--accumulate 16` (docs/results/memory.md).
    private var evaluationBatchSize: Int {
        Swift.max(configuration.batchSize / communicator.size / configuration.accumulate, 1)
    }

    /// The batches of the epoch that step `step` (0-based) falls in, and the step's position in it.
    private func epochBatches(for step: Int) -> (batches: Batches, position: Int) {
        let perEpoch = Swift.max(task.count(of: .train) / configuration.batchSize, 1)
        let epoch = step / perEpoch
        if epochCache?.epoch != epoch {
            let batches = Batches(
                task: task, split: .train, batchSize: configuration.batchSize, epoch: epoch,
                seed: configuration.seed, padding: padding,
                dropsLast: task.count(of: .train) >= configuration.batchSize)
            epochCache = (epoch, batches)
        }
        let batches = epochCache!.batches
        return (batches, step % Swift.max(batches.count, 1))
    }

    /// The training batch of step `step` (0-based): epoch and position follow from the step.
    func batch(at step: Int) -> Batch {
        let (batches, position) = epochBatches(for: step)
        return batches[position]
    }

    /// This process's part of the batch of step `step`: the rank-th of `size` contiguous shards,
    /// padded to the length the whole batch would have (one small all-reduce of lengths), so that
    /// length-dependent mechanisms see what a single process would.
    func shard(at step: Int) throws -> Batch {
        guard isDistributed else { return batch(at: step) }
        let (batches, position) = epochBatches(for: step)
        let start = position * configuration.batchSize
        let members = batches.order[
            start..<Swift.min(start + configuration.batchSize, batches.order.count)]
        let perProcess = members.count / communicator.size
        let first = members.startIndex + communicator.rank * perProcess
        let mine = Array(members[first..<(first + perProcess)])
        let examples = mine.map { task.example($0, in: .train) }
        let local = [
            Double(examples.map(\.tokens.count).max() ?? 0),
            Double(examples.map { $0.pairTokens?.count ?? 0 }.max() ?? 0),
        ]
        let global = try collective("batch lengths") { try communicator.allReduce(local, .maximum) }
        // `collate` pads both sequences of a pair task to one fixed length: the longer of the two.
        let longest = Swift.max(Int(global[0]), Int(global[1]), 1)
        return Batch.collate(
            examples, indices: mine, padding: .fixed(padding.width(longest: longest)),
            padID: task.padID)
    }

    /// The seed of step `step`'s randomness (dropout); each process of a distributed run draws its own.
    private func randomSeed(at step: Int) -> UInt64 {
        let seed = RandomGenerator.mix(configuration.seed, UInt64(step))
        return isDistributed
            ? RandomGenerator.mix(seed, 0x5241_4E4B + UInt64(communicator.rank)) : seed  // "RANK"
    }

    /// Runs the remaining steps (all of them, or those after the checkpoint with `resume`): each
    /// one a `trainStep`, then the metrics line, `evaluateIfDue` and `checkpointIfDue`; then the
    /// final validation and model.
    public func train(resume: Bool = false, progressLabel: String = "train") throws
        -> TrainingSummary
    {
        communicationSeconds = 0
        currentStep = 0
        let start = try startRun(resume: resume)
        let progress = ProgressReporter(
            label: progressLabel, total: configuration.steps, startStep: start,
            interval: configuration.logInterval, isSilent: !communicator.isRoot)
        let memoryBefore = MemoryAccounting.liveBytes
        MemoryAccounting.resetPeak()
        var tokens = 0
        var lastLoss: Float = .nan
        var interrupted = false
        var lastCheckpoint: String? = resume ? run?.checkpointPath : nil
        model.train()
        var step = start
        while step < configuration.steps {
            let result = try trainStep(step, lastCheckpoint: lastCheckpoint)
            step += 1
            lastLoss = result.loss
            tokens += result.tokens
            let tokensPerSecond = Double(tokens) / Swift.max(progress.elapsed, 1e-9)
            progress.update(
                step: step, loss: lastLoss, accuracy: result.accuracy,
                tokensPerSecond: tokensPerSecond)
            if step % Swift.max(configuration.logInterval, 1) == 0 || step == configuration.steps {
                try writer?.log(
                    TrainingStepRecord(
                        step: step, loss: Double(lastLoss), accuracy: Double(result.accuracy),
                        learningRate: Double(result.learningRate),
                        gradientNorm: Double(result.gradientNorm),
                        tokensPerSecond: tokensPerSecond, elapsed: progress.elapsed,
                        communicationSeconds: isDistributed ? communicationSeconds : nil))
            }
            try evaluateIfDue(after: step, progress: progress)
            interrupted = try anyProcessRequestsStop()
            if try checkpointIfDue(after: step, interrupted: interrupted, progress: progress) {
                lastCheckpoint = run?.checkpointPath
            }
            if interrupted { break }
        }
        let peak = MemoryAccounting.peakBytes - memoryBefore
        let trainingSeconds = progress.elapsed
        let validation = interrupted ? nil : try finish(after: step)
        if isDistributed {  // process 0 has written the model
            try collective("final barrier") { try communicator.barrier() }
        }
        return TrainingSummary(
            steps: step, interrupted: interrupted, finalTrainingLoss: lastLoss,
            validation: validation,
            tokensPerSecond: Double(tokens) / Swift.max(trainingSeconds, 1e-9),
            peakMemoryBytes: peak, parameterCount: model.parameterCount, seconds: progress.elapsed,
            processes: communicator.size, communicationSeconds: communicationSeconds)
    }

    /// What one optimizer step reports.
    struct StepResult {
        /// Mean loss over the batch's counted targets (every process's, when distributed).
        let loss: Float
        let accuracy: Float
        /// Real tokens of the batch.
        let tokens: Int
        let learningRate: Float
        /// Global gradient norm before clipping.
        let gradientNorm: Float
    }

    /// Optimizer step `step` (0-based): this process's shard of the batch, the gradients of its
    /// micro-batches (averaged over the processes), a stop on a non-finite loss naming the step
    /// and `lastCheckpoint`, clipping and the update.
    func trainStep(_ step: Int, lastCheckpoint: String?) throws -> StepResult {
        currentStep = step + 1
        let batch = try shard(at: step)
        model.reseedRandomness(randomSeed(at: step))
        var (totals, gradients) = try accumulatedGradients(on: batch, step: step)
        if isDistributed { totals = try reduce(totals, gradients: &gradients) }
        guard totals.loss.isFinite, gradients.isFinite else {
            throw TrainingError.nonFiniteLoss(
                step: step + 1, loss: totals.loss, checkpoint: lastCheckpoint)
        }
        let norm =
            configuration.gradientClip > 0
            ? clipGlobalNorm(&gradients, maxNorm: configuration.gradientClip) : gradients.globalNorm
        let rate = configuration.learningRateSchedule.learningRate(at: step)
        optimizer.step(gradients, learningRate: rate)
        return StepResult(
            loss: totals.loss,
            accuracy: Float(totals.correct) / Float(Swift.max(totals.counted, 1)),
            tokens: totals.tokens, learningRate: rate, gradientNorm: norm)
    }

    /// Prepares the run directory and returns the first step to run: 0, or with `resume` the
    /// checkpoint's step (its model and optimizer loaded, the metrics after it dropped). A
    /// distributed run then copies process 0's state to every process and logs its buckets.
    private func startRun(resume: Bool) throws -> Int {
        var start = 0
        if let writer {
            try writer.prepare()
            if resume {
                guard FileManager.default.fileExists(atPath: writer.checkpointPath) else {
                    throw TrainingError.run("--resume: no checkpoint at \(writer.checkpointPath)")
                }
                start = try Checkpoint.load(
                    model: model, optimizer: optimizer, from: writer.checkpointPath)
                // Records after the checkpoint are written again, and so is the final
                // evaluation (the only "evaluate" at the last step) when the run had finished.
                let last = configuration.steps
                try writer.keepMetrics { record in
                    let step = record["step"] as? Int ?? 0
                    let isEvaluation = record["event"] as? String == "evaluate"
                    return step <= start && !(step == last && isEvaluation)
                }
            } else {
                try writer.saveConfiguration(configuration)
                try? FileManager.default.removeItem(atPath: writer.metricsPath)
            }
        }
        guard isDistributed else { return start }
        start = try collective("state broadcast from process 0") {
            try Replicas.broadcastState(
                model: model, optimizer: optimizer, step: start, over: communicator)
        }
        let buckets = GradientBuckets(
            parameters: optimizer.parameters.map(\.1), bucketBytes: bucketBytes)
        self.buckets = buckets
        try writer?.log(
            DistributedRecord(
                step: start, processes: communicator.size,
                bucketBytes: buckets.capacity * MemoryLayout<Float>.stride,
                buckets: buckets.buckets.count))
        return start
    }

    /// Validates (and logs it) when `step` falls on the evaluation interval before the last step;
    /// the last step's validation is `finish`'s.
    private func evaluateIfDue(after step: Int, progress: ProgressReporter) throws {
        let interval = configuration.evaluationInterval
        guard interval > 0 && step % interval == 0 && step < configuration.steps else { return }
        let e = try evaluate(.validation, limit: configuration.evaluationExamples)
        progress.note(
            String(
                format: "step %d: validation loss %.4f, accuracy %.4f", step, e.loss, e.accuracy))
        try writer?.log(EvaluationRecord(step: step, e))
    }

    /// Whether a stop was requested (Ctrl-C), on any process of a distributed run.
    private func anyProcessRequestsStop() throws -> Bool {
        let stop = stopRequested()
        guard isDistributed else { return stop }
        return try collective("stop request") { try communicator.any(stop) }
    }

    /// Writes the checkpoint when `step` falls on the checkpoint interval, is the last, or the run
    /// was `interrupted`, after checking that the replicas agree; true when a checkpoint exists for
    /// `step` (the run has a directory).
    private func checkpointIfDue(
        after step: Int, interrupted: Bool, progress: ProgressReporter
    ) throws -> Bool {
        let interval = configuration.checkpointInterval
        let due = interval > 0 && step % interval == 0
        guard due || interrupted || step == configuration.steps else { return false }
        if isDistributed {
            try collective("replica check") {
                try Replicas.verify(model, step: step, over: communicator)
            }
        }
        guard let run else { return false }
        if let writer {
            try Checkpoint.save(
                model: model, optimizer: optimizer, step: step, to: writer.checkpointPath)
        }
        if interrupted {
            progress.note(
                "interrupted: checkpoint at step \(step) written to \(run.checkpointPath); "
                    + "continue with --resume")
        }
        return true
    }

    /// The final validation after `step` steps; process 0 saves the model and logs it.
    private func finish(after step: Int) throws -> Evaluation {
        let validation = try evaluate(.validation, limit: configuration.evaluationExamples)
        if let writer {
            try Checkpoint.saveModel(
                model, to: writer.modelPath,
                metadata: ["task": task.name, "mixer": configuration.model.mixer])
            try writer.log(EvaluationRecord(step: step, validation))
        }
        return validation
    }

    /// The gradient of the mean loss over `batch`'s counted targets, summed over
    /// `configuration.accumulate` micro-batches of contiguous rows. Micro-batch i's objective Lᵢ
    /// (the mean over its cᵢ targets, plus its auxiliary losses) is weighted by cᵢ/C, C the
    /// whole batch's count, so the weighted sum is the whole batch's mean loss and its gradient the
    /// whole batch's up to float summation order. Auxiliary losses (Switch's balance loss) are
    /// computed per micro-batch and weighted like its task loss, as distributed shards are. Only
    /// one micro-batch's activations are alive at a time.
    func accumulatedGradients(on batch: Batch, step: Int) throws
        -> ((loss: Float, correct: Int, counted: Int, tokens: Int), Gradients)
    {
        let parts = batch.split(into: configuration.accumulate)
        let whole = Objective.countedTargets(in: batch, kind: task.kind)
        var totals = (loss: Float(0), correct: 0, counted: 0, tokens: batch.realTokenCount)
        var gradients = Gradients()
        for part in parts {
            let counted = Objective.countedTargets(in: part, kind: task.kind)
            // A micro-batch without targets (all padding) has a 0/0 loss and contributes nothing.
            if parts.count > 1 && counted == 0 { continue }
            let weight = parts.count == 1 ? 1 : Float(counted) / Float(whole)
            var metrics: BatchMetrics?
            let (loss, partGradients) = try valueAndGradient(of: model) { model in
                let output = try model.output(for: part, trainingStep: step)
                let m = Objective.evaluate(
                    output, batch: part, kind: task.kind,
                    labelSmoothing: configuration.labelSmoothing)
                metrics = m
                return weight == 1 ? m.loss : m.loss * weight
            }
            gradients.accumulate(partGradients)
            totals.loss += loss.scalar
            totals.correct += metrics?.correct ?? 0
            totals.counted += metrics?.counted ?? 0
        }
        return (totals, gradients)
    }

    /// Step totals over every process, with the gradients averaged in buckets, weighted by the targets
    /// each process counted: Σ_r c_r·L_r / Σ_r c_r is the mean loss over the whole batch, and likewise
    /// for the gradients, so N processes on B/N examples each compute one process's step on B.
    private func reduce(
        _ local: (loss: Float, correct: Int, counted: Int, tokens: Int), gradients: inout Gradients
    ) throws -> (loss: Float, correct: Int, counted: Int, tokens: Int) {
        let buckets = self.buckets!
        // A shard whose targets are all padding has a 0/0 loss; it contributes nothing.
        if local.counted == 0 { gradients = Gradients() }
        let weight = Double(local.counted)
        var values = [
            local.counted == 0 ? 0 : Double(local.loss) * weight, weight, Double(local.correct),
            Double(local.tokens),
        ]
        // which parameters got a gradient
        values += buckets.parameters.map { gradients[$0] == nil ? 0 : 1 }
        let sums = try collective("step totals") { try communicator.allReduce(values, .sum) }
        let total = Swift.max(sums[1], 1)
        try collective("gradients") {
            try buckets.average(
                &gradients, weight: Float(weight), totalWeight: Float(total),
                present: sums[4...].map { $0 > 0 },
                over: communicator)
        }
        return (Float(sums[0] / total), Int(sums[2]), Int(sums[1]), Int(sums[3]))
    }

    /// Runs a collective operation named `purpose` (for timeout messages), adding its time to
    /// `communicationSeconds`.
    private func collective<T>(_ purpose: String, _ body: () throws -> T) rethrows -> T {
        communicator.phase = currentStep > 0 ? "step \(currentStep) (\(purpose))" : purpose
        let start = ContinuousClock.now
        defer {
            communicationSeconds += (ContinuousClock.now - start) / .seconds(1)
        }
        return try body()
    }

    /// Loss and accuracy on `split` in evaluation mode (`limit` > 0 uses only the first examples).
    /// In a distributed run the processes take turns over the batches and sum their totals.
    /// Batches hold one process's training micro-batch of examples (`evaluationBatchSize`).
    public func evaluate(_ split: Split, limit: Int = 0) throws -> Evaluation {
        model.eval()
        defer { model.train() }
        let size = evaluationBatchSize
        let batches = Batches(
            task: task, split: split, batchSize: size, shuffled: false, padding: padding)
        var lossSum: Double = 0, correct = 0, counted = 0
        for index in stride(from: communicator.rank, to: batches.count, by: communicator.size) {
            if limit > 0 && index * size >= limit { break }
            let batch = batches[index]
            try withoutGradient {
                let output = try model.output(for: batch, trainingStep: optimizer.stepCount)
                let m = Objective.evaluate(output, batch: batch, kind: task.kind)
                lossSum += Double(m.taskLoss) * Double(m.counted)
                correct += m.correct
                counted += m.counted
            }
        }
        if isDistributed {
            let sums = try collective("evaluation totals") {
                try communicator.allReduce([lossSum, Double(correct), Double(counted)], .sum)
            }
            (lossSum, correct, counted) = (sums[0], Int(sums[1]), Int(sums[2]))
        }
        return Evaluation(
            split: split.rawValue, loss: Float(lossSum / Double(Swift.max(counted, 1))),
            accuracy: Float(correct) / Float(Swift.max(counted, 1)), counted: counted)
    }
}
