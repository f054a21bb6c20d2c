// Linear layer: y = x·Wᵀ + b, weight stored [out, in] as PyTorch and Hugging Face do, so checkpoints
// load without transposes.
import AttendCore

/// An affine map over the last axis.
public final class Linear: Module {
    /// [outputCount, inputCount].
    public let weight: Parameter
    /// [outputCount], or nil without bias.
    public let bias: Parameter?

    /// A layer from `inputCount` to `outputCount` features. Defaults to PyTorch's initialisation
    /// (U(±1/√in) for weight and bias).
    public init(
        inputCount: Int, outputCount: Int, bias: Bool = true,
        weightInitializer: Initializer? = nil, biasInitializer: Initializer? = nil,
        generator: inout RandomGenerator
    ) {
        let defaultInit = Initializer.fanInUniform(fanIn: inputCount)
        weight = Parameter(
            (weightInitializer ?? defaultInit).make(
                [outputCount, inputCount], generator: &generator))
        self.bias =
            bias
            ? Parameter((biasInitializer ?? defaultInit).make([outputCount], generator: &generator))
            : nil
    }

    /// Input feature count.
    public var inputCount: Int { weight.shape[1] }
    /// Output feature count.
    public var outputCount: Int { weight.shape[0] }

    /// `weight` [out, in] and, when present, `bias` [out]: PyTorch's names and layout.
    public var ownParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// [..., in] → [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.linear(x, weight: weight.value, bias: bias?.value)
    }
}
