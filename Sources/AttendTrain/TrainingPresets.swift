// Default training set-ups per (preset, task): model shape, optimisation and position/pooling choices.
// `lra` follows the Long Range Arena repository's configs (mechanisms-b §8.3); `cpu` shrinks them so a
// (mixer, task) run takes a few minutes on two cores; `tiny` runs in seconds for tests.
import AttendData
import AttendModels

/// Builds training configurations from presets.
public enum TrainingPresets {
    /// Preset names.
    public static var names: [String] { TaskPreset.allCases.map(\.rawValue) }

    /// The default configuration for `task` with `mixer` at `preset`.
    public static func configuration(
        task: any SequenceTask, mixer: String, preset: TaskPreset, seed: UInt64 = 0
    )
        -> TrainingConfiguration
    {
        // Images and Pathfinder train with a cosine schedule at preset `lra`, as LRA does.
        let isImage = isImage(task)
        var model: ModelConfiguration
        var steps: Int, batch: Int, rate: Float, warmup: Int, decay: Float
        var schedule = ScheduleKind.cosine
        switch preset {
        case .tiny:
            model = ModelConfiguration(
                vocabularySize: task.vocabularySize, modelDimension: 32, layerCount: 1,
                headCount: 2,
                feedForwardDimension: 64, maximumLength: task.maxLength)
            (steps, batch, rate, warmup, decay) = (40, 8, 3e-3, 4, 0)
            model.dropout = 0
        case .cpu:
            model = ModelConfiguration(
                vocabularySize: task.vocabularySize, modelDimension: 64, layerCount: 2,
                headCount: 4,
                feedForwardDimension: 128, maximumLength: task.maxLength)
            (steps, batch, rate, warmup, decay) = (cpuSteps(task), 32, 2e-3, 100, 0.01)
            // One or two epochs leave nothing to regularise; dropout only slowed learning (ListOps:
            // 37.2% validation accuracy without it, 14.7% with 0.1, same seed and steps).
            model.dropout = 0
        case .lra:
            (model, steps, batch, rate, warmup, decay) = lraSetup(task)
            schedule = isImage ? .cosine : .rsqrt
        }
        model.mixer = mixer
        model.classCount = task.classCount
        model.positions = learnedPositions(task) ? .learned : .sinusoidal
        model.pooling = meanPooled(task, preset) ? .mean : .cls
        // Image starts its grey-level embeddings at N(0, 0.02), level with its learned positions,
        // below preset `lra`: 256 unrelated unit-size grey-level vectors swamp the positions. Full
        // attention on the `cpu` task: 68.2% test accuracy with N(0, 1), 80.9% with 0.02 (same seed
        // and steps; positions at N(0, 1) as well gave 67.8%). Pathfinder stayed at chance with either.
        if task.name == "image" && preset != .lra { model.tokenEmbeddingScale = 0.02 }
        model.seed = seed
        var configuration = TrainingConfiguration(
            task: task.name, taskOptions: TaskOptions(preset: preset, seed: seed), model: model,
            steps: steps,
            batchSize: batch, learningRate: rate, warmupSteps: warmup, weightDecay: decay)
        configuration.schedule = schedule
        configuration.seed = seed
        configuration.logInterval = Swift.max(steps / 20, 1)
        return configuration
    }

    /// True for the tasks whose inputs are images (Image, Pathfinder, Path-X).
    public static func isImage(_ task: any SequenceTask) -> Bool {
        task.name == "image" || task.name.hasPrefix("path")
    }

    /// Image, Path-X and Pathfinder 64 learn their positions, as LRA's configs for them do
    /// (`learn_pos_emb = True`); Pathfinder 32 adds the fixed sinusoids like the text tasks, as LRA's
    /// PF-32 config does (`learn_pos_emb = False`). Learned positions start at N(0, 0.02), under the
    /// N(0, 1) pixel embeddings, so a PF-32 model began nearly blind to where its pixels are.
    static func learnedPositions(_ task: any SequenceTask) -> Bool {
        ["image", "pathx", "pathfinder64"].contains(task.name)
    }

    /// Pathfinder pools by the mean, as LRA does at 32 and 128 pixels (its PF-64 config uses [CLS]).
    /// Retrieval does too below preset `lra` (which keeps LRA's [CLS]): in a two-tower model the mean
    /// of each passage carries its byte statistics to the head from the first step, where [CLS] must
    /// first learn to gather them. Measured on the `cpu` task with passages cut to 256 bytes, full
    /// attention: 65.5% validation accuracy after 250 steps and 74.7% after 500 with the mean, 50.0%
    /// and 58.1% with [CLS].
    static func meanPooled(_ task: any SequenceTask, _ preset: TaskPreset) -> Bool {
        task.name.hasPrefix("path") || (task.name == "retrieval" && preset != .lra)
    }

    /// Steps for the `cpu` preset: a budget of 1.6·10⁷ padded tokens (batch × longest sequence), two to
    /// five minutes for a 2-layer width-64 model with full attention on two cores. ListOps (at most 500
    /// tokens) gets 1000 steps: at a peak rate of 2·10⁻³ without dropout full attention reaches 37%
    /// validation accuracy, where a rate of 10⁻³ for 750 steps stayed at the majority-class 16%.
    static func cpuSteps(_ task: any SequenceTask) -> Int {
        let tokensPerStep = 32 * task.maxLength * (task.isPair ? 2 : 1)
        return Swift.min(2_000, Swift.max(250, 16_000_000 / Swift.max(tokensPerStep, 1)))
    }

    /// LRA's repository configurations (task-specific widths, depths and schedules).
    static func lraSetup(_ task: any SequenceTask)
        -> (ModelConfiguration, Int, Int, Float, Int, Float)
    {
        func model(_ layers: Int, _ heads: Int, _ width: Int, _ mlp: Int) -> ModelConfiguration {
            var m = ModelConfiguration(
                vocabularySize: task.vocabularySize, modelDimension: width, layerCount: layers,
                headCount: heads,
                feedForwardDimension: mlp, maximumLength: task.maxLength)
            m.dropout = 0.1
            return m
        }
        switch task.name {
        case "listops": return (model(4, 8, 512, 1024), 5_000, 32, 0.05, 1_000, 0.1)
        case "text": return (model(4, 4, 256, 1024), 20_000, 32, 0.05, 8_000, 0.1)
        case "retrieval": return (model(4, 4, 128, 512), 5_000, 32, 0.05, 8_000, 0.1)
        case "image": return (model(1, 8, 128, 128), 35_000, 256, 5e-4, 175, 0)
        default: return (model(4, 4, 32, 32), 62_400, 512, 1e-3, 312, 0)  // Pathfinder
        }
    }
}
