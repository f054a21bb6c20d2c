// Adapting a pretrained BERT to an efficient attention mechanism by distillation (attend adapt):
// the student is the folder's model running `mechanism` between its pretrained q/k/v projections,
// the teacher the same weights with full attention (both with the position table extended when
// the chunks are longer than the folder's positions). On unlabeled chunks the student learns to
// reproduce the teacher's last hidden states (mean squared error over every token and feature)
// and its sentence embedding (1 − cosine of the mean-pooled vectors), the two quantities a user
// of the embeddings sees. Both run in evaluation mode, without dropout, so the loss measures only
// the mechanism's difference. The batch order depends only on (seed, step), so a resumed run
// continues the same trajectory.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import Foundation

/// A distillation of `settings.model` into a student running `settings.mechanism`.
public final class Adaptation {
    /// The run's settings.
    public let settings: AdaptationSettings
    /// The folder's model with full attention: fixed.
    public let teacher: Bert
    /// The folder's model with the chosen mechanism: what trains.
    public let student: Bert
    /// Training and held-out chunks.
    public let texts: AdaptationTexts
    /// The teacher's sentence embeddings of the held-out chunks, computed once.
    private var teacherHeldOut: Tensor?

    /// Loads teacher and student and marks the parameters `settings.scope` selects as trainable.
    ///
    /// Throws when the mechanism cannot run inside BERT or the scope selects nothing (a
    /// mechanism without parameters of its own under `--train mixer`).
    public init(settings: AdaptationSettings, texts: AdaptationTexts) throws {
        self.settings = settings
        self.texts = texts
        teacher = try Bert.load(
            directory: settings.model, positions: settings.length,
            extension: settings.positionExtension
        ).model
        student = try Bert.load(
            directory: settings.model, mechanism: settings.mechanism,
            mixerConfiguration: settings.mixerOptions, positions: settings.length,
            extension: settings.positionExtension, seed: settings.seed
        ).model
        let trainable = Set(Self.parameterNames(of: student, scope: settings.scope))
        guard !trainable.isEmpty else {
            throw TrainingError.incompatible(
                "--train \(settings.scope.rawValue): '\(settings.mechanism)' has no parameters of "
                    + "its own; use --train norms or --train all")
        }
        for (name, parameter) in student.namedParameters() {  // fixed buffers stay fixed
            parameter.isTrainable = parameter.isTrainable && trainable.contains(name)
        }
        for parameter in teacher.parameters { parameter.isTrainable = false }
    }

    /// The names of the parameters of `model` that `scope` trains.
    public static func parameterNames(of model: Bert, scope: AdaptationScope) -> [String] {
        let mechanism = model.layers.enumerated().flatMap { index, layer in
            layer.attention.core.namedParameters(prefix: "encoder.layer.\(index).attention.self.")
                .filter(\.1.isTrainable).map(\.0)
        }
        switch scope {
        case .mixer: return mechanism
        case .norms:
            let norms = model.namedParameters().map(\.0).filter { $0.contains("LayerNorm.") }
            return mechanism + norms
        case .all: return model.namedParameters().map(\.0)
        }
    }

    /// The distillation loss of `chunks` (each `settings.length` ids) and its parts:
    /// mean squared error of the last hidden states plus 1 − mean cosine of the pooled vectors.
    public func loss(_ chunks: [[Int]]) throws -> (total: Tensor, hiddenError: Float, cosine: Float)
    {
        let ids = Indices(shape: [chunks.count, chunks[0].count], values: chunks.flatMap { $0 })
        let target = try withoutGradient { try teacher(ids) }  // [b, n, c]
        let hidden = try student(ids)  // [b, n, c]
        let error = (hidden - target).squared().mean()
        let cosine = (Self.unitMeans(hidden) * Self.unitMeans(target)).summed(alongAxes: [1]).mean()
        return (error + (Tensor(1) - cosine), error.scalars[0], cosine.scalars[0])
    }

    /// Per-chunk cosine between the student's and the teacher's mean-pooled embeddings of the
    /// held-out chunks.
    public func heldOutCosines() throws -> [Double] {
        try withoutGradient {
            if teacherHeldOut == nil {
                teacherHeldOut = try embeddings(of: texts.heldOut, by: teacher)
            }
            let mine = try embeddings(of: texts.heldOut, by: student)
            let products = (mine * teacherHeldOut!).summed(alongAxes: [1]).scalars
            return products.map(Double.init)
        }
    }

    /// Unit-length mean-pooled vectors [k, c] of `chunks` under `model`, in batches.
    private func embeddings(of chunks: [[Int]], by model: Bert) throws -> Tensor {
        var parts: [Tensor] = []
        for start in stride(from: 0, to: chunks.count, by: settings.batchSize) {
            let batch = Array(chunks[start..<Swift.min(start + settings.batchSize, chunks.count)])
            let ids = Indices(shape: [batch.count, batch[0].count], values: batch.flatMap { $0 })
            parts.append(Self.unitMeans(try model(ids)))
        }
        return Tensor.concatenated(parts, alongAxis: 0)
    }

    /// Hidden states [b, n, c] → their token means scaled to unit length, [b, c].
    static func unitMeans(_ hidden: Tensor) -> Tensor {
        let means = hidden.mean(alongAxes: [1])  // [b, c]
        let norms = means.squared().summed(alongAxes: [1], keepingDimensions: true).squareRoot()
        return means / Tensor.maximum(norms, Tensor(1e-12))
    }

    /// The training chunks of step `step` (0-based): consecutive slices of a permutation of the
    /// chunks drawn afresh, from the seed, for every pass over them.
    public func batch(at step: Int) -> [[Int]] {
        let count = texts.training.count
        var orders: [Int: [Int]] = [:]  // pass over the chunks → its order
        return (0..<settings.batchSize).map { i in
            let position = step * settings.batchSize + i
            let pass = position / count
            if orders[pass] == nil {
                var generator = RandomGenerator(
                    seed: RandomGenerator.mix(settings.seed, UInt64(pass)))
                orders[pass] = generator.permutation(count)
            }
            return texts.training[orders[pass]![position % count]]
        }
    }
}
