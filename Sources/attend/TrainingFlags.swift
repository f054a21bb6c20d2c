// Turns `attend train` flags into a training configuration: start from --config or from the preset
// for the task, then apply each flag that was given, then check every field's range
// (`TrainingConfiguration.validate`, the one place the ranges are declared).
import AttendData
import AttendAttention
import AttendModels
import AttendTrain
import Foundation

enum TrainingFlags {
    /// The configuration the flags describe.
    static func configuration(from arguments: ParsedArguments) throws -> TrainingConfiguration {
        var configuration: TrainingConfiguration
        if let file = arguments.string("config") {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw UsageError("attend train: cannot read --config \(file)")
            }
            do {
                configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
            } catch let error as DecodingError {
                throw UsageError(
                    "attend train: \(file) is not a valid training configuration: "
                        + error.plainDescription)
            }
        } else if var data = try DataFlags.configuration(from: arguments) {
            try FineTuningFlags.useTokenizerOfPretrainedFolder(arguments, data: &data)
            configuration = try DataFlags.trainingConfiguration(data, arguments)
            if let fineTuning = try FineTuningFlags.configuration(from: arguments, data: configuration) {
                configuration = fineTuning
            }
        } else {
            guard let taskName = arguments.string("task") else {
                throw UsageError("attend train: --task or --data is required; tasks: \(TaskCatalog.names.joined(separator: ", "))")
            }
            guard TaskCatalog.names.contains(taskName) else {
                throw UsageError("attend train: unknown task '\(taskName)'; choose one of: \(TaskCatalog.names.joined(separator: ", "))")
            }
            let preset = TaskPreset(rawValue: try arguments.choice("preset", from: TrainingPresets.names) ?? "cpu")!
            let seed = try seedFlag(arguments) ?? 0
            let task = try TaskCatalog.make(taskName, options: TaskOptions(preset: preset, seed: seed))
            configuration = TrainingPresets.configuration(
                task: task, mixer: "full", preset: preset, seed: seed)
            if let fineTuning = try FineTuningFlags.configuration(
                from: arguments, task: task, taskName: taskName, options: TaskOptions(preset: preset, seed: seed),
                seed: seed)
            {
                configuration = fineTuning
            }
        }
        if let mixer = arguments.string("mixer") {
            try checkMixer(mixer)
            configuration.model.mixer = mixer
        }
        var model = configuration.model
        if let options = try mixerConfiguration(fromJSON: arguments.string("mixer-options"), command: "train") {
            model.mixerOptions = options
        }
        if let upper = arguments.string("upper-mixer") {
            try checkMixer(upper)
            model.upperMixer = upper
        }
        if let architecture = try arguments.choice("architecture", from: Architecture.allCases.map(\.rawValue)) {
            model.architecture = Architecture(rawValue: architecture)!
        }
        if let v = try arguments.positiveInt("patch") { model.patchSize = v }
        if let schedule = try arguments.intList("tree-schedule") {
            guard schedule.count == 2, schedule.allSatisfy({ $0 >= 0 }) else {
                throw UsageError("attend train: --tree-schedule takes two step counts N1,N2 (full attention, then TC), got \(schedule)")
            }
            var options = model.resolvedMixer
            options.treeformer.schedule = .init(fullAttentionSteps: schedule[0], coarseSteps: schedule[1])
            model.mixerOptions = options
        }
        if let weight = try arguments.float("tree-coarse-weight") {
            var options = model.resolvedMixer
            options.treeformer.coarseWeight = weight
            model.mixerOptions = options
        }
        if let v = try arguments.positiveInt("layers") { model.layerCount = v }
        if let v = try arguments.positiveInt("dim") { model.modelDimension = v }
        if let v = try arguments.positiveInt("heads") { model.headCount = v }
        if let v = try arguments.positiveInt("ffn") { model.feedForwardDimension = v }
        if let v = try arguments.positiveInt("seq-len") { model.maximumLength = v }
        if let v = try arguments.float("dropout") { model.dropout = v }
        if let kind = try arguments.choice("ffn-kind", from: FeedForwardKind.allCases.map(\.rawValue)) {
            model.feedForward = FeedForwardKind(rawValue: kind)!
        }
        configuration.model = model
        if let v = try arguments.positiveInt("batch") { configuration.batchSize = v }
        if let v = try arguments.positiveInt("steps") { configuration.steps = v }
        if let v = try arguments.float("lr") { configuration.learningRate = v }
        if let v = try arguments.int("warmup") { configuration.warmupSteps = max(v, 0) }
        if let v = try arguments.float("weight-decay") { configuration.weightDecay = v }
        if let v = try arguments.choice("schedule", from: ScheduleKind.allCases.map(\.rawValue)) {
            configuration.schedule = ScheduleKind(rawValue: v)!
        }
        if let v = try seedFlag(arguments) {
            configuration.seed = v
            configuration.model.seed = v
        }
        if let v = try arguments.int("eval-every") { configuration.evaluationInterval = max(v, 0) }
        if let v = try arguments.int("eval-examples") { configuration.evaluationExamples = max(v, 0) }
        if let v = try arguments.int("checkpoint-every") { configuration.checkpointInterval = max(v, 0) }
        if let v = try arguments.positiveInt("accumulate") { configuration.accumulate = v }
        if let v = try arguments.positiveInt("checkpoint-activations") {
            configuration.checkpointActivations = v
        }
        try FineTuningFlags.finish(&configuration, arguments: arguments)
        do {
            try configuration.validate()
        } catch {
            let source = arguments.string("config").map { " (from \($0) and the flags)" } ?? ""
            throw UsageError("attend train: invalid training configuration\(source): \(error)")
        }
        return configuration
    }

    /// `--seed`, which must not be negative (it becomes an unsigned 64-bit seed).
    static func seedFlag(_ arguments: ParsedArguments) throws -> UInt64? {
        guard let v = try arguments.int("seed") else { return nil }
        guard v >= 0 else { throw UsageError("attend train: --seed must be 0 or more, got \(v)") }
        return UInt64(v)
    }

    /// `configuration` checked against the memory before step one (`--memory-limit`, else what is
    /// available): refused with one line when it would not fit, or with `fit` (`--fit-memory`)
    /// adjusted to fit. Prints the expected peak and any adjustment.
    static func memoryChecked(
        _ configuration: TrainingConfiguration, task: any SequenceTask, arguments: ParsedArguments,
        processes: Int = 1, processesPerMachine: Int = 1, fit: Bool? = nil
    ) throws -> TrainingConfiguration {
        let plan = try MemoryPlanner.plan(
            configuration, task: task, processes: processes,
            processesPerMachine: processesPerMachine, limit: try arguments.byteSize("memory-limit"),
            fit: fit ?? arguments.flag("fit-memory"),
            optimizerStateAllocated: arguments.flag("resume"))
        FileHandle.standardError.write(Data("\(plan.summary)\n".utf8))
        return plan.configuration
    }

    /// Fails with the valid names when `mixer` is not registered.
    static func checkMixer(_ mixer: String) throws {
        guard Mechanisms.names.contains(mixer) else {
            throw UsageError("unknown mixer '\(mixer)'; choose one of: \(Mechanisms.names.joined(separator: ", "))")
        }
    }
}
