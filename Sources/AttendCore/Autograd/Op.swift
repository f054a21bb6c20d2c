// Every op that records a gradient rule, by name. The gradient-check test table must list each case,
// so a new op without a finite-difference check fails the test suite instead of going unchecked.

/// The name of a recorded operation.
public enum Op: String, CaseIterable, Sendable {
    case leaf
    // Arithmetic
    case add, subtract, multiply, divide, negate, addScalar, multiplyScalar, reciprocalScalar
    // Unary math
    case exp, log, squareRoot, reciprocalSquareRoot, square, power, abs
    // Activations
    case tanh, sigmoid, relu, reluSquared, geluExact, geluTanh, silu, softplus
    // Selection
    case `where`, maskedFill, maximum, minimum, clamp
    // Reductions
    case sum, max, min, logSumExp
    // Softmax
    case softmax, logSoftmax
    // Scans and products
    case cumulativeSum, matmul, linear
    // Normalisation
    case layerNorm, rmsNorm
    // Movement
    case reshape, permute, slice, concatenate, pad, broadcast
    // Gathers
    case indexSelect, gather
    /// A fused kernel defined outside AttendCore (attention, normalisation…); checked by its owner.
    case custom
}
