// + − × ÷ with NumPy broadcasting, negation, and their scalar forms. A broadcast operand's gradient
// is the output gradient summed back over the axes it was stretched along (`summed(toShape:)`).

extension Tensor {
    /// Elementwise sum with broadcasting.
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        zipped(a, b) { $0 + $1 }.recorded(.add, from: [a, b]) { dy, needs in
            [
                needs[0] ? dy.summed(toShape: a.shape) : nil,
                needs[1] ? dy.summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise difference with broadcasting.
    public static func - (a: Tensor, b: Tensor) -> Tensor {
        zipped(a, b) { $0 - $1 }.recorded(.subtract, from: [a, b]) { dy, needs in
            [
                needs[0] ? dy.summed(toShape: a.shape) : nil,
                needs[1] ? (-dy).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise product with broadcasting.
    public static func * (a: Tensor, b: Tensor) -> Tensor {
        zipped(a, b) { $0 * $1 }.recorded(.multiply, from: [a, b]) { dy, needs in
            [
                needs[0] ? (dy * b).summed(toShape: a.shape) : nil,
                needs[1] ? (dy * a).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise quotient with broadcasting.
    public static func / (a: Tensor, b: Tensor) -> Tensor {
        zipped(a, b) { $0 / $1 }.recorded(.divide, from: [a, b]) { dy, needs in
            // d(a/b)/da = 1/b; d(a/b)/db = −a/b².
            [
                needs[0] ? (dy / b).summed(toShape: a.shape) : nil,
                needs[1] ? (zipped(dy * a, b) { -$0 / ($1 * $1) }).summed(toShape: b.shape) : nil,
            ]
        }
    }

    /// Elementwise negation.
    public static prefix func - (x: Tensor) -> Tensor {
        x.mapped { -$0 }.recorded(.negate, from: [x]) { dy in [-dy] }
    }

    /// Adds a constant to every element.
    public static func + (x: Tensor, c: Float) -> Tensor {
        x.mapped { $0 + c }.recorded(.addScalar, from: [x]) { dy in [dy] }
    }

    /// Multiplies every element by a constant.
    public static func * (x: Tensor, c: Float) -> Tensor {
        x.mapped { $0 * c }.recorded(.multiplyScalar, from: [x]) { dy in [dy * c] }
    }

    /// Subtracts a constant from every element.
    public static func - (x: Tensor, c: Float) -> Tensor { x + (-c) }
    /// Divides every element by a constant.
    public static func / (x: Tensor, c: Float) -> Tensor { x * (1 / c) }
    /// Adds every element to a constant.
    public static func + (c: Float, x: Tensor) -> Tensor { x + c }
    /// Multiplies a constant by every element.
    public static func * (c: Float, x: Tensor) -> Tensor { x * c }
    /// A constant minus every element.
    public static func - (c: Float, x: Tensor) -> Tensor { (-x) + c }

    /// A constant divided by every element.
    public static func / (c: Float, x: Tensor) -> Tensor {
        let y = x.mapped { c / $0 }
        return y.recorded(.reciprocalScalar, from: [x]) { dy in
            // d(c/x)/dx = −c/x² = −y/x.
            [zipped(dy * y, x) { -$0 / $1 }]
        }
    }

    /// In-place accumulation (no gradient recorded): self += other, same shape.
    public mutating func accumulate(_ other: Tensor, scale: Float = 1) {
        precondition(shape == other.shape, "accumulate: shape \(other.shape) into \(shape)")
        let source = other.storage.base
        let n = count
        withUnsafeMutableBufferPointer { target in
            BLAS.axpy(count: n, alpha: scale, x: source, y: target.baseAddress!)
        }
    }
}
