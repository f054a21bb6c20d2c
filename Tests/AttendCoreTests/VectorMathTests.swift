// Accuracy sweeps of the SIMD transcendental functions (Kernels/VectorMath.swift) and the GELU forms
// built on them, against Double references from Foundation (glibc's libm, correctly rounded or within
// an ulp in Double, so its error is invisible at float32 precision).
// float32 has a unit roundoff of 2⁻²⁴ ≈ 6e-8, so "a few ulps" is a relative error around 2e-7.
// Worst relative errors measured on 100 001 evenly spaced points per sweep, release build with
// fused multiply-adds (`make test`: -target-cpu native -DATTEND_FMA); a plain `swift build` (no FMA:
// multiply and add, Dekker's split for erfc's exact square) measured the same except erfc, 4.0e-7:
//   exp      [−87.3, 88.72]   1.2e-7  (at −65.15)
//   tanh     [−10, 10]        1.2e-7  (at −0.642, near the switch from polynomial to exp form)
//   erfc     [−4, 9]          3.8e-7  (at 2.57; the Chebyshev fit itself is good to 1.2e-7)
//   sigmoid  [−80, 30]        1.6e-7  (at −16.72)
//   GELU exact   [−2, 10] 4.9e-7,  [−10, 10] 5.2e-6 (at −9.90)   (50 001 points)
//   GELU tanh    [−2, 10] 4.2e-7,  [−10, 10] 1.2e-5 (at −9.80)   (50 001 points)
// GELU's negative tail is ill-conditioned in float32: the rounding of the argument (x/√2, or u in the
// tanh form) is amplified by about x², so ~1e-7·x² is the best a float32 evaluation can promise there.
// The bounds sit within about 2× of these maxima (exp: 2e-7, a few ulps), so a regression shows.
import AttendCore
import Foundation
import Testing

/// Applies an eight-lane function to every point.
private func lanes(_ f: @escaping (Float8) -> Float8) -> ([Float]) -> [Float] {
    { points in
        var out = [Float](repeating: 0, count: points.count)
        var i = 0
        while i < points.count {
            var v = Float8()
            let n = Swift.min(8, points.count - i)
            for lane in 0..<n { v[lane] = points[i + lane] }
            let y = f(v)
            for lane in 0..<n { out[i + lane] = y[lane] }
            i += 8
        }
        return out
    }
}

@Suite struct VectorMathTests {
    static let points = 100_001

    @Test func expMatchesFoundation() {
        // ln(FLT_MIN) ≈ −87.34 and ln(FLT_MAX) ≈ 88.72: the whole range of normal float results.
        let worst = maxRelativeError(
            over: sweep(-87.3...88.72, count: Self.points), approximation: lanes(VectorMath.exp),
            reference: Foundation.exp)
        print("VectorMath.exp: max relative error \(worst.error) at x = \(worst.at)")
        #expect(worst.error <= 2e-7, "exp relative error \(worst.error) at \(worst.at)")
    }

    @Test func expEdgeCases() {
        let x: [Float] = [
            0, -0.0, 1, -1, 88.72283, 88.7229, 100, -87.33, -87.4, -1000, .infinity, -.infinity,
        ]
        let y = lanes(VectorMath.exp)(x)
        #expect(y[0] == 1 && y[1] == 1)
        #expect(Swift.abs(y[2] - 2.718_281_8) <= 2.4e-7 && Swift.abs(y[3] - 0.367_879_44) <= 3e-8)
        // Just below ln(FLT_MAX) the result is finite and accurate; just above it is +∞.
        #expect(y[4].isFinite && Swift.abs(Double(y[4]) / Foundation.exp(Double(x[4])) - 1) <= 2e-7)
        #expect(y[5] == .infinity && y[6] == .infinity && y[10] == .infinity)
        // Results below FLT_MIN are flushed to exactly 0 (so masked −∞ logits contribute nothing).
        #expect(y[7] > 0)
        #expect(y[8] == 0 && y[9] == 0 && y[11] == 0)
        // NaN in, NaN out, payload bits included (they must not leak into the exponent arithmetic).
        let nans = lanes(VectorMath.exp)([.nan, -.nan, Float(nan: 0x1FF, signaling: false)])
        #expect(nans.allSatisfy { $0.isNaN })
    }

    /// The softmax-row exponential: the same values as `exp` for every argument it is given (at most
    /// 0 up to rounding), including the flush to 0 below −87.33 and NaN.
    @Test func expOfShiftedEqualsExpWhereItApplies() {
        let points = sweep(-100...1, count: 10_001) + [-87.33, -87.4, -.infinity, .nan]
        let shifted = lanes(VectorMath.expOfShifted)(points), full = lanes(VectorMath.exp)(points)
        for (i, x) in points.enumerated() {
            #expect(
                shifted[i].bitPattern == full[i].bitPattern || (shifted[i].isNaN && full[i].isNaN),
                "x = \(x): \(shifted[i]) vs \(full[i])")
        }
    }

    @Test func tanhMatchesFoundation() {
        let worst = maxRelativeError(
            over: sweep(-10...10, count: Self.points), approximation: lanes(VectorMath.tanh),
            reference: Foundation.tanh)
        print("VectorMath.tanh: max relative error \(worst.error) at x = \(worst.at)")
        #expect(worst.error <= 2e-7, "tanh relative error \(worst.error) at \(worst.at)")
        // Tiny arguments keep their precision (tanh x ≈ x), huge ones saturate at ±1 without NaN.
        let y = lanes(VectorMath.tanh)([1e-20, -3e-8, 50, -50, 1e30, .infinity, -.infinity])
        #expect(y[0] == 1e-20 && y[1] == -3e-8)
        #expect(y[2] == 1 && y[3] == -1 && y[4] == 1 && y[5] == 1 && y[6] == -1)
    }

    @Test func erfcMatchesFoundation() {
        // erfc(9) ≈ 4e-37, near the bottom of the normal float range.
        let worst = maxRelativeError(
            over: sweep(-4...9, count: Self.points), approximation: lanes(VectorMath.erfc),
            reference: Foundation.erfc)
        print("VectorMath.erfc: max relative error \(worst.error) at x = \(worst.at)")
        #expect(worst.error <= 6e-7, "erfc relative error \(worst.error) at \(worst.at)")
    }

    @Test func sigmoidMatchesFoundation() {
        let worst = maxRelativeError(
            over: sweep(-80...30, count: Self.points), approximation: lanes(VectorMath.sigmoid),
            reference: { 1 / (1 + Foundation.exp(-$0)) })
        print("VectorMath.sigmoid: max relative error \(worst.error) at x = \(worst.at)")
        #expect(worst.error <= 3e-7, "sigmoid relative error \(worst.error) at \(worst.at)")
    }

    @Test func geluMatchesDoubleReferences() {
        let exactReference = { (x: Double) in 0.5 * x * Foundation.erfc(-x / 2.0.squareRoot()) }
        // x·σ(2u) = ½x(1 + tanh u): in Double too the second form cancels in the negative tail.
        let tanhReference = { (x: Double) in
            x
                / (1
                    + Foundation.exp(
                        -2 * (2 / Double.pi).squareRoot() * (x + 0.044_715 * x * x * x)))
        }
        for range in [-10.0...10, -2.0...10] {
            let points = sweep(range, count: Self.points / 2)
            let exact = maxRelativeError(
                over: points, approximation: lanes(GELUMath.exact), reference: exactReference)
            let tanhForm = maxRelativeError(
                over: points, approximation: lanes(GELUMath.tanhForm), reference: tanhReference)
            print(
                "GELU on \(range): exact max relative error \(exact.error) at x = \(exact.at), tanh form \(tanhForm.error) at x = \(tanhForm.at)"
            )
            let bound =
                range.lowerBound < -5 ? (exact: 7e-6, tanh: 2e-5) : (exact: 7e-7, tanh: 7e-7)
            #expect(
                exact.error <= bound.exact, "exact GELU on \(range): \(exact.error) at \(exact.at)")
            #expect(
                tanhForm.error <= bound.tanh,
                "tanh GELU on \(range): \(tanhForm.error) at \(tanhForm.at)")
        }
    }

    /// The activation ops loop over the build's widest vector (`WideFloat`: sixteen lanes where the
    /// build enables AVX-512), the sweeps above over eight. Every lane does the same operations
    /// either way, so ops and math agree bit for bit, the partial last vector and the gradients
    /// (upstream gradient 1 through a sum) included.
    @Test func activationOpsMatchTheEightLaneMath() {
        let count = 16 * 257 + 13
        let points = sweep(-14...14, count: count)
        let x = tensor([count], points)
        let cases: [(String, (Tensor) -> Tensor, (Float8) -> Float8, (Float8) -> Float8)] = [
            ("exp", { $0.exp() }, VectorMath.exp, VectorMath.exp),
            (
                "tanh", { $0.tanh() }, VectorMath.tanh,
                { 1 - VectorMath.tanh($0) * VectorMath.tanh($0) }
            ),
            (
                "sigmoid", { $0.sigmoid() }, VectorMath.sigmoid,
                { VectorMath.sigmoid($0) * (1 - VectorMath.sigmoid($0)) }
            ),
            (
                "silu", { $0.silu() }, { $0 * VectorMath.sigmoid($0) },
                { VectorMath.sigmoid($0) * (1 + $0 * (1 - VectorMath.sigmoid($0))) }
            ),
            ("gelu", { $0.gelu() }, GELUMath.exact, GELUMath.exactDerivative),
            (
                "gelu tanh", { $0.gelu(approximation: .tanh) }, GELUMath.tanhForm,
                GELUMath.tanhFormDerivative
            ),
        ]
        for (name, op, value, derivative) in cases {
            let (y, g) = valueAndGradient(at: [x]) { xs in op(xs[0]).summed() }
            #expect(op(x).scalars == lanes(value)(points), "\(name) values")
            #expect(g[0].scalars == lanes(derivative)(points), "\(name) gradient")
            #expect(y.scalars[0].isFinite, "\(name) sum")
        }
    }
}
