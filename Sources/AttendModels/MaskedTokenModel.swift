// The self-pretraining model: the same `SequenceEncoder` a task's classifier uses, under the same
// name (`encoder`), so that its weights load into the classifier afterwards, plus a linear head
// that predicts the hidden token at every position. Attention is bidirectional. A [CLS] vector,
// when the configuration pools with one, runs through the encoder as in the classifier, but no
// token is predicted there.
import AttendAttention
import AttendCore
import AttendNN

/// Masked-token prediction on top of a sequence encoder.
public final class MaskedTokenModel: Module {
    /// The encoder whose weights a later run starts from (`--init-from`), saved under `encoder`.
    public let encoder: SequenceEncoder
    /// Hidden state → logits over the `classCount` tokens a hidden position can hold.
    public let head: Linear

    /// An encoder of `configuration` (its vocabulary includes the mask token) and a head over
    /// `configuration.classCount` tokens.
    public init(_ configuration: ModelConfiguration) throws {
        var generator = RandomGenerator(seed: configuration.seed)
        encoder = try SequenceEncoder(configuration, generator: &generator)
        head = Linear(
            inputCount: configuration.modelDimension, outputCount: configuration.classCount,
            weightInitializer: .normal(standardDeviation: 0.02), biasInitializer: .zeros,
            generator: &generator)
    }

    /// `encoder` and `head`: the checkpoint's two top-level prefixes.
    public var children: [(String, any Module)] { [("encoder", encoder), ("head", head)] }

    /// tokens [b, n] with padding mask [b, n] → logits [b, n, classes].
    public func callAsFunction(_ tokens: Indices, mask: Tensor?, trainingStep: Int = 0) throws
        -> ModelOutput
    {
        let encoded = try encoder(tokens, mask: mask, trainingStep: trainingStep)
        var hidden = encoded.hidden
        if encoder.cls != nil { hidden = hidden.sliced(alongAxis: 1, 1..<hidden.shape[1]) }
        return ModelOutput(logits: head(hidden), context: encoded.context)
    }
}
