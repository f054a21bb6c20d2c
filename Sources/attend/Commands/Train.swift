// `attend train`: train a model on a task with a mechanism chosen by name, into a run directory.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

enum TrainCommand: Command {
    static let spec = CommandSpec(
        name: "train", summary: "train a model on a task with a chosen attention mechanism",
        usage: "train --task NAME --mixer NAME [options] --out runs/NAME",
        options: [
            .option("task", "NAME", "task: \(TaskCatalog.names.joined(separator: ", "))"),
            .option("mixer", "NAME", "attention mechanism (see `attend list`; default full)"),
            .option("upper-mixer", "NAME", "mechanism of layers ≥ 1 (default: the mixer's own choice, e.g. spade → local)"),
            .option("architecture", "NAME", "encoder (token embeddings; the default) or vit (images: tokens as grey levels)"),
            .option("patch", "N", "ViT patch side, 4 unless set (image side = √(sequence length / channels))"),
            .option("tree-schedule", "N1,N2", "treeformer bootstrap: N1 steps full attention, N2 steps TC, then TF"),
            .option("tree-coarse-weight", "W", "treeformer: weight of the TC path added to TF after the schedule"),
            .option("preset", "NAME", "size preset for task and model: tiny, cpu, lra", default: "cpu"),
            .option("config", "FILE", "a JSON training configuration (config.json of an earlier run works); flags override it"),
            .option("layers", "N", "Transformer layers"),
            .option("dim", "N", "model width"),
            .option("heads", "N", "attention heads"),
            .option("ffn", "N", "feed-forward width"),
            .option("seq-len", "N", "longest input; longer examples are truncated"),
            .option("batch", "N", "batch size"),
            .option("steps", "N", "optimizer steps"),
            .option("lr", "RATE", "peak learning rate"),
            .option("warmup", "N", "warm-up steps"),
            .option("weight-decay", "λ", "AdamW decoupled weight decay"),
            .option("schedule", "NAME", "learning-rate schedule: cosine, linear, rsqrt, constant"),
            .option("dropout", "P", "dropout probability"),
            .option("ffn-kind", "NAME", "feed-forward: dense or switch"),
            .option("seed", "N", "seed for data order, dropout and initial weights"),
            .option("eval-every", "N", "validate every N steps (0: only at the end)"),
            .option("checkpoint-every", "N", "checkpoint every N steps (always at the end and on Ctrl-C)"),
            .option("threads", "N", "threads for BLAS and parallel loops (default: all cores)"),
            .option("out", "DIR", "run directory (config, metrics, checkpoints, model)"),
            .flag("resume", "continue the run in --out from its last checkpoint"),
        ],
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        if let threads = try arguments.positiveInt("threads") { Parallel.setThreadCount(threads) }
        let out = try arguments.requiredString("out")
        let runDirectory = RunDirectory(path: out)
        var configuration: TrainingConfiguration
        if arguments.flag("resume") {
            configuration = try runDirectory.loadConfiguration()
        } else {
            configuration = try TrainingFlags.configuration(from: arguments)
        }
        let task = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        let trainer = try Trainer(configuration: configuration, task: task, run: runDirectory)
        InterruptFlag.install()
        FileHandle.standardError.write(Data(("training \(configuration.model.mixer) on \(task.name): "
            + "\(trainer.model.parameterCount) parameters, \(configuration.steps) steps of \(configuration.batchSize), "
            + "\(Parallel.threadCount) threads → \(out)\n").utf8))
        let summary = try trainer.train(resume: arguments.flag("resume"), progressLabel: configuration.model.mixer)
        if summary.interrupted {
            print("stopped at step \(summary.steps); resume with: attend train --resume --out \(out)")
            return
        }
        if let v = summary.validation {
            print(String(format: "validation: loss %.4f, accuracy %.4f (%d %@)", v.loss, v.accuracy, v.counted,
                         task.kind == .languageModel ? "tokens" : "examples"))
        }
        print(String(format: "%.0f tokens/s, peak tensor memory %.1f MiB, %.1f s; model saved to %@",
                     summary.tokensPerSecond, Double(summary.peakMemoryBytes) / 1_048_576, summary.seconds,
                     runDirectory.modelPath))
    }
}

enum EvalCommand: Command {
    static let spec = CommandSpec(
        name: "eval", summary: "evaluate a trained run on a split", usage: "eval --run DIR [--split test]",
        options: [
            .option("run", "DIR", "run directory written by `attend train`"),
            .option("split", "NAME", "train, validation or test", default: "test"),
            .option("threads", "N", "threads (default: all cores)"),
        ],
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        if let threads = try arguments.positiveInt("threads") { Parallel.setThreadCount(threads) }
        let runDirectory = RunDirectory(path: try arguments.requiredString("run"))
        let split = Split(rawValue: try arguments.choice("split", from: Split.allCases.map(\.rawValue)) ?? "test")!
        let configuration = try runDirectory.loadConfiguration()
        let task = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        guard FileManager.default.fileExists(atPath: runDirectory.modelPath) else {
            throw TrainingError.run("\(runDirectory.modelPath) is missing: the run has not finished (resume it with `attend train --resume --out \(runDirectory.path)`)")
        }
        try Checkpoint.loadModel(trainer.model, from: runDirectory.modelPath)
        let result = try trainer.evaluate(split)
        var line = String(format: "%@ %@: loss %.4f, accuracy %.4f over %d %@", task.name, split.rawValue, result.loss,
                          result.accuracy, result.counted, task.kind == .languageModel ? "tokens" : "examples")
        if task.kind == .languageModel { line += String(format: ", %.4f bits per byte", result.bitsPerToken) }
        print(line)
    }
}
