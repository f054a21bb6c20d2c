// Float32 transcendental functions on SIMD8 lanes, accurate to a few ulps, without libm calls or
// float↔int conversions in the hot path (both scalarise on x86; see docs/performance.md).
// Polynomials follow the Cephes single-precision library (S. Moshier); erfc is Numerical Recipes'
// Chebyshev fit (fractional error < 1.2e-7).

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
    public static func multiplyAdd(_ a: Float8, _ b: Float8, _ c: Float8) -> Float8 {
        #if ATTEND_FMA
            c.addingProduct(a, b)
        #else
            a * b + c
        #endif
    }

    /// a·b + c for a scalar c (a polynomial coefficient).
    @inlinable @inline(__always)
    public static func multiplyAdd(_ a: Float8, _ b: Float8, _ c: Float) -> Float8 {
        multiplyAdd(a, b, Float8(repeating: c))
    }

    /// e^x. Exact 0 below −87.33 (so masked −∞ logits give 0), +∞ above ln(FLT_MAX) ≈ 88.7228,
    /// NaN stays NaN.
    @inlinable @inline(__always)
    public static func exp(_ x: Float8) -> Float8 {
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
    public static func expOfShifted(_ x: Float8) -> Float8 {
        let log2e: Float = 1.442_695_04
        let ln2High: Float = 0.693_359_375
        let ln2Low: Float = -2.121_944_4e-4
        let underflow = x .< -87.33
        let clamped = x.replacing(with: -87.33, where: underflow)
        // n = round(x / ln 2), r = x − n·ln 2 in [−ln2/2, ln2/2].
        let shifted = clamped * log2e + roundingMagic
        let n = shifted - roundingMagic
        let r = (clamped - n * ln2High) - n * ln2Low
        var p = Float8(repeating: 1.987_569_15e-4)
        p = multiplyAdd(p, r, 1.398_199_950_7e-3)
        p = multiplyAdd(p, r, 8.333_451_907_3e-3)
        p = multiplyAdd(p, r, 4.166_579_589_4e-2)
        p = multiplyAdd(p, r, 1.666_666_545_9e-1)
        p = multiplyAdd(p, r, 5.000_000_120_1e-1)
        let expR = multiplyAdd(p * r, r, r + 1)
        // ·2ⁿ by adding n (the integer sitting in the mantissa of `shifted`) to the exponent field of
        // e^r. n runs from −126 to 128, where 2ⁿ alone would leave the float range (2¹²⁸), but e^r·2ⁿ
        // stays normal: n = 128 only comes with r < 0 (e^r < 1), and n = −126 with r > 0.
        let n32 = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let scaled = unsafeBitCast(expR, to: SIMD8<Int32>.self) &+ (n32 &<< 23)
        var result = unsafeBitCast(scaled, to: Float8.self)
        result.replace(with: x, where: x .!= x)  // NaN in, NaN out (its bits would not survive the add)
        result.replace(with: 0, where: underflow)
        return result
    }

    /// tanh(x): odd polynomial near 0 (no cancellation), 1 − 2/(e^{2|x|}+1) elsewhere.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float8) -> Float8 {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let z = x * x
        var p = Float8(repeating: -5.704_988_727_45e-3)
        p = multiplyAdd(p, z, 2.063_908_879_54e-2)
        p = multiplyAdd(p, z, -5.373_971_555_31e-2)
        p = multiplyAdd(p, z, 1.333_144_220_36e-1)
        p = multiplyAdd(p, z, -3.333_328_194_22e-1)
        let small = multiplyAdd(p * z, x, x)
        let large = 1 - 2 / (exp(2 * magnitude) + 1)
        var result = large.replacing(with: -large, where: x .< 0)
        result.replace(with: small, where: magnitude .< 0.625)
        return result
    }

    /// 1 / (1 + e^{−x}).
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float8) -> Float8 { 1 / (1 + exp(-x)) }

    /// erfc(|x|)·(sign-folded): returns erfc(x) for x ≥ 0 with small relative error, the form
    /// exact GELU needs in its negative tail.
    @inlinable @inline(__always)
    public static func erfcOfNonNegative(_ z: Float8) -> Float8 {
        let t = 1 / (1 + 0.5 * z)
        var p = Float8(repeating: 0.170_872_77)
        p = multiplyAdd(p, t, -0.822_152_23)
        p = multiplyAdd(p, t, 1.488_515_87)
        p = multiplyAdd(p, t, -1.135_203_98)
        p = multiplyAdd(p, t, 0.278_868_07)
        p = multiplyAdd(p, t, -0.186_288_06)
        p = multiplyAdd(p, t, 0.096_784_18)
        p = multiplyAdd(p, t, 0.374_091_96)
        p = multiplyAdd(p, t, 1.000_023_68)
        p = multiplyAdd(p, t, -1.265_512_23)
        // e^(p − z²) with z² split exactly: zh keeps the top 12 significant bits of z, so zh² is exact
        // and z² = zh² + (z − zh)(z + zh). The rounding error of the exponent's sum is carried apart
        // (Fast2Sum) and applied as a factor 1 + ε: an exponent near −80 rounded to float32 would
        // otherwise cost up to 5e-6 of relative error in the tail.
        let zh = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) & 0xFFFF_F000, to: Float8.self)
        let head = -(zh * zh)
        let rest = p - (z - zh) * (z + zh)
        let exponent = head + rest
        let roundingError = (head - exponent) + rest
        return t * exp(exponent) * (1 + roundingError)
    }

    /// erfc(x) for any x.
    @inlinable @inline(__always)
    public static func erfc(_ x: Float8) -> Float8 {
        let magnitude = x.replacing(with: -x, where: x .< 0)
        let tail = erfcOfNonNegative(magnitude)
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
