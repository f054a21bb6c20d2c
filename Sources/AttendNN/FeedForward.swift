// The position-wise feed-forward network of the Transformer (Vaswani et al., 2017):
// FFN(x) = W₂·dropout(act(W₁x + b₁)) + b₂, applied to every position independently.
import AttendCore

/// Two linear maps with an activation between them.
public final class FeedForward: Module {
    /// d → hidden ("fc1").
    public let inner: Linear
    /// hidden → d ("fc2").
    public let outer: Linear
    /// The non-linearity.
    public let activation: Activation
    /// Dropout after the activation.
    public let dropout: Dropout

    /// An FFN of width `dimension` with `hiddenDimension` inner units.
    public init(
        dimension: Int, hiddenDimension: Int, activation: Activation = .gelu, dropout: Float = 0,
        initializer: Initializer? = nil, generator: inout RandomGenerator
    ) {
        inner = Linear(
            inputCount: dimension, outputCount: hiddenDimension, weightInitializer: initializer,
            biasInitializer: initializer.map { _ in .zeros }, generator: &generator)
        outer = Linear(
            inputCount: hiddenDimension, outputCount: dimension, weightInitializer: initializer,
            biasInitializer: initializer.map { _ in .zeros }, generator: &generator)
        self.activation = activation
        self.dropout = Dropout(probability: dropout)
    }

    /// The two layers under PyTorch's `fc1`/`fc2` names, and the dropout between them.
    public var children: [(String, any Module)] {
        [("fc1", inner), ("fc2", outer), ("dropout", dropout)]
    }

    /// [..., d] → [..., d].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        outer(dropout(activation(inner(x))))
    }
}
