// Elementwise math functions. Rules reuse the forward output where the derivative is a function of
// it (exp, sqrt, rsqrt), so backward costs one more pass, not a recomputation.
import Foundation

extension Tensor {
    /// e^x.
    public func exp() -> Tensor {
        let y = mapped(ExpLanes())
        return y.recorded(.exp, from: [self]) { dy in [dy * y] }  // d/dx e^x = e^x
    }

    /// Natural logarithm.
    public func log() -> Tensor {
        let y = Tensor.filled(shape: shape) { out in
            withUnsafeBufferPointer { x in for i in x.indices { out[i] = Foundation.log(x[i]) } }
        }
        return y.recorded(.log, from: [self]) { dy in [dy / self] }  // d/dx ln x = 1/x
    }

    /// Square root.
    public func squareRoot() -> Tensor {
        let y = mapped { $0.squareRoot() }
        return y.recorded(.squareRoot, from: [self]) { dy in
            [Tensor.zipped(dy, y) { 0.5 * $0 / $1 }]  // d/dx √x = 1/(2√x)
        }
    }

    /// 1/√x.
    public func reciprocalSquareRoot() -> Tensor {
        let y = mapped { 1 / $0.squareRoot() }
        return y.recorded(.reciprocalSquareRoot, from: [self]) { dy in
            [Tensor.zipped(dy, y) { -0.5 * $0 * $1 * $1 * $1 }]  // d/dx x^(−1/2) = −x^(−3/2)/2
        }
    }

    /// x².
    public func squared() -> Tensor {
        let y = mapped { $0 * $0 }
        return y.recorded(.square, from: [self]) { dy in [Tensor.zipped(dy, self) { 2 * $0 * $1 }] }
    }

    /// x^p for a constant exponent p.
    public func pow(_ p: Float) -> Tensor {
        if p == 2 { return squared() }
        let y = Tensor.filled(shape: shape) { out in
            withUnsafeBufferPointer { x in for i in x.indices { out[i] = Foundation.pow(x[i], p) } }
        }
        return y.recorded(.power, from: [self]) { dy in
            // d/dx x^p = p·x^(p−1).
            [dy * self.detached().pow(p - 1) * p]
        }
    }

    /// |x|; the gradient at 0 is 0, as PyTorch's.
    public func abs() -> Tensor {
        let y = mapped { $0.replacing(with: -$0, where: $0 .< 0) }
        return y.recorded(.abs, from: [self]) { dy in
            [
                Tensor.zipped(dy, self) { g, x in
                    var s = Float8(repeating: 0)
                    s.replace(with: 1, where: x .> 0)
                    s.replace(with: -1, where: x .< 0)
                    return g * s
                }
            ]
        }
    }
}

/// e^x as a lane function, so the loop inlines it.
struct ExpLanes: UnaryLaneFunction {
    @inline(__always) func callAsFunction(_ x: WideFloat) -> WideFloat { VectorMath.exp(x) }
}
