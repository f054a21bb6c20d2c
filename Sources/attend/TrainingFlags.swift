import AttendAttention
// Turns `attend train` flags into a training configuration: start from --config or from the preset
// for the task, then apply each flag that was given, then check every field's range
// (`TrainingConfiguration.validate`, the one place the ranges are declared).
import AttendData
import AttendModels
import AttendTrain
import Foundation

enum TrainingFlags {
    /// The configuration the flags describe.
    static func configuration(from arguments: ParsedArguments<TrainOptions>) throws
        -> TrainingConfiguration
    {
        var configuration: TrainingConfiguration
        if let file = try arguments[\.config] {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw UsageError("attend train: cannot read --config \(file)")
            }
            do {
                configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
                let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
                let model = json?["model"] as? [String: Any]
                if let options = model?["mixer_options"] as? [String: Any],
                    let unknown = try configuration.model.mixerOptions?.unknownKeys(in: options)
                        .first
                {
                    throw UsageError(
                        "attend train: \(file) is not a valid training configuration: "
                            + "model.mixer_options: \(unknown)")
                }
            } catch let error as DecodingError {
                throw UsageError(
                    "attend train: \(file) is not a valid training configuration: "
                        + error.plainDescription)
            }
        } else if var data = try DataFlags.configuration(from: arguments) {
            try FineTuningFlags.useTokenizerOfPretrainedFolder(arguments, data: &data)
            configuration = try DataFlags.trainingConfiguration(data, arguments)
            if let fineTuning = try FineTuningFlags.configuration(
                from: arguments, data: configuration)
            {
                configuration = fineTuning
            }
        } else {
            guard let taskName = try arguments[\.task] else {
                throw UsageError(
                    "attend train: --task or --data is required; tasks: \(TaskCatalog.names.joined(separator: ", "))"
                )
            }
            guard TaskCatalog.names.contains(taskName) else {
                throw UsageError(
                    "attend train: unknown task '\(taskName)'; choose one of: \(TaskCatalog.names.joined(separator: ", "))"
                )
            }
            let preset = TaskPreset(rawValue: try arguments[\.preset])!
            let seed = try arguments[\.seed] ?? 0
            let task = try TaskCatalog.make(
                taskName, options: TaskOptions(preset: preset, seed: seed))
            configuration = TrainingPresets.configuration(
                task: task, mixer: "full", preset: preset, seed: seed)
            if let fineTuning = try FineTuningFlags.configuration(
                from: arguments, task: task, taskName: taskName,
                options: TaskOptions(preset: preset, seed: seed),
                seed: seed)
            {
                configuration = fineTuning
            }
        }
        if let mixer = try arguments[\.mixer] {
            try checkMixer(mixer)
            configuration.model.mixer = mixer
        }
        var model = configuration.model
        if let options = try mixerConfiguration(
            fromJSON: arguments[\.mixerOptions], command: "train")
        {
            model.mixerOptions = options
        }
        if let upper = try arguments[\.upperMixer] {
            try checkMixer(upper)
            model.upperMixer = upper
        }
        if let architecture = try arguments[\.architecture] { model.architecture = architecture }
        if let v = try arguments[\.patch] { model.patchSize = v }
        if let schedule = try arguments[\.treeSchedule] {
            guard schedule.count == 2, schedule.allSatisfy({ $0 >= 0 }) else {
                throw UsageError(
                    "attend train: --tree-schedule takes two step counts N1,N2 (full attention, then TC), got \(schedule)"
                )
            }
            var options = model.resolvedMixer
            options.treeformer.schedule = .init(
                fullAttentionSteps: schedule[0], coarseSteps: schedule[1])
            model.mixerOptions = options
        }
        if let weight = try arguments[\.treeCoarseWeight] {
            var options = model.resolvedMixer
            options.treeformer.coarseWeight = weight
            model.mixerOptions = options
        }
        if let v = try arguments[\.layers] { model.layerCount = v }
        if let v = try arguments[\.dim] { model.modelDimension = v }
        if let v = try arguments[\.heads] { model.headCount = v }
        if let v = try arguments[\.ffn] { model.feedForwardDimension = v }
        if let v = try arguments[\.seqLen] { model.maximumLength = v }
        if let v = try arguments[\.dropout] { model.dropout = v }
        if let kind = try arguments[\.ffnKind] { model.feedForward = kind }
        if let positions = try arguments[\.positions] { model.positions = positions }
        configuration.model = model
        if let v = try arguments[\.batch] { configuration.batchSize = v }
        if let v = try arguments[\.steps] { configuration.steps = v }
        if let v = try arguments[\.lr] { configuration.learningRate = v }
        if let v = try arguments[\.warmup] { configuration.warmupSteps = max(v, 0) }
        if let v = try arguments[\.weightDecay] { configuration.weightDecay = v }
        if let v = try arguments[\.schedule] { configuration.schedule = v }
        if let v = try arguments[\.seed] {
            configuration.seed = v
            configuration.model.seed = v
        }
        if let v = try arguments[\.evalEvery] { configuration.evaluationInterval = max(v, 0) }
        if let v = try arguments[\.evalExamples] { configuration.evaluationExamples = max(v, 0) }
        if let v = try arguments[\.checkpointEvery] { configuration.checkpointInterval = max(v, 0) }
        if let v = try arguments[\.accumulate] { configuration.accumulate = v }
        if let v = try arguments[\.checkpointActivations] {
            configuration.checkpointActivations = v
        }
        try FineTuningFlags.finish(&configuration, arguments: arguments)
        do {
            try configuration.validate()
        } catch {
            let source = try arguments[\.config].map { " (from \($0) and the flags)" } ?? ""
            throw UsageError("attend train: invalid training configuration\(source): \(error)")
        }
        return configuration
    }

    /// `configuration` checked against the memory before step one (`limit`, else what is
    /// available): refused with one line when it would not fit, or with `fit` adjusted to fit.
    /// `resumed`: the optimizer's state is already allocated. Prints the expected peak and any
    /// adjustment.
    static func memoryChecked(
        _ configuration: TrainingConfiguration, task: any SequenceTask, limit: Int?, fit: Bool,
        resumed: Bool, processes: Int = 1, processesPerMachine: Int = 1
    ) throws -> TrainingConfiguration {
        let plan = try MemoryPlanner.plan(
            configuration, task: task, processes: processes,
            processesPerMachine: processesPerMachine, limit: limit, fit: fit,
            optimizerStateAllocated: resumed)
        FileHandle.standardError.write(Data("\(plan.summary)\n".utf8))
        return plan.configuration
    }

    /// Fails with the valid names when `mixer` is not registered.
    static func checkMixer(_ mixer: String) throws {
        guard Mechanisms.names.contains(mixer) else {
            throw UsageError(
                "unknown mixer '\(mixer)'; choose one of: \(Mechanisms.names.joined(separator: ", "))"
            )
        }
    }
}
