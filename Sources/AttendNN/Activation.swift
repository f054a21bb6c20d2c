// Activation functions by name, with the spellings Hugging Face configs use (`hidden_act`).
import AttendCore

/// A pointwise non-linearity.
public enum Activation: String, Sendable, Codable, CaseIterable {
    case relu
    /// Exact GELU (HF "gelu").
    case gelu
    /// Tanh-approximated GELU (HF "gelu_new", "gelu_pytorch_tanh", JAX's default).
    case geluTanh = "gelu_new"
    case silu
    case tanh
    case sigmoid
    /// relu(x)² (Primer, FLASH).
    case reluSquared = "relu_squared"

    /// Parses HF and common spellings ("gelu_pytorch_tanh", "swish", "gelu_fast"…).
    public init?(name: String) {
        switch name.lowercased() {
        case "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu_tanh", "gelutanh": self = .geluTanh
        case "swish": self = .silu
        case "relu2", "relu_squared", "relusquared": self = .reluSquared
        default:
            guard let value = Activation(rawValue: name.lowercased()) else { return nil }
            self = value
        }
    }

    /// Applies the function.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: x.relu()
        case .gelu: x.gelu()
        case .geluTanh: x.gelu(approximation: .tanh)
        case .silu: x.silu()
        case .tanh: x.tanh()
        case .sigmoid: x.sigmoid()
        case .reluSquared: x.reluSquared()
        }
    }
}
