// S4D: a diagonal state-space layer (Gu, Gupta, Goel & Ré, 2022, arXiv:2206.11893; state-spaces/s4
// `models/s4/s4d.py`, `SSMKernelDiag`), SPADE's global branch (mechanisms-a §4.3).
// Per channel h and complex mode n (N/2 modes for state size N):
//   A = −e^{log_A_real} + i·A_imag,  dt = e^{log_dt}        (Re A < 0 by construction)
//   ZOH:  z = dt·A,  C' = C·(e^{z} − 1)/A                    (B fixed at 1, as in minimal S4D)
//   K[l] = 2·Re Σ_n C'_n·e^{z_n·l}                          (Vandermonde product, l < L)
//   y = K ∗ u + D·u                                         (FFT convolution, O(L log L))
// Bidirectional (encoders): a second C gives the backward kernel K1 (S4's `bidirectional=True`,
// shared A and dt); a causal forward uses only the first. Initialisations S4D-Lin (A_imag = π·n)
// and S4D-Inv (A_imag = (N/π)·(N/(2n+1) − 1)), Re A = −1/2, log dt ~ U(log dt_min, log dt_max),
// C ~ CN(0, 1), D ~ N(0, 1). Names follow s4d.py: log_dt, log_A_real, A_imag, C ([r, H, N/2, 2]
// as real pairs), D. SPADE trains these at a small learning rate without weight decay; the
// reference notes that freezing them loses little.
// Gradients: the parameter chain is differentiated in closed form in Double (complex gradients
// ĝ = ∂/∂Re + i·∂/∂Im; mechanisms-a §4.3 "Backward"), the l-sums come from `S4DVandermonde`.
// Shapes: b batch, L length, H channels (= model width), P = N/2 modes, r directions (1 or 2).
import AttendCore
import AttendNN
import Foundation

/// A diagonal state-space sequence layer: [b, L, H] → [b, L, H].
public final class S4D: Module {
    /// How A's imaginary parts start.
    public enum Initialization: String, Codable, Sendable, CaseIterable {
        /// A_imag = π·n (S4D-Lin).
        case lin
        /// A_imag = (N/π)·(N/(2n+1) − 1) (S4D-Inv).
        case inv
    }

    /// Options of the state-space layer.
    public struct Options: Codable, Sendable, Equatable {
        /// State size N (N/2 complex modes per channel); s4 default 64.
        public var stateSize = 64
        /// A's initialisation.
        public var initialization: Initialization = .lin
        /// Range of the initial step sizes dt (log-uniform).
        /// Smallest initial step size dt.
        public var dtMinimum: Float = 0.001
        /// Largest initial step size dt.
        public var dtMaximum: Float = 0.1
        /// Peak learning rate of A (log_A_real, A_imag), scheduled like the run's (SPADE's
        /// `--s4-lr {"A": 0.001}`: a larger rate lets A drift and the kernel blow up). Set it to the
        /// run's rate to train A like every other parameter.
        public var stateMatrixLearningRate: Float = 0.001

        /// The s4 defaults: N = 64, S4D-Lin, dt ∈ [0.001, 0.1], A at learning rate 0.001.
        public init() {}

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&stateSize, .stateSize)
            try c.override(&initialization, .initialization)
            try c.override(&dtMinimum, .dtMinimum)
            try c.override(&dtMaximum, .dtMaximum)
            try c.override(&stateMatrixLearningRate, .stateMatrixLearningRate)
        }

        enum CodingKeys: String, CodingKey {
            case stateSize = "state_size", initialization, dtMinimum = "dt_min", dtMaximum =
                "dt_max"
            case stateMatrixLearningRate = "a_lr"
        }
    }

    /// log dt, [H].
    public let logDt: Parameter
    /// log(−Re A), [H, P].
    public let logAReal: Parameter
    /// Im A, [H, P].
    public let aImaginary: Parameter
    /// Output weights C as (re, im) pairs, [2, H, P, 2]: forward and backward kernels.
    public let c: Parameter
    /// Skip connection D, [H].
    public let d: Parameter

    /// Channels H and modes P.
    public let channels: Int, modes: Int

    /// A layer over `channels` channels with `options.stateSize / 2` modes each.
    public init(channels: Int, options: Options, generator: inout RandomGenerator) throws {
        guard options.stateSize >= 2, options.stateSize % 2 == 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "s4d",
                problem: "state size must be even and ≥ 2, got \(options.stateSize)")
        }
        guard options.dtMinimum > 0, options.dtMaximum >= options.dtMinimum else {
            throw MixerError.invalidConfiguration(
                mechanism: "s4d",
                problem:
                    "dt range must satisfy 0 < dt_min ≤ dt_max, got \(options.dtMinimum)…\(options.dtMaximum)"
            )
        }
        guard options.stateMatrixLearningRate > 0, options.stateMatrixLearningRate.isFinite else {
            throw MixerError.invalidConfiguration(
                mechanism: "s4d",
                problem:
                    "a_lr must be a positive learning rate, got \(options.stateMatrixLearningRate)")
        }
        let (h, p) = (channels, options.stateSize / 2)
        self.channels = h
        modes = p
        let (low, high) = (Foundation.log(options.dtMinimum), Foundation.log(options.dtMaximum))
        logDt = Parameter(Tensor.randomUniform([h], low: low, high: high, generator: &generator))
        logAReal = Parameter(Tensor(repeating: Foundation.log(0.5), shape: [h, p]))
        let n = Float(options.stateSize)
        let imaginary: [Float] = (0..<p).map { m in
            switch options.initialization {
            case .lin: return Float.pi * Float(m)
            case .inv: return n / Float.pi * (n / Float(2 * m + 1) - 1)
            }
        }
        aImaginary = Parameter(Tensor(shape: [h, p], scalars: (0..<h).flatMap { _ in imaginary }))
        c = Parameter(
            Tensor.randomNormal(
                [2, h, p, 2], standardDeviation: Float(0.5).squareRoot(), generator: &generator))
        d = Parameter(Tensor.randomNormal([h], standardDeviation: 1, generator: &generator))
        // The reference's optimizer groups: A and dt without weight decay, A at its own rate.
        logDt.optimizerOverrides = OptimizerOverrides(weightDecay: false)
        for a in [logAReal, aImaginary] {
            a.optimizerOverrides = OptimizerOverrides(
                learningRate: options.stateMatrixLearningRate, weightDecay: false)
        }
    }

    /// Step sizes, the diagonal state matrix (real part as a log), C and the skip D,
    /// under the reference's names.
    public var ownParameters: [(String, Parameter)] {
        [("log_dt", logDt), ("log_A_real", logAReal), ("A_imag", aImaginary), ("C", c), ("D", d)]
    }

    /// u [b, L, H] → y = K ∗ u + D·u, causal (one kernel) or bidirectional (two).
    public func callAsFunction(_ u: Tensor, causal: Bool) -> Tensor {
        let length = u.shape[1]
        precondition(
            u.rank == 3 && u.shape[2] == channels,
            "S4D: input \(u.shape), expected [b, L, \(channels)]")
        let k = kernel(length: length, directions: causal ? 1 : 2)  // [r, H, L]
        let signal = u.permuted([0, 2, 1])  // [b, H, L]
        let mixed = Tensor.longConvolution(signal, kernel: k)  // [b, H, L]
        return mixed.permuted([0, 2, 1]) + u * d.value.reshaped([1, 1, channels])  // [b, L, H]
    }

    /// The convolution kernel [directions, H, L] (differentiable in every SSM parameter).
    public func kernel(length: Int, directions: Int) -> Tensor {
        precondition(
            directions == 1 || directions == 2, "S4D: 1 or 2 directions, got \(directions)")
        let weights = directions == 2 ? c.value : c.value.sliced(alongAxis: 0, 0..<1)
        return S4D.kernel(
            logDt: logDt.value, logAReal: logAReal.value, aImaginary: aImaginary.value, c: weights,
            length: length)
    }

    /// K[r, h, l] from the parameters (the differentiable op behind `kernel(length:directions:)`).
    ///
    /// - Parameters: logDt [H], logAReal [H, P], aImaginary [H, P], c [r, H, P, 2].
    /// - Returns: [r, H, L].
    public static func kernel(
        logDt: Tensor, logAReal: Tensor, aImaginary: Tensor, c: Tensor, length: Int
    ) -> Tensor {
        Tensor.fused(
            S4DKernelOp(
                logDt: logDt, logAReal: logAReal, aImaginary: aImaginary, c: c, length: length))
    }
}

/// `S4D.kernel(logDt:logAReal:aImaginary:c:length:)` as a kernel op: inputs logDt, logAReal,
/// aImaginary, c; the parameter chain is computed once, in Double, when the op is made.
struct S4DKernelOp: KernelOp {
    static let op = Op("s4dKernel")
    let logDt: Tensor, logAReal: Tensor, aImaginary: Tensor, c: Tensor, length: Int
    let chain: ParameterChain

    init(logDt: Tensor, logAReal: Tensor, aImaginary: Tensor, c: Tensor, length: Int) {
        (self.logDt, self.logAReal, self.aImaginary, self.c, self.length) = (
            logDt, logAReal, aImaginary, c, length
        )
        chain = ParameterChain(
            logDt: logDt.scalars, logAReal: logAReal.scalars, aImaginary: aImaginary.scalars,
            c: c.scalars,
            channels: logAReal.shape[0], modes: logAReal.shape[1], directions: c.shape[0])
    }

    var inputs: [Tensor?] { [logDt, logAReal, aImaginary, c] }
    var outputShape: [Int] { [chain.directions, chain.channels, length] }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        S4DVandermonde.kernel(
            modeReal: chain.zr, modeImaginary: chain.zi, weightReal: chain.weightReal,
            weightImaginary: chain.weightImaginary, channels: chain.channels, modes: chain.modes,
            directions: chain.directions, length: length, into: output)
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        let sums = S4DVandermonde.gradientSums(
            modeReal: chain.zr, modeImaginary: chain.zi, gradient: g.outputGradient,
            channels: chain.channels,
            modes: chain.modes, directions: chain.directions, length: length)
        for (index, gradient) in chain.gradients(sums).enumerated() {
            g.input(index).update(from: gradient.scalars, count: gradient.count)
        }
    }
}

/// Complex numbers in Double for the parameter chain.
struct ComplexDouble {
    var re: Double, im: Double
    init(_ re: Double, _ im: Double) { (self.re, self.im) = (re, im) }
    static func + (a: Self, b: Self) -> Self { Self(a.re + b.re, a.im + b.im) }
    static func - (a: Self, b: Self) -> Self { Self(a.re - b.re, a.im - b.im) }
    static func * (a: Self, b: Self) -> Self {
        Self(a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re)
    }
    static func * (a: Self, s: Double) -> Self { Self(a.re * s, a.im * s) }
    static func / (a: Self, b: Self) -> Self {
        let norm = b.re * b.re + b.im * b.im
        return Self((a.re * b.re + a.im * b.im) / norm, (a.im * b.re - a.re * b.im) / norm)
    }
    var conjugate: Self { Self(re, -im) }
    static func exp(_ z: Self) -> Self {
        let m = Foundation.exp(z.re)
        return Self(m * Foundation.cos(z.im), m * Foundation.sin(z.im))
    }
}

/// The ZOH discretisation (z, C') of every (channel, mode) and its closed-form gradients.
struct ParameterChain: @unchecked Sendable {
    let channels: Int, modes: Int, directions: Int
    let dt: [Double], a: [ComplexDouble], q: [ComplexDouble], e1: [ComplexDouble],
        weights: [ComplexDouble]
    let cValues: [ComplexDouble]
    /// z = dt·A as separate real and imaginary arrays, [H·P].
    let zr: [Double], zi: [Double]
    /// C' = C·Q, [r·H·P].
    let weightReal: [Double], weightImaginary: [Double]

    init(
        logDt: [Float], logAReal: [Float], aImaginary: [Float], c: [Float], channels h: Int,
        modes p: Int, directions r: Int
    ) {
        (channels, modes, directions) = (h, p, r)
        dt = logDt.map { Foundation.exp(Double($0)) }
        var a: [ComplexDouble] = [], q: [ComplexDouble] = [], e1: [ComplexDouble] = []
        var zr: [Double] = [], zi: [Double] = []
        for index in 0..<h * p {
            let step = dt[index / p]
            let value = ComplexDouble(
                -Foundation.exp(Double(logAReal[index])), Double(aImaginary[index]))
            let z = value * step
            let e = ComplexDouble.exp(z)
            a.append(value)
            e1.append(e)
            q.append((e - ComplexDouble(1, 0)) / value)  // (e^{dt·A} − 1)/A
            zr.append(z.re)
            zi.append(z.im)
        }
        (self.a, self.q, self.e1, self.zr, self.zi) = (a, q, e1, zr, zi)
        cValues = (0..<r * h * p).map { ComplexDouble(Double(c[2 * $0]), Double(c[2 * $0 + 1])) }
        let values = cValues
        let products = values.indices.map { values[$0] * q[$0 % (h * p)] }
        weights = products
        weightReal = products.map(\.re)
        weightImaginary = products.map(\.im)
    }

    /// Gradients of (logDt, logAReal, aImaginary, c) from S0 = Σ G·e^{zl}, S1 = Σ l·G·e^{zl}.
    func gradients(
        _ sums: (s0Real: [Double], s0Imaginary: [Double], s1Real: [Double], s1Imaginary: [Double])
    ) -> [Tensor] {
        let (h, p, r) = (channels, modes, directions)
        var dLogDt = [Float](repeating: 0, count: h)
        var dLogA = [Float](repeating: 0, count: h * p), dImag = dLogA
        var dC = [Float](repeating: 0, count: r * h * p * 2)
        var dtTotals = [Double](repeating: 0, count: h)
        for index in 0..<h * p {
            var gz = ComplexDouble(0, 0), gq = ComplexDouble(0, 0)
            for dir in 0..<r {
                let w = dir * h * p + index
                let s0 = ComplexDouble(sums.s0Real[w], sums.s0Imaginary[w])
                let s1 = ComplexDouble(sums.s1Real[w], sums.s1Imaginary[w])
                let gWeight = s0.conjugate * 2  // ĝ_{C'} = 2·conj(S0)
                gz = gz + (weights[w] * s1).conjugate * 2  // ĝ_z = 2·conj(C'·S1)
                let gC = gWeight * q[index].conjugate  // C' = C·Q
                dC[2 * w] = Float(gC.re)
                dC[2 * w + 1] = Float(gC.im)
                gq = gq + gWeight * cValues[w].conjugate
            }
            let step = dt[index / p], value = a[index], e = e1[index]
            // dQ/dA = (dt·e^{z}·A − (e^{z} − 1))/A², dQ/ddt = e^{z}; z = dt·A.
            let dqda = ((e * value) * step - (e - ComplexDouble(1, 0))) / (value * value)
            let ga = gz * step + gq * dqda.conjugate
            let gdt = (gz * value.conjugate).re + (gq * e.conjugate).re
            dtTotals[index / p] += gdt
            dLogA[index] = Float(value.re * ga.re)  // A_re = −e^{a}: ∂A_re/∂a = A_re
            dImag[index] = Float(ga.im)
        }
        for channel in 0..<h { dLogDt[channel] = Float(dt[channel] * dtTotals[channel]) }
        return [
            Tensor(shape: [h], scalars: dLogDt), Tensor(shape: [h, p], scalars: dLogA),
            Tensor(shape: [h, p], scalars: dImag), Tensor(shape: [r, h, p, 2], scalars: dC),
        ]
    }
}

extension Tensor {
    /// y = k ∗ u per channel by FFT: one kernel direction is causal, two are bidirectional (see
    /// `LongConvolution`).
    ///
    /// - Parameters: signal [b, H, L]; kernel [r, H, L] with r ∈ {1, 2}.
    /// - Returns: [b, H, L].
    public static func longConvolution(_ signal: Tensor, kernel: Tensor) -> Tensor {
        precondition(
            signal.rank == 3 && kernel.rank == 3,
            "longConvolution: signal [b, H, L] and kernel [r, H, L]")
        let (h, length, r) = (signal.shape[1], signal.shape[2], kernel.shape[0])
        precondition(
            (r == 1 || r == 2) && kernel.shape[1] == h && kernel.shape[2] == length,
            "longConvolution: kernel \(kernel.shape) for signal \(signal.shape)")
        return fused(LongConvolutionOp(signal: signal, kernel: kernel))
    }
}

/// `Tensor.longConvolution` as a kernel op: inputs the signal [b, H, L] and kernel [r, H, L].
struct LongConvolutionOp: KernelOp {
    static let op = Op("longConvolution")
    static let skipsUnneededGradients = true
    let signal: Tensor, kernel: Tensor

    var inputs: [Tensor?] { [signal, kernel] }
    var outputShape: [Int] { signal.shape }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        LongConvolution.forward(
            signal: x.input(0), kernel: x.input(1), output: output, batch: signal.shape[0],
            channels: signal.shape[1], length: signal.shape[2], directions: kernel.shape[0])
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        LongConvolution.backward(
            signal: x.input(0), kernel: x.input(1), outputGradient: g.outputGradient,
            signalGradient: g.optionalInput(0), kernelGradient: g.optionalInput(1),
            batch: signal.shape[0],
            channels: signal.shape[1], length: signal.shape[2], directions: kernel.shape[0])
    }
}

extension S4DKernelOp {
    /// Two directions of 2 channels with 3 modes (A = −½ + iπ·{1, 2, 3}), length 7.
    static var gradientExamples: [KernelOpExample] {
        let inputs = [
            Tensor(shape: [2], scalars: [-2.5, -3]),
            Tensor(repeating: -0.69, shape: [2, 3]),
            Tensor(shape: [2, 3], scalars: [1, 2, 3, 1, 2, 3].map { Float.pi * $0 }),
            Tensor.randomNormal([2, 2, 3, 2], seed: 41),
        ]
        return [
            KernelOpExample("two directions, length 7", inputs) {
                S4D.kernel(logDt: $0[0], logAReal: $0[1], aImaginary: $0[2], c: $0[3], length: 7)
            }
        ]
    }
}

extension LongConvolutionOp {
    /// A causal convolution of length 7, one kernel broadcast over 2 batch entries.
    static var gradientExamples: [KernelOpExample] {
        let inputs = [
            Tensor.randomNormal([2, 3, 7], seed: 42), Tensor.randomNormal([1, 3, 7], seed: 43),
        ]
        return [
            KernelOpExample("causal", inputs) { Tensor.longConvolution($0[0], kernel: $0[1]) }
        ]
    }
}

extension S4D.Options: LimitedOptions {
    /// State size N (N/2 complex modes), the range of the discretisation step and A's rate.
    public static let limits: [OptionLimit<Self>] = [
        .whole("state_size", \.stateSize, 2...65_536, multiple: 2),
        .number("dt_min", \.dtMinimum, .above(0, atMost: 10)),
        .number("dt_max", \.dtMaximum, { .from($0.dtMinimum, to: 10) }),
        .number("a_lr", \.stateMatrixLearningRate, .above(0, atMost: 10)),
    ]
}
