// Treeformer against independent references:
// - TF: one leaf (height 0) is full attention; deeper trees equal `referenceAttention` with an
//   `allowed` mask "same leaf" (and j ≤ i causally) built from routes computed here in Double.
// - TC: a dense composite of autograd ops written from the spec's AND-layer construction (§1.4):
//   every node's membership I_v = ReLU(Σ σ·ã − (l − 1)) with a straight-through sign, node means as
//   I-weighted sums (prefix sums when causal), a softmax over the nodes a query belongs to. Values
//   and every gradient (q, k, v, tree weights and biases) must agree with the kernel.
// - Finite differences for q, k, v where no routing decision is within reach of the step (and, for
//   TC, with splits scaled so |z| > 1 everywhere: the straight-through surrogate is then 0 and the
//   kernel's gradient is the true one).
// - The bootstrapped schedule, the data-fitted splits (balanced leaves, remembered in the state),
//   causality, and the leaf-size histogram.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendAttention

@Suite struct TreeformerTests {
    static func core(
        height: Int, heads: Int = 2, dimension: Int = 4,
        options: TreeformerAttention.Options = .init(), seed: UInt64 = 3
    ) throws -> TreeformerAttention {
        var options = options
        options.dataInitialization = false
        var generator = RandomGenerator(seed: seed)
        return try TreeformerAttention(
            headCount: heads, headDimension: dimension, height: height, options: options,
            seed: seed, generator: &generator)
    }

    static func inputs(_ b: Int, _ n: Int, _ h: Int, _ d: Int, seed: UInt64) -> [Tensor] {
        (0..<3).map { Tensor.randomNormal([b, n, h, d], seed: seed + UInt64($0)) }
    }

    static func mask(b: Int, n: Int) -> Tensor {
        Tensor.filled(shape: [b, n]) { m in
            for batch in 0..<b {
                for i in 0..<n { m[batch * n + i] = batch == 1 && i >= n - 3 ? 0 : 1 }
            }
        }
    }

    /// Leaves of every token, routed in Double, and the smallest |z| met.
    static func leaves(_ x: Tensor, core: TreeformerAttention) -> (leaves: [Int], margin: Double) {
        let (b, n, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (values, w, bias) = (
            x.scalars, core.treeWeight.value.scalars, core.treeBias.value.scalars
        )
        let splits = TreeRouting.internalNodes(height: core.height)
        var result = [Int](repeating: 0, count: b * h * n)
        var margin = Double.infinity
        for batch in 0..<b {
            for head in 0..<h {
                for i in 0..<n {
                    var u = 0
                    for _ in 0..<core.height {
                        var z = Double(bias[head * splits + u])
                        for j in 0..<d {
                            z +=
                                Double(w[(head * splits + u) * d + j])
                                * Double(values[((batch * n + i) * h + head) * d + j])
                        }
                        margin = min(margin, abs(z))
                        u = z >= 0 ? 2 * u + 1 : 2 * u + 2
                    }
                    result[(batch * h + head) * n + i] = u - splits
                }
            }
        }
        return (result, margin)
    }

    /// TF by the reference attention with an "allowed: same leaf" mask; padded queries give 0.
    static func referenceFine(_ x: [Tensor], core: TreeformerAttention, causal: Bool, mask: Tensor?)
        -> Tensor
    {
        let (b, n, h, d) = (x[0].shape[0], x[0].shape[1], x[0].shape[2], x[0].shape[3])
        let (lq, lk) = (leaves(x[0], core: core).leaves, leaves(x[1], core: core).leaves)
        let m = mask?.scalars
        let allowed = Tensor.filled(shape: [b, h, n, n]) { out in
            for batch in 0..<b {
                for head in 0..<h {
                    for i in 0..<n {
                        for j in 0..<n {
                            let same =
                                lq[(batch * h + head) * n + i] == lk[(batch * h + head) * n + j]
                            let realQuery = m.map { $0[batch * n + i] != 0 } ?? true
                            out[((batch * h + head) * n + i) * n + j] = same && realQuery ? 1 : 0
                        }
                    }
                }
            }
        }
        return referenceAttention(
            query: x[0], key: x[1], value: x[2], scale: 1 / Float(d).squareRoot(), causal: causal,
            keyMask: mask, allowed: allowed)
    }

    /// TC by dense autograd ops (see the file header). q, k, v [b, n, h, d]; w [h, I, d]; bias [h, I].
    static func referenceCoarse(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, _ w: Tensor, _ bias: Tensor, height ht: Int,
        causal: Bool, mask: Tensor?
    ) -> Tensor {
        let (b, n, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
        let (splits, nodes) = (
            TreeRouting.internalNodes(height: ht), TreeRouting.allNodes(height: ht)
        )
        // AND matrix [nodes, splits] and offsets l − 1 per node.
        var and = [Float](repeating: 0, count: nodes * splits),
            offsets = [Float](repeating: 0, count: nodes)
        for v in 0..<nodes {
            var level = 0
            while (2 << level) - 1 <= v { level += 1 }
            offsets[v] = Float(level - 1)
            var (node, ancestor) = (v, (v - 1) / 2)
            while node > 0 {
                and[v * splits + ancestor] = node == 2 * ancestor + 1 ? 1 : -1
                node = ancestor
                ancestor = (ancestor - 1) / 2
            }
        }
        let andMatrix = Tensor(shape: [nodes, splits], scalars: and),
            offset = Tensor(shape: [1, nodes], scalars: offsets)
        // [n, d] → [n, nodes]
        func memberships(_ x: Tensor, _ wh: Tensor, _ bh: Tensor) -> Tensor {
            let z = Tensor.matmul(x, wh, transposeB: true) + bh.reshaped([1, splits])  // [n, I]
            let sign = withoutGradient {
                Tensor.filled(shape: z.shape) { out in
                    for (i, value) in z.scalars.enumerated() { out[i] = value >= 0 ? 1 : -1 }
                }
            }
            let surrogate = z.clamped(lower: -1, upper: 1) * 2
            let quantised = sign + surrogate - surrogate.detached()
            return (Tensor.matmul(quantised, andMatrix, transposeB: true) - offset).relu()
        }
        var batches: [Tensor] = []
        for batch in 0..<b {
            var heads: [Tensor] = []
            let keyMask =
                mask.map { $0.sliced(alongAxis: 0, batch..<batch + 1).reshaped([n, 1]) }
                ?? Tensor.ones([n, 1])
            for head in 0..<h {
                func slice(_ t: Tensor) -> Tensor {
                    t.sliced(alongAxis: 0, batch..<batch + 1).sliced(alongAxis: 2, head..<head + 1)
                        .reshaped([n, t.shape[3]])
                }
                let (qh, kh, vh) = (slice(q), slice(k), slice(v))
                let wh = w.sliced(alongAxis: 0, head..<head + 1).reshaped([splits, d])
                let bh = bias.sliced(alongAxis: 0, head..<head + 1).reshaped([splits])
                let iq = memberships(qh, wh, bh)  // [n, T]
                let ik = memberships(kh, wh, bh) * keyMask  // [n, T]
                let out: Tensor
                if causal {
                    // prefix aggregates: [n, T, d] at each query position
                    let sumK = (ik.reshaped([n, nodes, 1]) * kh.reshaped([n, 1, d])).cumulativeSum(
                        alongAxis: 0)
                    let sumV = (ik.reshaped([n, nodes, 1]) * vh.reshaped([n, 1, d])).cumulativeSum(
                        alongAxis: 0)
                    let counts = ik.cumulativeSum(alongAxis: 0)  // [n, T]
                    let empty = withoutGradient {
                        Tensor.filled(shape: counts.shape) { o in
                            for (i, c) in counts.scalars.enumerated() { o[i] = c == 0 ? 1 : 0 }
                        }
                    }
                    let safe = (counts + empty).reshaped([n, nodes, 1])
                    let (meanK, meanV) = (sumK / safe, sumV / safe)
                    let logits =
                        (qh.reshaped([n, 1, d]) * meanK).summed(alongAxes: [2])
                        / Float(d).squareRoot()  // [n, T]
                    let shift = withoutGradient { logits.max(alongAxis: 1).reshaped([n, 1]) }
                    let weights = iq * (logits - shift).exp() * (1 - empty)
                    let alpha =
                        weights
                        / Tensor.maximum(
                            weights.summed(alongAxes: [1], keepingDimensions: true), Tensor(1e-30))
                    out = (alpha.reshaped([n, nodes, 1]) * meanV).summed(alongAxes: [1])  // [n, d]
                } else {
                    let counts = ik.summed(alongAxes: [0]).reshaped([nodes, 1])  // [T, 1]
                    let empty = withoutGradient {
                        Tensor.filled(shape: counts.shape) { o in
                            for (i, c) in counts.scalars.enumerated() { o[i] = c == 0 ? 1 : 0 }
                        }
                    }
                    let safe = counts + empty
                    let meanK = Tensor.matmul(ik, kh, transposeA: true) / safe  // [T, d]
                    let meanV = Tensor.matmul(ik, vh, transposeA: true) / safe
                    // [n, T]
                    let logits = Tensor.matmul(qh, meanK, transposeB: true) / Float(d).squareRoot()
                    let shift = withoutGradient { logits.max(alongAxis: 1).reshaped([n, 1]) }
                    let weights = iq * (logits - shift).exp() * (1 - empty.reshaped([1, nodes]))
                    let alpha =
                        weights
                        / Tensor.maximum(
                            weights.summed(alongAxes: [1], keepingDimensions: true), Tensor(1e-30))
                    out = Tensor.matmul(alpha, meanV)  // [n, d]
                }
                heads.append((out * keyMask).reshaped([n, 1, d]))  // padded queries output 0
            }
            batches.append(Tensor.concatenated(heads, alongAxis: 1).reshaped([1, n, h, d]))
        }
        return Tensor.concatenated(batches, alongAxis: 0)
    }

    static func context(step: Int, causal: Bool, mask: Tensor?) -> MixerContext {
        let context = MixerContext(paddingMask: mask, isCausal: causal)
        context.trainingStep = step
        return context
    }

    // MARK: TF

    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func singleLeafEqualsFullAttention(_ setting: (Bool, Bool)) throws {
        let (causal, padded) = setting
        let core = try Self.core(height: 0)
        let x = Self.inputs(2, 13, 2, 4, seed: 1)
        let mask = padded ? Self.mask(b: 2, n: 13) : nil
        let y = try core.attend(
            query: x[0], key: x[1], value: x[2],
            context: Self.context(step: 0, causal: causal, mask: mask))
        var expected = referenceAttention(
            query: x[0], key: x[1], value: x[2], scale: 0.5, causal: causal, keyMask: mask)
        // TF gives padded queries 0
        if let mask { expected = expected * mask.reshaped([2, 13, 1, 1]) }
        try assertClose(y, expected, .reference, "one leaf vs full attention")
    }

    @Test(arguments: [(2, false, false), (3, true, false), (2, false, true), (3, true, true)])
    func fineAttentionEqualsSameLeafReference(_ setting: (Int, Bool, Bool)) throws {
        let (height, causal, padded) = setting
        let core = try Self.core(height: height)
        let x = Self.inputs(2, 40, 2, 4, seed: 10)
        let mask = padded ? Self.mask(b: 2, n: 40) : nil
        let y = try core.attend(
            query: x[0], key: x[1], value: x[2],
            context: Self.context(step: 0, causal: causal, mask: mask))
        try assertClose(
            y, Self.referenceFine(x, core: core, causal: causal, mask: mask), .reference,
            "TF, height \(height)")
        let histogram = try #require(core.keysPerLeaf)
        #expect(histogram.count == 2 && histogram[0].count == 1 << height)
        #expect(
            histogram.map { $0.reduce(0, +) } == [
                2 * 40 - (padded ? 3 : 0), 2 * 40 - (padded ? 3 : 0),
            ])
    }

    @Test(arguments: [false, true])
    func fineGradientsMatchFiniteDifferences(_ causal: Bool) throws {
        let core = try Self.core(height: 2, seed: 5)
        var x = Self.inputs(1, 24, 2, 4, seed: 20)
        x[0] = core.movedAwayFromSplits(x[0], margin: 0.05, seed: 21)
        x[1] = core.movedAwayFromSplits(x[1], margin: 0.05, seed: 22)
        try GradientCheck.check(x, label: "TF") { v in
            try! core.attend(
                query: v[0], key: v[1], value: v[2],
                context: Self.context(step: 0, causal: causal, mask: nil))
        }
    }

    // MARK: TC

    @Test(arguments: [(2, false, false), (3, false, true), (2, true, false), (3, true, true)])
    func coarseAttentionMatchesTheStraightThroughComposite(_ setting: (Int, Bool, Bool)) throws {
        let (height, causal, padded) = setting
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 0, coarseSteps: 1_000)
        let core = try Self.core(height: height, options: options, seed: 7)
        // Splits of the scale the data-fitted ones have: |z| ≤ 1 for a good share of tokens.
        core.treeWeight.value = core.treeWeight.value * 0.6
        core.treeBias.value = Tensor.randomNormal(
            core.treeBias.shape, seed: 9, standardDeviation: 0.3)
        let x = Self.inputs(2, 17, 2, 4, seed: 30).map { $0.requiringGradient() }
        let mask = padded ? Self.mask(b: 2, n: 17) : nil
        let upstream = Tensor.randomNormal([2, 17, 2, 4], seed: 40)
        let leavesAll = x + [core.treeWeight.value, core.treeBias.value]
        let y = try core.attend(
            query: x[0], key: x[1], value: x[2],
            context: Self.context(step: 0, causal: causal, mask: mask))
        let expected = Self.referenceCoarse(
            x[0], x[1], x[2], leavesAll[3], leavesAll[4], height: height, causal: causal, mask: mask
        )
        try assertClose(
            y.detached(), expected.detached(), Tolerance(absolute: 1e-5, relative: 1e-4),
            "TC output")
        let grads = gradients(of: (y * upstream).summed(), withRespectTo: leavesAll)
        let expectedGrads = gradients(of: (expected * upstream).summed(), withRespectTo: leavesAll)
        for (name, (a, e)) in zip(
            ["dq", "dk", "dv", "d tree weight", "d tree bias"], zip(grads, expectedGrads))
        {
            try assertClose(a, e, Tolerance(absolute: 2e-5, relative: 2e-4), "TC \(name)")
        }
        #expect(grads[3].scalars.contains { Swift.abs($0) > 1e-4 }, "tree weights got no gradient")
        #expect(grads[4].scalars.contains { Swift.abs($0) > 1e-4 }, "tree biases got no gradient")
    }

    @Test(arguments: [false, true])
    func coarseGradientsMatchFiniteDifferencesAwayFromTheSplits(_ causal: Bool) throws {
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 0, coarseSteps: 1_000)
        let core = try Self.core(height: 2, options: options, seed: 11)
        core.treeWeight.value = core.treeWeight.value * 40  // |z| > 1: the surrogate vanishes
        var x = Self.inputs(1, 14, 2, 4, seed: 50)
        x[0] = core.movedAwayFromSplits(x[0], margin: 1.5, seed: 51)
        x[1] = core.movedAwayFromSplits(x[1], margin: 1.5, seed: 52)
        try GradientCheck.check(x, label: "TC") { v in
            try! core.attend(
                query: v[0], key: v[1], value: v[2],
                context: Self.context(step: 0, causal: causal, mask: nil))
        }
    }

    // MARK: schedule, initialisation, causality

    @Test func scheduleSwitchesFromFullToCoarseToFine() throws {
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 3, coarseSteps: 2)
        options.coarseWeight = 0.5
        let core = try Self.core(height: 2, options: options)
        #expect(
            [0, 2, 3, 4, 5, 100].map(options.schedule.phase(at:)) == [
                .full, .full, .coarse, .coarse, .fine, .fine,
            ])
        let x = Self.inputs(1, 20, 2, 4, seed: 60)
        func run(_ step: Int) throws -> Tensor {
            try core.attend(
                query: x[0], key: x[1], value: x[2],
                context: Self.context(step: step, causal: false, mask: nil))
        }
        try assertClose(
            try run(1), referenceAttention(query: x[0], key: x[1], value: x[2], scale: 0.5),
            .reference, "full phase")
        let coarse = Self.referenceCoarse(
            x[0], x[1], x[2], core.treeWeight.value, core.treeBias.value, height: 2, causal: false,
            mask: nil)
        try assertClose(
            try run(3), coarse, Tolerance(absolute: 1e-5, relative: 1e-4), "coarse phase")
        let fine = Self.referenceFine(x, core: core, causal: false, mask: nil)
        try assertClose(
            try run(7), fine + coarse * 0.5, Tolerance(absolute: 1e-5, relative: 1e-4),
            "fine phase with coarse auxiliary")
    }

    @Test func splitsAreFittedToTheFirstBatchAndRemembered() throws {
        var configuration = MixerConfiguration(modelDimension: 16, headCount: 2, maximumLength: 512)
        configuration.treeformer.height = 3
        configuration.seed = 4
        let mixer = try #require(
            try Mechanisms.make("treeformer", configuration: configuration) as? MultiHeadAttention)
        let core = try #require(mixer.core as? TreeformerAttention)
        #expect(core.initialized.value.scalar == 0 && !core.initialized.isTrainable)
        let x = Tensor.randomNormal([2, 256, 16], seed: 70)
        _ = try mixer(x, context: MixerContext())
        #expect(core.initialized.value.scalar == 1)
        let histogram = try #require(core.keysPerLeaf)
        for (head, counts) in histogram.enumerated() {
            // 512 keys over 8 leaves: median splits of q ∪ k keep every leaf populated.
            #expect(counts.allSatisfy { $0 > 0 }, "head \(head) has an empty leaf: \(counts)")
            #expect(counts.max()! <= 4 * 512 / 8, "head \(head) leaves are unbalanced: \(counts)")
        }
        let fitted = core.treeWeight.value.scalars
        _ = try mixer(Tensor.randomNormal([2, 256, 16], seed: 71), context: MixerContext())
        #expect(core.treeWeight.value.scalars == fitted, "splits are fitted once")
        #expect(mixer.namedParameters().map(\.0).contains("tree.initialized"))
    }

    @Test func fittedSplitsMixQueriesAndKeysWhoseMeansDiffer() throws {
        var options = TreeformerAttention.Options()
        options.dataInitialization = true
        var generator = RandomGenerator(seed: 2)
        let core = try TreeformerAttention(
            headCount: 1, headDimension: 8, height: 3, options: options, seed: 2,
            generator: &generator)
        // Queries and keys come from different projections: shift their means far apart.
        let offset = Tensor.randomNormal([1, 1, 1, 8], seed: 90, standardDeviation: 3)
        let q = Tensor.randomNormal([2, 200, 1, 8], seed: 91) + offset
        let k = Tensor.randomNormal([2, 200, 1, 8], seed: 92) - offset
        _ = try core.attend(
            query: q, key: k, value: k, context: Self.context(step: 0, causal: false, mask: nil))
        let routes = try #require(core.lastRoutes)
        var queries = [Int](repeating: 0, count: 8), keys = queries
        for leaf in routes.queryLeaves { queries[Int(leaf)] += 1 }
        for leaf in routes.keyLeaves { keys[Int(leaf)] += 1 }
        // 400 of each over 8 leaves: every leaf holds both kinds, none more than twice its share.
        #expect(queries.allSatisfy { $0 > 0 && $0 <= 100 }, "queries per leaf \(queries)")
        #expect(keys.allSatisfy { $0 > 0 && $0 <= 100 }, "keys per leaf \(keys)")
    }

    @Test(arguments: [0, 1_000])
    func causalPhasesIgnoreTheFuture(_ coarseSteps: Int) throws {
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 0, coarseSteps: coarseSteps)
        let core = try Self.core(height: 2, options: options)
        let x = Self.inputs(1, 30, 2, 4, seed: 80)
        let changed = x.map { t in
            var copy = t
            copy.withUnsafeMutableBufferPointer { p in for i in (20 * 8)..<(30 * 8) { p[i] = -p[i] }
            }
            return copy
        }
        func run(_ v: [Tensor]) throws -> [Float] {
            try core.attend(
                query: v[0], key: v[1], value: v[2],
                context: Self.context(step: 0, causal: true, mask: nil)
            ).scalars
        }
        let (a, b) = (try run(x), try run(changed))
        try assertClose(
            Array(b[0..<(20 * 8)]), Array(a[0..<(20 * 8)]), .reordered, "positions before 20")
    }

    @Test func derivesTheHeightFromTheLengthAndLeafSize() {
        var options = TreeformerAttention.Options()
        #expect(options.resolvedHeight(maximumLength: 100) == 0)
        #expect(options.resolvedHeight(maximumLength: 1024) == 3)
        #expect(options.resolvedHeight(maximumLength: 16384) == 7)
        options.leafSize = 64
        #expect(options.resolvedHeight(maximumLength: 1000) == 4)
        options.height = 2
        #expect(options.resolvedHeight(maximumLength: 1 << 20) == 2)
    }
}
