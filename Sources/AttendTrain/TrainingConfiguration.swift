// Everything that determines a training run, as data. Saved (resolved, with every default filled in)
// as `config.json` in the run directory, so `attend eval` and `--resume` rebuild exactly the same run.
import AttendModels
import AttendNN

/// The learning-rate schedule family.
public enum ScheduleKind: String, Codable, Sendable, CaseIterable {
    /// Linear warm-up, then cosine decay to 0.
    case cosine
    /// Linear warm-up, then linear decay to 0.
    case linear
    /// LRA's base·min(1, s/warmup)/√max(s, warmup).
    case rsqrt
    /// Linear warm-up, then constant.
    case constant
}

/// A training run: task, model, optimisation and bookkeeping.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    /// Task id (see `TaskCatalog`).
    public var task: String
    /// Task generation options.
    public var taskOptions: TaskOptions
    /// The model.
    public var model: ModelConfiguration
    /// Optimizer steps to train for.
    public var steps: Int
    /// Examples per step, over all processes together.
    public var batchSize: Int
    /// Peak (base) learning rate, reached after the warm-up.
    public var learningRate: Float
    /// Steps over which the learning rate warms up to `learningRate`.
    public var warmupSteps: Int
    /// AdamW's decoupled weight decay.
    public var weightDecay: Float
    /// How the learning rate moves after the warm-up.
    public var schedule: ScheduleKind = .cosine
    /// AdamW's decay rate of the first-moment (mean) estimate.
    public var beta1: Float = 0.9
    /// AdamW's decay rate of the second-moment (variance) estimate.
    public var beta2: Float = 0.98
    /// AdamW's term added to the denominator for numerical stability.
    public var epsilon: Float = 1e-9
    /// Global gradient-norm clip (0 = off).
    public var gradientClip: Float = 1
    /// Label smoothing of the cross-entropy targets (0 = none).
    public var labelSmoothing: Float = 0
    /// Seed for batch order and dropout (the model has its own in `model.seed`).
    public var seed: UInt64 = 0
    /// Validation every this many steps (0 = only at the end).
    public var evaluationInterval = 0
    /// Validation examples used each time (0 = the whole split).
    public var evaluationExamples = 0
    /// Checkpoint every this many steps (0 = only at the end and on interrupt).
    public var checkpointInterval = 0
    /// Plain-text progress lines every this many steps when not on a terminal.
    public var logInterval = 50
    /// The Attend run (a pretraining run, usually) whose encoder the model starts from; nil:
    /// initialised from the seed.
    public var encoderFrom: String?
    /// Micro-batches per batch whose gradients are summed before one optimizer step (1 = none);
    /// divides the batch (per process, in a distributed run). See `Trainer`.
    public var accumulate = 1
    /// Activation checkpointing: every this many consecutive encoder blocks are recomputed in the
    /// backward pass instead of keeping their activations (0 = off; 1 = every block).
    public var checkpointActivations = 0

    /// A configuration with the essential fields (no warm-up and no weight decay unless given).
    public init(
        task: String, taskOptions: TaskOptions = TaskOptions(), model: ModelConfiguration,
        steps: Int, batchSize: Int, learningRate: Float, warmupSteps: Int = 0,
        weightDecay: Float = 0
    ) {
        self.task = task
        self.taskOptions = taskOptions
        self.model = model
        self.steps = steps
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.warmupSteps = warmupSteps
        self.weightDecay = weightDecay
    }

    /// The schedule these settings describe.
    public var learningRateSchedule: any LearningRateSchedule {
        switch schedule {
        case .cosine:
            return WarmupCosineSchedule(
                peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps)
        case .linear:
            return WarmupLinearSchedule(
                peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps)
        case .rsqrt: return InverseSquareRootSchedule(base: learningRate, warmupSteps: warmupSteps)
        case .constant:
            return WarmupLinearSchedule(
                peak: learningRate, warmupSteps: warmupSteps, totalSteps: steps,
                minimum: learningRate)
        }
    }

    enum CodingKeys: String, CodingKey {
        case task, taskOptions = "task_options", model, steps, batchSize = "batch_size"
        case learningRate = "learning_rate", warmupSteps = "warmup_steps", weightDecay =
            "weight_decay", schedule
        case beta1, beta2, epsilon, gradientClip = "gradient_clip", labelSmoothing =
            "label_smoothing", seed
        case evaluationInterval = "evaluation_interval", evaluationExamples = "evaluation_examples"
        case checkpointInterval = "checkpoint_interval", logInterval = "log_interval"
        case encoderFrom = "encoder_from"
        case accumulate, checkpointActivations = "checkpoint_activations"
    }

    /// Decodes a configuration: task, model, steps, batch size and learning rate are required;
    /// every other key takes its default from the memberwise initializer.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            task: try c.decode(String.self, forKey: .task),
            model: try c.decode(ModelConfiguration.self, forKey: .model),
            steps: try c.decode(Int.self, forKey: .steps),
            batchSize: try c.decode(Int.self, forKey: .batchSize),
            learningRate: try c.decode(Float.self, forKey: .learningRate))
        try c.override(&taskOptions, .taskOptions)
        try c.override(&warmupSteps, .warmupSteps)
        try c.override(&weightDecay, .weightDecay)
        try c.override(&schedule, .schedule)
        try c.override(&beta1, .beta1)
        try c.override(&beta2, .beta2)
        try c.override(&epsilon, .epsilon)
        try c.override(&gradientClip, .gradientClip)
        try c.override(&labelSmoothing, .labelSmoothing)
        try c.override(&seed, .seed)
        try c.override(&evaluationInterval, .evaluationInterval)
        try c.override(&evaluationExamples, .evaluationExamples)
        try c.override(&checkpointInterval, .checkpointInterval)
        try c.override(&logInterval, .logInterval)
        try c.override(&encoderFrom, .encoderFrom)
        try c.override(&accumulate, .accumulate)
        try c.override(&checkpointActivations, .checkpointActivations)
    }
}
