// The memory a training run will need, measured before step one, and the gradient accumulation and
// activation checkpointing that make it fit. The measurement is honest rather than modelled: one
// forward and backward pass over 1 and over 2 examples padded to the longest input, on a fresh
// copy of the model (the trainer's own model, its random streams and lazily fitted state stay
// untouched), gives the peak tensor bytes of a step as a + b·rows; a micro-batch of m rows then
// needs a + b·m. Activations grow with the rows of a micro-batch and nothing else grows with them,
// so the line extrapolates; docs/results/memory.md compares its predictions with measured peaks.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import Foundation

/// What one process of a run is expected to hold at its peak.
public struct MemoryEstimate: Sendable, Equatable {
    /// Resident bytes before the first step: program, data, model.
    public let residentBytes: Int
    /// Tensor bytes training adds at its peak: the model the trainer builds, AdamW's moments
    /// (unless already allocated), and a step's activations, gradients and temporaries of one
    /// micro-batch, with the running sum of gradients when accumulating.
    public let trainingBytes: Int

    /// Expected peak resident bytes, with the heap's overhead on top of the step's tensors.
    public var peakBytes: Int {
        residentBytes + Int(Double(trainingBytes) * (1 + MemoryPlanner.heapOverhead))
    }
}

/// A configuration checked (and with `fit`, adjusted) against the memory available.
public struct MemoryPlan: Sendable {
    /// The configuration to train with: the one given, or with the accumulation and checkpointing
    /// chosen to fit.
    public let configuration: TrainingConfiguration
    /// Its expected peak.
    public let estimate: MemoryEstimate
    /// The bytes it was checked against.
    public let limitBytes: Int
    /// True when `fit` changed accumulation or checkpointing.
    public let adjusted: Bool

    /// One line for the log: the expected peak against the limit, and what was chosen.
    public var summary: String {
        var line =
            "memory: expected peak \(gibibytes(estimate.peakBytes)) of \(gibibytes(limitBytes)) "
            + "available"
        if adjusted { line += "; to fit, training with \(MemoryPlanner.flags(configuration))" }
        return line
    }
}

/// Measures a run's memory before step one and chooses the options that make it fit.
public enum MemoryPlanner {
    /// Resident bytes above the tensor bytes, as a fraction of them: `TensorAllocator` keeps freed
    /// buffers for reuse by size class, so buffers of shapes a step no longer uses stay resident
    /// beside new ones. Measured (docs/results/memory.md): Path-X at preset `lra` peaked at 4.2
    /// GiB resident for 3.6 GiB of tensors, ListOps with checkpointing at 3.5 GiB while training
    /// and 7.3 GiB by the end of the run (its final evaluation) for 2.7 GiB of tensors.
    public static let heapOverhead = 1.0

    /// The expected peak of `configuration` for one of `processes` processes (each takes
    /// batch/processes examples of every batch), asked before the trainer builds its model.
    /// `optimizerStateAllocated` is true when resuming (AdamW's moments are already resident);
    /// `residentBytes` nil reads what this process holds now.
    public static func estimate(
        _ configuration: TrainingConfiguration, task: any SequenceTask, processes: Int = 1,
        optimizerStateAllocated: Bool = false, residentBytes: Int? = nil
    ) throws -> MemoryEstimate {
        var measured = Measurements(
            task: task, configuration: configuration, residentBytes: residentBytes)
        return try measured.estimate(
            configuration, processes: processes, optimizer: !optimizerStateAllocated)
    }

    /// Checks `configuration` against `limit` bytes (nil: what is resident now plus MemAvailable,
    /// shared among `processesPerMachine`). A configuration that would not fit is refused with one
    /// line naming its need and the options that make it fit, unless `fit` is true: then the least
    /// costly fitting one is chosen (accumulation before checkpointing, which recomputes every
    /// block: the fewest micro-batches without checkpointing, else the fewest with it).
    public static func plan(
        _ configuration: TrainingConfiguration, task: any SequenceTask, processes: Int = 1,
        processesPerMachine: Int = 1, limit: Int?, fit: Bool, optimizerStateAllocated: Bool = false,
        residentBytes: Int? = nil
    ) throws -> MemoryPlan {
        // What the trainer would refuse is refused first, with its own message.
        try Trainer.checkCompatible(configuration, task: task)
        if let available = SystemMemory.availableBytes {
            try checkMechanismMemory(
                configuration, task: task, availableBytes: available / processesPerMachine)
        }
        var measured = Measurements(
            task: task, configuration: configuration, residentBytes: residentBytes)
        let optimizer = !optimizerStateAllocated
        let given = try measured.estimate(configuration, processes: processes, optimizer: optimizer)
        guard
            let limitBytes = limit
                ?? SystemMemory.availableBytes.map({
                    given.residentBytes + $0 / processesPerMachine
                })
        else {
            throw TrainingError.incompatible(
                "cannot read MemAvailable from /proc/meminfo to check this run's memory; "
                    + "give --memory-limit SIZE"
            )
        }
        if given.peakBytes <= limitBytes {
            return MemoryPlan(
                configuration: configuration, estimate: given, limitBytes: limitBytes,
                adjusted: false)
        }
        let perProcess = configuration.batchSize / Swift.max(processes, 1)
        let divisors = (1...Swift.max(perProcess, 1)).filter {
            perProcess % $0 == 0 && $0 >= configuration.accumulate
        }
        var checkpointing = [configuration.checkpointActivations]
        if configuration.checkpointActivations != 1 && configuration.model.architecture == .encoder
        {
            checkpointing.append(1)
        }
        // The first fitting candidate of each checkpointing setting, in order of cost.
        var fitting: [(TrainingConfiguration, MemoryEstimate)] = []
        for blocks in checkpointing {
            for n in divisors {
                var candidate = configuration
                (candidate.accumulate, candidate.checkpointActivations) = (n, blocks)
                let e = try measured.estimate(candidate, processes: processes, optimizer: optimizer)
                if e.peakBytes <= limitBytes {
                    fitting.append((candidate, e))
                    break
                }
            }
        }
        if fit, let (chosen, e) = fitting.first {
            return MemoryPlan(
                configuration: chosen, estimate: e, limitBytes: limitBytes, adjusted: true)
        }
        let options = fitting.map { "\(flags($0.0)) (about \(gibibytes($0.1.peakBytes)))" }
        throw TrainingError.incompatible(
            "this run needs about \(gibibytes(given.peakBytes)) at its peak but "
                + "\(gibibytes(limitBytes)) "
                + "\(limit == nil ? "are available" : "is the --memory-limit"); "
                + (options.isEmpty
                    ? "even one example per micro-batch with checkpointing does not fit: "
                        + "lower --batch, --seq-len or the model size"
                    : "make it fit with --fit-memory, or " + options.joined(separator: ", or ")))
    }

    /// Refuses, before the dry passes measure anything, a model whose mechanisms' declared working
    /// memory (`Mechanism.workingMemory` of each layer's mixer, summed over the layers) for the
    /// passes' two examples at the run's length already exceeds the memory available: the
    /// measurement itself would not fit. (A lower `--memory-limit` is the measurement's to check,
    /// with the options that fit.) ViT models, whose sequence is their patches, are left to the
    /// measurement.
    static func checkMechanismMemory(
        _ configuration: TrainingConfiguration, task: any SequenceTask, availableBytes: Int
    ) throws {
        let model = configuration.model
        guard model.architecture == .encoder else { return }
        let length = Swift.min(task.maxLength, model.maximumLength)
        let pass = PassSize(batch: 2, length: length, causal: task.isCausal)
        var bytes = 0.0
        for layer in 0..<model.layerCount {
            let mechanism = try Mechanisms.named(model.mixerName(layer: layer))
            bytes += mechanism.workingMemory(model.resolvedMixer, pass)
        }
        guard bytes > Double(availableBytes) else { return }
        throw TrainingError.incompatible(
            "the \(model.layerCount) layers of mixer \(model.mixer) need about "
                + "\(gibibytes(bytes)) of working memory (their declared estimate) for two "
                + "examples of length \(length), more than the \(gibibytes(availableBytes)) "
                + "available; lower --seq-len or --layers, or pick a mechanism that needs less "
                + "(attend list)")
    }

    /// The accumulation and checkpointing flags of `configuration`.
    static func flags(_ configuration: TrainingConfiguration) -> String {
        var parts: [String] = []
        if configuration.accumulate > 1 { parts.append("--accumulate \(configuration.accumulate)") }
        if configuration.checkpointActivations > 0 {
            parts.append("--checkpoint-activations \(configuration.checkpointActivations)")
        }
        return parts.isEmpty
            ? "neither accumulation nor checkpointing" : parts.joined(separator: " ")
    }
}

/// Dry passes of one run's model, measured once per checkpointing setting.
private struct Measurements {
    let task: any SequenceTask
    let configuration: TrainingConfiguration
    /// What is resident before training, nil to read it.
    let residentBytes: Int?
    /// Peak step bytes a + b·rows per checkpointing setting.
    var lines: [Int: (fixed: Double, perRow: Double)] = [:]

    init(task: any SequenceTask, configuration: TrainingConfiguration, residentBytes: Int?) {
        self.task = task
        self.configuration = configuration
        self.residentBytes = residentBytes
    }

    mutating func estimate(
        _ candidate: TrainingConfiguration, processes: Int, optimizer: Bool
    ) throws
        -> MemoryEstimate
    {
        let rows = Swift.max(
            candidate.batchSize / Swift.max(processes, 1) / Swift.max(candidate.accumulate, 1), 1)
        let blocks = candidate.checkpointActivations
        if lines[blocks] == nil {
            let one = try Double(peakStepBytes(rows: 1, checkpointing: blocks))
            let two = rows > 1 ? try Double(peakStepBytes(rows: 2, checkpointing: blocks)) : one
            let perRow = Swift.max(two - one, 0)
            lines[blocks] = (one - perRow, perRow)
        }
        let line = lines[blocks]!
        let parameterBytes = try parameterCount() * MemoryLayout<Float>.stride
        var bytes = line.fixed + line.perRow * Double(rows) + Double(parameterBytes)
        // The running sum of gradients; AdamW's two moments, made at step one.
        if candidate.accumulate > 1 { bytes += Double(parameterBytes) }
        if optimizer { bytes += Double(2 * parameterBytes) }
        return MemoryEstimate(
            residentBytes: residentBytes ?? SystemMemory.residentBytes ?? 0,
            trainingBytes: Int(bytes.rounded(.up)))
    }

    private var parameters: Int?
    private mutating func parameterCount() throws -> Int {
        if let parameters { return parameters }
        let count = try makeModel(for: task.kind, configuration.model).parameterCount
        parameters = count
        return count
    }

    /// Peak tensor bytes of a forward and backward pass over `rows` training examples padded to the
    /// longest input, on a fresh model.
    func peakStepBytes(rows: Int, checkpointing blocks: Int) throws -> Int {
        let model = try makeModel(for: task.kind, configuration.model)
        try enableActivationCheckpointing(in: model, everyBlocks: blocks)
        model.train()
        model.reseedRandomness(configuration.seed)
        let available = Swift.max(task.count(of: .train), 1)
        let examples = (0..<rows).map { task.example($0 % available, in: .train) }
        let width = Swift.min(task.maxLength, configuration.model.maximumLength)
        let batch = Batch.collate(
            examples, indices: Array(0..<rows), padding: .fixed(width), padID: task.padID)
        let before = MemoryAccounting.liveBytes
        MemoryAccounting.resetPeak()
        _ = try valueAndGradient(of: model) { model in
            let output = try model.output(for: batch, trainingStep: 0)
            return Objective.evaluate(output, batch: batch, kind: task.kind).loss
        }
        return MemoryAccounting.peakBytes - before
    }
}

/// "12.3 GiB", or "412 MiB" below 1 GiB.
func gibibytes(_ bytes: Int) -> String { gibibytes(Double(bytes)) }

/// "12.3 GiB", or "412 MiB" below 1 GiB, for bytes counted as a real number (estimates past 2^63).
func gibibytes(_ bytes: Double) -> String {
    bytes < 1_073_741_824
        ? String(format: "%.0f MiB", bytes / 1_048_576)
        : String(format: "%.1f GiB", bytes / 1_073_741_824)
}
