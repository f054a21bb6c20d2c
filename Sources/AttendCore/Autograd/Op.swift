// Every op that records a gradient rule, by name. The gradient-check test table must list each core
// op, so a new op without a finite-difference check fails the test suite instead of going
// unchecked. Fused kernels outside AttendCore name themselves through `KernelOp` and are checked
// the same way by their own module's registry and test table.

/// The name of a recorded operation: one of AttendCore's ops below, or a fused kernel's.
public struct Op: Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The name printed in recorded-op lists and in the errors of the backward sweep.
    public let name: String

    /// An op called `name` (a fused kernel's `KernelOp.op`; the core ops are the constants below).
    public init(_ name: String) { self.name = name }

    /// The name, as recorded-op lists print it.
    public var description: String { name }

    /// AttendCore's own ops, which `GradientCheckTests` must cover (fused kernels are listed by
    /// their module's kernel-op registry instead).
    public static let allCases: [Op] = [
        leaf,
        add, subtract, multiply, divide, negate, addScalar, multiplyScalar, reciprocalScalar,
        exp, log, squareRoot, reciprocalSquareRoot, square, power, abs,
        tanh, sigmoid, relu, reluSquared, geluExact, geluTanh, silu, softplus,
        `where`, maskedFill, maximum, minimum, clamp,
        sum, max, min, logSumExp,
        softmax, logSoftmax,
        cumulativeSum, matmul, linear,
        layerNorm, rmsNorm, dropout,
        reshape, permute, slice, concatenate, pad, broadcast,
        indexSelect, gather,
        custom,
    ]

    /// A gradient leaf.
    public static let leaf = Op("leaf")
    // Arithmetic
    /// a + b.
    public static let add = Op("add")
    /// a − b.
    public static let subtract = Op("subtract")
    /// a ⊙ b.
    public static let multiply = Op("multiply")
    /// a / b.
    public static let divide = Op("divide")
    /// −a.
    public static let negate = Op("negate")
    /// a + s for a scalar s.
    public static let addScalar = Op("addScalar")
    /// s·a for a scalar s.
    public static let multiplyScalar = Op("multiplyScalar")
    /// s / a for a scalar s.
    public static let reciprocalScalar = Op("reciprocalScalar")
    // Unary math
    /// eˣ.
    public static let exp = Op("exp")
    /// ln x.
    public static let log = Op("log")
    /// √x.
    public static let squareRoot = Op("squareRoot")
    /// 1/√x.
    public static let reciprocalSquareRoot = Op("reciprocalSquareRoot")
    /// x².
    public static let square = Op("square")
    /// xᵖ.
    public static let power = Op("power")
    /// |x|.
    public static let abs = Op("abs")
    // Activations
    /// tanh x.
    public static let tanh = Op("tanh")
    /// σ(x).
    public static let sigmoid = Op("sigmoid")
    /// max(0, x).
    public static let relu = Op("relu")
    /// max(0, x)².
    public static let reluSquared = Op("reluSquared")
    /// GELU with the exact error function.
    public static let geluExact = Op("geluExact")
    /// GELU's tanh approximation.
    public static let geluTanh = Op("geluTanh")
    /// x·σ(x).
    public static let silu = Op("silu")
    /// ln(1 + eˣ).
    public static let softplus = Op("softplus")
    // Selection
    /// Elementwise choice by a condition.
    public static let `where` = Op("where")
    /// Entries replaced where a mask is set.
    public static let maskedFill = Op("maskedFill")
    /// Elementwise maximum of two tensors.
    public static let maximum = Op("maximum")
    /// Elementwise minimum of two tensors.
    public static let minimum = Op("minimum")
    /// Values clamped to a range.
    public static let clamp = Op("clamp")
    // Reductions
    /// Sum along axes.
    public static let sum = Op("sum")
    /// Maximum along an axis.
    public static let max = Op("max")
    /// Minimum along an axis.
    public static let min = Op("min")
    /// log Σ eˣ along an axis.
    public static let logSumExp = Op("logSumExp")
    // Softmax
    /// Softmax along an axis.
    public static let softmax = Op("softmax")
    /// Log-softmax along an axis.
    public static let logSoftmax = Op("logSoftmax")
    // Scans and products
    /// Running sum along an axis.
    public static let cumulativeSum = Op("cumulativeSum")
    /// Batched matrix product.
    public static let matmul = Op("matmul")
    /// x·Wᵀ + b, fused.
    public static let linear = Op("linear")
    // Normalisation
    /// LayerNorm, fused.
    public static let layerNorm = Op("layerNorm")
    /// RMSNorm, fused.
    public static let rmsNorm = Op("rmsNorm")
    /// Inverted dropout with its mask redrawn in backward.
    public static let dropout = Op("dropout")
    // Movement
    /// A new shape over the same values.
    public static let reshape = Op("reshape")
    /// Axes reordered.
    public static let permute = Op("permute")
    /// A range along an axis.
    public static let slice = Op("slice")
    /// Tensors joined along an axis.
    public static let concatenate = Op("concatenate")
    /// Padding along axes.
    public static let pad = Op("pad")
    /// Broadcast to a larger shape.
    public static let broadcast = Op("broadcast")
    // Gathers
    /// Rows picked by index.
    public static let indexSelect = Op("indexSelect")
    /// Elements picked by index along an axis.
    public static let gather = Op("gather")
    /// A rule written ad hoc with `recorded(_:from:backward:)` (tests) or by autograd itself
    /// (recomputed regions). Fused kernels name themselves through `KernelOp` instead.
    public static let custom = Op("custom")
}
