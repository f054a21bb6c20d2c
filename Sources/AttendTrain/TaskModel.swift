// Bridges tasks and models: builds the model a task kind needs (classifier, two-tower, causal LM),
// runs it on a batch, and turns its logits into the loss and the metrics the trainer reports.
import AttendCore
import AttendData
import AttendModels
import AttendNN
import Foundation

/// A model that can consume a task's batches.
public protocol TaskModel: Module {
    /// Logits for `batch` (and auxiliary losses).
    func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput
}

extension EncoderClassifier: TaskModel {
    /// The sequence and its padding mask.
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        try self(batch.tokens, mask: batch.mask, trainingStep: trainingStep)
    }
}

extension DualEncoder: TaskModel {
    /// Both towers' sequences and masks; throws for a batch without pairs.
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        guard let pair = batch.pairTokens else {
            throw TrainingError.incompatible("a two-tower model needs pair batches (retrieval)")
        }
        return try self(
            batch.tokens, mask: batch.mask, pair, mask: batch.pairMask, trainingStep: trainingStep)
    }
}

extension CausalLM: TaskModel {
    /// The sequence and its padding mask; logits at every position.
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        try self(batch.tokens, mask: batch.mask, trainingStep: trainingStep)
    }
}

extension MaskedTokenModel: TaskModel {
    /// The masked sequence and its padding mask; logits at every position.
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        try self(batch.tokens, mask: batch.mask, trainingStep: trainingStep)
    }
}

extension ViTClassifier: TaskModel {
    /// The tokens turned back into pixels (one grey level per token).
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        try self(try pixels(fromTokens: batch.tokens), trainingStep: trainingStep)
    }
}

/// Builds the model for a task kind from a model configuration.
public func makeModel(for kind: TaskKind, _ configuration: ModelConfiguration) throws
    -> any TaskModel
{
    if let pretrained = configuration.pretrained {
        guard kind != .languageModel else {
            throw TrainingError.incompatible(
                "a pretrained encoder is fine-tuned as a sequence classifier, not for language modelling"
            )
        }
        return try FineTuning.classifier(configuration, pretrained)
    }
    if configuration.architecture == .vit {
        guard kind == .classification else {
            throw TrainingError.incompatible(
                "a ViT classifies images; task kind \(kind.rawValue) needs the encoder architecture"
            )
        }
        return try ViTClassifier(configuration)
    }
    switch kind {
    case .classification: return try EncoderClassifier(configuration)
    case .pairClassification: return try DualEncoder(configuration)
    case .languageModel: return try CausalLM(configuration)
    case .maskedTokens: return try MaskedTokenModel(configuration)
    }
}

/// Turns on activation checkpointing in every encoder of `model`, recomputing `blocks` consecutive
/// blocks at a time (0 leaves it off).
func enableActivationCheckpointing(in model: any TaskModel, everyBlocks blocks: Int) throws {
    guard blocks != 0 else { return }
    let encoders = model.namedModules().compactMap { $0.1 as? SequenceEncoder }
    guard blocks > 0, !encoders.isEmpty else {
        throw TrainingError.incompatible(
            blocks < 0
                ? "--checkpoint-activations must be ≥ 1 blocks, got \(blocks)"
                : "--checkpoint-activations applies to the encoder architecture's blocks; the ViT "
                    + "has none, so leave it out (or use --accumulate to save memory)")
    }
    for encoder in encoders { encoder.activationCheckpointBlocks = blocks }
}

/// Loss and counts for one batch.
public struct BatchMetrics: Sendable {
    /// Objective to minimise (task loss + auxiliary losses), differentiable.
    public var loss: Tensor
    /// Task loss alone (mean over counted targets).
    public var taskLoss: Float
    /// Correct predictions and counted targets (tokens for language modelling).
    public var correct: Int, counted: Int
}

/// The objective of a task kind.
public enum Objective {
    /// Loss and accuracy of `output` against the batch's labels.
    public static func evaluate(
        _ output: ModelOutput, batch: Batch, kind: TaskKind, labelSmoothing: Float = 0
    ) -> BatchMetrics {
        let logits: Tensor
        let targets: [Int]
        switch kind {
        case .classification, .pairClassification:
            logits = output.logits
            targets = batch.labels.values
        case .languageModel, .maskedTokens:
            // Padding counts for nothing (masked-token targets are already -100 where unmasked).
            let (b, n, v) = (output.logits.shape[0], output.logits.shape[1], output.logits.shape[2])
            logits = output.logits.reshaped([b * n, v])
            let mask = batch.mask.scalars
            targets = zip(batch.labels.values, mask).map { $1 == 0 ? -100 : $0 }
        }
        let taskLoss = crossEntropy(
            logits: logits, targets: targets, labelSmoothing: labelSmoothing)
        let predictions = withoutGradient { logits.argmax(alongAxis: -1) }
        var correct = 0, counted = 0
        for (p, t) in zip(predictions, targets) where t != -100 {
            counted += 1
            if p == t { correct += 1 }
        }
        let total = output.auxiliaryLoss.map { taskLoss + $0 } ?? taskLoss
        return BatchMetrics(
            loss: total, taskLoss: taskLoss.scalar, correct: correct, counted: counted)
    }

    /// The targets `evaluate` will count in `batch`, known before the forward pass: every example
    /// for classification, every real token for language modelling, every masked real token for
    /// masked-token pretraining.
    public static func countedTargets(in batch: Batch, kind: TaskKind) -> Int {
        switch kind {
        case .classification, .pairClassification:
            return batch.labels.values.filter { $0 != -100 }.count
        case .languageModel: return batch.lengths.reduce(0, +)
        case .maskedTokens:  // the masked real positions only
            return zip(batch.labels.values, batch.mask.scalars).filter { $1 != 0 && $0 != -100 }
                .count
        }
    }
}

/// Training problems a user can fix.
public enum TrainingError: Error, CustomStringConvertible {
    /// Options that cannot go together.
    case incompatible(String)
    /// The loss became NaN or infinite.
    case nonFiniteLoss(step: Int, loss: Float, checkpoint: String?)
    /// A run directory or checkpoint problem.
    case run(String)

    /// One line saying what went wrong and what to do; for a non-finite loss, the step and the
    /// checkpoint to resume from.
    public var description: String {
        switch self {
        case .incompatible(let message): return message
        case .nonFiniteLoss(let step, let loss, let checkpoint):
            return "the loss became \(loss) at step \(step); training stopped. "
                + (checkpoint.map {
                    "The last good checkpoint is \($0) (resume with --resume after lowering --lr)."
                }
                    ?? "No checkpoint was written yet; lower --lr or raise --warmup and start again.")
        case .run(let message): return message
        }
    }
}
