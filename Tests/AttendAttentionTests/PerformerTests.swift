// Performer / FAVOR+: the linear-attention contraction against its quadratic form (both directions,
// values and gradients), the feature map (positivity, gradients), the projection (orthogonal blocks,
// seeding, redraw schedule), convergence to softmax attention as features grow, the whole mixer under
// finite differences, refusals, and performer-pytorch 1.1.4 fixtures.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// Positive features e^(N(0, 0.5²)) [b, n, h, m]; keys of padded positions zeroed when `mask` is given.
private func positiveFeatures(_ shape: [Int], seed: UInt64, mask: Tensor? = nil) -> Tensor {
    let phi = Tensor.randomNormal(shape, seed: seed, standardDeviation: 0.5).exp()
    guard let mask else { return phi }
    return phi * mask.reshaped([shape[0], shape[1], 1, 1])
}

/// The quadratic form with every weight materialised: W_tj = (q′_t·k̂_j)·e^(c_j − c_t) + f·σ_t·real_j
/// over visible j (all, or j ≤ t), σ_t = Σ_f q′_tf; Y = W·V / (W·1 + ε·σ).
private func quadraticLinearAttention(
    _ q: Tensor, _ k: Tensor, _ v: Tensor, causal: Bool, offset: Float, floor: Float = 0,
    logScale: Tensor? = nil, mask: Tensor? = nil
) -> Tensor {
    let (b, n) = (q.shape[0], q.shape[1])
    let qh = q.permuted([0, 2, 1, 3]), kh = k.permuted([0, 2, 1, 3]), vh = v.permuted([0, 2, 1, 3])
    let sigma = qh.summed(alongAxis: -1, keepingDimensions: true)  // [b, h, n, 1]
    var w = Tensor.matmul(qh, kh, transposeB: true)  // [b, h, n, n]
    if let logScale {  // e^(c_j − c_t), capped at 1 above the diagonal (masked below anyway)
        let h = logScale.shape[1]
        let difference = logScale.reshaped([b, h, 1, n]) - logScale.reshaped([b, h, n, 1])
        w = w * Tensor.minimum(difference, Tensor(0)).exp()
    }
    let real = (mask ?? Tensor.ones([b, n])).reshaped([b, 1, 1, n])
    w = w + floor * sigma * real
    if causal { w = w * (1 - causalMask(queries: n, keys: n)) }
    let denominator = w.summed(alongAxis: -1, keepingDimensions: true) + offset * sigma
    return (Tensor.matmul(w, vh) / denominator).permuted([0, 2, 1, 3])
}

/// A non-decreasing log-scale [b, h, n]: running maxima of N(0, 2²) draws, flat over padded keys.
private func runningMaximum(_ shape: [Int], seed: UInt64, mask: Tensor?) -> Tensor {
    let draws = Tensor.randomNormal(shape, seed: seed, standardDeviation: 2).scalars
    let real = mask?.scalars
    let (b, h, n) = (shape[0], shape[1], shape[2])
    return Tensor.filled(shape: shape) { out in
        for row in 0..<(b * h) {
            var running: Float = -1e30
            for t in 0..<n {
                if real.map({ $0[(row / h) * n + t] != 0 }) ?? true {
                    running = Swift.max(running, draws[row * n + t])
                }
                out[row * n + t] = running
            }
        }
    }
}

private func performerMixer(
    kernel: PerformerAttention.Kernel = .softmax, features: Int = 8, width: Int = 8, heads: Int = 2,
    seed: UInt64 = 3
) throws -> MultiHeadAttention {
    var configuration = MixerConfiguration(
        modelDimension: width, headCount: heads, maximumLength: 512)
    configuration.seed = seed
    configuration.performer.featureCount = features
    configuration.performer.kernel = kernel
    return try #require(
        try Mechanisms.make("performer", configuration: configuration) as? MultiHeadAttention)
}

private func core(_ mixer: MultiHeadAttention) throws -> PerformerAttention {
    try #require(mixer.core as? PerformerAttention)
}

struct LinearCase: CustomTestStringConvertible, Sendable {
    let causal: Bool, floor: Float, decayed: Bool
    var chunk = PrefixSumLinearAttention.chunk
    var testDescription: String {
        "\(causal ? "causal" : "bidirectional") floor \(floor)\(decayed ? " decayed" : "") chunk \(chunk)"
    }
}

@Test(arguments: [
    LinearCase(causal: false, floor: 0, decayed: false),
    LinearCase(causal: false, floor: 0.05, decayed: false),
    LinearCase(causal: true, floor: 0, decayed: false),
    LinearCase(causal: true, floor: 0.05, decayed: true),
    LinearCase(causal: true, floor: 0.05, decayed: true, chunk: 7),
])
func linearAttentionEqualsQuadraticForm(_ c: LinearCase) throws {
    // n = 150 spans two full chunks of the scan and a partial one; entry 1 has 40 padded keys.
    let (b, n, h, m, e) = (2, 150, 2, 12, 5)
    let mask = Tensor.filled(shape: [b, n]) { out in
        for i in 0..<(b * n) { out[i] = (i / n == 1 && i % n >= n - 40) ? 0 : 1 }
    }
    let q = positiveFeatures([b, n, h, m], seed: 1)
    let k = positiveFeatures([b, n, h, m], seed: 2, mask: mask)
    let v = Tensor.randomNormal([b, n, h, e], seed: 3)
    let logScale = c.decayed ? runningMaximum([b, h, n], seed: 4, mask: mask) : nil
    let upstream = Tensor.randomNormal([b, n, h, e], seed: 5)
    let offset = PerformerAttention.denominatorOffset
    func fast(_ x: [Tensor]) -> Tensor {
        Tensor.linearAttention(
            queryFeatures: x[0], keyFeatures: x[1], value: x[2], causal: c.causal,
            denominatorOffset: offset,
            keyFeatureFloor: c.floor, keyLogScale: logScale, keyMask: mask, scanChunk: c.chunk)
    }
    func slow(_ x: [Tensor]) -> Tensor {
        quadraticLinearAttention(
            x[0], x[1], x[2], causal: c.causal, offset: offset, floor: c.floor, logScale: logScale,
            mask: mask)
    }
    try assertSameAttention(
        valueAndGradients([q, k, v], upstream: upstream, fast),
        valueAndGradients([q, k, v], upstream: upstream, slow),
        outputTolerance: .reordered, gradientNames: ["dq′", "dk̂", "dv"],
        gradientTolerance: Tolerance(absolute: 1e-6, relative: 1e-4))
}

@Test(arguments: [false, true])
func normaliserEqualsRowSums(causal: Bool) throws {
    // With ε = 0 and V = 1 the output is Σ_j A_ij / D_i: exactly 1 when D_i is the row sum.
    let q = positiveFeatures([1, 130, 3, 7], seed: 5),
        k = positiveFeatures([1, 130, 3, 7], seed: 6)
    let y = Tensor.linearAttention(
        queryFeatures: q, keyFeatures: k, value: .ones([1, 130, 3, 1]), causal: causal,
        denominatorOffset: 0)
    try assertClose(y, .ones(y.shape), .reordered, "Σ_j A_ij / D_i")
}

@Test(arguments: [false, true])
func linearAttentionGradientMatchesFiniteDifferences(causal: Bool) throws {
    // Chunks of 4 over n = 11: two full chunks of the scan and a partial one, with padding and decay.
    let (b, n, h) = (2, 11, 2)
    let mask = Tensor.filled(shape: [b, n]) { out in
        for i in 0..<(b * n) { out[i] = i >= 2 * n - 3 ? 0 : 1 }
    }
    let q = positiveFeatures([b, n, h, 3], seed: 7),
        k = positiveFeatures([b, n, h, 3], seed: 8, mask: mask)
    let v = Tensor.randomNormal([b, n, h, 2], seed: 9)
    let logScale = causal ? runningMaximum([b, h, n], seed: 10, mask: mask) : nil
    try GradientCheck.check([q, k, v], label: causal ? "causal scan" : "bidirectional") { x in
        Tensor.linearAttention(
            queryFeatures: x[0], keyFeatures: x[1], value: x[2], causal: causal,
            keyFeatureFloor: 0.05,
            keyLogScale: logScale, keyMask: mask, scanChunk: 4)
    }
}

@Test func rowsThatSeeNoKeyGiveZeros() throws {
    let q = positiveFeatures([1, 4, 1, 3], seed: 10)
    let y = Tensor.linearAttention(
        queryFeatures: q, keyFeatures: .zeros([1, 4, 1, 3]), value: .ones([1, 4, 1, 2]),
        causal: true)
    #expect(y.scalars.allSatisfy { $0 == 0 })
}

@Test func featuresArePositiveAndFinite() throws {
    let mixer = try performerMixer(features: 32, width: 32, heads: 2)
    let attention = try core(mixer)
    for scale: Float in [0.3, 1, 10] {
        let x = Tensor.randomNormal([2, 33, 2, 16], seed: 11, standardDeviation: scale)
        for isQuery in [true, false] {
            let phi = attention.features(x, isQuery: isQuery, keyMask: nil)
            #expect(phi.shape == [2, 33, 2, 32])
            let bad = phi.scalars.first { !($0 > 0) || !$0.isFinite }
            #expect(
                bad == nil,
                "scale \(scale) \(isQuery ? "query" : "key") feature \(String(describing: bad))")
        }
    }
}

@Test(arguments: [FeatureStabilizer.row, .global, .prefix])
func featureMapGradientMatchesFiniteDifferences(stabilizer: FeatureStabilizer) throws {
    var generator = RandomGenerator(seed: 12)
    let w = Tensor(
        shape: [6, 4],
        scalars: PositiveRandomFeatures.orthogonalGaussianProjection(
            rows: 6, columns: 4, generator: &generator))
    let x = Tensor.randomNormal([1, 5, 2, 4], seed: 13)
    let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
    let v = Tensor.randomNormal([1, 5, 2, 3], seed: 14)
    let floor = PositiveRandomFeatures.epsilon / Float(6).squareRoot()
    // The stabilising maxima are constants in the gradient rule but move under finite differences;
    // they rescale a query row's (or the keys') features, which attention's ratio cancels up to ε, so
    // the check runs through linear attention.
    let isQuery = stabilizer == .row
    let causal = stabilizer == .prefix
    try GradientCheck.check([x], label: "\(stabilizer) features") { xs in
        let probed = Tensor.positiveRandomFeatures(
            xs[0], projection: w, stabilizer: stabilizer,
            offset: isQuery ? PositiveRandomFeatures.epsilon : 0,
            mask: isQuery ? nil : mask)
        if isQuery {
            let keys = Tensor.positiveRandomFeatures(
                x, projection: w, stabilizer: .global, offset: 0, mask: mask)
            return Tensor.linearAttention(
                queryFeatures: probed.features, keyFeatures: keys.features, value: v, causal: false,
                keyFeatureFloor: floor, keyMask: mask)
        }
        let queries = Tensor.positiveRandomFeatures(
            x, projection: w, stabilizer: .row, offset: PositiveRandomFeatures.epsilon)
        return Tensor.linearAttention(
            queryFeatures: queries.features, keyFeatures: probed.features, value: v, causal: causal,
            keyFeatureFloor: floor, keyLogScale: probed.logScale, keyMask: mask)
    }
}

@Test func causalPerformerIgnoresTheFuture() throws {
    // Outputs before `split` must not move when later inputs change — including a later key whose logit
    // exceeds every earlier one, which with the reference's global key maximum would shift earlier
    // outputs (checked below, so the scenario really exercises the stabiliser).
    let mixer = try performerMixer(features: 16, width: 16, heads: 2)
    let attention = try core(mixer)
    let n = 150
    let x = Tensor.randomNormal([2, n, 16], seed: 24)
    let context = MixerContext(isCausal: true)
    let y = try mixer(x, context: context).scalars
    for split in [1, 63, 64, 100] {
        let later = Tensor.randomNormal([2, n - split, 16], seed: UInt64(25 + split)) * 6
        let changed = Tensor.concatenated([x.sliced(alongAxis: 1, 0..<split), later], alongAxis: 1)
        let z = try mixer(changed, context: context).scalars
        for bi in 0..<2 {
            let range = (bi * n * 16)..<((bi * n + split) * 16)
            #expect(Array(y[range]) == Array(z[range]), "split \(split), batch \(bi)")
        }
    }
    // The reference form (global key maximum) on the same heads is not causal.
    func referenceForm(_ input: Tensor) -> Tensor {
        let heads = [2, n, 2, 8]
        return Tensor.linearAttention(
            queryFeatures: attention.features(
                mixer.query(input).reshaped(heads), isQuery: true, keyMask: nil),
            keyFeatures: attention.features(
                mixer.key(input).reshaped(heads), isQuery: false, keyMask: nil),
            value: mixer.value(input).reshaped(heads), causal: true)
    }
    let changed = Tensor.concatenated(
        [x.sliced(alongAxis: 1, 0..<100), Tensor.randomNormal([2, n - 100, 16], seed: 26) * 6],
        alongAxis: 1)
    let before = referenceForm(x).sliced(alongAxis: 1, 0..<100),
        after = referenceForm(changed).sliced(alongAxis: 1, 0..<100)
    #expect(
        maxAbsoluteDifference(before, after) > 1e-3,
        "the global maximum leaks: \(maxAbsoluteDifference(before, after))")
}

@Test func projectionRowsAreOrthogonalWithinBlocks() throws {
    let (m, d) = (40, 16)
    var generator = RandomGenerator(seed: 15)
    let w = PositiveRandomFeatures.orthogonalGaussianProjection(
        rows: m, columns: d, generator: &generator)
    func row(_ i: Int) -> [Double] { (0..<d).map { Double(w[i * d + $0]) } }
    func cosine(_ a: [Double], _ b: [Double]) -> Double {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        return dot
            / (a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot())
    }
    var worstWithin = 0.0, largestAcross = 0.0
    for i in 0..<m {
        for j in (i + 1)..<m {
            let c = Swift.abs(cosine(row(i), row(j)))
            if i / d == j / d {
                worstWithin = Swift.max(worstWithin, c)
            } else {
                largestAcross = Swift.max(largestAcross, c)
            }
        }
    }
    #expect(worstWithin < 1e-6, "rows of one block: largest |cos| \(worstWithin)")
    #expect(
        largestAcross > 1e-2,
        "rows of different blocks are independent, not orthogonal: \(largestAcross)")
    // Norms follow the chi distribution with d degrees of freedom: E‖ω‖² = d.
    let meanSquare = (0..<m).map { row($0).reduce(0) { $0 + $1 * $1 } }.reduce(0, +) / Double(m)
    #expect(
        Swift.abs(meanSquare - Double(d)) < 4 * (2 * Double(d) / Double(m)).squareRoot(),
        "mean ‖ω‖² \(meanSquare)")
}

@Test func sameSeedGivesBitIdenticalOutputAndRedrawsFollowTheSchedule() throws {
    let x = Tensor.randomNormal([2, 9, 8], seed: 16)
    let a = try performerMixer(seed: 21), b = try performerMixer(seed: 21),
        c = try performerMixer(seed: 22)
    let context = MixerContext()
    #expect(try a(x, context: context).scalars == b(x, context: context).scalars)
    #expect(try core(a).projectionMatrix!.scalars != core(c).projectionMatrix!.scalars)
    let attention = try core(a)
    let first = attention.projectionMatrix!.scalars
    attention.redraw(seed: 5)
    let redrawn = attention.projectionMatrix!.scalars
    attention.redraw(seed: 5)
    #expect(attention.projectionMatrix!.scalars == redrawn)
    #expect(redrawn != first)

    // Interval 1000: steps 0…999 use draw 0, step 1000 draw 1; evaluation mode never redraws.
    let scheduled = try core(b)
    b.train()
    let training = MixerContext()
    training.trainingStep = 999
    _ = try b(x, context: training)
    #expect(scheduled.drawIndex == 0 && scheduled.projectionMatrix!.scalars == first)
    training.trainingStep = 1000
    _ = try b(x, context: training)
    #expect(scheduled.drawIndex == 1 && scheduled.projectionMatrix!.scalars != first)
    b.eval()
    training.trainingStep = 5
    _ = try b(x, context: training)
    #expect(scheduled.drawIndex == 1)
    b.train()
    _ = try b(x, context: training)
    #expect(scheduled.projectionMatrix!.scalars == first, "a resumed step redraws the same matrix")
}

@Test func approximationErrorFallsAsFeaturesGrow() throws {
    // Small-norm inputs (entries N(0, 0.3²)), d = 16, n = 32; relative error ‖Y − Y_softmax‖/‖Y_softmax‖
    // averaged over 16 projection seeds. Theory: error ∝ m^(−1/2), i.e. a ratio of 0.5 per 4× features.
    let (n, d, seeds) = (32, 16, 16)
    let q = Tensor.randomNormal([1, n, 1, d], seed: 17, standardDeviation: 0.3)
    let k = Tensor.randomNormal([1, n, 1, d], seed: 18, standardDeviation: 0.3)
    let v = Tensor.randomNormal([1, n, 1, d], seed: 19)
    let exact = referenceAttention(query: q, key: k, value: v, scale: 1 / Float(d).squareRoot())
    let norm = exact.squared().summed().scalar.squareRoot()
    var curve: [(m: Int, mean: Double, standardError: Double)] = []
    for m in [16, 64, 256, 1024] {
        var options = PerformerAttention.Options()
        options.featureCount = m
        let attention = try PerformerAttention(options: options, headDimension: d, seed: 0)
        let errors = (0..<seeds).map { s -> Double in
            attention.redraw(seed: UInt64(1000 + s))
            let y = try! attention.attend(query: q, key: k, value: v, context: MixerContext())
            return Double((y - exact).squared().summed().scalar.squareRoot() / norm)
        }
        let mean = errors.reduce(0, +) / Double(seeds)
        let variance = errors.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(seeds - 1)
        curve.append((m, mean, (variance / Double(seeds)).squareRoot()))
    }
    print(
        "performer approximation curve (n \(n), d \(d), N(0, 0.3²) inputs, \(seeds) seeds): m, mean relative error, standard error"
    )
    for point in curve {
        print(String(format: "  %5d  %.5f  %.5f", point.m, point.mean, point.standardError))
    }
    for (previous, next) in zip(curve, curve.dropFirst()) {
        // Expected ratio 0.5. Require < 0.8 even after moving both means 3 standard errors the wrong way.
        let pessimistic =
            (next.mean + 3 * next.standardError) / (previous.mean - 3 * previous.standardError)
        #expect(pessimistic < 0.8, "m \(previous.m) → \(next.m): \(previous.mean) → \(next.mean)")
    }
    let slope = Foundation.log(curve.last!.mean / curve.first!.mean) / Foundation.log(1024.0 / 16)
    print(String(format: "  log-log slope %.3f (theory −0.5)", slope))
    #expect(slope < -0.35 && slope > -0.65)
}

@Test(arguments: [
    (PerformerAttention.Kernel.softmax, false), (.softmax, true), (.relu, false), (.relu, true),
])
func performerMixerGradientsMatchFiniteDifferences(kernel: PerformerAttention.Kernel, causal: Bool)
    throws
{
    let mixer = try performerMixer(kernel: kernel, features: 6, width: 8, heads: 2)
    var x = Tensor.randomNormal([2, 5, 8], seed: 20)
    if kernel == .relu {
        // Central differences are wrong across ReLU's kink: use an input whose pre-activations (the
        // projected q and k, shifted by up to ~1e-2 by the probes) all stay away from 0.
        func margin(_ x: Tensor) -> Float {
            (mixer.query(x).scalars + mixer.key(x).scalars).map(Swift.abs).min()!
        }
        var seed: UInt64 = 20
        while margin(x) < 0.02 {
            seed += 1
            x = Tensor.randomNormal([2, 5, 8], seed: seed)
        }
        try #require(seed < 200, "no kink-free input found")
    }
    let mask = Tensor(shape: [2, 5], scalars: [1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    try checkMixerGradients(
        mixer, input: x, paddingMask: mask, causal: causal,
        label: "performer \(kernel) \(causal ? "causal" : "bidirectional")")
}

@Test func performerRefusesWhatItCannotDo() throws {
    var configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16)
    configuration.performer.featureCount = 0
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "performer", problem: "feature count must be at least 1, got 0")
    ) {
        try Mechanisms.make("performer", configuration: configuration)
    }
    configuration.performer.featureCount = 4
    configuration.performer.featureRedrawInterval = -1
    #expect(throws: MixerError.self) {
        try Mechanisms.make("performer", configuration: configuration)
    }
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "performer", problem: "head count 3 does not divide model width 8")
    ) {
        try Mechanisms.make(
            "performer",
            configuration: MixerConfiguration(modelDimension: 8, headCount: 3, maximumLength: 16))
    }
    let mixer = try performerMixer(features: 4)
    #expect(
        throws: MixerError.shapeMismatch(
            mechanism: "performer", expected: "[batch, length, 8]", got: [1, 3, 7])
    ) {
        try mixer(.zeros([1, 3, 7]), context: MixerContext())
    }
    #expect(
        throws: MixerError.shapeMismatch(
            mechanism: "performer", expected: "projection [4, 4]", got: [5, 4])
    ) {
        try core(mixer).setProjectionMatrix(.zeros([5, 4]))
    }
    let relu = try performerMixer(kernel: .relu)
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "performer", problem: "the ReLU kernel has no projection")
    ) {
        try core(relu).setProjectionMatrix(.zeros([4, 4]))
    }
}

@Test func performerOptionsDecodeWithDefaults() throws {
    let json =
        #"{"model_dimension": 8, "head_count": 2, "maximum_length": 16, "performer": {"kernel": "relu"}}"#
    let configuration = try JSONDecoder().decode(MixerConfiguration.self, from: Data(json.utf8))
    #expect(configuration.performer.kernel == .relu)
    #expect(
        configuration.performer.featureCount == 256
            && configuration.performer.featureRedrawInterval == 1000)
}

/// Largest absolute difference (for reporting how far inside a tolerance a comparison lands).
func maxAbsoluteDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? 0
}

@Test(arguments: ["softmax", "softmax_causal", "relu", "relu_causal"])
func performerMatchesPerformerPytorch(_ name: String) throws {
    // performer-pytorch 1.1.4 in float64 (scripts/fixtures/mechanisms_performer.py), heads [b, h, n, d].
    let file = try openFixture("performer", in: Bundle.module)
    func tensor(_ field: String) throws -> Tensor { try file.tensor("\(name).\(field)") }
    let swap = [0, 2, 1, 3]  // [b, h, n, d] ↔ [b, n, h, d]
    let (q, k, v) = (
        try tensor("query").permuted(swap), try tensor("key").permuted(swap),
        try tensor("value").permuted(swap)
    )
    var options = PerformerAttention.Options()
    options.kernel = name.hasPrefix("relu") ? .relu : .softmax
    let projection = options.kernel == .softmax ? try tensor("projection") : nil
    if let projection { options.featureCount = projection.shape[0] }
    let attention = try PerformerAttention(options: options, headDimension: q.shape[3], seed: 0)
    if let projection { try attention.setProjectionMatrix(projection) }
    let context = MixerContext(isCausal: name.hasSuffix("causal"))
    let upstream = try tensor("upstream").permuted(swap)
    let y = try attention.attend(query: q, key: k, value: v, context: context).permuted(swap)
    let (_, grads) = valueAndGradient(at: [q, k, v]) { x in
        (try! attention.attend(query: x[0], key: x[1], value: x[2], context: context) * upstream)
            .summed()
    }
    // A tenth of the issue's 1e-4 absolute bound (measured: ≤ 3e-6). The package's bidirectional path
    // has no denominator guard; Attend's ε·Σq′ = 1e-6·Σq′ shifts outputs by ~1e-7 at these sizes.
    let bound = Tolerance(absolute: 1e-5, relative: 0)
    try assertClose(y, try tensor("output"), bound, "\(name) output")
    var report =
        "performer-pytorch \(name): max |Δ| output \(maxAbsoluteDifference(y, try tensor("output")))"
    for (role, g) in zip(["query", "key", "value"], grads) {
        let expected = try tensor("\(role)_grad")
        try assertClose(g.permuted(swap), expected, bound, "\(name) \(role) gradient")
        report += ", d\(role) \(maxAbsoluteDifference(g.permuted(swap), expected))"
    }
    print(report)
}
