// The FFT kernels against the definitions they compute: the complex DFT (radix-2 and Bluestein
// lengths) against the O(N²) sum in Double, the real FFT against the complex one, round trips, and
// the FFT convolution against the direct O(n·m) sum, for powers of two and awkward lengths alike.
import AttendCore
import AttendTesting
import Foundation
import Testing

/// The DFT by its definition, in Double.
private func naiveDFT(_ re: [Float], _ im: [Float], inverse: Bool) -> ([Float], [Float]) {
    let n = re.count
    let sign: Double = inverse ? 1 : -1
    var outRe = [Float](repeating: 0, count: n), outIm = outRe
    for k in 0..<n {
        var sr = 0.0, si = 0.0
        for j in 0..<n {
            let angle = sign * 2 * Double.pi * Double((j * k) % n) / Double(n)
            let (c, s) = (cos(angle), sin(angle))
            sr += Double(re[j]) * c - Double(im[j]) * s
            si += Double(re[j]) * s + Double(im[j]) * c
        }
        outRe[k] = Float(sr)
        outIm[k] = Float(si)
    }
    return (outRe, outIm)
}

/// Float32 FFT error grows like ε·log₂N·‖x‖; with unit-variance inputs the outputs are ~√N.
private func fftTolerance(_ n: Int) -> Tolerance {
    Tolerance(
        absolute: 2e-6 * Float(n).squareRoot() * Float(max(1, n.bitWidth - n.leadingZeroBitCount)),
        relative: 1e-5)
}

@Suite struct FFTTests {
    static let lengths = [1, 2, 3, 4, 5, 8, 12, 17, 64, 100, 127, 256, 1000]

    @Test(arguments: lengths)
    func complexTransformMatchesDefinition(_ n: Int) throws {
        let re0 = Tensor.randomNormal([n], seed: UInt64(n)).scalars
        let im0 = Tensor.randomNormal([n], seed: UInt64(n) + 1000).scalars
        for inverse in [false, true] {
            var re = re0, im = im0
            FFT.transform(real: &re, imaginary: &im, inverse: inverse)
            let (expectedRe, expectedIm) = naiveDFT(re0, im0, inverse: inverse)
            try assertClose(
                re, expectedRe, fftTolerance(n), "real part, n = \(n), inverse \(inverse)")
            try assertClose(
                im, expectedIm, fftTolerance(n), "imaginary part, n = \(n), inverse \(inverse)")
        }
    }

    @Test(arguments: [5, 12, 256, 1000])
    func inverseUndoesForward(_ n: Int) throws {
        let re0 = Tensor.randomNormal([n], seed: 7).scalars
        let im0 = Tensor.randomNormal([n], seed: 8).scalars
        var re = re0, im = im0
        FFT.transform(real: &re, imaginary: &im)
        FFT.transform(real: &re, imaginary: &im, inverse: true)
        try assertClose(
            re.map { $0 / Float(n) }, re0, Tolerance(absolute: 1e-5, relative: 1e-5), "round trip")
        try assertClose(
            im.map { $0 / Float(n) }, im0, Tolerance(absolute: 1e-5, relative: 1e-5), "round trip")
    }

    @Test(arguments: [2, 4, 8, 16, 64, 1024])
    func realTransformMatchesComplexTransform(_ n: Int) throws {
        let x = Tensor.randomNormal([n], seed: UInt64(n) + 5).scalars
        let plan = RealFFTPlan(size: n)
        var re = [Float](repeating: 0, count: plan.binCount), im = re
        var scratch = [Float](repeating: 0, count: n)
        plan.forward(x, real: &re, imaginary: &im, scratch: &scratch)
        let (expectedRe, expectedIm) = naiveDFT(x, [Float](repeating: 0, count: n), inverse: false)
        try assertClose(re, Array(expectedRe[0...(n / 2)]), fftTolerance(n), "real FFT, real parts")
        try assertClose(
            im, Array(expectedIm[0...(n / 2)]), fftTolerance(n), "real FFT, imaginary parts")
        var back = [Float](repeating: 0, count: n)
        plan.inverse(real: re, imaginary: im, into: &back, scratch: &scratch)
        try assertClose(back, x, Tolerance(absolute: 1e-5, relative: 1e-5), "inverse real FFT")
    }

    @Test(arguments: [
        (1, 1), (5, 3), (8, 8), (17, 17), (100, 37), (777, 12), (1000, 1000), (3, 1500),
    ])
    func convolutionMatchesDirectSum(_ sizes: (Int, Int)) throws {
        let (n, m) = sizes
        let a = Tensor.randomNormal([n], seed: UInt64(n)).scalars
        let b = Tensor.randomNormal([m], seed: UInt64(m) + 99).scalars
        var expected = [Float](repeating: 0, count: n + m - 1)
        for t in expected.indices {
            var total = 0.0
            for s in max(0, t - m + 1)...min(t, n - 1) { total += Double(a[s]) * Double(b[t - s]) }
            expected[t] = Float(total)
        }
        let length = n + m - 1
        try assertClose(
            FFT.convolve(a, b), expected, fftTolerance(FFT.powerOfTwo(atLeast: length)),
            "n \(n), m \(m)")
    }
}
