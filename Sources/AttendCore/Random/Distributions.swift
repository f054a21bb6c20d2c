// Samplers on top of RandomGenerator. Floats come from the top bits of the integer stream; the normal
// sampler uses Box–Muller in Double, whose log/cos/sin are correctly rounded on glibc in all but rare
// cases, so the float32 results agree across machines.
import Foundation

extension RandomGenerator {
    /// Uniform in [0, 1) with 24 random bits (every float32 multiple of 2⁻²⁴).
    public mutating func nextUniform() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextUniformDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// Uniform integer in `0..<upperBound`, without modulo bias.
    public mutating func nextInt(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "nextInt(below:) needs a positive bound, got \(upperBound)")
        // Lemire's multiply-shift with rejection, written out so the stream never depends on the
        // standard library's implementation.
        let bound = UInt64(upperBound)
        let threshold = (0 &- bound) % bound
        while true {
            let product = next().multipliedFullWidth(by: bound)
            if product.low >= threshold { return Int(product.high) }
        }
    }

    /// A standard normal sample (mean 0, standard deviation 1).
    public mutating func nextNormal() -> Float {
        // Box–Muller; 1 − u keeps the logarithm finite.
        let u1 = 1 - nextUniformDouble()
        let u2 = nextUniformDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * Double.pi * u2))
    }

    /// A normal sample with `mean` and `standardDeviation`, redrawn until it lies within
    /// `[mean + lower·std, mean + upper·std]`. The bounds are in units of the standard deviation
    /// (TensorFlow's and JAX's convention). PyTorch's `trunc_normal_(std, a, b)` takes absolute
    /// cutoffs instead, so its default a = −2, b = 2 with std = 0.02 truncates almost nothing
    /// (lower = −100, upper = 100 here).
    public mutating func nextTruncatedNormal(
        mean: Float = 0, standardDeviation: Float = 1, lower: Float = -2, upper: Float = 2
    ) -> Float {
        precondition(lower < upper, "truncated normal needs lower < upper, got \(lower) ≥ \(upper)")
        while true {
            let z = nextNormal()
            if z >= lower && z <= upper { return mean + standardDeviation * z }
        }
    }

    /// True with probability `p`.
    public mutating func nextBernoulli(_ p: Float) -> Bool { nextUniform() < p }

    /// A uniformly random permutation of `0..<count` (Fisher–Yates).
    public mutating func permutation(_ count: Int) -> [Int] {
        var result = Array(0..<count)
        if count < 2 { return result }
        for i in stride(from: count - 1, to: 0, by: -1) {
            result.swapAt(i, nextInt(below: i + 1))
        }
        return result
    }

    /// An index drawn with probability proportional to `weights` (non-negative, not all zero).
    public mutating func nextCategorical(weights: [Float]) -> Int {
        let total = weights.reduce(0, +)
        precondition(
            total > 0 && total.isFinite, "categorical weights must have a positive finite sum")
        var target = nextUniform() * total
        for (i, w) in weights.enumerated() {
            target -= w
            if target < 0 { return i }
        }
        return weights.lastIndex(where: { $0 > 0 })!
    }
}

extension Tensor {
    /// Independent uniform samples in `[low, high)`.
    public static func randomUniform(
        _ shape: [Int], low: Float = 0, high: Float = 1, generator: inout RandomGenerator
    ) -> Tensor {
        filled(shape: shape) { out in
            for i in out.indices { out[i] = low + (high - low) * generator.nextUniform() }
        }
    }

    /// Independent normal samples.
    public static func randomNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
        generator: inout RandomGenerator
    ) -> Tensor {
        filled(shape: shape) { out in
            for i in out.indices { out[i] = mean + standardDeviation * generator.nextNormal() }
        }
    }

    /// Normal samples redrawn until within `mean ± bound·std` (bound in units of the standard
    /// deviation; see `nextTruncatedNormal` for how this differs from PyTorch's absolute cutoffs).
    public static func randomTruncatedNormal(
        _ shape: [Int], mean: Float = 0, standardDeviation: Float = 1, bound: Float = 2,
        generator: inout RandomGenerator
    ) -> Tensor {
        filled(shape: shape) { out in
            for i in out.indices {
                out[i] = generator.nextTruncatedNormal(
                    mean: mean, standardDeviation: standardDeviation, lower: -bound, upper: bound)
            }
        }
    }

    /// 1 with probability `p`, else 0.
    public static func randomBernoulli(
        _ shape: [Int], probability p: Float, generator: inout RandomGenerator
    ) -> Tensor {
        filled(shape: shape) { out in
            for i in out.indices { out[i] = generator.nextBernoulli(p) ? 1 : 0 }
        }
    }

    /// Seeded convenience: normal samples from a fresh generator.
    public static func randomNormal(_ shape: [Int], seed: UInt64, standardDeviation: Float = 1)
        -> Tensor
    {
        var generator = RandomGenerator(seed: seed)
        return randomNormal(shape, standardDeviation: standardDeviation, generator: &generator)
    }

    /// Seeded convenience: uniform samples from a fresh generator.
    public static func randomUniform(
        _ shape: [Int], seed: UInt64, low: Float = 0, high: Float = 1
    ) -> Tensor {
        var generator = RandomGenerator(seed: seed)
        return randomUniform(shape, low: low, high: high, generator: &generator)
    }
}
