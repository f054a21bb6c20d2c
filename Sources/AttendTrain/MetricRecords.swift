// The records a training run appends to metrics.jsonl, one JSON object per line with sorted keys.
// Each event has its own Codable type, so the keys are declared once; the bytes are those the
// earlier dictionary records had (JSONEncoder with sorted keys writes numbers and strings as
// JSONSerialization did), so run directories written before still load and resume.
import Foundation

/// One line of metrics.jsonl.
public protocol MetricRecord: Encodable {
    /// The kind of line: "train", "evaluate" or "distributed".
    var event: String { get }
    /// Optimizer steps completed when the line was written.
    var step: Int { get }
}

/// Training metrics of the last step, logged every `log_interval` steps and at the last one.
public struct TrainingStepRecord: MetricRecord, Codable {
    /// Always "train".
    public var event = "train"
    /// Optimizer steps completed, this one included.
    public let step: Int
    /// The step's mean loss over every process's counted targets.
    public let loss: Double
    /// Fraction of the step's counted targets predicted correctly, in [0, 1].
    public let accuracy: Double
    /// The learning rate the schedule gave this step.
    public let learningRate: Double
    /// Global gradient norm before clipping.
    public let gradientNorm: Double
    /// Real tokens per second since the run (or its resumption) started.
    public let tokensPerSecond: Double
    /// Seconds since the run (or its resumption) started.
    public let elapsed: Double
    /// Seconds in collective operations so far; only in distributed runs.
    public let communicationSeconds: Double?

    enum CodingKeys: String, CodingKey {
        case event, step, loss, accuracy, elapsed
        case learningRate = "learning_rate", gradientNorm = "gradient_norm"
        case tokensPerSecond = "tokens_per_second", communicationSeconds = "communication_seconds"
    }
}

/// Loss and accuracy on a split: during training every `evaluation_interval` steps, and once at
/// the end (the only evaluation logged at the last step).
public struct EvaluationRecord: MetricRecord, Codable {
    /// Always "evaluate".
    public var event = "evaluate"
    /// Optimizer steps completed before the evaluation.
    public let step: Int
    /// The split evaluated, e.g. "validation" or "test".
    public let split: String
    /// Mean loss over the split's counted examples (or tokens).
    public let loss: Double
    /// Fraction of the split's counted examples (or tokens) predicted correctly.
    public let accuracy: Double

    /// The record of `evaluation` after `step` steps.
    public init(step: Int, _ evaluation: Evaluation) {
        self.step = step
        split = evaluation.split
        loss = Double(evaluation.loss)
        accuracy = Double(evaluation.accuracy)
    }
}

/// How a distributed run is set up, logged when it starts (or resumes).
public struct DistributedRecord: MetricRecord, Codable {
    /// Always "distributed".
    public var event = "distributed"
    /// The step the run starts (or resumes) from.
    public let step: Int
    /// Processes training together.
    public let processes: Int
    /// Bytes of the largest gradient all-reduce call.
    public let bucketBytes: Int
    /// Gradient all-reduce calls per step.
    public let buckets: Int

    enum CodingKeys: String, CodingKey {
        case event, step, processes, buckets
        case bucketBytes = "bucket_bytes"
    }
}
