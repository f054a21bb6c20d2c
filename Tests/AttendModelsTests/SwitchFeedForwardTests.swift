// The Switch mixture-of-experts FFN: against Hugging Face's SwitchTransformersSparseMLP (fixture from
// scripts/fixtures/models_switch.py), the invariants of mechanisms-b.md §6 (one expert = a dense FFN,
// the load-balancing loss at its two extremes, capacity and dropping, permutation equivariance),
// finite-difference gradients, and the model builder's wiring.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import AttendTesting
import Foundation
import Testing

/// A Switch layer of width 16 and 24 expert units, in evaluation mode (no jitter, no dropout).
func makeSwitch(
    experts: Int = 4, width: Int = 16, hidden: Int = 24, capacity: Int? = nil, factor: Float = 1,
    seed: UInt64 = 1
) throws -> SwitchFeedForward {
    var options = SwitchFeedForward.Options()
    options.expertCount = experts
    options.expertCapacity = capacity
    options.capacityFactor = factor
    options.evaluationCapacityFactor = factor
    var generator = RandomGenerator(seed: seed)
    let layer = try SwitchFeedForward(
        dimension: width, hiddenDimension: hidden, options: options, dropout: 0,
        generator: &generator)
    layer.eval()
    return layer
}

/// The auxiliary losses a context collected, by name.
func losses(_ context: MixerContext) -> [String: Float] {
    Dictionary(uniqueKeysWithValues: context.auxiliaryLosses.map { ($0.name, $0.value.scalar) })
}

@Test func switchMatchesHuggingFace() throws {
    let file = try openFixture("switch", in: Bundle.module)
    // ⌈12 tokens / 4 experts × 1.0⌉ = 3, HF's expert_capacity
    let layer = try makeSwitch(factor: 1)
    var tensors: [String: Tensor] = [:]
    for (name, _) in layer.namedParameters() { tensors[name] = try file.tensor(name) }
    try layer.load(tensors)
    let x = try file.tensor("x")
    let context = MixerContext()
    let parameters = layer.namedParameters()
    let leaves = [x.requiringGradient()]
    let y = layer(leaves[0], context: context)
    // Float32 routing and expert products against float64 (sums over ≤ 24 terms).
    let tolerance = Tolerance(absolute: 1e-5, relative: 1e-4)
    try assertClose(y.detached(), try file.tensor("y"), tolerance, "output")
    let logits = layer.router(x.reshaped([24, 16])).reshaped([2, 12, 4])
    try assertClose(logits, try file.tensor("router_logits"), tolerance, "router logits")
    let kept = try file.tensor("kept").scalars
    let yValues = y.scalars
    for t in 0..<24 where kept[t] == 0 {
        #expect(
            yValues[(t * 16)..<((t + 1) * 16)].allSatisfy { $0 == 0 }, "dropped token \(t) gives 0")
    }
    let recorded = losses(context)
    let balance = try file.tensor("load_balancing_loss").scalar
    let z = try file.tensor("z_loss").scalar
    #expect(
        abs(recorded["switch.load_balancing"]! / 1e-3 - balance) <= 1e-4 * balance,
        "load balancing \(balance)")
    #expect(abs(recorded["switch.router_z"]! / 1e-3 - z) <= 1e-4 * z, "z-loss \(z)")
    let objective =
        (y * (try file.tensor("upstream"))).summed()
        + context.auxiliaryLosses.map(\.value).reduce(Tensor(0), +)
    let grads = gradients(of: objective, withRespectTo: leaves + parameters.map(\.1.value))
    try assertClose(grads[0], try file.tensor("grad.x"), tolerance, "dx")
    for (index, (name, _)) in parameters.enumerated() {
        try assertClose(grads[index + 1], try file.tensor("grad.\(name)"), tolerance, "d\(name)")
    }
}

/// One expert with room for every token is a dense T5 FFN: the gate is exactly 1 and the load
/// balance is exactly 1 (z-loss = logit², still training the router).
@Test func oneExpertIsADenseFeedForward() throws {
    let layer = try makeSwitch(experts: 1, capacity: 100)
    let x = Tensor.randomNormal([3, 7, 16], seed: 5)
    let context = MixerContext()
    let y = layer(x, context: context)
    let expert = layer.experts.list[0]
    try assertClose(y, expert(x), .reordered, "one expert vs dense")
    let recorded = losses(context)
    #expect(recorded["switch.load_balancing"]! / 1e-3 == 1)
    let logits = layer.router(x.reshaped([21, 16]))
    try assertClose(
        [recorded["switch.router_z"]! / 1e-3], [logits.squared().mean().scalar], .reordered,
        "z = logit²")
}

/// L_aux = 1 for a uniform assignment with uniform probabilities; = E when every token goes to one
/// expert with probability 1.
@Test func loadBalancingLossAtItsExtremes() throws {
    let (b, n, experts) = (2, 8, 4)
    func balance(_ probabilities: [Float]) -> Float {
        let p = Tensor(shape: [b * n, experts], scalars: probabilities)
        let routing = SwitchRouting(
            probabilities: probabilities, groups: b, groupSize: n, experts: experts, mask: nil,
            capacity: { $0 })
        return SwitchFeedForward.routerLosses(
            logits: p.log(), probabilities: p, routing: routing, mask: nil
        )
        .loadBalancing.scalar
    }
    // Uniform assignment: token t prefers expert t mod E by a hair, probabilities ≈ 1/E.
    let uniform = (0..<(b * n)).flatMap { t in
        (0..<experts).map { e -> Float in e == t % experts ? 0.25 + 1e-6 : 0.25 - 1e-6 / 3 }
    }
    #expect(abs(balance(uniform) - 1) < 1e-4)
    let collapsed = (0..<(b * n)).flatMap { _ in (0..<experts).map { e -> Float in e == 2 ? 1 : 0 }
    }
    #expect(balance(collapsed) == Float(experts))
}

/// Each expert takes at most C tokens per sequence, the earliest first; dropped tokens give 0, so the
/// sublayer x + FFN(x) returns them unchanged.
@Test func capacityDropsLateTokensToZero() throws {
    let layer = try makeSwitch(experts: 2, capacity: 2)
    // Route everything to expert 1: its router row points along (1, 1, …), inputs are positive.
    try layer.load(
        [
            "router.classifier.weight": Tensor.concatenated(
                [Tensor(repeating: -1, shape: [1, 16]), Tensor(repeating: 1, shape: [1, 16])],
                alongAxis: 0)
        ], strict: false)
    let x = Tensor.randomUniform([2, 5, 16], seed: 7, low: 0.1, high: 1)
    let y = layer(x, context: MixerContext())
    let rows = y.reshaped([10, 16]).scalars
    for t in 0..<10 {
        let row = rows[(t * 16)..<((t + 1) * 16)]
        if t % 5 < 2 {
            #expect(row.contains { $0 != 0 }, "token \(t) is among its sequence's first two")
        } else {
            #expect(row.allSatisfy { $0 == 0 }, "token \(t) overflows expert 1")
        }
    }
    let residual = x + y
    try assertClose(
        residual.sliced(alongAxis: 1, 2..<5), x.sliced(alongAxis: 1, 2..<5), .reordered,
        "dropped pass through")
    // The routing itself: per sequence, at most C per expert, position order.
    let probabilities = Tensor.randomUniform([3 * 9, 3], seed: 8, low: 0, high: 1).scalars
    let routing = SwitchRouting(
        probabilities: probabilities, groups: 3, groupSize: 9, experts: 3, mask: nil,
        capacity: { _ in 2 })
    for tokens in routing.tokens {
        for g in 0..<3 { #expect(tokens.filter { $0 / 9 == g }.count <= 2) }
        #expect(tokens == tokens.sorted())
    }
    #expect(routing.tokens.map(\.count).reduce(0, +) + routing.dropped.count == 27)
}

/// The capacity factor: ⌈tokens/E × factor⌉ per sequence, the evaluation factor in eval mode, real
/// tokens only.
@Test func capacityFollowsTheFactor() throws {
    var options = SwitchFeedForward.Options()
    options.expertCount = 4
    var generator = RandomGenerator(seed: 2)
    let layer = try SwitchFeedForward(
        dimension: 8, hiddenDimension: 8, options: options, dropout: 0, generator: &generator)
    layer.train()
    #expect(layer.capacity(realTokens: 12) == 4)  // ⌈3 × 1.25⌉
    #expect(layer.capacity(realTokens: 16) == 5)
    layer.eval()
    #expect(layer.capacity(realTokens: 12) == 6)  // ⌈3 × 2⌉
}

/// Without drops, permuting tokens permutes the outputs (and leaves the losses alone).
@Test func routingCommutesWithTokenPermutation() throws {
    let layer = try makeSwitch(experts: 3, capacity: 64)
    let n = 10
    let x = Tensor.randomNormal([1, n, 16], seed: 9)
    var generator = RandomGenerator(seed: 10)
    let order = generator.permutation(n)
    let first = MixerContext(), second = MixerContext()
    let y = layer(x, context: first)
    let yPermuted = layer(x.indexSelect(alongAxis: 1, Indices(order)), context: second)
    try assertClose(
        yPermuted, y.indexSelect(alongAxis: 1, Indices(order)), .reordered, "permuted outputs")
    for (name, value) in losses(first) {
        #expect(abs(losses(second)[name]! - value) <= 1e-6 * abs(value), "\(name)")
    }
}

/// Padded tokens are not routed: they output 0, take no capacity and are left out of both losses.
@Test func paddedTokensAreNotRouted() throws {
    let layer = try makeSwitch(experts: 2, capacity: nil, factor: 1)
    let x = Tensor.randomNormal([1, 8, 16], seed: 11)
    let mask = Tensor(shape: [1, 8], scalars: [1, 1, 1, 1, 1, 0, 0, 0])
    let padded = MixerContext(paddingMask: mask), short = MixerContext()
    let y = layer(x, context: padded)
    let yShort = layer(x.sliced(alongAxis: 1, 0..<5), context: short)
    try assertClose(y.sliced(alongAxis: 1, 0..<5), yShort, .reordered, "real tokens")
    #expect(y.sliced(alongAxis: 1, 5..<8).scalars.allSatisfy { $0 == 0 })
    for (name, value) in losses(short) {
        #expect(abs(losses(padded)[name]! - value) <= 1e-6 * abs(value), "\(name)")
    }
}

/// Jitter multiplies the router input by U(1 − ε, 1 + ε) in training only, reproducibly per seed.
@Test func jitterIsTrainingOnlyAndReseeded() throws {
    var generator = RandomGenerator(seed: 3)
    let router = SwitchRouter(dimension: 8, experts: 4, jitter: 0.01, generator: &generator)
    let x = Tensor.randomNormal([5, 8], seed: 12)
    router.eval()
    let clean = router(x)
    router.train()
    router.reseed(42)
    let noisy = router(x)
    router.reseed(42)
    #expect(router(x).scalars == noisy.scalars)
    #expect(noisy.scalars != clean.scalars)
    // |Δ logit| ≤ ε·Σ|w·x|.
    let bound =
        (router.classifier.weight.value.abs().reshaped([1, 4, 8]) * x.abs().reshaped([5, 1, 8]))
        .summed(alongAxes: [2]) * 0.01
    for (d, limit) in zip((noisy - clean).abs().scalars, bound.scalars) {
        #expect(d <= limit * 1.0001 + 1e-7)
    }
}

/// Finite differences through routing, the experts and the gate (routing itself is piecewise
/// constant: the test inputs keep clear router margins), and through the combine op alone.
@Test func switchGradientsMatchFiniteDifferences() throws {
    // 5 tokens, 3 slots: drops
    let layer = try makeSwitch(experts: 3, width: 4, hidden: 5, capacity: 1)
    var w = layer.weights
    w.router = Tensor.randomNormal([3, 4], seed: 13, standardDeviation: 2)
    let x = Tensor.randomNormal([2, 5, 4], seed: 14)
    let routing = SwitchRouting(
        probabilities: Tensor.linear(x.reshaped([10, 4]), weight: w.router, bias: nil).softmax()
            .scalars,
        groups: 2, groupSize: 5, experts: 3, mask: nil, capacity: { _ in 1 })
    #expect(!routing.dropped.isEmpty)  // the check covers dropped tokens too
    let inputs = [x, w.router] + w.experts.flatMap { [$0.wi, $0.wo] }
    try GradientCheck.check(inputs, label: "switch") { t in
        let weights = SwitchFeedForward.Weights(
            router: t[1], experts: (0..<3).map { (t[2 + 2 * $0], t[3 + 2 * $0]) })
        let context = MixerContext()
        let y = layer(t[0], weights: weights, context: context)
        // Losses scaled up so their gradients are not lost next to the output's.
        return y.reshaped([40]) + context.auxiliaryLosses.map(\.value).reduce(Tensor(0), +) * 100
    }
}

@Test func combineGradientsMatchFiniteDifferences() throws {
    let parts = [Tensor.randomNormal([2, 3], seed: 15), Tensor.randomNormal([3, 3], seed: 16)]
    let gate = Tensor.randomUniform([6, 1], seed: 17, low: 0.2, high: 1)
    let rows = [[4, 0], [1, 5, 2]]  // token 3 is dropped
    try GradientCheck.check(parts + [gate], label: "combine") { t in
        SwitchFeedForward.combine([t[0], t[1]], rows: rows, gate: t[2], tokenCount: 6, width: 3)
    }
}

@Test func encoderBuildsSwitchLayersByInterval() throws {
    var configuration = ModelConfiguration(
        vocabularySize: 20, modelDimension: 16, layerCount: 4, headCount: 2,
        feedForwardDimension: 24, maximumLength: 12)
    configuration.feedForward = .switch
    configuration.switchFeedForward.expertCount = 3
    configuration.switchFeedForward.layerInterval = 2
    configuration.dropout = 0
    let model = try EncoderClassifier(configuration)
    let kinds = model.encoder.blocks.map { $0.feedForward is SwitchFeedForward }
    #expect(kinds == [false, true, false, true])  // HF's rule: layers 1 and 3
    let names = model.namedParameters().map(\.0)
    #expect(names.contains("encoder.layers.1.feed_forward.experts.expert_2.wo.weight"))
    #expect(names.contains("encoder.layers.1.feed_forward.router.classifier.weight"))
    let tokens = Indices(shape: [2, 12], values: (0..<24).map { $0 % 20 })
    let output = try model(tokens, mask: nil)
    #expect(output.auxiliaryLoss != nil)  // two layers × (balance + z) reach the trainer
    #expect(output.logits.shape == [2, 2])
    let json =
        #"{"vocabulary_size": 20, "model_dimension": 16, "layer_count": 1, "head_count": 2, "feed_forward_dimension": 24, "maximum_length": 12, "feed_forward": "switch", "switch": {"expert_count": 2, "capacity_factor": 1.5}}"#
    let decoded = try JSONDecoder().decode(ModelConfiguration.self, from: Data(json.utf8))
    #expect(
        decoded.switchFeedForward.expertCount == 2
            && decoded.switchFeedForward.capacityFactor == 1.5)
    #expect(decoded.switchFeedForward.zLossCoefficient == 1e-3)
    let roundTrip = try JSONDecoder().decode(
        ModelConfiguration.self, from: JSONEncoder().encode(decoded))
    #expect(roundTrip == decoded)
}

@Test func flashBlocksHaveNoFeedForward() throws {
    var configuration = ModelConfiguration(
        vocabularySize: 20, modelDimension: 16, layerCount: 2, headCount: 2,
        feedForwardDimension: 24, maximumLength: 12)
    configuration.mixer = "flash-gau"
    configuration.feedForward = .switch
    let model = try CausalLM(configuration)
    #expect(model.encoder.blocks.allSatisfy { $0.feedForward == nil && $0.feedForwardNorm == nil })
    let output = try model(Indices(shape: [1, 12], values: Array(0..<12)))
    #expect(output.logits.shape == [1, 12, 20])
}
