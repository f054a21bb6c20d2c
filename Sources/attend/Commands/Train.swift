// `attend train`: train a model on a task with a mechanism chosen by name, into a run directory.
// With `--distributed mpi` it is one of the processes `mpirun` starts: process 0 resolves the
// configuration (from flags, or from the run directory when resuming) and sends it to the others;
// any error on any process stops them all (MPI_Abort) rather than leaving them waiting.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

/// The options of `attend train` (and, but for a few, of `attend pretrain`).
struct TrainOptions: OptionGroup {
    let task = Option.string("task", "NAME", "task: \(TaskCatalog.names.joined(separator: ", "))")
    let mixer = Option.string(
        "mixer", "NAME", "attention mechanism (see `attend list`; default full)")
    let upperMixer = Option.string(
        "upper-mixer", "NAME",
        "mechanism of layers ≥ 1 (default: the mixer's own choice, e.g. spade → local)")
    let mixerOptions = Option.string(
        "mixer-options", "JSON",
        "options of the mechanisms, e.g. '{\"local\": {\"window_size\": 64}}'")
    let architecture = Option<Architecture>.cases(
        "architecture", "NAME",
        "encoder (token embeddings; the default) or vit (images: tokens as grey levels)")
    let patch = Option.positiveInt(
        "patch", "N", "ViT patch side, 4 unless set (image side = √(sequence length / channels))")
    let treeSchedule = Option.intList(
        "tree-schedule", "N1,N2",
        "treeformer bootstrap: N1 steps full attention, N2 steps TC, then TF")
    let treeCoarseWeight = Option.float(
        "tree-coarse-weight", "W",
        "treeformer: weight of the TC path added to TF after the schedule")
    let preset = DefaultedOption(
        .choice(
            "preset", "NAME", "size preset for task and model: tiny, cpu, lra",
            from: TrainingPresets.names),
        default: "cpu")
    let config = Option.string(
        "config", "FILE",
        "a JSON training configuration (config.json of an earlier run works); flags override it")
    let layers = Option.positiveInt("layers", "N", "Transformer layers")
    let dim = Option.positiveInt("dim", "N", "model width")
    let heads = Option.positiveInt("heads", "N", "attention heads")
    let ffn = Option.positiveInt("ffn", "N", "feed-forward width")
    let seqLen = Option.positiveInt("seq-len", "N", "longest input; longer examples are truncated")
    let batch = Option.positiveInt("batch", "N", "batch size")
    let steps = Option.positiveInt("steps", "N", "optimizer steps")
    let lr = Option.float("lr", "RATE", "peak learning rate")
    let warmup = Option.int("warmup", "N", "warm-up steps")
    let weightDecay = Option.float("weight-decay", "λ", "AdamW decoupled weight decay")
    let schedule = Option<ScheduleKind>.cases(
        "schedule", "NAME", "learning-rate schedule: cosine, linear, rsqrt, constant")
    let dropout = Option.float("dropout", "P", "dropout probability")
    let ffnKind = Option<FeedForwardKind>.cases("ffn-kind", "NAME", "feed-forward: dense or switch")
    let positions = Option<PositionEncoding>.cases(
        "positions", "NAME",
        "sinusoidal, learned, sinusoidal_2d (square images: row and column) or none")
    let seed = Option.seed("seed", "N", "seed for data order, dropout and initial weights")
    let evalEvery = Option.int("eval-every", "N", "validate every N steps (0: only at the end)")
    let evalExamples = Option.int(
        "eval-examples", "N", "validation examples used each time (0: the whole split)")
    let checkpointEvery = Option.int(
        "checkpoint-every", "N", "checkpoint every N steps (always at the end and on Ctrl-C)")
    let threads = Option.positiveInt(
        "threads", "N", "threads for BLAS and parallel loops (default: all cores)")
    let accumulate = Option.positiveInt(
        "accumulate", "N", "N micro-batches per optimizer step (less memory)")
    let checkpointActivations = Option.positiveInt(
        "checkpoint-activations", "K", "recompute every K blocks in backward (less memory)",
        bare: "1")
    let memoryLimit = Option.byteSize(
        "memory-limit", "SIZE",
        "refuse (or fit) a run expected to peak above this, e.g. 12G "
            + "(default: resident now + MemAvailable)")
    let fitMemory = Flag("fit-memory", "choose --accumulate and --checkpoint-activations that fit")
    let out = Option.string("out", "DIR", "run directory (config, metrics, checkpoints, model)")
    let resume = Flag("resume", "continue the run in --out from its last checkpoint")
    let distributed = DefaultedOption(
        .choice(
            "distributed", "MODE",
            "none, or mpi: be one of the processes started by `mpirun -np N`, "
                + "each training on batch/N examples of every batch", from: ["none", "mpi"]),
        default: "none")
    let collectiveTimeout = DefaultedOption(
        .float(
            "collective-timeout", "SECONDS",
            "mpi: stop every process when one collective operation "
                + "waits this long (a process died or hung; 0: wait forever)"),
        default: "300")
    let bucketMB = DefaultedOption(
        .positiveInt("bucket-mb", "MB", "mpi: largest gradient all-reduce call, in MiB"),
        default: "\(GradientBuckets.defaultBytes >> 20)")
    let data = DataOptions()
    let fineTuning = FineTuningOptions()
}

enum TrainCommand: Command {
    static let spec = CommandSpec(
        name: "train", summary: "train a model on a task with a chosen attention mechanism",
        usage: "train --task NAME --mixer NAME [options] --out runs/NAME",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<TrainOptions>) throws {
        try run(arguments, configure: TrainingFlags.configuration(from:))
    }

    /// Trains the run `configure` describes (or resumes the one in `--out`), on one process or
    /// as one of `mpirun`'s; `attend pretrain` shares this with `attend train`.
    static func run(
        _ arguments: ParsedArguments<TrainOptions>,
        configure: (ParsedArguments<TrainOptions>) throws -> TrainingConfiguration
    ) throws {
        guard try arguments[\.distributed] == "mpi" else {
            return try train(
                arguments, configure: configure, communicator: SingleProcessCommunicator(),
                processesPerMachine: 1)
        }
        let timeout = try arguments[\.collectiveTimeout]
        guard timeout >= 0 else {
            throw UsageError("attend train: --collective-timeout must be ≥ 0, got \(timeout)")
        }
        let mpi = try MPICommunicator()
        let communicator = WatchedCommunicator(mpi, timeout: Double(timeout))
        do {
            try train(
                arguments, configure: configure, communicator: communicator,
                processesPerMachine: mpi.localSize)
            try mpi.finish()
        } catch {
            writeError("attend train: process \(mpi.rank) of \(mpi.size): error: \(error)")
            communicator.abort(code: error is UsageError ? 2 : 1)
        }
    }

    static func train(
        _ arguments: ParsedArguments<TrainOptions>,
        configure: (ParsedArguments<TrainOptions>) throws -> TrainingConfiguration,
        communicator: any Communicator, processesPerMachine: Int
    ) throws {
        if let threads = try arguments[\.threads] {
            Parallel.setThreadCount(threads)
        } else if processesPerMachine > 1 {
            // Processes sharing a machine share its cores.
            Parallel.setThreadCount(
                Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / processesPerMachine))
        }
        let bucketBytes = try arguments[\.bucketMB] << 20
        let out = try arguments.required(\.out)
        let runDirectory = RunDirectory(path: out)
        var resolved: TrainingConfiguration?
        var rootTask: (any SequenceTask)?
        if communicator.isRoot {
            let flagged =
                arguments[\.resume]
                ? try runDirectory.loadConfiguration() : try configure(arguments)
            let task = try TaskCatalog.make(flagged.task, options: flagged.taskOptions)
            resolved = try TrainingFlags.memoryChecked(
                flagged, task: task, limit: arguments[\.memoryLimit], fit: arguments[\.fitMemory],
                resumed: arguments[\.resume], processes: communicator.size,
                processesPerMachine: processesPerMachine)
            rootTask = task
        }
        communicator.phase = "sending the configuration from process 0"
        let configuration =
            communicator.size > 1 ? try communicator.broadcast(resolved, root: 0) : resolved!
        let task =
            try rootTask ?? TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        let trainer = try Trainer(
            configuration: configuration, task: task, run: runDirectory, communicator: communicator)
        trainer.bucketBytes = bucketBytes
        if communicator.isRoot && !arguments[\.resume] {
            try FineTuningFlags.start(trainer, run: runDirectory)
        }
        InterruptFlag.install()
        let n = communicator.size
        if n > 1 { InterruptFlag.installStopSignal() }
        if communicator.isRoot {
            let batch =
                n > 1
                ? "\(configuration.batchSize) (\(n) processes × \(configuration.batchSize / n))"
                : "\(configuration.batchSize)"
            FileHandle.standardError.write(
                Data(
                    ("training \(configuration.model.mixer) on \(task.name): "
                        + "\(trainer.model.parameterCount) parameters, \(configuration.steps) steps of \(batch), "
                        + "\(Parallel.threadCount) thread\(Parallel.threadCount == 1 ? "" : "s")\(n > 1 ? " per process" : "") → \(out)\n")
                        .utf8))
        }
        let summary = try trainer.train(
            resume: arguments[\.resume], progressLabel: configuration.model.mixer)
        guard communicator.isRoot else { return }
        if summary.interrupted {
            let command =
                n > 1
                ? "mpirun -np \(n) attend \(arguments.command) --resume --out \(out) "
                    + "--distributed mpi"
                : "attend \(arguments.command) --resume --out \(out)"
            print("stopped at step \(summary.steps); resume with: \(command)")
            return
        }
        if let v = summary.validation {
            print(
                String(
                    format: "validation: loss %.4f, accuracy %.4f (%d %@)", v.loss, v.accuracy,
                    v.counted,
                    task.isPerPosition ? "tokens" : "examples"))
        }
        print(
            String(
                format: "%.0f tokens/s, peak tensor memory %.1f MiB, %.1f s; model saved to %@",
                summary.tokensPerSecond, Double(summary.peakMemoryBytes) / 1_048_576,
                summary.seconds,
                runDirectory.modelPath))
        if n > 1 {
            print(
                String(
                    format:
                        "%d processes: %.1f%% of the time in collective operations (gradient all-reduce, metrics, state)",
                    n, 100 * summary.communicationSeconds / Swift.max(summary.seconds, 1e-9)))
        }
    }
}

/// The options of `attend eval`.
struct EvalOptions: OptionGroup {
    let run = Option.string("run", "DIR", "run directory written by `attend train`")
    let data = Option.string(
        "data", "FILE|DIR",
        "labelled data read as the run's --data was: accuracy, macro-F1, confusion matrix")
    let batch = Option.positiveInt("batch", "N", "--data: examples per batch (default: the run's)")
    let split = DefaultedOption(
        Option<Split>.cases("split", "NAME", "train, validation or test"), default: "test")
    let threads = Option.positiveInt("threads", "N", "threads (default: all cores)")
}

enum EvalCommand: Command {
    static let spec = CommandSpec(
        name: "eval", summary: "evaluate a trained run on a split or a data file",
        usage: "eval --run DIR [--split test | --data FILE]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<EvalOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        if try arguments[\.data] != nil { return try DataEvaluation.run(arguments) }
        let runDirectory = RunDirectory(path: try arguments.required(\.run))
        let split = try arguments[\.split]
        let configuration = try runDirectory.loadConfiguration()
        let task = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        guard task.count(of: split) > 0 else {
            // A user's data set has a test split only when it was trained with --test.
            throw UsageError(
                "attend eval: the run's \(split.rawValue) split is empty (trained without "
                    + "--\(split.rawValue)?): score a labelled file with --data FILE, or choose "
                    + "another --split")
        }
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        guard FileManager.default.fileExists(atPath: runDirectory.modelPath) else {
            throw TrainingError.run(
                "\(runDirectory.modelPath) is missing: the run has not finished (resume it with `attend train --resume --out \(runDirectory.path)`)"
            )
        }
        try Checkpoint.loadModel(trainer.model, from: runDirectory.modelPath)
        let result = try trainer.evaluate(split)
        var line = String(
            format: "%@ %@: loss %.4f, accuracy %.4f over %d %@", task.name, split.rawValue,
            result.loss,
            result.accuracy, result.counted, task.isPerPosition ? "tokens" : "examples")
        if task.kind == .languageModel {
            line += String(format: ", %.4f bits per byte", result.bitsPerToken)
        }
        print(line)
    }
}
