// A trainable tensor. Its value is always a gradient leaf, so any computation that reads it is
// recorded while gradient mode is on, and `valueAndGradient(of:)` can find its gradient.
import AttendCore

/// A named, trainable (or frozen) tensor owned by a module.
public final class Parameter: @unchecked Sendable {
    private var leaf: Tensor

    /// The current value. Assigning stores a copy that is a fresh gradient leaf.
    public var value: Tensor {
        get { leaf }
        set { leaf = newValue.detached().requiringGradient() }
    }

    /// False for frozen parameters: optimizers skip them and no gradient is requested.
    public var isTrainable: Bool

    /// Settings this parameter needs instead of the run's (S4D trains its state matrix slowly and
    /// without weight decay); `AdamW` honours them.
    public var optimizerOverrides = OptimizerOverrides()

    /// A parameter holding `value`.
    public init(_ value: Tensor, trainable: Bool = true) {
        leaf = value.detached().requiringGradient()
        isTrainable = trainable
    }

    /// Shape of the value.
    public var shape: [Int] { leaf.shape }
    /// Number of elements.
    public var count: Int { leaf.count }

    /// Overwrites the value in place (optimizers): keeps the same gradient leaf.
    public func update(_ body: (UnsafeMutableBufferPointer<Float>) -> Void) {
        leaf.withUnsafeMutableBufferPointer(body)
    }
}

/// Per-parameter optimizer settings; nil follows the run's.
public struct OptimizerOverrides: Sendable, Equatable {
    /// The parameter's own peak learning rate; the run's schedule scales it as it scales the run's peak.
    public var learningRate: Float?
    /// Whether weight decay applies, instead of the default rank rule.
    public var weightDecay: Bool?

    /// Overrides of the given settings.
    public init(learningRate: Float? = nil, weightDecay: Bool? = nil) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
    }
}
