// Named tolerances, each with the reason it is as loose as it is. A test picks one by name so the
// reason travels with the check.

/// An elementwise tolerance: |actual − expected| ≤ absolute + relative·|expected|.
public struct Tolerance: Sendable, CustomStringConvertible {
    /// Allowed absolute difference.
    public let absolute: Float
    /// Allowed difference relative to the expected value.
    public let relative: Float

    /// A tolerance with explicit bounds.
    public init(absolute: Float, relative: Float) {
        self.absolute = absolute
        self.relative = relative
    }

    /// Same float32 arithmetic in a different order: a few ulps.
    public static let reordered = Tolerance(absolute: 1e-6, relative: 1e-5)
    /// Float32 against a reference that sums in another order over up to ~10³ terms (BLAS blocking,
    /// PyTorch's kernels): the 1e-5 relative bound plus a floor for values near zero.
    public static let reference = Tolerance(absolute: 1e-6, relative: 1e-5)
    /// Incremental decoding (prefill + steps) against the parallel causal forward of the same
    /// model: the same sums per position in another order (one query against a cache instead of
    /// tiles, a running state instead of a chunked scan), through a few small layers; the issue's
    /// 1e-5 bound.
    public static let decoding = Tolerance(absolute: 1e-5, relative: 1e-5)
    /// Whole-model outputs after several layers of float32 matmuls: the issues' 1e-4 bound.
    public static let model = Tolerance(absolute: 1e-4, relative: 1e-4)
    /// Central differences in float32 with h = 1e-3: truncation ~h²·f‴ and rounding ~ε·|f|/h
    /// (≈ 6e-5·|f|) leave about three good digits.
    public static let finiteDifference = Tolerance(absolute: 2e-3, relative: 1e-2)

    /// Whether `actual` is close enough to `expected`.
    public func accepts(_ actual: Float, _ expected: Float) -> Bool {
        if actual.isNaN || expected.isNaN { return actual.isNaN && expected.isNaN }
        if actual.isInfinite || expected.isInfinite { return actual == expected }
        return Swift.abs(actual - expected) <= absolute + relative * Swift.abs(expected)
    }

    /// "abs 1e-06, rel 1e-05".
    public var description: String { "abs \(absolute), rel \(relative)" }
}
