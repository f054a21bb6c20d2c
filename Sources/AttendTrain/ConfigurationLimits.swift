// The allowed range of every field of a training configuration, declared in one place and checked
// once the configuration is complete: after `attend train` has read --config and applied its
// flags, when a run directory's config.json is loaded, and when a Trainer is made. A value outside
// its range would otherwise trap (a dropout of 2), hang (a hundred million layers) or train
// nonsense silently (a negative learning rate).
import AttendAttention
import AttendModels

/// A configuration field whose value is outside its allowed range.
public struct ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// The JSON name of the field, with its place (`model.dropout`).
    public let field: String
    /// The `attend train` flag that sets it, when there is one.
    public let flag: String?
    /// The value found.
    public let value: String
    /// What is allowed, in words.
    public let expected: String

    /// One line naming the field, the value and what is allowed.
    public var description: String {
        "\(field)\(flag.map { " (\($0))" } ?? "") is \(value); expected \(expected)"
    }
}

extension TrainingConfiguration {
    /// Checks every field against its allowed range; the first field out of range is thrown.
    public func validate() throws(ConfigurationError) {
        try check(steps, 1...1_000_000_000, "steps", flag: "--steps")
        try check(batchSize, 1...65_536, "batch_size", flag: "--batch")
        try check(learningRate, .above(0, atMost: 10), "learning_rate", flag: "--lr")
        try check(warmupSteps, 0...1_000_000_000, "warmup_steps", flag: "--warmup")
        try check(weightDecay, .from(0, to: 1), "weight_decay", flag: "--weight-decay")
        try check(beta1, .from(0, below: 1), "beta1")
        try check(beta2, .from(0, below: 1), "beta2")
        try check(epsilon, .above(0, atMost: 1), "epsilon")
        try check(gradientClip, .from(0, to: 1e6), "gradient_clip")
        try check(labelSmoothing, .from(0, below: 1), "label_smoothing")
        try check(
            evaluationInterval, 0...1_000_000_000, "evaluation_interval", flag: "--eval-every")
        try check(evaluationExamples, 0...1_000_000_000, "evaluation_examples")
        try check(
            checkpointInterval, 0...1_000_000_000, "checkpoint_interval", flag: "--checkpoint-every"
        )
        try check(logInterval, 1...1_000_000_000, "log_interval")
        try check(accumulate, 1...batchSize, "accumulate", flag: "--accumulate")
        // The model first: its layer count bounds the next range (0...-1 would trap).
        try model.validate()
        try check(
            checkpointActivations, 0...model.layerCount, "checkpoint_activations",
            flag: "--checkpoint-activations")
    }
}

extension ModelConfiguration {
    /// Checks the model's fields (named `model.…`, as in config.json).
    func validate() throws(ConfigurationError) {
        try check(vocabularySize, 1...16_777_216, "model.vocabulary_size")
        try check(modelDimension, 1...65_536, "model.model_dimension", flag: "--dim")
        try check(layerCount, 1...512, "model.layer_count", flag: "--layers")
        try check(headCount, 1...modelDimension, "model.head_count", flag: "--heads")
        guard modelDimension % headCount == 0 else {
            throw ConfigurationError(
                field: "model.head_count", flag: "--heads", value: "\(headCount)",
                expected: "a divisor of model.model_dimension (--dim) \(modelDimension)")
        }
        try check(feedForwardDimension, 1...262_144, "model.feed_forward_dimension", flag: "--ffn")
        try check(maximumLength, 1...1_048_576, "model.maximum_length", flag: "--seq-len")
        try checkMixer(mixer, "model.mixer", flag: "--mixer")
        if let upperMixer { try checkMixer(upperMixer, "model.upper_mixer", flag: "--upper-mixer") }
        do throws(MixerOptionError) {
            try mixerOptions?.validateOptions()
        } catch {
            throw ConfigurationError(
                field: "model.mixer_options.\(error.field)",
                flag: "--mixer-options, an option of \(error.owner)", value: error.value,
                expected: error.expected)
        }
        try check(dropout, .from(0, below: 1), "model.dropout", flag: "--dropout")
        try check(tokenEmbeddingScale, .from(0, to: 100), "model.token_embedding_std")
        try check(layerNormEpsilon, .above(0, atMost: 1), "model.layer_norm_epsilon")
        try check(classCount, 1...1_000_000, "model.class_count")
        if let headDimension { try check(headDimension, 1...262_144, "model.head_dimension") }
        try check(patchSize, 1...1_024, "model.patch_size", flag: "--patch")
        try check(imageChannels, 1...1_024, "model.image_channels")
        let moe = switchFeedForward
        try check(moe.expertCount, 1...1_024, "model.switch.expert_count")
        try check(moe.capacityFactor, .above(0, atMost: 1_000), "model.switch.capacity_factor")
        try check(
            moe.evaluationCapacityFactor, .above(0, atMost: 1_000),
            "model.switch.evaluation_capacity_factor")
        if let capacity = moe.expertCapacity {
            try check(capacity, 1...1_048_576, "model.switch.expert_capacity")
        }
        try check(
            moe.auxiliaryLossCoefficient, .from(0, to: 100),
            "model.switch.auxiliary_loss_coefficient")
        try check(moe.zLossCoefficient, .from(0, to: 100), "model.switch.z_loss_coefficient")
        try check(moe.jitter, .from(0, below: 1), "model.switch.jitter")
        try check(moe.layerInterval, 1...1_024, "model.switch.layer_interval")
    }
}

private func check(
    _ value: Int, _ range: ClosedRange<Int>, _ field: String, flag: String? = nil
) throws(ConfigurationError) {
    guard range.contains(value) else {
        throw ConfigurationError(
            field: field, flag: flag, value: "\(value)",
            expected: [range].words(multiple: 1))
    }
}

private func check(
    _ value: Float, _ range: NumberRange, _ field: String, flag: String? = nil
) throws(ConfigurationError) {
    guard range.contains(value) else {
        throw ConfigurationError(field: field, flag: flag, value: "\(value)", expected: range.words)
    }
}

private func checkMixer(_ name: String, _ field: String, flag: String) throws(ConfigurationError) {
    guard Mechanisms.names.contains(name) else {
        throw ConfigurationError(
            field: field, flag: flag, value: "'\(name)'",
            expected: "one of: \(Mechanisms.names.joined(separator: ", "))")
    }
}
