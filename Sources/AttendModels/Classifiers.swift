// Task models on top of the encoder, as Long Range Arena builds them:
// - EncoderClassifier: pool → Dense(mlp) → ReLU → Dense(classes) (ListOps, Text, Image, Pathfinder),
// - DualEncoder: one shared encoder for both documents, [u, v, u⊙v, u−v] → MLP → 2 classes (Retrieval),
// - CausalLM: causal encoder → vocabulary logits at every position (byte language modelling).
import AttendAttention
import AttendCore
import AttendNN

/// Logits plus the auxiliary losses layers recorded (router balance, z-loss…).
public struct ModelOutput {
    /// [b, classes] for the classifiers, [b, n, vocabulary] for the language model.
    public let logits: Tensor
    /// Sum of the auxiliary losses, nil when there were none.
    public let auxiliaryLoss: Tensor?

    init(logits: Tensor, context: MixerContext) {
        self.logits = logits
        auxiliaryLoss = context.auxiliaryLosses.map(\.value).reduce(nil) { total, loss in
            total.map { $0 + loss } ?? loss
        }
    }
}

/// A two-layer MLP head: Dense → ReLU → Dense.
final class ClassifierHead: Module {
    let hidden: Linear, output: Linear
    init(inputCount: Int, hiddenCount: Int, classes: Int, generator: inout RandomGenerator) {
        hidden = Linear(
            inputCount: inputCount, outputCount: hiddenCount, weightInitializer: .xavierUniform(),
            biasInitializer: .zeros, generator: &generator)
        output = Linear(
            inputCount: hiddenCount, outputCount: classes, weightInitializer: .xavierUniform(),
            biasInitializer: .zeros, generator: &generator)
    }
    var children: [(String, any Module)] { [("hidden", hidden), ("output", output)] }
    func callAsFunction(_ x: Tensor) -> Tensor { output(hidden(x).relu()) }
}

/// Sequence classification.
public final class EncoderClassifier: Module {
    /// Embeddings, Transformer blocks and final norm, saved under `encoder`.
    public let encoder: SequenceEncoder
    let head: ClassifierHead

    /// An encoder and a two-layer head over `classCount` classes, drawn from `configuration.seed`.
    public init(_ configuration: ModelConfiguration) throws {
        var generator = RandomGenerator(seed: configuration.seed)
        encoder = try SequenceEncoder(configuration, generator: &generator)
        head = ClassifierHead(
            inputCount: configuration.modelDimension,
            hiddenCount: configuration.headDimension ?? configuration.feedForwardDimension,
            classes: configuration.classCount, generator: &generator)
    }

    /// `encoder` and `head`: the checkpoint's two top-level prefixes.
    public var children: [(String, any Module)] { [("encoder", encoder), ("head", head)] }

    /// tokens [b, n], mask [b, n] → logits [b, classes].
    public func callAsFunction(_ tokens: Indices, mask: Tensor?, trainingStep: Int = 0) throws
        -> ModelOutput
    {
        let encoded = try encoder(tokens, mask: mask, trainingStep: trainingStep)
        return ModelOutput(
            logits: head(pooled(encoded, encoder.configuration.pooling)), context: encoded.context)
    }
}

/// Pair classification with a shared encoder (LRA Retrieval).
public final class DualEncoder: Module {
    /// The one encoder both towers share, saved under `encoder`.
    public let encoder: SequenceEncoder
    let head: PairHead

    /// A shared encoder and a head over [u, v, u·v, u − v] of the two pooled vectors (LRA's
    /// combination), with `classCount` outputs, drawn from `configuration.seed`.
    public init(_ configuration: ModelConfiguration) throws {
        var generator = RandomGenerator(seed: configuration.seed)
        encoder = try SequenceEncoder(configuration, generator: &generator)
        let width = configuration.headDimension ?? configuration.feedForwardDimension
        head = PairHead(
            inputCount: 4 * configuration.modelDimension, hiddenCount: width,
            classes: configuration.classCount,
            generator: &generator)
    }

    /// `encoder` and `head`: the checkpoint's two top-level prefixes.
    public var children: [(String, any Module)] { [("encoder", encoder), ("head", head)] }

    /// Two token batches with masks → logits [b, classes].
    public func callAsFunction(
        _ first: Indices, mask firstMask: Tensor?, _ second: Indices, mask secondMask: Tensor?,
        trainingStep: Int = 0
    ) throws -> ModelOutput {
        let a = try encoder(first, mask: firstMask, trainingStep: trainingStep)
        let b = try encoder(second, mask: secondMask, trainingStep: trainingStep)
        let u = pooled(a, encoder.configuration.pooling),
            v = pooled(b, encoder.configuration.pooling)
        let features = Tensor.concatenated([u, v, u * v, u - v], alongAxis: 1)  // [b, 4c]
        for loss in b.context.auxiliaryLosses { a.context.addAuxiliaryLoss(loss.name, loss.value) }
        return ModelOutput(logits: head(features), context: a.context)
    }
}

/// Dense(mlp) → ReLU → Dense(mlp/2) → ReLU → Dense(classes), as LRA's matching model.
final class PairHead: Module {
    let first: Linear, second: Linear, output: Linear
    init(inputCount: Int, hiddenCount: Int, classes: Int, generator: inout RandomGenerator) {
        let half = Swift.max(hiddenCount / 2, 1)
        first = Linear(
            inputCount: inputCount, outputCount: hiddenCount, weightInitializer: .xavierUniform(),
            biasInitializer: .zeros, generator: &generator)
        second = Linear(
            inputCount: hiddenCount, outputCount: half, weightInitializer: .xavierUniform(),
            biasInitializer: .zeros, generator: &generator)
        output = Linear(
            inputCount: half, outputCount: classes, weightInitializer: .xavierUniform(),
            biasInitializer: .zeros, generator: &generator)
    }
    var children: [(String, any Module)] {
        [("first", first), ("second", second), ("output", output)]
    }
    func callAsFunction(_ x: Tensor) -> Tensor { output(second(first(x).relu()).relu()) }
}

/// Next-token prediction.
public final class CausalLM: Module {
    /// The causal encoder, saved under `encoder`.
    public let encoder: SequenceEncoder
    /// Hidden state → next-token logits over the vocabulary.
    public let head: Linear

    /// A causal encoder (mean pooling, since there is no [CLS] vector) and a vocabulary-sized
    /// head, drawn from `configuration.seed`; throws for a mechanism without a causal form.
    public init(_ configuration: ModelConfiguration) throws {
        var configuration = configuration
        configuration.pooling = .mean  // no [CLS] vector in a language model
        var generator = RandomGenerator(seed: configuration.seed)
        encoder = try SequenceEncoder(configuration, causal: true, generator: &generator)
        head = Linear(
            inputCount: configuration.modelDimension, outputCount: configuration.vocabularySize,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
    }

    /// `encoder` and `head`: the checkpoint's two top-level prefixes.
    public var children: [(String, any Module)] { [("encoder", encoder), ("head", head)] }

    /// tokens [b, n] → logits [b, n, vocabulary].
    public func callAsFunction(_ tokens: Indices, mask: Tensor? = nil, trainingStep: Int = 0) throws
        -> ModelOutput
    {
        let encoded = try encoder(tokens, mask: mask, causal: true, trainingStep: trainingStep)
        return ModelOutput(logits: head(encoded.hidden), context: encoded.context)
    }
}
