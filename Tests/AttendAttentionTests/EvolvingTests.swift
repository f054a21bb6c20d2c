// Evolving attention against a direct reference of its update (whole n×m maps, the 3×3 convolution
// as nested loops in Double, masks applied as the spec's §5.4 says), on full and banded local maps,
// causal and padded; the identities (a layer with nothing carried, or with ρ = γ = 0, is plain
// attention; a window covering the sequence equals the full map); gradients into the previous
// layer's q and k; causality; finite differences; the memory budget.
import AttendAttention
import AttendCore
import AttendTesting
import Foundation
import Testing

/// One layer of evolving attention computed directly: q, k [b, n, h, d], v [b, n, h, e], previous
/// map [b, h, n, n] (whole map) or nil. Returns the output [b, n, h, e] and the carried map [b, h, n, n].
private func referenceEvolving(
    q: Tensor, k: Tensor, v: Tensor, previous: [Double]?, weight: [Float], bias: [Float],
    options: EvolvingAttention.Options,
    causal: Bool, mask: [Float]?
) -> (output: Tensor, carried: [Double]) {
    let (b, n, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let e = v.shape[3]
    let (qs, ks, vs) = (q.scalars, k.scalars, v.scalars)
    let scale = 1 / Double(d).squareRoot()
    func cell(_ batch: Int, _ i: Int, _ j: Int) -> (hidden: Bool, valid: Bool) {
        var hidden = false
        if let mask, mask[batch * n + j] == 0 { hidden = true }
        if causal && j > i { hidden = true }
        if options.base == .local {
            let w = options.windowSize
            if causal {
                if j <= i - w { hidden = true }
            } else if abs(i - j) > w / 2 {
                hidden = true
            }
        }
        let queryVisible = mask.map { $0[batch * n + i] != 0 } ?? true
        return (hidden, !hidden && queryVisible)
    }
    func index(_ batch: Int, _ head: Int, _ i: Int, _ j: Int) -> Int {
        ((batch * h + head) * n + i) * n + j
    }
    var scores = [Double](repeating: 0, count: b * h * n * n)
    for batch in 0..<b {
        for head in 0..<h {
            for i in 0..<n {
                for j in 0..<n {
                    var total = 0.0
                    for x in 0..<d {
                        total +=
                            Double(qs[((batch * n + i) * h + head) * d + x])
                            * Double(ks[((batch * n + j) * h + head) * d + x])
                    }
                    scores[index(batch, head, i, j)] = total * scale
                }
            }
        }
    }
    var logits = scores, carried = scores
    let (rho, gamma) = (Double(options.residualWeight), Double(options.convolutionWeight))
    if let previous {
        var mixed = scores
        for batch in 0..<b {
            for head in 0..<h {
                for i in 0..<n {
                    for j in 0..<n {
                        let c = index(batch, head, i, j)
                        mixed[c] =
                            (1 - rho) * (cell(batch, i, j).valid ? scores[c] : 0) + rho
                            * previous[c]
                    }
                }
            }
        }
        let offset = causal ? 2 : 1
        for batch in 0..<b {
            for o in 0..<h {
                for i in 0..<n {
                    for j in 0..<n {
                        var pre = Double(bias[o])
                        for ci in 0..<h {
                            for ky in 0..<3 {
                                for kx in 0..<3 {
                                    let (y, x) = (i + ky - offset, j + kx - offset)
                                    guard y >= 0, y < n, x >= 0, x < n else { continue }
                                    pre +=
                                        Double(weight[((o * h + ci) * 3 + ky) * 3 + kx])
                                        * mixed[index(batch, ci, y, x)]
                                }
                            }
                        }
                        let act: Double
                        switch options.activation {
                        case .relu: act = max(0, pre)
                        case .leakyRelu: act = pre >= 0 ? pre : 0.01 * pre
                        case .identity: act = pre
                        }
                        let c = index(batch, o, i, j)
                        logits[c] =
                            cell(batch, i, j).valid ? gamma * act + (1 - gamma) * mixed[c] : 0
                    }
                }
            }
        }
        carried = logits
    } else {
        for batch in 0..<b {
            for head in 0..<h {
                for i in 0..<n {
                    for j in 0..<n where !cell(batch, i, j).valid {
                        carried[index(batch, head, i, j)] = 0
                    }
                }
            }
        }
    }
    let output = Tensor.filled(shape: [b, n, h, e]) { out in
        for batch in 0..<b {
            for head in 0..<h {
                for i in 0..<n {
                    var maximum = -Double.infinity
                    for j in 0..<n where !cell(batch, i, j).hidden {
                        maximum = max(maximum, logits[index(batch, head, i, j)])
                    }
                    var weights = [Double](repeating: 0, count: n)
                    var total = 0.0
                    for j in 0..<n where !cell(batch, i, j).hidden {
                        weights[j] = exp(logits[index(batch, head, i, j)] - maximum)
                        total += weights[j]
                    }
                    for x in 0..<e {
                        var value = 0.0
                        for j in 0..<n where weights[j] > 0 {
                            value +=
                                weights[j] / total
                                * Double(vs[((batch * n + j) * h + head) * e + x])
                        }
                        out[((batch * n + i) * h + head) * e + x] = Float(value)
                    }
                }
            }
        }
    }
    return (output, carried)
}

/// A banded carried map [b, h, n, W] spread onto the whole map [b, h, n, n].
private func unband(_ map: Tensor, before: Int) -> [Double] {
    let (b, h, n, w) = (map.shape[0], map.shape[1], map.shape[2], map.shape[3])
    let values = map.scalars
    var whole = [Double](repeating: 0, count: b * h * n * n)
    for r in 0..<b * h {
        for i in 0..<n {
            for c in 0..<w {
                let j = i - before + c
                if j >= 0 && j < n {
                    whole[(r * n + i) * n + j] = Double(values[(r * n + i) * w + c])
                }
            }
        }
    }
    return whole
}

@Suite struct EvolvingTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let base: EvolvingAttention.Base, causal: Bool, padded: Bool
        var testDescription: String {
            "\(base)\(causal ? " causal" : "")\(padded ? " padded" : "")"
        }
    }

    static let cases: [Case] = [
        .init(base: .full, causal: false, padded: false),
        .init(base: .full, causal: true, padded: false),
        .init(base: .full, causal: false, padded: true),
        .init(base: .local, causal: false, padded: true),
        .init(base: .local, causal: true, padded: false),
        .init(base: .local, causal: true, padded: true),
    ]

    static func core(_ options: EvolvingAttention.Options, heads: Int = 2, seed: UInt64 = 1) throws
        -> EvolvingAttention
    {
        var generator = RandomGenerator(seed: seed)
        return try EvolvingAttention(headCount: heads, options: options, generator: &generator)
    }

    static func options(_ base: EvolvingAttention.Base) -> EvolvingAttention.Options {
        var options = EvolvingAttention.Options()
        options.base = base
        options.windowSize = 5
        return options
    }

    static func mask(b: Int, n: Int) -> Tensor {
        Tensor.filled(shape: [b, n]) { m in
            for batch in 0..<b {
                for i in 0..<n { m[batch * n + i] = batch == 1 && i >= n - 3 ? 0 : 1 }
            }
        }
    }

    /// Inputs of two layers: (q, k, v) each [2, 11, 2, 4].
    static func inputs(seed: UInt64) -> [Tensor] {
        (0..<6).map { Tensor.randomNormal([2, 11, 2, 4], seed: seed + UInt64($0)) }
    }

    @Test(arguments: cases)
    func twoLayersMatchTheDirectReference(_ c: Case) throws {
        let options = Self.options(c.base)
        let (first, second) = (try Self.core(options, seed: 1), try Self.core(options, seed: 2))
        let x = Self.inputs(seed: 10)
        let mask = c.padded ? Self.mask(b: 2, n: 11) : nil
        let context = MixerContext(paddingMask: mask, isCausal: c.causal)
        let y1 = try first.attend(query: x[0], key: x[1], value: x[2], context: context)
        let carried1 = try #require(context.carried[EvolvingAttention.carriedKey])
        let y2 = try second.attend(query: x[3], key: x[4], value: x[5], context: context)
        let before =
            c.base == .local ? (c.causal ? options.windowSize - 1 : options.windowSize / 2) : 0
        let reference1 = referenceEvolving(
            q: x[0], k: x[1], v: x[2], previous: nil, weight: first.weight.value.scalars,
            bias: first.bias.value.scalars,
            options: options, causal: c.causal, mask: mask?.scalars)
        let previous =
            c.base == .local ? unband(carried1, before: before) : carried1.scalars.map(Double.init)
        let reference2 = referenceEvolving(
            q: x[3], k: x[4], v: x[5], previous: previous, weight: second.weight.value.scalars,
            bias: second.bias.value.scalars, options: options, causal: c.causal, mask: mask?.scalars
        )
        try assertClose(y1, reference1.output, .reference, "layer 1 (plain attention)")
        try assertClose(
            previous.map(Float.init), reference1.carried.map(Float.init), .reference, "carried map")
        try assertClose(
            y2, reference2.output, Tolerance(absolute: 1e-5, relative: 1e-4), "layer 2 (evolved)")
    }

    @Test(arguments: [false, true])
    func firstLayerEqualsFullAttention(_ causal: Bool) throws {
        let core = try Self.core(Self.options(.full))
        let x = Self.inputs(seed: 20)
        let mask = Self.mask(b: 2, n: 11)
        let y = try core.attend(
            query: x[0], key: x[1], value: x[2],
            context: MixerContext(paddingMask: mask, isCausal: causal))
        let expected = referenceAttention(
            query: x[0], key: x[1], value: x[2], scale: 0.5, causal: causal, keyMask: mask)
        try assertClose(y, expected, .reference, "evolving layer with nothing carried")
    }

    @Test(arguments: [EvolvingAttention.Base.full, .local])
    func zeroMixingWeightsGivePlainAttention(_ base: EvolvingAttention.Base) throws {
        var options = Self.options(base)
        options.windowSize = 64
        options.residualWeight = 0
        options.convolutionWeight = 0
        let (first, second) = (try Self.core(options, seed: 1), try Self.core(options, seed: 2))
        let x = Self.inputs(seed: 30)
        let context = MixerContext()
        _ = try first.attend(query: x[0], key: x[1], value: x[2], context: context)
        let y = try second.attend(query: x[3], key: x[4], value: x[5], context: context)
        try assertClose(
            y, referenceAttention(query: x[3], key: x[4], value: x[5], scale: 0.5), .reference,
            "ρ = γ = 0")
    }

    @Test(arguments: [false, true])
    func wideWindowEqualsFullMap(_ causal: Bool) throws {
        var local = Self.options(.local)
        local.windowSize = causal ? 11 : 22
        let full = Self.options(.full)
        let x = Self.inputs(seed: 40)
        func run(_ options: EvolvingAttention.Options) throws -> Tensor {
            let context = MixerContext(paddingMask: Self.mask(b: 2, n: 11), isCausal: causal)
            _ = try Self.core(options, seed: 1).attend(
                query: x[0], key: x[1], value: x[2], context: context)
            return try Self.core(options, seed: 2).attend(
                query: x[3], key: x[4], value: x[5], context: context)
        }
        try assertClose(try run(local), try run(full), .reordered, "window covering the sequence")
    }

    @Test(arguments: cases)
    func gradientsMatchFiniteDifferences(_ c: Case) throws {
        var options = Self.options(c.base)
        options.activation = .identity  // no kink for a finite-difference step to straddle
        let (first, second) = (try Self.core(options, seed: 1), try Self.core(options, seed: 2))
        let x = (0..<6).map { Tensor.randomNormal([1, 6, 2, 3], seed: 50 + UInt64($0)) }
        let mask = c.padded ? Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 0, 0]) : nil
        try GradientCheck.check(x, label: "evolving \(c.testDescription)") { v in
            let context = MixerContext(paddingMask: mask, isCausal: c.causal)
            _ = try! first.attend(query: v[0], key: v[1], value: v[2], context: context)
            return try! second.attend(query: v[3], key: v[4], value: v[5], context: context)
        }
    }

    @Test(arguments: [
        (EvolvingAttention.Base.full, false), (.full, true), (.local, false), (.local, true),
    ])
    func updateGradientsMatchFiniteDifferences(_ setting: (EvolvingAttention.Base, Bool)) throws {
        let (base, causal) = setting
        let (b, h, n, w) = (2, 2, 5, base == .full ? 5 : 3)
        let scores = Tensor.randomNormal([b, h, n, w], seed: 60)
        let previous = Tensor.randomNormal([b, h, n, w], seed: 61)
        let weight = Tensor.randomNormal([h, h, 3, 3], seed: 62, standardDeviation: 0.3)
        let bias = Tensor.randomNormal([h], seed: 63)
        let valid = Tensor(shape: [1, 1, n, w], scalars: (0..<n * w).map { $0 % 7 == 3 ? 0 : 1 })
        try GradientCheck.check([scores, previous, weight, bias], label: "evolving update") { v in
            Tensor.evolvingUpdate(
                scores: v[0], previous: v[1], weight: v[2], bias: v[3], valid: valid,
                residualWeight: 0.6,
                convolutionWeight: 0.4, activation: .leakyRelu, shift: base == .local ? 1 : 0,
                causal: causal)
        }
    }

    @Test func gradientReachesThePreviousLayersQueriesAndKeys() throws {
        let options = Self.options(.full)
        let (first, second) = (try Self.core(options, seed: 1), try Self.core(options, seed: 2))
        let x = Self.inputs(seed: 70)
        let (_, grads) = valueAndGradient(at: x) { v in
            let context = MixerContext()
            _ = try! first.attend(query: v[0], key: v[1], value: v[2], context: context)
            return try! second.attend(query: v[3], key: v[4], value: v[5], context: context)
                .squared().summed()
        }
        for (name, g) in zip(["q₁", "k₁"], grads[0..<2]) {
            #expect(
                g.scalars.contains { Swift.abs($0) > 1e-4 }, "no gradient reached layer 1's \(name)"
            )
        }
        #expect(grads[2].scalars.allSatisfy { $0 == 0 }, "layer 1's values do not enter layer 2")
    }

    @Test(arguments: [EvolvingAttention.Base.full, .local])
    func causalLayersIgnoreTheFuture(_ base: EvolvingAttention.Base) throws {
        let options = Self.options(base)
        let (first, second) = (try Self.core(options, seed: 1), try Self.core(options, seed: 2))
        let x = Self.inputs(seed: 80)
        func run(_ v: [Tensor]) throws -> [Float] {
            let context = MixerContext(isCausal: true)
            _ = try first.attend(query: v[0], key: v[1], value: v[2], context: context)
            return try second.attend(query: v[3], key: v[4], value: v[5], context: context).scalars
        }
        let changed = x.map { t in
            var copy = t
            copy.withUnsafeMutableBufferPointer { p in
                for batch in 0..<2 { for i in (7 * 8)..<(11 * 8) { p[batch * 88 + i] += 1 } }
            }
            return copy
        }
        let (a, b) = (try run(x), try run(changed))
        for batch in 0..<2 {
            let past = (batch * 88)..<(batch * 88 + 7 * 8)
            try assertClose(
                Array(b[past]), Array(a[past]), .reordered, "batch \(batch), positions before 7")
        }
    }

    @Test func refusesMapsOverTheMemoryBudget() throws {
        var configuration = MixerConfiguration(
            modelDimension: 512, headCount: 8, maximumLength: 4096)
        configuration.seed = 1
        let mixer = try Mechanisms.make("evolving", configuration: configuration)
        let x = Tensor.zeros([1, 4096, 512])
        #expect(
            throws: MixerError.memoryBudgetExceeded(
                mechanism: "evolving", needed: 6 * 8 * 4096 * 4096 * 4, budget: 1 << 30)
        ) {
            try mixer(x, context: MixerContext())
        }
        var small = EvolvingAttention.Options()
        small.memoryBudget = 1000
        let core = try Self.core(small)
        let q = Tensor.randomNormal([1, 12, 2, 4], seed: 1)
        #expect(throws: MixerError.self) {
            try core.attend(query: q, key: q, value: q, context: MixerContext())
        }
        #expect(try Mechanisms.named("evolving").capabilities.materializesAttentionMap)
    }
}
