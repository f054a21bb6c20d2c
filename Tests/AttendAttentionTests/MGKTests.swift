// Transformer-MGK and MLK. No reference package exists (mechanisms-a.md §0), so the checks come from
// the spec's equations: hand-computed weights for one query and two keys, the M = 1 identity with
// softmax attention, the tiled kernel against the materialised formula (values and gradients, soft and
// hard, both scores, across tiles, causal, padded), finite differences for the kernel and the layer's
// own parameters (priors, offsets), the linear form against its defining sums, and the
// fewer-heads-than-the-width configuration.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// One query q = 1 and two keys with components k_0 = (0, 2), k_1 = (1, −1), d = 1; values 1 and 0, so
/// the output is the weight of key 0.
struct TwoKeyCase {
    static let query = Tensor(shape: [1, 1, 1, 1], scalars: [1])
    static let keys = Tensor(shape: [1, 2, 2, 1, 1], scalars: [0, 2, 1, -1])
    static let value = Tensor(shape: [1, 2, 1, 1], scalars: [1, 0])

    /// Weight of key 0 through the kernel and the reference; both must agree.
    static func weight(logPriors: Tensor?, inverseVariances: [Float], gaussian: Bool) throws
        -> Float
    {
        let fused = Tensor.mixtureOfGaussianKeysAttention(
            query: query, keys: keys, value: value, logPriors: logPriors,
            inverseVariances: inverseVariances,
            gaussian: gaussian)
        let reference = referenceMixtureOfGaussianKeysAttention(
            query: query, keys: keys, value: value, logPriors: logPriors,
            inverseVariances: inverseVariances,
            gaussian: gaussian)
        try assertClose(fused, reference, .reordered, "kernel vs reference")
        return fused.scalars[0]
    }
}

struct MixtureCase: CustomTestStringConvertible, Sendable {
    let b: Int, n: Int, h: Int, d: Int, M: Int, hard: Bool, gaussian: Bool, causal: Bool,
        padded: Bool
    var testDescription: String {
        "b\(b) n\(n) h\(h) d\(d) M\(M) \(hard ? "hard" : "soft") \(gaussian ? "gaussian" : "dot")"
            + "\(causal ? " causal" : "")\(padded ? " padded" : "")"
    }
}

let mixtureCases: [MixtureCase] = [
    .init(b: 2, n: 9, h: 2, d: 4, M: 2, hard: false, gaussian: true, causal: false, padded: true),
    .init(b: 1, n: 70, h: 2, d: 8, M: 3, hard: false, gaussian: true, causal: true, padded: false),
    .init(b: 2, n: 33, h: 1, d: 8, M: 2, hard: true, gaussian: true, causal: false, padded: true),
    .init(
        b: 1, n: TileSpanning.short, h: 2, d: 4, M: 2, hard: false, gaussian: false, causal: false,
        padded: true),
    .init(
        b: 2, n: TileSpanning.short, h: 1, d: 4, M: 2, hard: true, gaussian: false, causal: true,
        padded: true),
    .init(b: 1, n: 12, h: 3, d: 4, M: 1, hard: false, gaussian: true, causal: false, padded: false),
]

/// Central finite differences of `loss` with respect to every element of `parameter`, in place.
func parameterFiniteDifferences(
    _ parameter: Parameter, step: Float = 1e-2, _ loss: () throws -> Float
) rethrows -> [Float] {
    var result: [Float] = []
    for j in 0..<parameter.count {
        let original = parameter.value.scalars[j]
        parameter.update { $0[j] = original + step }
        let plus = try loss()
        parameter.update { $0[j] = original - step }
        let minus = try loss()
        parameter.update { $0[j] = original }
        result.append((plus - minus) / (2 * step))
    }
    return result
}

@Suite struct MGKTests {
    @Test func handComputedWeights() throws {
        let half = Tensor(repeating: Float(0.5), shape: [1, 2]).log()
        // Soft, equal priors, σ² = 1: w_0 = e^{−1/2}, w_1 = (1 + e^{−2})/2.
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: half, inverseVariances: [1, 1], gaussian: true)
                    - 0.516548746) < 1e-6)
        // Priors 0.8 / 0.2: w_0 = e^{−1/2}, w_1 = 0.8 + 0.2·e^{−2}.
        let skewed = Tensor(shape: [1, 2], scalars: [0.8, 0.2]).log()
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: skewed, inverseVariances: [1, 1], gaussian: true)
                    - 0.423082886) < 1e-6)
        // Hard: the closest components, e^{−1/2} against e^0.
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: nil, inverseVariances: [1, 1], gaussian: true)
                    - 0.377540669) < 1e-6)
        // Variance scales [1, 3] (the LM code): component 1 has σ² = 1/3.
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: half, inverseVariances: [1, 3], gaussian: true)
                    - 0.452837127) < 1e-6)
        // Dot-product score: (1 + e²)/(1 + e² + e + e⁻¹) = sigmoid(1).
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: half, inverseVariances: [1, 1], gaussian: false)
                    - 0.731058579) < 1e-6)
        // A component switched off (π = 0) leaves plain softmax over the other: e^{−1/2}/(e^{−1/2} + 1).
        let off = Tensor(shape: [1, 2], scalars: [1, 0]).log()
        #expect(
            abs(
                try TwoKeyCase.weight(logPriors: off, inverseVariances: [1, 1], gaussian: true)
                    - 0.377540669) < 1e-6)
    }

    @Test func oneComponentWithEqualPriorsIsSoftmaxAttention() throws {
        let c = 16, h = 4
        var configuration = MixerConfiguration(modelDimension: c, headCount: h, maximumLength: 12)
        configuration.mgk.components = 1
        configuration.mgk.score = .dotProduct
        let full = try Mechanisms.make("full", configuration: configuration, seed: 5)
        for priors in [MixtureOfGaussianKeysAttention.Priors.learned, .fixed] {
            for path in [MixtureOfGaussianKeysAttention.Path.fused, .reference] {
                configuration.mgk.priors = priors
                configuration.mgk.path = path
                let mgk = try Mechanisms.make("mgk", configuration: configuration, seed: 6)
                var weights = Dictionary(uniqueKeysWithValues: full.stateDictionary())
                if priors == .learned { weights["priors"] = Tensor(repeating: 1, shape: [h, 1]) }
                try mgk.load(weights)
                let x = Tensor.randomNormal([2, 12, c], seed: 7)
                let context = MixerContext(paddingMask: thirdPadded(b: 2, n: 12))
                try assertClose(
                    try mgk(x, context: context), try full(x, context: context), .reference,
                    "M = 1 vs full, \(priors) \(path)")
            }
        }
    }

    @Test func gaussianScoreWithEqualKeyNormsIsSoftmax() throws {
        // −‖q − k‖²/(2√d) = q·k/√d − ‖q‖²/(2√d) − ‖k‖²/(2√d): with unit keys only q·k/√d survives the softmax.
        let (b, n, h, d) = (2, 10, 2, 4)
        let q = Tensor.randomNormal([b, n, h, d], seed: 1)
        let raw = Tensor.randomNormal([b, n, h, d], seed: 2)
        let k = raw / raw.squared().summed(alongAxes: [3], keepingDimensions: true).squareRoot()
        let v = Tensor.randomNormal([b, n, h, d], seed: 3)
        let mask = thirdPadded(b: b, n: n)
        let y = Tensor.mixtureOfGaussianKeysAttention(
            query: q, keys: k.reshaped([b, n, 1, h, d]), value: v, logPriors: Tensor.zeros([h, 1]),
            inverseVariances: [0.5], gaussian: true, keyMask: mask)
        let expected = referenceAttention(query: q, key: k, value: v, scale: 0.5, keyMask: mask)
        try assertClose(y, expected, .reference, "unit-norm keys")
    }

    @Test(arguments: mixtureCases)
    func tiledKernelEqualsReference(_ c: MixtureCase) throws {
        let q = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 11)
        let keys = Tensor.randomNormal([c.b, c.n, c.M, c.h, c.d], seed: 12)
        let v = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 13)
        let logPriors = Tensor.randomUniform([c.h, c.M], seed: 14, low: 0.1, high: 1).log()
        let mask = c.padded ? thirdPadded(b: c.b, n: c.n) : nil
        let variances = (0..<c.M).map { 0.5 / Float($0 + 1) }
        let upstream = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 15)
        let inputs = [q, keys, v] + (c.hard ? [] : [logPriors])
        func attend(_ x: [Tensor], fused: Bool) -> Tensor {
            let priors = c.hard ? nil : x[3]
            return fused
                ? Tensor.mixtureOfGaussianKeysAttention(
                    query: x[0], keys: x[1], value: x[2], logPriors: priors,
                    inverseVariances: variances,
                    gaussian: c.gaussian, causal: c.causal, keyMask: mask)
                : referenceMixtureOfGaussianKeysAttention(
                    query: x[0], keys: x[1], value: x[2], logPriors: priors,
                    inverseVariances: variances,
                    gaussian: c.gaussian, causal: c.causal, keyMask: mask)
        }
        try assertSameAttention(
            valueAndGradients(inputs, upstream: upstream) { attend($0, fused: true) },
            valueAndGradients(inputs, upstream: upstream) { attend($0, fused: false) },
            outputTolerance: .reordered, gradientNames: ["dq", "dkeys", "dv", "dlogπ"],
            gradientTolerance: Tolerance(absolute: 1e-4, relative: 1e-4))
    }

    @Test func kernelGradientsMatchFiniteDifferences() throws {
        let (b, n, h, d, M) = (2, 5, 2, 3, 2)
        let q = Tensor.randomNormal([b, n, h, d], seed: 21, standardDeviation: 0.7)
        let keys = Tensor.randomNormal([b, n, M, h, d], seed: 22, standardDeviation: 0.7)
        let v = Tensor.randomNormal([b, n, h, d], seed: 23)
        let logPriors = Tensor(shape: [h, M], scalars: [-0.3, -1.2, -0.7, -0.1])
        let mask = thirdPadded(b: b, n: n)
        for gaussian in [true, false] {
            try GradientCheck.check([q, keys, v, logPriors], label: gaussian ? "gaussian" : "dot") {
                x in
                Tensor.mixtureOfGaussianKeysAttention(
                    query: x[0], keys: x[1], value: x[2], logPriors: x[3],
                    inverseVariances: [0.6, 1.1],
                    gaussian: gaussian, causal: true, keyMask: mask)
            }
        }
        // Hard: away from ties the winning component is locally constant.
        try GradientCheck.check([q, keys, v], label: "hard") { x in
            Tensor.mixtureOfGaussianKeysAttention(
                query: x[0], keys: x[1], value: x[2], logPriors: nil, inverseVariances: [0.6, 1.1],
                gaussian: true,
                keyMask: mask)
        }
    }

    @Test(arguments: ["mgk", "mgk-linear"])
    func layerParameterGradientsMatchFiniteDifferences(_ name: String) throws {
        var configuration = MixerConfiguration(modelDimension: 6, headCount: 2, maximumLength: 5)
        configuration.mgk.keys = .offsets
        configuration.mgk.components = 3
        let mixer = try Mechanisms.make(name, configuration: configuration, seed: 31)
        let layer = try #require(mixer as? MixtureOfGaussianKeysAttention)
        layer.priors!.update { p in for i in p.indices { p[i] = [0.3, 0.8, 0.55][i % 3] } }
        let x = Tensor.randomNormal([2, 5, 6], seed: 32)
        let weights = Tensor.randomUniform([2, 5, 6], seed: 33, low: -1, high: 1)
        let context = MixerContext(paddingMask: thirdPadded(b: 2, n: 5))
        func loss() throws -> Float {
            try withoutGradient { try (mixer(x, context: context) * weights).summed().scalar }
        }
        let (_, grads) = try valueAndGradient(of: mixer) {
            try ($0(x, context: context) * weights).summed()
        }
        for (label, parameter) in [
            ("priors", layer.priors!), ("offsets", layer.offsets!),
            ("key.weight", layer.key.weight),
        ] {
            let numeric = try parameterFiniteDifferences(parameter, loss)
            try assertClose(
                try #require(grads[parameter]).scalars, numeric, .finiteDifference,
                "\(name) \(label)")
        }
    }

    @Test func linearFormFollowsItsDefiningSums() throws {
        let (b, n, h, d, M) = (2, 70, 2, 3, 2)  // 70 > one 64-row chunk
        let q = Tensor.randomNormal([b, n, h, d], seed: 41)
        let keys = Tensor.randomNormal([b, n, M, h, d], seed: 42)
        let v = Tensor.randomNormal([b, n, h, d], seed: 43)
        let priors = Tensor(shape: [h, M], scalars: [0.3, 0.9, 1, 0.2])
        let mask = thirdPadded(b: b, n: n)
        let (qs, ks, vs, ps, ms) = (
            q.scalars, keys.scalars, v.scalars, priors.scalars, mask.scalars
        )
        /// φ(x) = (elu(x) + 1)/Σ_f (elu(x) + 1)_f of d values from `offset`.
        func phi(_ x: [Float], _ offset: Int) -> [Float] {
            let f = (0..<d).map {
                x[offset + $0] > 0 ? x[offset + $0] + 1 : Foundation.exp(x[offset + $0])
            }
            let total = f.reduce(0, +)
            return f.map { $0 / total }
        }
        for causal in [false, true] {
            let y = mixtureOfLinearKeysAttention(
                query: q, keys: keys, value: v, priors: priors, scale: 0.5, causal: causal,
                keyMask: mask)
            let expected = Tensor.filled(shape: [b, n, h, d]) { out in
                for z in 0..<b {
                    for head in 0..<h {
                        for i in 0..<n {
                            let fq = phi(qs, ((z * n + i) * h + head) * d)
                            var numerator = [Float](repeating: 0, count: d)
                            var denominator: Float = 0
                            for j in 0..<n where ms[z * n + j] != 0 && (!causal || j <= i) {
                                var mixed = [Float](repeating: 0, count: d)
                                for r in 0..<M {
                                    let fk = phi(ks, (((z * n + j) * M + r) * h + head) * d)
                                    for f in 0..<d { mixed[f] += ps[head * M + r] * fk[f] }
                                }
                                let weight = (0..<d).reduce(Float(0)) { $0 + fq[$1] * mixed[$1] }
                                denominator += weight
                                for f in 0..<d {
                                    numerator[f] += weight * vs[((z * n + j) * h + head) * d + f]
                                }
                            }
                            for f in 0..<d {
                                out[((z * n + i) * h + head) * d + f] =
                                    0.5 * numerator[f] / (denominator + 1e-5)
                            }
                        }
                    }
                }
            }
            try assertClose(
                y, expected, Tolerance(absolute: 1e-5, relative: 1e-4),
                causal ? "causal" : "bidirectional")
        }
    }

    @Test func fewerHeadsThanTheWidthImplies() throws {
        // 4-head MGK against 8-head softmax at width 32 and head dimension 4 for both.
        var mixer = MixerConfiguration(modelDimension: 32, headCount: 4, maximumLength: 16)
        mixer.mgk.headDimension = 4
        let mgk = try Mechanisms.make("mgk", configuration: mixer, seed: 1)
        let softmax = try Mechanisms.make(
            "full",
            configuration: MixerConfiguration(modelDimension: 32, headCount: 8, maximumLength: 16))
        #expect(mgk.parameterCount < softmax.parameterCount)
        let y = try mgk(Tensor.randomNormal([2, 16, 32], seed: 2), context: MixerContext())
        #expect(y.shape == [2, 16, 32])
        // Heads need not divide the width once the head dimension is given.
        var odd = MixerConfiguration(modelDimension: 32, headCount: 3, maximumLength: 16)
        odd.mgk.headDimension = 8
        #expect(try Mechanisms.make("mgk", configuration: odd).parameterCount > 0)
        odd.mgk.headDimension = nil
        #expect(throws: MixerError.self) { try Mechanisms.make("mgk", configuration: odd) }
    }

    @Test func configurationErrorsNameTheProblem() {
        var configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 8)
        configuration.mgk.assignment = .hard
        #expect(throws: MixerError.self) {
            try Mechanisms.make("mgk-linear", configuration: configuration)
        }
        configuration.mgk.assignment = .soft
        configuration.mgk.varianceScales = [1, 2, 3]
        #expect(
            throws: MixerError.invalidConfiguration(
                mechanism: "mgk", problem: "3 variance scales for 2 components")
        ) {
            try Mechanisms.make("mgk", configuration: configuration)
        }
    }

    @Test(arguments: ["mgk", "mgk-linear"])
    func causalOutputsIgnoreTheFuture(_ name: String) throws {
        let configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 80)
        let mixer = try Mechanisms.make(name, configuration: configuration, causal: true, seed: 3)
        let x = Tensor.randomNormal([1, 80, 8], seed: 9)
        let changed = Tensor.concatenated(
            [x.sliced(alongAxis: 1, 0..<66), Tensor.randomNormal([1, 14, 8], seed: 10)],
            alongAxis: 1)
        let a = try mixer(x, context: MixerContext(isCausal: true)).sliced(alongAxis: 1, 0..<66)
        let b = try mixer(changed, context: MixerContext(isCausal: true)).sliced(
            alongAxis: 1, 0..<66)
        try assertClose(a, b, .reordered, "\(name): first 66 positions")
    }
}
