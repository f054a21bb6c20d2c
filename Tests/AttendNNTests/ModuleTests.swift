// Module bookkeeping: dotted parameter names in declaration order, strict loading that reports every
// problem at once, train/eval mode, dropout statistics and determinism, optimizer state round trips,
// schedules and clipping.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

final class TwoLayers: Module {
    let first: Linear, norm: LayerNorm, second: Linear, dropout: Dropout
    init(seed: UInt64 = 1) {
        var g = RandomGenerator(seed: seed)
        first = Linear(inputCount: 3, outputCount: 4, generator: &g)
        norm = LayerNorm(dimension: 4)
        second = Linear(inputCount: 4, outputCount: 2, bias: false, generator: &g)
        dropout = Dropout(probability: 0.5)
    }
    var children: [(String, any Module)] {
        [("first", first), ("norm", norm), ("second", second), ("dropout", dropout)]
    }
    func callAsFunction(_ x: Tensor) -> Tensor { second(dropout(norm(first(x)).relu())) }
}

@Test func parametersHaveDottedNamesInDeclarationOrder() {
    let model = TwoLayers()
    #expect(
        model.namedParameters().map(\.0) == [
            "first.weight", "first.bias", "norm.weight", "norm.bias", "second.weight",
        ])
    #expect(model.parameterCount == 12 + 4 + 4 + 4 + 8)
}

@Test func strictLoadingReportsEveryProblemTogether() throws {
    let model = TwoLayers()
    var state = Dictionary(uniqueKeysWithValues: model.stateDictionary())
    state["first.bias"] = nil
    state["extra.weight"] = Tensor.zeros([1])
    state["second.weight"] = Tensor.zeros([3, 3])
    do {
        try model.load(state)
        Issue.record("loading mismatched weights must fail")
    } catch let error as StateDictionaryMismatch {
        #expect(error.missing == ["first.bias"])
        #expect(error.unexpected == ["extra.weight"])
        #expect(error.wrongShape.map(\.0) == ["second.weight"])
        #expect(error.description.contains("second.weight: model expects [2, 4], file has [3, 3]"))
    }
    // Nothing was assigned: the original weights are intact.
    #expect(model.first.bias!.value.scalars == TwoLayers().first.bias!.value.scalars)
}

@Test func loadingRoundTripsParameters() throws {
    let source = TwoLayers(seed: 3), target = TwoLayers(seed: 4)
    try target.load(Dictionary(uniqueKeysWithValues: source.stateDictionary()))
    for ((_, a), (_, b)) in zip(source.namedParameters(), target.namedParameters()) {
        #expect(a.value.scalars == b.value.scalars)
    }
}

@Test func dropoutScalesSurvivorsAndIsOffInEvaluation() {
    let dropout = Dropout(probability: 0.25)
    dropout.reseed(5)
    let y = dropout(Tensor.ones([100_000])).scalars
    let kept = y.filter { $0 != 0 }
    #expect(kept.allSatisfy { Swift.abs($0 - 1 / 0.75) < 1e-6 })
    // Binomial(100000, 0.75): standard deviation ≈ 137, so ±1000 is over 7σ.
    #expect(Swift.abs(kept.count - 75_000) < 1_000)
    dropout.eval()
    #expect(dropout(Tensor.ones([10])).scalars == [Float](repeating: 1, count: 10))
}

/// The gradient redraws the mask from the stream's state at the forward call: it must be the
/// forward's mask exactly, while the module's stream has moved on to a new mask.
@Test func dropoutGradientIsTheForwardMask() {
    let dropout = Dropout(probability: 0.3)
    dropout.reseed(9)
    let gradient = valueAndGradient(at: [Tensor.ones([1_001])]) { dropout($0[0]).summed() }
        .gradients[0].scalars
    let next = dropout(Tensor.ones([1_001])).scalars
    dropout.reseed(9)
    let forward = dropout(Tensor.ones([1_001])).scalars
    #expect(gradient == forward)
    #expect(gradient.contains(0) && next != forward)
}

@Test func reseedingMakesDropoutRepeatable() {
    let model = TwoLayers()
    let x = Tensor.randomNormal([8, 3], seed: 2)
    model.reseedRandomness(11)
    let a = model(x).scalars
    model.reseedRandomness(11)
    #expect(model(x).scalars == a)
    model.reseedRandomness(12)
    #expect(model(x).scalars != a)
}

@Test func optimizerStateRoundTripContinuesIdentically() throws {
    func run(split: Bool) throws -> [Float] {
        let model = TwoLayers()
        model.eval()
        var optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0.1)
        let x = Tensor.randomNormal([6, 3], seed: 9)
        for step in 0..<6 {
            if split && step == 3 {
                let saved = Dictionary(uniqueKeysWithValues: optimizer.state())
                let params = Dictionary(uniqueKeysWithValues: model.stateDictionary())
                optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0.1)
                try optimizer.load(state: saved)
                try model.load(params)
            }
            let (_, g) = valueAndGradient(of: model) { $0(x).squared().mean() }
            optimizer.step(g, learningRate: 0.01)
        }
        return model.parameters.flatMap(\.value.scalars)
    }
    #expect(try run(split: true) == run(split: false))
}

@Test func adamWSkipsDecayForVectorsByDefault() {
    let model = TwoLayers()
    let before = model.norm.weight.value.scalars
    let optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0.5)
    var zero = Gradients()
    for p in model.parameters { zero[p] = Tensor.zeros(p.shape) }
    let weightBefore = model.first.weight.value.scalars
    optimizer.step(zero, learningRate: 0.1)
    #expect(model.norm.weight.value.scalars == before)  // no decay on the LayerNorm gain
    #expect(
        zip(model.first.weight.value.scalars, weightBefore).allSatisfy {
            Swift.abs($0 - $1 * 0.95) < 1e-6
        })
}

@Test func adamWHonoursPerParameterOverrides() {
    // Three copies of one matrix with one gradient: the run's settings, its own peak rate (a tenth of
    // the run's), and no weight decay. A step at the scheduled rate 0.05 (peak 0.1) must move the
    // second like a plain AdamW at 0.005, and the third like one without decay.
    let start = Tensor(shape: [2, 2], scalars: [1, -2, 3, 0.5])
    let gradient = Tensor(shape: [2, 2], scalars: [0.3, -0.1, 0.2, 0.4])
    let plain = Parameter(start), ownRate = Parameter(start), undecayed = Parameter(start)
    ownRate.optimizerOverrides = OptimizerOverrides(learningRate: 0.01)
    undecayed.optimizerOverrides = OptimizerOverrides(weightDecay: false)
    let optimizer = AdamW(
        parameters: [("plain", plain), ("own", ownRate), ("undecayed", undecayed)],
        weightDecay: 0.5,
        peakLearningRate: 0.1)
    var gradients = Gradients()
    for p in [plain, ownRate, undecayed] { gradients[p] = gradient }
    optimizer.step(gradients, learningRate: 0.05)

    func reference(rate: Float, weightDecay: Float) -> [Float] {
        let p = Parameter(start)
        var g = Gradients()
        g[p] = gradient
        AdamW(parameters: [("p", p)], weightDecay: weightDecay).step(g, learningRate: rate)
        return p.value.scalars
    }
    #expect(plain.value.scalars == reference(rate: 0.05, weightDecay: 0.5))
    #expect(ownRate.value.scalars == reference(rate: 0.005, weightDecay: 0.5))
    #expect(undecayed.value.scalars == reference(rate: 0.05, weightDecay: 0))
}

@Test func schedulesFollowTheirFormulas() {
    let cosine = WarmupCosineSchedule(peak: 1, warmupSteps: 10, totalSteps: 110)
    #expect(Swift.abs(cosine.learningRate(at: 0) - 0.1) < 1e-6)
    #expect(Swift.abs(cosine.learningRate(at: 9) - 1) < 1e-6)
    #expect(Swift.abs(cosine.learningRate(at: 60) - 0.5) < 1e-6)
    #expect(Swift.abs(cosine.learningRate(at: 110)) < 1e-6)
    let rsqrt = InverseSquareRootSchedule(base: 0.05, warmupSteps: 8000)
    // LRA text: base 0.05 with 8000 warm-up steps peaks at 0.05/√8000 ≈ 5.59e-4.
    #expect(Swift.abs(rsqrt.learningRate(at: 7999) - 0.05 / Float(8000).squareRoot()) < 1e-9)
    #expect(rsqrt.learningRate(at: 31999) < rsqrt.learningRate(at: 7999))
    let linear = WarmupLinearSchedule(peak: 2, warmupSteps: 0, totalSteps: 4)
    #expect(linear.learningRate(at: 2) == 1)
}

@Test func clippingScalesToTheMaximumNorm() {
    let model = TwoLayers()
    var g = Gradients()
    for p in model.parameters { g[p] = Tensor(repeating: 1, shape: p.shape) }
    let norm = clipGlobalNorm(&g, maxNorm: 1)
    #expect(Swift.abs(norm - Float(model.parameterCount).squareRoot()) < 1e-4)
    #expect(Swift.abs(g.globalNorm - 1) < 1e-4)
}

@Test func gradientsAccumulateOverMicroBatches() throws {
    let model = TwoLayers()
    model.eval()
    let x = Tensor.randomNormal([4, 3], seed: 1)
    let (_, whole) = valueAndGradient(of: model) { $0(x).summed() }
    var accumulated = Gradients()
    for half in [0..<2, 2..<4] {
        let (_, part) = valueAndGradient(of: model) { $0(x.sliced(alongAxis: 0, half)).summed() }
        accumulated.accumulate(part)
    }
    for p in model.parameters {
        try assertClose(accumulated[p]!, whole[p]!, .reordered, "accumulated gradient")
    }
}

@Test func linearAndNormLayersPassFiniteDifferenceChecks() throws {
    var g = RandomGenerator(seed: 4)
    let x = Tensor.randomNormal([3, 5], seed: 1)
    let w = Tensor.randomNormal([4, 5], seed: 2), b = Tensor.randomNormal([4], seed: 3)
    try GradientCheck.check([x, w, b], label: "linear") { t in
        Tensor.linear(t[0], weight: t[1], bias: t[2])
    }
    let gamma = Tensor.randomUniform([5], low: 0.5, high: 1.5, generator: &g),
        beta = Tensor.randomNormal([5], seed: 6)
    try GradientCheck.check([x, gamma, beta], label: "layer norm") { t in
        t[0].layerNormalized(gamma: t[1], beta: t[2], epsilon: 1e-5)
    }
    try GradientCheck.check([x, gamma], label: "rms norm") { t in
        t[0].rmsNormalized(gamma: t[1], epsilon: 1e-6)
    }
    let targets = Tensor.randomUniform([3, 5], seed: 7)
    try GradientCheck.check([x], label: "binary cross-entropy") { t in
        binaryCrossEntropy(logits: t[0], targets: targets, reduction: .none)
    }
}
