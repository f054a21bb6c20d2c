// Running a trained classifier on new examples: class probabilities (softmax of the logits) for
// every example of a split, in batches of the run's size and cut to its longest input, as
// evaluation does; optionally the pooled encoder output each prediction was made from.
import AttendCore
import AttendData
import AttendModels
import Foundation

/// What a model predicts for one example.
public struct Prediction: Sendable {
    /// The most probable class id.
    public let label: Int
    /// Probability of each class, in id order.
    public let probabilities: [Float]
    /// The pooled encoder output (first text of a pair), when asked for.
    public let embedding: [Float]?
}

/// Batched prediction.
public enum Predictor {
    /// Predicts every example of `split`, handing `body` each batch and its predictions in order.
    public static func predict(
        _ model: any TaskModel, task: any SequenceTask, split: Split = .test, batchSize: Int,
        maximumLength: Int, embeddings: Bool = false, _ body: ([Prediction], Batch) throws -> Void
    ) throws {
        guard !task.isCausal else {
            throw TrainingError.incompatible(
                "a language model predicts bytes; use `attend generate`")
        }
        model.eval()
        defer { model.train() }
        let batches = Batches(
            task: task, split: split, batchSize: batchSize, shuffled: false,
            padding: .longestUpTo(maximumLength))
        for batch in batches {
            try withoutGradient {
                let logits = try model.output(for: batch, trainingStep: 0).logits  // [b, classes]
                let vectors = embeddings ? try embedding(of: model, batch) : nil  // [b, width]
                let classes = logits.shape[1]
                let scores = logits.scalars
                var predictions: [Prediction] = []
                for row in 0..<batch.size {
                    let p = softmax(scores[(row * classes)..<((row + 1) * classes)])
                    let width = vectors?.shape[1] ?? 0
                    predictions.append(
                        Prediction(
                            label: p.indices.max { p[$0] < p[$1] }!, probabilities: p,
                            embedding: vectors.map {
                                Array($0.scalars[(row * width)..<((row + 1) * width)])
                            }))
                }
                try body(predictions, batch)
            }
        }
    }

    /// exp(x − max) / Σ exp(x − max): the maximum is subtracted so no term overflows.
    static func softmax(_ logits: ArraySlice<Float>) -> [Float] {
        let top = logits.max() ?? 0
        let e = logits.map { Foundation.exp($0 - top) }
        let total = e.reduce(0, +)
        return e.map { $0 / total }
    }

    /// The pooled encoder output the classifier head reads, `[b, width]`.
    static func embedding(of model: any TaskModel, _ batch: Batch) throws -> Tensor {
        switch model {
        case let classifier as EncoderClassifier:
            let encoded = try classifier.encoder(batch.tokens, mask: batch.mask)
            return pooled(encoded, classifier.encoder.configuration.pooling)
        case let towers as DualEncoder:
            let encoded = try towers.encoder(batch.tokens, mask: batch.mask)
            return pooled(encoded, towers.encoder.configuration.pooling)
        default:
            throw TrainingError.incompatible(
                "--embeddings needs the encoder architecture (not a ViT)")
        }
    }
}

/// Accuracy, macro-averaged F1 and the confusion matrix of predicted against true labels.
public struct ClassificationReport: Sendable, Equatable {
    /// `confusion[t][p]`: examples of true class t predicted as p.
    public let confusion: [[Int]]

    /// The report over `classCount` classes.
    public init(labels: [Int], predictions: [Int], classCount: Int) {
        precondition(labels.count == predictions.count, "one prediction per label")
        var confusion = [[Int]](
            repeating: [Int](repeating: 0, count: classCount), count: classCount)
        for (t, p) in zip(labels, predictions) { confusion[t][p] += 1 }
        self.confusion = confusion
    }

    /// Examples counted.
    public var count: Int { confusion.joined().reduce(0, +) }

    /// Share predicted correctly.
    public var accuracy: Double {
        Double(confusion.indices.reduce(0) { $0 + confusion[$1][$1] }) / Double(max(count, 1))
    }

    /// F1 of each class, 2·tp / (2·tp + fp + fn); nil for a class that neither occurs nor is
    /// predicted.
    public var f1: [Double?] {
        confusion.indices.map { c in
            let tp = confusion[c][c]
            let actual = confusion[c].reduce(0, +)
            let predicted = confusion.reduce(0) { $0 + $1[c] }
            return actual + predicted == 0 ? nil : Double(2 * tp) / Double(actual + predicted)
        }
    }

    /// The mean F1 over classes that occur or are predicted (scikit-learn's `f1_score(average=
    /// "macro")`, whose default labels are the union of true and predicted ones).
    public var macroF1: Double {
        let scores = f1.compactMap { $0 }
        return scores.isEmpty ? 0 : scores.reduce(0, +) / Double(scores.count)
    }
}
