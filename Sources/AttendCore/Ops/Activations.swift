// Activation functions with their derivatives. GELU comes in PyTorch's two forms: exact (erf) and the
// tanh approximation ("gelu_new" / "gelu_pytorch_tanh" in Hugging Face configs).
import Foundation

/// Which GELU formula to use.
public enum GELUApproximation: String, Sendable, Codable {
    /// x·Φ(x) with the exact normal CDF (PyTorch `approximate="none"`, HF "gelu").
    case none
    /// 0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³))) (PyTorch `approximate="tanh"`, HF "gelu_new").
    case tanh
}

extension Tensor {
    /// Hyperbolic tangent.
    public func tanh() -> Tensor {
        let y = mapped(TanhLanes())
        return y.recorded(.tanh, from: [self]) { dy in
            [Tensor.zipped(dy, y) { $0 * (1 - $1 * $1) }]  // d tanh = 1 − tanh²
        }
    }

    /// Logistic sigmoid 1/(1+e^{−x}).
    public func sigmoid() -> Tensor {
        let y = mapped(SigmoidLanes())
        return y.recorded(.sigmoid, from: [self]) { dy in
            [Tensor.zipped(dy, y) { $0 * $1 * (1 - $1) }]  // dσ = σ(1 − σ)
        }
    }

    /// max(x, 0); gradient 0 at 0, as PyTorch.
    public func relu() -> Tensor {
        let y = mapped { $0.replacing(with: 0, where: $0 .< 0) }
        return y.recorded(.relu, from: [self]) { dy in
            [Tensor.zipped(dy, self) { g, x in g.replacing(with: 0, where: x .<= 0) }]
        }
    }

    /// relu(x)²: the squared ReLU of Primer and FLASH's gated attention unit.
    public func reluSquared() -> Tensor {
        let y = mapped { x in
            let r = x.replacing(with: 0, where: x .< 0)
            return r * r
        }
        return y.recorded(.reluSquared, from: [self]) { dy in
            [Tensor.zipped(dy, self) { g, x in (2 * g * x).replacing(with: 0, where: x .<= 0) }]
        }
    }

    /// Gaussian error linear unit, exact (erf) or tanh-approximated.
    public func gelu(approximation: GELUApproximation = .none) -> Tensor {
        switch approximation {
        case .none:
            let y = mapped(GELUExactLanes())
            return y.recorded(.geluExact, from: [self]) { dy in
                [Tensor.zipped(dy, self, GELUExactGradientLanes())]
            }
        case .tanh:
            let y = mapped(GELUTanhLanes())
            return y.recorded(.geluTanh, from: [self]) { dy in
                [Tensor.zipped(dy, self, GELUTanhGradientLanes())]
            }
        }
    }

    /// x·σ(x) (also called swish).
    public func silu() -> Tensor {
        let y = mapped(SiLULanes())
        return y.recorded(.silu, from: [self]) { dy in
            [Tensor.zipped(dy, self, SiLUGradientLanes())]
        }
    }

    /// log(1 + e^x), linear above `threshold` as PyTorch's `softplus(beta=1, threshold=20)`.
    public func softplus(threshold: Float = 20) -> Tensor {
        let y = Tensor.filled(shape: shape) { out in
            withUnsafeBufferPointer { x in
                for i in x.indices {
                    let v = x[i]
                    out[i] = v > threshold ? v : Foundation.log1p(Foundation.exp(v))
                }
            }
        }
        return y.recorded(.softplus, from: [self]) { dy in
            [
                Tensor.zipped(dy, self) { g, x in
                    g * VectorMath.sigmoid(x).replacing(with: 1, where: x .> threshold)
                }
            ]
        }
    }
}

/// GELU formulas on SIMD lanes, shared by the op and by fused kernels (bias + GELU).
public enum GELUMath {
    /// 1/√2 and 1/√(2π).
    @usableFromInline static let inverseSqrt2: Float = 0.707_106_781_186_547_5
    @usableFromInline static let inverseSqrt2Pi: Float = 0.398_942_280_401_432_7
    @usableFromInline static let sqrt2OverPi: Float = 0.797_884_560_802_865_4

    /// x·Φ(x) = ½·x·erfc(−x/√2), computed through erfc so the negative tail keeps its precision.
    @inlinable @inline(__always)
    public static func exact<V: FloatLanes>(_ x: V) -> V { 0.5 * x * normalCDFTimesTwo(x) }

    /// Φ(x) + x·φ(x).
    @inlinable @inline(__always)
    public static func exactDerivative<V: FloatLanes>(_ x: V) -> V {
        0.5 * normalCDFTimesTwo(x) + x * inverseSqrt2Pi * VectorMath.exp(-0.5 * x * x)
    }

    /// 2Φ(x) = erfc(−x/√2).
    @inlinable @inline(__always)
    static func normalCDFTimesTwo<V: FloatLanes>(_ x: V) -> V { VectorMath.erfc(-x * inverseSqrt2) }

    /// ½·x·(1 + tanh(u)) with u = √(2/π)·(x + 0.044715·x³), evaluated as x·σ(2u): the same function
    /// (1 + tanh u = 2σ(2u)), but without the cancellation of 1 + tanh u in the negative tail, where
    /// the textbook form loses every digit (30% off at x = −5; 0 instead of −2.3e-15 at x = −7).
    @inlinable @inline(__always)
    public static func tanhForm<V: FloatLanes>(_ x: V) -> V {
        let inner = sqrt2OverPi * (x + 0.044_715 * x * x * x)
        return x * VectorMath.sigmoid(2 * inner)
    }

    /// Derivative of `tanhForm`: σ(2u) + 2x·σ(2u)(1 − σ(2u))·u′, i.e. ½(1 + t) + ½x(1 − t²)·u′.
    @inlinable @inline(__always)
    public static func tanhFormDerivative<V: FloatLanes>(_ x: V) -> V {
        let inner = sqrt2OverPi * (x + 0.044_715 * x * x * x)
        let s = VectorMath.sigmoid(2 * inner)
        let innerDerivative = sqrt2OverPi * (1 + 3 * 0.044_715 * x * x)
        return s + 2 * x * s * (1 - s) * innerDerivative
    }
}

// The activations as lane functions, so their loops inline them (see `UnaryLaneFunction`); the
// gradient ones take (upstream gradient g, input x).

struct TanhLanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { VectorMath.tanh(x) }
}

struct SigmoidLanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { VectorMath.sigmoid(x) }
}

struct SiLULanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { x * VectorMath.sigmoid(x) }
}

/// g·d(xσ(x))/dx = g·σ(1 + x(1 − σ)).
struct SiLUGradientLanes: BinaryLaneFunction {
    @inline(__always) func callAsFunction(_ g: WideFloat, _ x: WideFloat) -> WideFloat {
        let s = VectorMath.sigmoid(x)
        return g * s * (1 + x * (1 - s))
    }
}

struct GELUExactLanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { GELUMath.exact(x) }
}

struct GELUExactGradientLanes: BinaryLaneFunction {
    @inline(__always) func callAsFunction(_ g: WideFloat, _ x: WideFloat) -> WideFloat {
        g * GELUMath.exactDerivative(x)
    }
}

struct GELUTanhLanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { GELUMath.tanhForm(x) }
}

struct GELUTanhGradientLanes: BinaryLaneFunction {
    @inline(__always) func callAsFunction(_ g: WideFloat, _ x: WideFloat) -> WideFloat {
        g * GELUMath.tanhFormDerivative(x)
    }
}
