// `attend lra`: the one-command comparison. Trains and evaluates every (mixer, task) pair at a preset,
// over one or more seeds, and writes a Markdown table (test accuracy per task and average, training
// tokens/s, peak tensor memory, parameters) plus an SVG of accuracy against speed. With
// `--pretrain-steps N` each pair is first self-pretrained (masked tokens of the task's own training
// inputs, the task's default mask rate) and trained on the labels from that encoder.
import AttendAttention
import AttendCore
import AttendData
import AttendTrain
import Foundation

/// The options of `attend lra`.
struct LRAOptions: OptionGroup {
    let mixers = DefaultedOption(
        .list("mixers", "LIST", "mechanisms, comma-separated, or 'all'"), default: "all")
    let tasks = DefaultedOption(
        .list(
            "tasks", "LIST",
            "tasks, comma-separated, or 'all' "
                + "(\(TaskCatalog.longRangeArena.joined(separator: ", ")))"),
        default: "all")
    let preset = DefaultedOption(
        Option<TaskPreset>.cases(
            "preset", "NAME", "tiny (seconds), cpu (minutes per run), lra (full size)"),
        default: "cpu")
    let seeds = DefaultedOption(
        .positiveInt("seeds", "N", "seeds per pair (mean ± standard deviation reported)"),
        default: "1")
    let steps = Option.positiveInt("steps", "N", "override the preset's training steps")
    let pretrainSteps = Option.positiveInt(
        "pretrain-steps", "N",
        "self-pretrain each pair's encoder for N steps on its "
            + "task's inputs (masked tokens) before training on the labels; results record it "
            + "(keep them in their own --results)")
    let mixerOptions = Option.string(
        "mixer-options", "JSON",
        "options of the mechanisms, e.g. '{\"evolving\": {\"memory_budget\": 4294967296}}' "
            + "(each result records the command)")
    let out = DefaultedOption(
        .string("out", "FILE", "Markdown report (an .svg plot is written next to it)"),
        default: "docs/results/lra.md")
    let results = Option.string(
        "results", "FILE",
        "JSON of every finished pair: pairs already in it are not trained again, so an "
            + "interrupted or extended comparison continues (default: the report's name with "
            + ".json)")
    let threads = Option.positiveInt("threads", "N", "threads (default: all cores)")
    let memoryLimit = Option.byteSize(
        "memory-limit", "SIZE",
        "fit each run under this peak, e.g. 12G (default: resident now + MemAvailable); "
            + "runs choose --accumulate and --checkpoint-activations to fit")
}

enum LRACommand: Command {
    static let spec = CommandSpec(
        name: "lra", summary: "train and compare mechanisms on Long Range Arena tasks",
        usage: "lra [--mixers all|a,b,…] [--tasks all|a,b,…] [--preset tiny|cpu|lra] [--seeds N]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<LRAOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        let mixerList = try arguments[\.mixers]
        let mixers = mixerList == ["all"] ? Mechanisms.names : mixerList
        for m in mixers { try TrainingFlags.checkMixer(m) }
        let taskList = try arguments[\.tasks]
        let tasks = taskList == ["all"] ? TaskCatalog.longRangeArena : taskList
        for t in tasks where !TaskCatalog.names.contains(t) {
            throw UsageError(
                "attend lra: unknown task '\(t)'; choose one of: \(TaskCatalog.names.joined(separator: ", "))"
            )
        }
        let preset = try arguments[\.preset]
        let seeds = try arguments[\.seeds]
        let steps = try arguments[\.steps]
        let pretrainSteps = try arguments[\.pretrainSteps]
        let mixerOptions = try mixerConfiguration(
            fromJSON: arguments[\.mixerOptions], command: "lra")
        let out = try arguments[\.out]
        let resultsPath = try arguments[\.results] ?? ComparisonReport.resultsPath(for: out)
        var results = try ComparisonReport.loadResults(resultsPath, preset: preset.rawValue)
        if let other = results.first(where: { $0.pretrainSteps != pretrainSteps }) {
            let what = other.pretrainSteps.map { "\($0) pretraining steps" } ?? "no pretraining"
            throw UsageError(
                "attend lra: \(resultsPath) holds results with \(what); one table "
                    + "compares one set-up, so pass another --results (and --out) for this one")
        }
        let command = "attend " + CommandLine.arguments.dropFirst().joined(separator: " ")
        InterruptFlag.install()
        for taskName in tasks {
            for seed in 0..<UInt64(seeds) {
                let pending = mixers.filter { m in
                    !results.contains { $0.task == taskName && $0.mixer == m && $0.seed == seed }
                }
                if pending.isEmpty || InterruptFlag.isRaised { continue }
                let task = try TaskCatalog.make(taskName, preset: preset, seed: seed)
                for mixer in pending where !InterruptFlag.isRaised {
                    var result = runPair(
                        task: task, mixer: mixer, preset: preset, seed: seed, steps: steps,
                        pretrainSteps: pretrainSteps, mixerOptions: mixerOptions,
                        arguments: arguments)
                    result.command = command
                    results.append(result)
                    try ComparisonReport.saveResults(
                        results, preset: preset.rawValue, to: resultsPath)
                }
            }
        }
        // The report covers every pair in the results file, in task and registry order.
        let allTasks = TaskCatalog.names.filter { t in
            tasks.contains(t) || results.contains { $0.task == t }
        }
        let allMixers = Mechanisms.names.filter { m in
            mixers.contains(m) || results.contains { $0.mixer == m }
        }
        let report = ComparisonReport(
            results: results, tasks: allTasks, mixers: allMixers, preset: preset.rawValue,
            command: command)
        print(report.table)
        try report.write(markdownPath: out)
        FileHandle.standardError.write(
            Data(
                "report written to \(out) and \(ComparisonReport.plotPath(for: out)); results in \(resultsPath)\n"
                    .utf8))
    }

    /// Trains one pair (after `pretrainSteps` of self-pretraining, when given); failures become a
    /// row that says why instead of stopping the comparison.
    static func runPair(
        task: any SequenceTask, mixer: String, preset: TaskPreset, seed: UInt64, steps: Int?,
        pretrainSteps: Int?, mixerOptions: MixerConfiguration?,
        arguments: ParsedArguments<LRAOptions>
    ) -> MixerTaskResult {
        var configuration = TrainingPresets.configuration(
            task: task, mixer: mixer, preset: preset, seed: seed)
        if let steps { configuration.steps = steps }
        if let mixerOptions { configuration.model.mixerOptions = mixerOptions }
        do {
            // Runs fit the memory by default: LRA's batches were sized for accelerator pods.
            configuration = try TrainingFlags.memoryChecked(
                configuration, task: task, limit: arguments[\.memoryLimit], fit: true,
                resumed: false)
            let trainer = try Trainer(configuration: configuration, task: task, run: nil)
            let label = "\(task.name)/\(mixer)"
            let pretrainSeconds = try pretrainSteps.map {
                try pretrain(trainer.model, configuration: configuration, steps: $0, label: label)
            }
            let summary = try trainer.train(progressLabel: "\(task.name)/\(mixer)")
            let test = try trainer.evaluate(.test)
            var result = MixerTaskResult(
                task: task.name, mixer: mixer, seed: seed, accuracy: test.accuracy, loss: test.loss,
                tokensPerSecond: summary.tokensPerSecond, peakMemoryBytes: summary.peakMemoryBytes,
                parameters: summary.parameterCount, seconds: summary.seconds, failure: nil)
            (result.pretrainSteps, result.pretrainSeconds) = (pretrainSteps, pretrainSeconds)
            return result
        } catch {
            FileHandle.standardError.write(Data("\(task.name)/\(mixer): \(error)\n".utf8))
            var result = MixerTaskResult(
                task: task.name, mixer: mixer, seed: seed, accuracy: nil, loss: nil,
                tokensPerSecond: nil,
                peakMemoryBytes: nil, parameters: nil, seconds: nil, failure: "\(error)")
            result.pretrainSteps = pretrainSteps
            return result
        }
    }

    /// Self-pretrains for `steps` steps (the task's default masking, otherwise `configuration`'s
    /// set-up) and copies the encoder into `model`; returns the seconds it took.
    static func pretrain(
        _ model: any TaskModel, configuration: TrainingConfiguration, steps: Int, label: String
    ) throws -> Double {
        let base = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        let masking = MaskingOptions(rate: Pretraining.defaultMaskRate(for: base))
        var pretraining = try Pretraining.configuration(from: configuration, masking: masking)
        pretraining.steps = steps
        pretraining.logInterval = Swift.max(steps / 20, 1)
        let task = try TaskCatalog.make(pretraining.task, options: pretraining.taskOptions)
        let trainer = try Trainer(configuration: pretraining, task: task, run: nil)
        let summary = try trainer.train(progressLabel: "\(label) pretraining")
        let state = Dictionary(uniqueKeysWithValues: trainer.model.stateDictionary())
        try Pretraining.loadEncoder(
            into: model, from: state, hasMaskToken: true, source: "the pretraining of \(label)")
        return summary.seconds
    }
}
