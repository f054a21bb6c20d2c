// LayerNorm (Ba et al., 2016) and RMSNorm (Zhang & Sennrich, 2019; T5's "LayerNorm"), both over the
// last axis through the fused kernels in AttendCore.
import AttendCore

/// Layer normalisation with a learned gain ("weight") and offset ("bias").
public final class LayerNorm: Module {
    /// Gain γ, initialised to 1.
    public let weight: Parameter
    /// Offset β, initialised to 0; nil without bias.
    public let bias: Parameter?
    /// Added to the variance (PyTorch 1e-5; BERT 1e-12; ViT-JAX 1e-6).
    public let epsilon: Float

    /// A LayerNorm over vectors of width `dimension`.
    public init(dimension: Int, epsilon: Float = 1e-5, bias: Bool = true) {
        weight = Parameter(.ones([dimension]))
        self.bias = bias ? Parameter(.zeros([dimension])) : nil
        self.epsilon = epsilon
    }

    /// `weight` (γ) and, when present, `bias` (β): PyTorch's names.
    public var ownParameters: [(String, Parameter)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    /// Normalises the last axis.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.layerNormalized(gamma: weight.value, beta: bias?.value, epsilon: epsilon)
    }
}

/// Root-mean-square normalisation with a learned gain.
public final class RMSNorm: Module {
    /// Gain γ, initialised to 1.
    public let weight: Parameter
    /// Added to the mean square (T5: 1e-6).
    public let epsilon: Float

    /// An RMSNorm over vectors of width `dimension`.
    public init(dimension: Int, epsilon: Float = 1e-6) {
        weight = Parameter(.ones([dimension]))
        self.epsilon = epsilon
    }

    /// The gain, saved as `weight`.
    public var ownParameters: [(String, Parameter)] { [("weight", weight)] }

    /// Normalises the last axis.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        x.rmsNormalized(gamma: weight.value, epsilon: epsilon)
    }
}
