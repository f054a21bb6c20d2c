// Float32 transcendental functions on SIMD lanes (eight or sixteen, see FloatLanes), accurate to a
// few ulps, without libm calls or float↔int conversions in the hot path (both scalarise on x86; see
// docs/performance.md). Polynomials follow the Cephes single-precision library (S. Moshier); erfc is
// Numerical Recipes' Chebyshev fit (fractional error < 1.2e-7).

import Foundation

/// Eight float32 lanes: the vector width that compiles to one AVX register.
public typealias Float8 = SIMD8<Float>

/// Vectorised elementary functions.
public enum VectorMath {
    /// 1.5·2²³: adding it rounds a float of magnitude < 2²² to the nearest integer, which then sits in
    /// the low mantissa bits of the sum.
    @usableFromInline static let roundingMagic: Float = 12_582_912

    /// a·b + c, one fused multiply-add instruction where the build enables it (`ATTEND_FMA`, which
    /// the Makefile sets when the target has FMA): one instruction and one rounding per polynomial
    /// step instead of two. Without the flag it stays a multiply and an add, because an FMA the
    /// target lacks would become a library call per lane.
    @inlinable @inline(__always)
    public static func multiplyAdd<V: FloatLanes>(_ a: V, _ b: V, _ c: V) -> V {
        #if ATTEND_FMA
            c.addingProduct(a, b)
        #else
            a * b + c
        #endif
    }

    /// a·b + c for a scalar c (a polynomial coefficient).
    @inlinable @inline(__always)
    public static func multiplyAdd<V: FloatLanes>(_ a: V, _ b: V, _ c: Float) -> V {
        multiplyAdd(a, b, V(repeating: c))
    }

    /// e^x. Exact 0 below −87.33 (so masked −∞ logits give 0), +∞ above ln(FLT_MAX) ≈ 88.7228,
    /// NaN stays NaN.
    @inlinable @inline(__always)
    public static func exp<V: FloatLanes>(_ x: V) -> V {
        // The largest float whose e^x is finite; n = round(x/ln 2) then reaches 128.
        let overflow: Float = 88.722_83
        var result = expOfShifted(x.replacing(with: overflow, where: x .> overflow))
        result.replace(with: .infinity, where: x .> overflow)
        return result
    }

    /// e^x for arguments that cannot overflow (x ≤ ln(FLT_MAX) ≈ 88.7228), such as scores minus their
    /// row maximum or log-sum-exp: `exp` without the overflow guard, which softmax rows never need.
    /// Exact 0 below −87.33, NaN stays NaN.
    @inlinable @inline(__always)
    public static func expOfShifted<V: FloatLanes>(_ x: V) -> V {
        let underflow = x .< -87.33
        var result = expWithinRange(x.replacing(with: -87.33, where: underflow))
        // NaN in, NaN out (its bits would not survive the add)
        result.replace(with: x, where: x .!= x)
        result.replace(with: 0, where: underflow)
        return result
    }

    /// e^x for −87.33 ≤ x ≤ 88.7228, where the result is a normal float: no guards. Outside that
    /// range the result is garbage; callers clamp first or know their arguments.
    @inlinable @inline(__always)
    public static func expWithinRange<V: FloatLanes>(_ x: V) -> V {
        let log2e: Float = 1.442_695_04
        let ln2High: Float = 0.693_359_375
        let ln2Low: Float = -2.121_944_4e-4
        // n = round(x / ln 2), r = x − n·ln 2 in [−ln2/2, ln2/2].
        let shifted = multiplyAdd(x, V(repeating: log2e), roundingMagic)
        let n = shifted - roundingMagic
        let r = (x - n * ln2High) - n * ln2Low
        // e^r = 1 + r + r²·P(r), P of degree 5 evaluated by Estrin's scheme: three independent
        // pairs, then two steps in r². Horner's six dependent steps made the latency of the chain,
        // not the arithmetic, the limit of the loops around this (exact GELU: 2.2 against 1.9
        // Gelem/s on eight lanes).
        let r2 = r * r
        let high = multiplyAdd(V(repeating: 1.987_569_15e-4), r, 1.398_199_950_7e-3)
        let middle = multiplyAdd(V(repeating: 8.333_451_907_3e-3), r, 4.166_579_589_4e-2)
        let low = multiplyAdd(V(repeating: 1.666_666_545_9e-1), r, 5.000_000_120_1e-1)
        let p = multiplyAdd(multiplyAdd(high, r2, middle), r2, low)
        let expR = multiplyAdd(p, r2, r + 1)
        // ·2ⁿ through the exponent field. n runs from −126 to 128, where 2ⁿ alone would leave the
        // float range (2¹²⁸), but e^r·2ⁿ stays normal: n = 128 only comes with r < 0 (e^r < 1), and
        // n = −126 with r > 0.
        return expR.scaled(byIntegerIn: shifted)
    }

    /// tanh(x): odd polynomial near 0 (no cancellation), 1 − 2/(e^{2|x|}+1) elsewhere.
    @inlinable @inline(__always)
    public static func tanh<V: FloatLanes>(_ x: V) -> V {
        let z = x * x
        var p = V(repeating: -5.704_988_727_45e-3)
        p = multiplyAdd(p, z, 2.063_908_879_54e-2)
        p = multiplyAdd(p, z, -5.373_971_555_31e-2)
        p = multiplyAdd(p, z, 1.333_144_220_36e-1)
        p = multiplyAdd(p, z, -3.333_328_194_22e-1)
        let small = multiplyAdd(p * z, x, x)
        let magnitude = x.magnitude
        let large = 1 - 2 / (exp(2 * magnitude) + 1)
        var result = large.replacing(with: -large, where: x .< 0)
        result.replace(with: small, where: magnitude .< 0.625)
        return result
    }

    /// 1 / (1 + e^{−x}).
    @inlinable @inline(__always)
    public static func sigmoid<V: FloatLanes>(_ x: V) -> V { 1 / (1 + exp(-x)) }

    /// The largest argument at which erfc is still a normal float (erfc(9.2) ≈ 1.2e-38); beyond it
    /// the exponent of `erfcWithinRange` would leave the range of `expWithinRange`.
    @usableFromInline static let erfcNormalLimit: Float = 9.2

    /// erfc(z) for 0 ≤ z ≤ 9.2 with small relative error (the form exact GELU needs in its negative
    /// tail); no guards.
    @inlinable @inline(__always)
    public static func erfcWithinRange<V: FloatLanes>(_ z: V) -> V {
        // erfc(z) = t·e^(P(t) − z²) with t = 1/(1 + z/2) and P of degree 9, evaluated by Estrin's
        // scheme (see `expWithinRange`): five independent pairs, then t², t⁴.
        let t = 1 / (1 + 0.5 * z)
        let t2 = t * t
        let t4 = t2 * t2
        let c98 = multiplyAdd(V(repeating: 0.170_872_77), t, -0.822_152_23)
        let c76 = multiplyAdd(V(repeating: 1.488_515_87), t, -1.135_203_98)
        let c54 = multiplyAdd(V(repeating: 0.278_868_07), t, -0.186_288_06)
        let c32 = multiplyAdd(V(repeating: 0.096_784_18), t, 0.374_091_96)
        let c10 = multiplyAdd(V(repeating: 1.000_023_68), t, -1.265_512_23)
        let c9to6 = multiplyAdd(c98, t2, c76)
        let c5to2 = multiplyAdd(c54, t2, c32)
        let p = multiplyAdd(multiplyAdd(c9to6, t4, c5to2), t2, c10)
        // e^(p − z²) with z² carried exactly as square + squareError, and the rounding error of the
        // exponent's sum (Fast2Sum) applied as a factor 1 + ε: an exponent near −80 rounded to
        // float32 would otherwise cost up to 5e-6 of relative error in the tail.
        let (square, squareError) = exactSquare(z)
        let exponent = p - square
        // |square| ≥ |p| where it counts
        let roundingError = (p - (exponent + square)) - squareError
        let scaled = t * expWithinRange(exponent)
        return multiplyAdd(scaled, roundingError, scaled)
    }

    /// z² as an unevaluated sum square + error, exactly: the FMA's remainder where the build has
    /// one, otherwise Dekker's split (the upper half of z squares exactly).
    @inlinable @inline(__always)
    static func exactSquare<V: FloatLanes>(_ z: V) -> (square: V, error: V) {
        let square = z * z
        #if ATTEND_FMA
            return (square, (-square).addingProduct(z, z))
        #else
            let upper = z.upperHalf
            let lower = z - upper
            return (square, ((upper * upper - square) + 2 * upper * lower) + lower * lower)
        #endif
    }

    /// erfc(z) for z ≥ 0 with small relative error; 0 where it is no longer a normal float (z > 9.2),
    /// NaN stays NaN.
    @inlinable @inline(__always)
    public static func erfcOfNonNegative<V: FloatLanes>(_ z: V) -> V {
        let beyond = z .> erfcNormalLimit
        return erfcWithinRange(z.replacing(with: erfcNormalLimit, where: beyond))
            .replacing(with: 0, where: beyond)
    }

    /// erfc(x) for any x.
    @inlinable @inline(__always)
    public static func erfc<V: FloatLanes>(_ x: V) -> V {
        let tail = erfcOfNonNegative(x.magnitude)
        return tail.replacing(with: 2 - tail, where: x .< 0)
    }

    /// log(1 + x) for x ≥ 0 with full relative precision near 0 (per lane through libm: for losses,
    /// not hot loops). The log1p trick
    /// log(u)·x/(u − 1) with u = 1 + x corrects the rounding of 1 + x (Goldberg, 1991).
    @inlinable @inline(__always)
    public static func logOnePlus(_ x: Float8) -> Float8 {
        let u = 1 + x
        var result = Float8()
        for lane in 0..<8 {
            let d = u[lane] - 1
            result[lane] = d == 0 ? x[lane] : Foundation.log(u[lane]) * (x[lane] / d)
        }
        return result
    }

    /// Scalar e^x through the vector routine (for tails and per-row scalars).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float { exp(Float8(repeating: x))[0] }
}
