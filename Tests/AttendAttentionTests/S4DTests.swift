// S4D against its definitions: the Vandermonde kernel against the impulse response of the
// discretised state-space recurrence x_l = Ā·x_{l−1} + B̄·u_l, y_l = 2·Re(C·x_l) run in Double
// (S4D-Lin and S4D-Inv, short and long kernels); the FFT convolution (causal and bidirectional)
// against the direct O(L²) sums; finite differences for every SSM parameter and the input.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// Impulse responses of both directions' SSMs, by the recurrence in Double: K[r, h, l].
private func recurrenceKernel(_ layer: S4D, length: Int) -> [Float] {
    let (h, p) = (layer.channels, layer.modes)
    let logDt = layer.logDt.value.scalars, logA = layer.logAReal.value.scalars
    let imag = layer.aImaginary.value.scalars, c = layer.c.value.scalars
    var kernel = [Float](repeating: 0, count: 2 * h * length)
    for r in 0..<2 {
        for channel in 0..<h {
            let dt = exp(Double(logDt[channel]))
            var total = [Double](repeating: 0, count: length)
            for n in 0..<p {
                let index = channel * p + n
                let (ar, ai) = (-exp(Double(logA[index])), Double(imag[index]))
                // Ā = e^{dt·A}, B̄ = (Ā − 1)/A (B = 1)
                let magnitude = exp(dt * ar)
                let (abr, abi) = (magnitude * cos(dt * ai), magnitude * sin(dt * ai))
                let (nr, ni) = (abr - 1, abi)
                let norm = ar * ar + ai * ai
                let (br, bi) = ((nr * ar + ni * ai) / norm, (ni * ar - nr * ai) / norm)
                let w = (r * h + channel) * p + n
                let (cr, ci) = (Double(c[2 * w]), Double(c[2 * w + 1]))
                // impulse: x_0 = B̄, x_l = Ā·x_{l−1}; y_l = 2·Re(C·x_l)
                var (xr, xi) = (br, bi)
                for l in 0..<length {
                    total[l] += 2 * (cr * xr - ci * xi)
                    (xr, xi) = (abr * xr - abi * xi, abr * xi + abi * xr)
                }
            }
            for l in 0..<length { kernel[(r * h + channel) * length + l] = Float(total[l]) }
        }
    }
    return kernel
}

/// y[b, t, h] by the direct sums of `LongConvolution`'s definition, plus D·u.
private func directConvolution(_ u: Tensor, kernel: [Float], directions: Int, d: [Float]) -> Tensor
{
    let (b, length, h) = (u.shape[0], u.shape[1], u.shape[2])
    let x = u.scalars
    return Tensor.filled(shape: u.shape) { out in
        for batch in 0..<b {
            for channel in 0..<h {
                for t in 0..<length {
                    var total = Double(d[channel]) * Double(x[(batch * length + t) * h + channel])
                    for s in 0...t {
                        total +=
                            Double(kernel[channel * length + t - s])
                            * Double(x[(batch * length + s) * h + channel])
                    }
                    if directions == 2 {
                        for m in 1..<max(length - t, 1) {
                            total +=
                                Double(kernel[(h + channel) * length + m - 1])
                                * Double(x[(batch * length + t + m) * h + channel])
                        }
                    }
                    out[(batch * length + t) * h + channel] = Float(total)
                }
            }
        }
    }
}

@Suite struct S4DTests {
    static func layer(
        _ initialization: S4D.Initialization, channels: Int = 3, stateSize: Int = 16,
        seed: UInt64 = 1
    ) throws -> S4D {
        var options = S4D.Options()
        options.initialization = initialization
        options.stateSize = stateSize
        var generator = RandomGenerator(seed: seed)
        return try S4D(channels: channels, options: options, generator: &generator)
    }

    @Test(arguments: [(S4D.Initialization.lin, 64), (.inv, 64), (.lin, 3000), (.inv, 3000)])
    func kernelMatchesRecurrence(_ setting: (S4D.Initialization, Int)) throws {
        let (initialization, length) = setting
        let layer = try Self.layer(initialization, stateSize: 64)
        let kernel = layer.kernel(length: length, directions: 2)
        // K is a sum of 32 unit-scale modes: errors are float32 rounding of each term (~1e-7·32).
        try assertClose(
            kernel.scalars, recurrenceKernel(layer, length: length),
            Tolerance(absolute: 2e-5, relative: 1e-4),
            "S4D-\(initialization) kernel, L = \(length)", shape: kernel.shape)
    }

    @Test(arguments: [1, 2])
    func layerMatchesDirectConvolution(_ directions: Int) throws {
        let layer = try Self.layer(.inv, channels: 4, stateSize: 8)
        let u = Tensor.randomNormal([2, 37, 4], seed: 3)
        let y = layer(u, causal: directions == 1)
        let kernel = layer.kernel(length: 37, directions: 2).scalars
        let expected = directConvolution(
            u, kernel: kernel, directions: directions, d: layer.d.value.scalars)
        try assertClose(
            y, expected, Tolerance(absolute: 1e-5, relative: 1e-4),
            "S4D, \(directions) direction(s)")
    }

    @Test func causalLayerIgnoresTheFuture() throws {
        let layer = try Self.layer(.lin)
        let u = Tensor.randomNormal([1, 20, 3], seed: 4)
        var changed = u
        changed.withUnsafeMutableBufferPointer { for i in (12 * 3)..<(20 * 3) { $0[i] += 1 } }
        let (a, b) = (layer(u, causal: true).scalars, layer(changed, causal: true).scalars)
        // The FFT mixes every position into every bin, so the past agrees to rounding, not bits.
        try assertClose(
            Array(b[0..<(12 * 3)]), Array(a[0..<(12 * 3)]), .reordered, "outputs before the change")
        #expect(zip(a[(12 * 3)...], b[(12 * 3)...]).contains { Swift.abs($0 - $1) > 0.1 })
    }

    @Test(arguments: [1, 2])
    func longConvolutionGradientsMatchFiniteDifferences(_ directions: Int) throws {
        let u = Tensor.randomNormal([2, 3, 11], seed: 5)
        let k = Tensor.randomNormal([directions, 3, 11], seed: 6)
        try GradientCheck.check([u, k], label: "long convolution") { x in
            Tensor.longConvolution(x[0], kernel: x[1])
        }
    }

    @Test(arguments: [S4D.Initialization.lin, .inv])
    func parameterGradientsMatchFiniteDifferences(_ initialization: S4D.Initialization) throws {
        let layer = try Self.layer(initialization, channels: 2, stateSize: 6)
        let u = Tensor.randomNormal([2, 13, 2], seed: 7)
        let inputs = [
            layer.logDt.value, layer.logAReal.value, layer.aImaginary.value, layer.c.value,
            layer.d.value, u,
        ]
        for directions in [1, 2] {
            try GradientCheck.check(
                inputs, label: "S4D-\(initialization), \(directions) direction(s)"
            ) { x in
                let c = directions == 2 ? x[3] : x[3].sliced(alongAxis: 0, 0..<1)
                let kernel = S4D.kernel(
                    logDt: x[0], logAReal: x[1], aImaginary: x[2], c: c, length: 13)
                let y = Tensor.longConvolution(x[5].permuted([0, 2, 1]), kernel: kernel).permuted([
                    0, 2, 1,
                ])
                return y + x[5] * x[4].reshaped([1, 1, 2])
            }
        }
    }

    @Test func stateParametersFollowTheReferenceOptimizerGroups() throws {
        // s4's `_register`: A (log_A_real, A_imag) at its own rate without weight decay, dt without
        // weight decay at the run's rate, C and D as every other parameter.
        let s4 = try Self.layer(.lin)
        let overrides = Dictionary(
            uniqueKeysWithValues: s4.ownParameters.map { ($0.0, $0.1.optimizerOverrides) })
        #expect(
            overrides["log_A_real"] == OptimizerOverrides(learningRate: 0.001, weightDecay: false))
        #expect(overrides["A_imag"] == OptimizerOverrides(learningRate: 0.001, weightDecay: false))
        #expect(overrides["log_dt"] == OptimizerOverrides(weightDecay: false))
        #expect(overrides["C"] == OptimizerOverrides())
        #expect(overrides["D"] == OptimizerOverrides())
        var options = S4D.Options()
        options.stateMatrixLearningRate = 0
        var generator = RandomGenerator(seed: 0)
        #expect(throws: MixerError.self) {
            try S4D(channels: 2, options: options, generator: &generator)
        }
    }

    @Test func rejectsOddStateSizes() throws {
        var options = S4D.Options()
        options.stateSize = 7
        var generator = RandomGenerator(seed: 0)
        #expect(throws: MixerError.self) {
            try S4D(channels: 2, options: options, generator: &generator)
        }
    }
}
