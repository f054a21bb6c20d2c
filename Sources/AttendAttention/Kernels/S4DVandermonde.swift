// The S4D convolution kernel as a Vandermonde product (Gu et al. 2022, "On the Parameterization and
// Initialization of Diagonal State Space Models"; state-spaces/s4 `log_vandermonde`):
//   K[r, h, l] = 2·Re( Σ_n C'[r, h, n] · e^{z[h, n]·l} ),   l = 0..L−1,
// for discretised modes z = dt·A and output weights C' (mechanisms-a §4.3), and the sums its
// backward needs: S0 = Σ_l G_l·e^{z·l} and S1 = Σ_l l·G_l·e^{z·l}.
// Precision: the powers e^{z·l} are advanced in Double every 8 steps (e^{8z}), and inside each group
// of 8 they are the Double power times a float table e^{z·k}, k < 8, so no rounding accumulates over
// long kernels and angles |Im z|·l are never reduced in float32. Re z < 0 (A's real part is −e^a),
// so the powers decay; a mode stops once |e^{z·l}| < 1e-20, below any float32 contribution (the
// remaining tail sums to at most |e^{z·l}|/(1 − e^{Re z})). Work is split over channels h.
import AttendCore
import Foundation

/// Vandermonde products of diagonal state-space kernels.
public enum S4DVandermonde {
    /// Powers below this magnitude contribute nothing representable.
    static let negligible = 1e-20

    /// One mode's power table: e^{z·k} for k < 8 (float) and the Double step e^{8z}.
    struct ModePowers {
        var tableReal = Float8(), tableImaginary = Float8()
        let stepReal: Double, stepImaginary: Double

        init(real zr: Double, imaginary zi: Double) {
            for k in 0..<8 {
                let magnitude = Foundation.exp(zr * Double(k))
                tableReal[k] = Float(magnitude * Foundation.cos(zi * Double(k)))
                tableImaginary[k] = Float(magnitude * Foundation.sin(zi * Double(k)))
            }
            let magnitude = Foundation.exp(8 * zr)
            stepReal = magnitude * Foundation.cos(8 * zi)
            stepImaginary = magnitude * Foundation.sin(8 * zi)
        }

        /// e^{z·(l + k)} for the 8 lanes k of a group, from its first power c = e^{z·l}.
        @inline(__always)
        func group(from cr: Double, _ ci: Double) -> (real: Float8, imaginary: Float8) {
            let (fr, fi) = (Float8(repeating: Float(cr)), Float8(repeating: Float(ci)))
            return (fr * tableReal - fi * tableImaginary, fr * tableImaginary + fi * tableReal)
        }

        /// The next group's first power, c·e^{8z}.
        @inline(__always)
        func advanced(_ cr: Double, _ ci: Double) -> (Double, Double) {
            (cr * stepReal - ci * stepImaginary, cr * stepImaginary + ci * stepReal)
        }
    }

    /// K[r, h, l] = 2·Re(Σ_n C'[r, h, n]·e^{z[h, n]·l}).
    ///
    /// - Parameters:
    ///   - modeReal: Re z, [channels, modes].
    ///   - modeImaginary: Im z, [channels, modes].
    ///   - weightReal: Re C', [directions, channels, modes].
    ///   - weightImaginary: Im C', [directions, channels, modes].
    ///   - channels: H, the independent channels.
    ///   - modes: N, the state size per channel.
    ///   - directions: 1 (causal) or 2 (bidirectional).
    ///   - length: L, positions of the kernel.
    ///   - kernel: [directions, channels, length] (written).
    public static func kernel(
        modeReal: [Double], modeImaginary: [Double], weightReal: [Double],
        weightImaginary: [Double],
        channels: Int, modes: Int, directions: Int, length: Int,
        into kernel: UnsafeMutablePointer<Float>
    ) {
        let out = SendablePointer(kernel)
        Parallel.forEach(channels) { h in
            for r in 0..<directions {
                (out.base + (r * channels + h) * length).update(repeating: 0, count: length)
            }
            for n in 0..<modes {
                let index = h * modes + n
                let powers = ModePowers(real: modeReal[index], imaginary: modeImaginary[index])
                var weights: [(Float8, Float8, UnsafeMutablePointer<Float>)] = []
                for r in 0..<directions {
                    let w = (r * channels + h) * modes + n
                    weights.append(
                        (
                            Float8(repeating: Float(2 * weightReal[w])),
                            Float8(repeating: Float(2 * weightImaginary[w])),
                            out.base + (r * channels + h) * length
                        ))
                }
                var (cr, ci) = (1.0, 0.0)
                var l = 0
                while l < length {
                    if cr * cr + ci * ci < negligible * negligible { break }
                    let (vr, vi) = powers.group(from: cr, ci)
                    let count = min(8, length - l)
                    for (wr, wi, row) in weights {
                        let term = wr * vr - wi * vi
                        if count == 8 {
                            store8(load8(row, l) + term, row, l)
                        } else {
                            for lane in 0..<count { row[l + lane] += term[lane] }
                        }
                    }
                    (cr, ci) = powers.advanced(cr, ci)
                    l += 8
                }
            }
        }
    }

    /// S0[r, h, n] = Σ_l G[r, h, l]·e^{z[h, n]·l} and S1[r, h, n] = Σ_l l·G[r, h, l]·e^{z[h, n]·l},
    /// each returned as (real, imaginary) arrays of [directions, channels, modes], in Double.
    public static func gradientSums(
        modeReal: [Double], modeImaginary: [Double], gradient: UnsafePointer<Float>,
        channels: Int, modes: Int, directions: Int, length: Int
    ) -> (s0Real: [Double], s0Imaginary: [Double], s1Real: [Double], s1Imaginary: [Double]) {
        let count = directions * channels * modes
        var sums = [Double](repeating: 0, count: 4 * count)
        let g = SendablePointer(gradient)
        sums.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forEach(channels) { h in
                for n in 0..<modes {
                    let index = h * modes + n
                    let powers = ModePowers(real: modeReal[index], imaginary: modeImaginary[index])
                    for r in 0..<directions {
                        let row = UnsafePointer(g.base + (r * channels + h) * length)
                        let total = accumulate(row, length: length, powers: powers)
                        let w = (r * channels + h) * modes + n
                        out[w] = total.0
                        out[count + w] = total.1
                        out[2 * count + w] = total.2
                        out[3 * count + w] = total.3
                    }
                }
            }
        }
        return (
            Array(sums[0..<count]), Array(sums[count..<2 * count]),
            Array(sums[2 * count..<3 * count]),
            Array(sums[3 * count..<4 * count])
        )
    }

    /// (Σ G_l·E_l, Σ l·G_l·E_l) for one row, as (re, im, re, im); float lanes are flushed into
    /// Double every 64 groups.
    static func accumulate(_ g: UnsafePointer<Float>, length: Int, powers: ModePowers)
        -> (Double, Double, Double, Double)
    {
        var totals = (0.0, 0.0, 0.0, 0.0)
        var (a0r, a0i, a1r, a1i) = (Float8(), Float8(), Float8(), Float8())
        let lanes = Float8(0, 1, 2, 3, 4, 5, 6, 7)
        var (cr, ci) = (1.0, 0.0)
        var l = 0, groups = 0
        while l < length {
            if cr * cr + ci * ci < negligible * negligible { break }
            let (vr, vi) = powers.group(from: cr, ci)
            let count = min(8, length - l)
            let gv = count == 8 ? load8(g, l) : loadPartial(g, l, count)
            let lg = (lanes + Float8(repeating: Float(l))) * gv
            a0r += gv * vr
            a0i += gv * vi
            a1r += lg * vr
            a1i += lg * vi
            groups += 1
            if groups == 64 {
                totals.0 += Double(a0r.sum())
                totals.1 += Double(a0i.sum())
                totals.2 += Double(a1r.sum())
                totals.3 += Double(a1i.sum())
                (a0r, a0i, a1r, a1i) = (Float8(), Float8(), Float8(), Float8())
                groups = 0
            }
            (cr, ci) = powers.advanced(cr, ci)
            l += 8
        }
        totals.0 += Double(a0r.sum())
        totals.1 += Double(a0i.sum())
        totals.2 += Double(a1r.sum())
        totals.3 += Double(a1i.sum())
        return totals
    }
}
