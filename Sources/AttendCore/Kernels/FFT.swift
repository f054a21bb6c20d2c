// Fast Fourier transforms on split (real, imaginary) float32 buffers, for long convolutions
// (S4D's O(n log n) convolution in SPADE) and anything else that needs a DFT.
// - `FFTPlan`: iterative radix-2 decimation-in-time complex FFT of a power-of-two size: a
//   bit-reversal permutation, then log₂N butterfly stages whose twiddles are stored per stage
//   (contiguous, so stages with ≥ 8 butterflies per group run on SIMD8).
// - `RealFFTPlan`: the DFT of N real values through one complex FFT of N/2 points (even samples
//   as real parts, odd ones as imaginary parts, then one split pass), and its inverse.
// - `FFT.transform`: a DFT of any length: radix-2 when N is a power of two, Bluestein's chirp-z
//   otherwise (jk = (j² + k² − (k−j)²)/2 turns the DFT into a convolution, done by radix-2 FFTs).
// - `FFT.convolve`: linear convolution by zero-padding to a power of two ≥ n + m − 1.
// Twiddles and chirps are computed in Double and rounded once; Bluestein's chirp angle uses
// j² mod 2N in integers so it stays exact for long inputs. Plans are immutable and cached per size.
import Foundation
import Synchronization

/// A complex FFT of a fixed power-of-two size (twiddles and bit reversal precomputed).
public final class FFTPlan: Sendable {
    /// Number of complex points N (a power of two).
    public let size: Int
    /// Per-stage twiddles: the stage with half-length h uses entries [h − 1, 2h − 1),
    /// w_k = e^{−2πik/(2h)}.
    let twiddleReal: [Float], twiddleImaginary: [Float]
    /// Bit-reversed index of each position.
    let reversed: [Int32]

    /// A plan for `size` points; `size` must be a power of two ≥ 1.
    public init(size: Int) {
        precondition(
            size >= 1 && size & (size - 1) == 0, "FFTPlan: size \(size) is not a power of two")
        self.size = size
        var re = [Float](repeating: 0, count: max(size - 1, 0))
        var im = re
        var half = 1
        while half < size {
            for k in 0..<half {
                let angle = -Double.pi * Double(k) / Double(half)
                re[half - 1 + k] = Float(Foundation.cos(angle))
                im[half - 1 + k] = Float(Foundation.sin(angle))
            }
            half *= 2
        }
        twiddleReal = re
        twiddleImaginary = im
        var bits = 0
        while 1 << bits < size { bits += 1 }
        reversed = (0..<size).map { i in
            var r = 0
            for b in 0..<bits where i & (1 << b) != 0 { r |= 1 << (bits - 1 - b) }
            return Int32(r)
        }
    }

    private static let cache = Mutex<[Int: FFTPlan]>([:])

    /// The shared plan for `size` points (built once per size).
    public static func shared(size: Int) -> FFTPlan {
        if let plan = cache.withLock({ $0[size] }) { return plan }
        let plan = FFTPlan(size: size)
        cache.withLock { $0[size] = plan }
        return plan
    }

    /// In place: (re, im) ← DFT(re + i·im), X[k] = Σ_j x[j]·e^{∓2πijk/N} (− forward, + inverse).
    /// The inverse is not scaled: divide by N to undo a forward transform.
    public func transform(
        real re: UnsafeMutablePointer<Float>, imaginary im: UnsafeMutablePointer<Float>,
        inverse: Bool = false
    ) {
        let n = size
        for i in 0..<n {
            let j = Int(reversed[i])
            if j > i {
                swap(&re[i], &re[j])
                swap(&im[i], &im[j])
            }
        }
        let sign: Float = inverse ? -1 : 1
        twiddleReal.withUnsafeBufferPointer { twr in
            twiddleImaginary.withUnsafeBufferPointer { twi in
                var half = 1
                while half < n {
                    let wr = twr.baseAddress! + (half - 1)
                    let wi = twi.baseAddress! + (half - 1)
                    var start = 0
                    if half >= 8 {
                        let s8 = Float8(repeating: sign)
                        while start < n {
                            var k = 0
                            while k < half {
                                let i = start + k, j = i + half
                                let cr = load8(wr, k), ci = load8(wi, k) * s8
                                let br = load8(re, j), bi = load8(im, j)
                                let tr = cr * br - ci * bi
                                let ti = cr * bi + ci * br
                                let ar = load8(re, i), ai = load8(im, i)
                                store8(ar - tr, re, j)
                                store8(ai - ti, im, j)
                                store8(ar + tr, re, i)
                                store8(ai + ti, im, i)
                                k += 8
                            }
                            start += 2 * half
                        }
                    } else {
                        while start < n {
                            for k in 0..<half {
                                let i = start + k, j = i + half
                                let cr = wr[k], ci = wi[k] * sign
                                let tr = cr * re[j] - ci * im[j]
                                let ti = cr * im[j] + ci * re[j]
                                re[j] = re[i] - tr
                                im[j] = im[i] - ti
                                re[i] += tr
                                im[i] += ti
                            }
                            start += 2 * half
                        }
                    }
                    half *= 2
                }
            }
        }
    }
}

/// The DFT of N real values (N a power of two ≥ 2) as N/2 + 1 complex bins, and its inverse.
public final class RealFFTPlan: Sendable {
    /// Number of real samples N.
    public let size: Int
    /// The complex plan of N/2 points.
    let half: FFTPlan
    /// e^{−2πik/N} for k in 0..<N/2: the split pass's twiddles.
    let splitReal: [Float], splitImaginary: [Float]

    /// A plan for `size` real samples (a power of two ≥ 2).
    public init(size: Int) {
        precondition(
            size >= 2 && size & (size - 1) == 0,
            "RealFFTPlan: size \(size) is not a power of two ≥ 2")
        self.size = size
        half = FFTPlan.shared(size: size / 2)
        splitReal = (0..<size / 2).map {
            Float(Foundation.cos(-2 * Double.pi * Double($0) / Double(size)))
        }
        splitImaginary = (0..<size / 2).map {
            Float(Foundation.sin(-2 * Double.pi * Double($0) / Double(size)))
        }
    }

    private static let cache = Mutex<[Int: RealFFTPlan]>([:])

    /// The shared plan for `size` real samples.
    public static func shared(size: Int) -> RealFFTPlan {
        if let plan = cache.withLock({ $0[size] }) { return plan }
        let plan = RealFFTPlan(size: size)
        cache.withLock { $0[size] = plan }
        return plan
    }

    /// Bins per spectrum: N/2 + 1 (bins 0 and N/2 are real).
    public var binCount: Int { size / 2 + 1 }

    /// X[k] = Σ_t x[t]·e^{−2πikt/N} for k in 0...N/2.
    ///
    /// - Parameters:
    ///   - x: N real samples (read only).
    ///   - re: real parts of the N/2 + 1 bins (written).
    ///   - im: imaginary parts of the N/2 + 1 bins (written).
    ///   - scratch: N floats of working space.
    public func forward(
        _ x: UnsafePointer<Float>, real re: UnsafeMutablePointer<Float>,
        imaginary im: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let m = size / 2
        // z[k] = x[2k] + i·x[2k+1], then Z = FFT_{N/2}(z).
        let zr = scratch, zi = scratch + m
        for k in 0..<m {
            zr[k] = x[2 * k]
            zi[k] = x[2 * k + 1]
        }
        half.transform(real: zr, imaginary: zi)
        // E[k] = (Z[k] + Z̄[m−k])/2, O[k] = (Z[k] − Z̄[m−k])/(2i), X[k] = E[k] + W^k·O[k].
        re[0] = zr[0] + zi[0]
        im[0] = 0
        re[m] = zr[0] - zi[0]
        im[m] = 0
        for k in 1..<max(m, 1) {
            let (ar, ai) = (zr[k], zi[k])
            let (br, bi) = (zr[m - k], -zi[m - k])  // conj(Z[m − k])
            let er = 0.5 * (ar + br), ei = 0.5 * (ai + bi)
            // (a − b)/(2i) = (ai − bi)/2 − i·(ar − br)/2
            let or = 0.5 * (ai - bi), oi = -0.5 * (ar - br)
            let wr = splitReal[k], wi = splitImaginary[k]
            re[k] = er + wr * or - wi * oi
            im[k] = ei + wr * oi + wi * or
        }
    }

    /// x[t] = (1/N)·Σ_k X[k]·e^{2πikt/N} over the full Hermitian spectrum whose first N/2 + 1 bins
    /// are given (the imaginary parts of bins 0 and N/2 are ignored).
    ///
    /// - Parameters:
    ///   - re: real parts of the N/2 + 1 bins (read only).
    ///   - im: imaginary parts of the N/2 + 1 bins (read only).
    ///   - x: N real samples (written).
    ///   - scratch: N floats of working space.
    public func inverse(
        real re: UnsafePointer<Float>, imaginary im: UnsafePointer<Float>,
        into x: UnsafeMutablePointer<Float>,
        scratch: UnsafeMutablePointer<Float>
    ) {
        let m = size / 2
        let zr = scratch, zi = scratch + m
        // E[k] = (X[k] + X̄[m−k])/2, O[k] = (X[k] − X̄[m−k])·W^{−k}/2, Z = E + i·O.
        for k in 0..<m {
            let (ar, ai) = (re[k], k == 0 ? 0 : im[k])
            let (br, bi) = (re[m - k], (m - k == m || m - k == 0) ? 0 : -im[m - k])
            let er = 0.5 * (ar + br), ei = 0.5 * (ai + bi)
            let dr = 0.5 * (ar - br), di = 0.5 * (ai - bi)
            let wr = splitReal[k], wi = -splitImaginary[k]  // W^{−k}
            let or = dr * wr - di * wi, oi = dr * wi + di * wr
            zr[k] = er - oi
            zi[k] = ei + or
        }
        half.transform(real: zr, imaginary: zi, inverse: true)
        let scale = 1 / Float(m)
        for k in 0..<m {
            x[2 * k] = zr[k] * scale
            x[2 * k + 1] = zi[k] * scale
        }
    }
}

/// DFTs of any length and linear convolution.
public enum FFT {
    /// The smallest power of two ≥ `n` (1 for n ≤ 1).
    public static func powerOfTwo(atLeast n: Int) -> Int {
        var p = 1
        while p < n { p <<= 1 }
        return p
    }

    /// In place: X[k] = Σ_j x[j]·e^{∓2πijk/N} for any N (− forward, + inverse; the inverse is not
    /// scaled). Radix-2 when N is a power of two, Bluestein's algorithm otherwise.
    public static func transform(
        real: inout [Float], imaginary: inout [Float], inverse: Bool = false
    ) {
        let n = real.count
        precondition(
            imaginary.count == n,
            "FFT.transform: \(n) real parts but \(imaginary.count) imaginary parts")
        if n <= 1 { return }
        if n & (n - 1) == 0 {
            let plan = FFTPlan.shared(size: n)
            real.withUnsafeMutableBufferPointer { re in
                imaginary.withUnsafeMutableBufferPointer { im in
                    plan.transform(
                        real: re.baseAddress!, imaginary: im.baseAddress!, inverse: inverse)
                }
            }
            return
        }
        bluestein(real: &real, imaginary: &imaginary, inverse: inverse)
    }

    /// Bluestein's chirp-z: with w_j = e^{∓πi·j²/N}, X[k] = w_k·Σ_j (x_j·w_j)·w̄_{k−j}, a linear
    /// convolution evaluated with power-of-two FFTs of size M ≥ 2N − 1.
    static func bluestein(real: inout [Float], imaginary: inout [Float], inverse: Bool) {
        let n = real.count
        let m = powerOfTwo(atLeast: 2 * n - 1)
        let sign: Double = inverse ? 1 : -1
        // Chirp in Double; j² mod 2N keeps the angle small and exact.
        var chirpReal = [Double](repeating: 0, count: n), chirpImaginary = chirpReal
        for j in 0..<n {
            let square = (j * j) % (2 * n)
            let angle = sign * Double.pi * Double(square) / Double(n)
            chirpReal[j] = Foundation.cos(angle)
            chirpImaginary[j] = Foundation.sin(angle)
        }
        var ar = [Float](repeating: 0, count: m), ai = ar
        var br = [Float](repeating: 0, count: m), bi = br
        for j in 0..<n {
            let (xr, xi) = (Double(real[j]), Double(imaginary[j]))
            ar[j] = Float(xr * chirpReal[j] - xi * chirpImaginary[j])
            ai[j] = Float(xr * chirpImaginary[j] + xi * chirpReal[j])
            br[j] = Float(chirpReal[j])  // conj(w_j)
            bi[j] = Float(-chirpImaginary[j])
            if j > 0 {
                br[m - j] = br[j]
                bi[m - j] = bi[j]
            }
        }
        let plan = FFTPlan.shared(size: m)
        ar.withUnsafeMutableBufferPointer { arp in
            ai.withUnsafeMutableBufferPointer { aip in
                br.withUnsafeMutableBufferPointer { brp in
                    bi.withUnsafeMutableBufferPointer { bip in
                        plan.transform(real: arp.baseAddress!, imaginary: aip.baseAddress!)
                        plan.transform(real: brp.baseAddress!, imaginary: bip.baseAddress!)
                        for k in 0..<m {
                            let (xr, xi, yr, yi) = (arp[k], aip[k], brp[k], bip[k])
                            arp[k] = xr * yr - xi * yi
                            aip[k] = xr * yi + xi * yr
                        }
                        plan.transform(
                            real: arp.baseAddress!, imaginary: aip.baseAddress!, inverse: true)
                    }
                }
            }
        }
        let scale = 1 / Double(m)
        for k in 0..<n {
            let (cr, ci) = (Double(ar[k]) * scale, Double(ai[k]) * scale)
            real[k] = Float(cr * chirpReal[k] - ci * chirpImaginary[k])
            imaginary[k] = Float(cr * chirpImaginary[k] + ci * chirpReal[k])
        }
    }

    /// The linear convolution y[t] = Σ_s a[s]·b[t − s], of length a.count + b.count − 1, through
    /// real FFTs of the next power of two (zero-padding makes the circular product linear).
    public static func convolve(_ a: [Float], _ b: [Float]) -> [Float] {
        if a.isEmpty || b.isEmpty { return [] }
        let length = a.count + b.count - 1
        let n = max(2, powerOfTwo(atLeast: length))
        let plan = RealFFTPlan.shared(size: n)
        let bins = plan.binCount
        var padA = [Float](repeating: 0, count: n), padB = padA, scratch = padA, out = padA
        padA.replaceSubrange(0..<a.count, with: a)
        padB.replaceSubrange(0..<b.count, with: b)
        var are = [Float](repeating: 0, count: bins), aim = are, bre = are, bim = are
        plan.forward(padA, real: &are, imaginary: &aim, scratch: &scratch)
        plan.forward(padB, real: &bre, imaginary: &bim, scratch: &scratch)
        for k in 0..<bins {
            let (xr, xi) = (are[k], aim[k])
            are[k] = xr * bre[k] - xi * bim[k]
            aim[k] = xr * bim[k] + xi * bre[k]
        }
        plan.inverse(real: are, imaginary: aim, into: &out, scratch: &scratch)
        return Array(out[0..<length])
    }
}
