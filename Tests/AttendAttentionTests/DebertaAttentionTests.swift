// DeBERTa disentangled attention: the invariants of mechanisms-b.md §5 (bucket function, BERT
// attention without position terms, Toeplitz position bias, gathers equal to an explicit (i, j) loop,
// BERT's parameter count with share_att_key), the tiled kernel against the materialised reference
// (values and gradients, across tiles, causal, padded), finite differences, and the plumbing of the
// shared relative table. Parity with Hugging Face is in AttendModelsTests/DebertaV2Tests.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// Random operands of a disentangled-attention problem.
struct DisentangledOperands {
    let q: Tensor, k: Tensor, v: Tensor, kr: Tensor, qr: Tensor
    let index: RelativePositionIndex

    init(b: Int, n: Int, h: Int, d: Int, buckets: RelativePositionBuckets, seed: UInt64 = 10) {
        index = RelativePositionIndex(queries: n, keys: n, buckets: buckets)
        q = Tensor.randomNormal([b, n, h, d], seed: seed)
        k = Tensor.randomNormal([b, n, h, d], seed: seed + 1)
        v = Tensor.randomNormal([b, n, h, d], seed: seed + 2)
        kr = Tensor.randomNormal([index.rowCount, h, d], seed: seed + 3)
        qr = Tensor.randomNormal([index.rowCount, h, d], seed: seed + 4)
    }
}

struct DisentangledCase: CustomTestStringConvertible, Sendable {
    let b: Int, n: Int, h: Int, d: Int, terms: [PositionTerm], causal: Bool, padded: Bool
    let buckets: RelativePositionBuckets
    var testDescription: String {
        "b\(b) n\(n) h\(h) d\(d) \(terms.map(\.rawValue))\(causal ? " causal" : "")\(padded ? " padded" : "") "
            + "buckets \(buckets.bucketSize)/\(buckets.maxPosition)"
    }
}

let disentangledCases: [DisentangledCase] = [
    .init(
        b: 2, n: 9, h: 2, d: 4, terms: [.contentToPosition, .positionToContent], causal: false,
        padded: true,
        buckets: .init(bucketSize: 4, maxPosition: 16)),
    .init(
        b: 1, n: 33, h: 2, d: 8, terms: [.contentToPosition], causal: true, padded: false,
        buckets: .init(bucketSize: 8, maxPosition: 32)),
    .init(
        b: 2, n: 70, h: 1, d: 8, terms: [.positionToContent], causal: false, padded: true,
        buckets: .init(bucketSize: -1, maxPosition: 16)),
    .init(
        b: 1, n: TileSpanning.short, h: 2, d: 8, terms: [.contentToPosition, .positionToContent],
        causal: false,
        padded: false,
        buckets: .init(bucketSize: 256, maxPosition: 512)),
    .init(
        b: 2, n: TileSpanning.short, h: 1, d: 4, terms: [.positionToContent, .contentToPosition],
        causal: true,
        padded: true,
        buckets: .init(bucketSize: 16, maxPosition: 64)),
    .init(b: 1, n: 12, h: 2, d: 4, terms: [], causal: false, padded: true, buckets: .init()),
]

/// [b, n] with the last third of batch entry 1 padded.
func thirdPadded(b: Int, n: Int) -> Tensor {
    Tensor.filled(shape: [b, n]) { out in
        for i in 0..<b {
            for j in 0..<n { out[i * n + j] = (i % 2 == 1 && j >= n - n / 3) ? 0 : 1 }
        }
    }
}

@Suite struct DebertaAttentionTests {
    @Test func bucketsAreOddMonotoneAndTheIdentityNearZero() {
        let buckets = RelativePositionBuckets(bucketSize: 256, maxPosition: 512)
        for r in -2000...2000 {
            #expect(buckets.bucket(-r) == -buckets.bucket(r))
            #expect(buckets.bucket(r + 1) >= buckets.bucket(r))
        }
        for r in -128...128 { #expect(buckets.bucket(r) == r) }
        #expect(buckets.bucket(129) > 128)
        #expect(buckets.bucket(511) == 255 && buckets.bucket(-511) == -255)
        #expect(buckets.row(0) == 256 && buckets.row(100_000) == 511 && buckets.row(-100_000) == 0)
        let clipped = RelativePositionBuckets(bucketSize: 0, maxPosition: 4)
        #expect((-6...6).map { clipped.row($0) } == [0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 7])
    }

    @Test func indexCoversOnlyTheRowsInUse() {
        let index = RelativePositionIndex(
            queries: 5, keys: 5, buckets: .init(bucketSize: 256, maxPosition: 512))
        #expect(index.firstRow == 256 - 4 && index.rowCount == 9)
        #expect(index.row(query: 4, key: 0) == 8 && index.row(query: 0, key: 4) == 0)
    }

    @Test func positionBiasIsToeplitzForConstantContent() throws {
        // Identical content vectors at every position: the bias can depend only on i − j.
        let (b, n, h, d) = (1, 11, 2, 3)
        let operands = DisentangledOperands(
            b: b, n: n, h: h, d: d, buckets: .init(bucketSize: 4, maxPosition: 16))
        let q = operands.q.sliced(alongAxis: 1, 0..<1).broadcast(to: [b, n, h, d])
        let k = operands.k.sliced(alongAxis: 1, 0..<1).broadcast(to: [b, n, h, d])
        let bias = try #require(
            disentangledPositionBias(
                query: q, key: k, positionKey: operands.kr, positionQuery: operands.qr,
                index: operands.index))
        for head in 0..<h {
            for i in 0..<n {
                for j in 0..<n where i > 0 && j > 0 {
                    #expect(bias[0, head, i, j] == bias[0, head, i - 1, j - 1])
                }
            }
        }
    }

    @Test func gathersEqualAnExplicitLoop() throws {
        let (b, n, h, d) = (2, 7, 2, 3)
        let o = DisentangledOperands(
            b: b, n: n, h: h, d: d, buckets: .init(bucketSize: 4, maxPosition: 8))
        let mask = thirdPadded(b: b, n: n)
        let scale: Float = 0.3
        // s_ij = scale·(q_i·k_j + q_i·Kr[δ] + k_j·Qr[δ]); masked softmax over j; padded queries give 0.
        let (q, k, v, kr, qr, m) = (
            o.q.scalars, o.k.scalars, o.v.scalars, o.kr.scalars, o.qr.scalars, mask.scalars
        )
        /// Σ_e x[xo + e]·y[yo + e] over the head dimension.
        func dot(_ x: [Float], _ xo: Int, _ y: [Float], _ yo: Int) -> Float {
            var total: Float = 0
            for e in 0..<d { total += x[xo + e] * y[yo + e] }
            return total
        }
        let expected = Tensor.filled(shape: [b, n, h, d]) { out in
            for z in 0..<b {
                for head in 0..<h {
                    for i in 0..<n {
                        let qi = ((z * n + i) * h + head) * d
                        var scores = [Float](repeating: -.infinity, count: n)
                        for j in 0..<n where m[z * n + j] != 0 {
                            let kj = ((z * n + j) * h + head) * d
                            let row = (o.index.row(query: i, key: j) * h + head) * d
                            let content = dot(q, qi, k, kj)
                            let c2p = dot(q, qi, kr, row)
                            let p2c = dot(k, kj, qr, row)
                            scores[j] = scale * (content + c2p + p2c)
                        }
                        let top = scores.max()!
                        let weights = scores.map { $0 == -.infinity ? 0 : Foundation.exp($0 - top) }
                        let total = weights.reduce(0, +)
                        for e in 0..<d {
                            var value: Float = 0
                            for j in 0..<n {
                                value += weights[j] / total * v[((z * n + j) * h + head) * d + e]
                            }
                            out[qi + e] = m[z * n + i] == 0 ? 0 : value
                        }
                    }
                }
            }
        }
        for fused in [false, true] {
            let arguments = (o.q, o.k, o.v, o.kr, o.qr)
            let y =
                fused
                ? Tensor.disentangledAttention(
                    query: arguments.0, key: arguments.1, value: arguments.2,
                    positionKey: arguments.3,
                    positionQuery: arguments.4, index: o.index, scale: scale, queryMask: mask,
                    keyMask: mask)
                : referenceDisentangledAttention(
                    query: arguments.0, key: arguments.1, value: arguments.2,
                    positionKey: arguments.3,
                    positionQuery: arguments.4, index: o.index, scale: scale, queryMask: mask,
                    keyMask: mask)
            try assertClose(y, expected, .reordered, fused ? "tiled kernel" : "reference gathers")
        }
    }

    @Test(arguments: disentangledCases)
    func tiledKernelEqualsReference(_ c: DisentangledCase) throws {
        let o = DisentangledOperands(b: c.b, n: c.n, h: c.h, d: c.d, buckets: c.buckets)
        let mask = c.padded ? thirdPadded(b: c.b, n: c.n) : nil
        let kr = c.terms.contains(.contentToPosition) ? o.kr : nil
        let qr = c.terms.contains(.positionToContent) ? o.qr : nil
        let scale = 1 / (Float(c.d) * Float(1 + c.terms.count)).squareRoot()
        let upstream = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 77)
        let inputs = [o.q, o.k, o.v] + [kr, qr].compactMap { $0 }
        func attend(_ x: [Tensor], fused: Bool) -> Tensor {
            let kr = kr == nil ? nil : x[3]
            let qr = qr == nil ? nil : x[kr == nil ? 3 : 4]
            return fused
                ? Tensor.disentangledAttention(
                    query: x[0], key: x[1], value: x[2], positionKey: kr, positionQuery: qr,
                    index: o.index,
                    scale: scale, causal: c.causal, queryMask: mask, keyMask: mask)
                : referenceDisentangledAttention(
                    query: x[0], key: x[1], value: x[2], positionKey: kr, positionQuery: qr,
                    index: o.index,
                    scale: scale, causal: c.causal, queryMask: mask, keyMask: mask)
        }
        try assertSameAttention(
            valueAndGradients(inputs, upstream: upstream) { attend($0, fused: true) },
            valueAndGradients(inputs, upstream: upstream) { attend($0, fused: false) },
            outputTolerance: .reordered, gradientNames: ["dq", "dk", "dv", "dKr/dQr", "dQr"])
    }

    @Test func kernelGradientsMatchFiniteDifferences() throws {
        let o = DisentangledOperands(
            b: 2, n: 6, h: 2, d: 3, buckets: .init(bucketSize: 2, maxPosition: 8), seed: 30)
        let mask = thirdPadded(b: 2, n: 6)
        for causal in [false, true] {
            try GradientCheck.check(
                [o.q, o.k, o.v, o.kr, o.qr], label: causal ? "causal" : "bidirectional"
            ) { x in
                Tensor.disentangledAttention(
                    query: x[0], key: x[1], value: x[2], positionKey: x[3], positionQuery: x[4],
                    index: o.index,
                    scale: 0.4, causal: causal, queryMask: mask, keyMask: mask)
            }
        }
    }

    @Test func layerGradientsMatchFiniteDifferences() throws {
        // Through the projections of the table (shared key, biases included), its LayerNorm and the
        // table itself, which the layer reads from the context.
        var configuration = MixerConfiguration(modelDimension: 6, headCount: 2, maximumLength: 7)
        configuration.deberta.buckets = .init(bucketSize: 2, maxPosition: 4)
        let mixer = try Mechanisms.make("deberta", configuration: configuration, seed: 12)
        let x = Tensor.randomNormal([2, 7, 6], seed: 13)
        let weights = Tensor.randomUniform([2, 7, 6], seed: 14, low: -1, high: 1)
        let context = MixerContext(paddingMask: thirdPadded(b: 2, n: 7))
        let named = Dictionary(uniqueKeysWithValues: mixer.namedParameters())
        // N(0, 1) rows instead of the N(0, 0.02) initialisation, whose LayerNorm would magnify a
        // finite-difference step fifty-fold.
        named["shared.rel_embeddings.weight"]!.value = Tensor.randomNormal([4, 6], seed: 15)
        func loss() throws -> Float {
            try withoutGradient { try (mixer(x, context: context) * weights).summed().scalar }
        }
        let (_, grads) = try valueAndGradient(of: mixer) {
            try ($0(x, context: context) * weights).summed()
        }
        for name in [
            "shared.rel_embeddings.weight", "shared.LayerNorm.weight", "shared.LayerNorm.bias",
            "mixer.self.key_proj.bias", "mixer.self.query_proj.weight",
        ] {
            let parameter = try #require(named[name])
            let numeric = try parameterFiniteDifferences(parameter, loss)
            try assertClose(
                try #require(grads[parameter]).scalars, numeric, .finiteDifference, name)
        }
        try GradientCheck.check([x], label: "input") { inputs in
            (try? mixer(inputs[0], context: context)) ?? Tensor.zeros([1])
        }
    }

    @Test func withoutPositionTermsItIsBertAttention() throws {
        var configuration = MixerConfiguration(modelDimension: 12, headCount: 3, maximumLength: 16)
        configuration.deberta.positionTerms = []
        var generator = RandomGenerator(seed: 4)
        let mixer = try DisentangledAttention(configuration: configuration, generator: &generator)
        let x = Tensor.randomNormal([2, 10, 12], seed: 5)
        let mask = thirdPadded(b: 2, n: 10)
        let context = MixerContext(paddingMask: mask)
        context.carried[RelativePositionEmbeddings.carriedKey] = Tensor.randomNormal(
            [512, 12], seed: 6)
        let y = try mixer(x, context: context)
        let a = mixer.attention
        let heads = [2, 10, 3, 4]
        let attended = referenceAttention(
            query: a.queryProjection(x).reshaped(heads), key: a.keyProjection(x).reshaped(heads),
            value: a.valueProjection(x).reshaped(heads), scale: 1 / Float(4).squareRoot(),
            keyMask: mask)
        let expected = mixer.output(attended.reshaped([2, 10, 12]))
        let real = Indices((0..<20).filter { mask.scalars[$0] != 0 })
        try assertClose(
            y.reshaped([20, 12]).indexSelect(alongAxis: 0, real),
            expected.reshaped([20, 12]).indexSelect(alongAxis: 0, real),
            .reference, "DeBERTa without position terms vs BERT attention")
        #expect(a.scale == 0.5)
    }

    @Test func sharedAttentionKeyHasBertsParameterCount() throws {
        let configuration = MixerConfiguration(modelDimension: 16, headCount: 4, maximumLength: 32)
        var generator = RandomGenerator(seed: 1)
        let deberta = try DisentangledAttention(configuration: configuration, generator: &generator)
        let full = try Mechanisms.make("full", configuration: configuration)
        #expect(deberta.parameterCount == full.parameterCount)
        var separate = configuration
        separate.deberta.shareAttentionKey = false
        let unshared = try DisentangledAttention(configuration: separate, generator: &generator)
        #expect(unshared.parameterCount == full.parameterCount + 2 * (16 * 16 + 16))
    }

    @Test func standaloneMixerOwnsItsTableAndABareLayerSaysWhatIsMissing() throws {
        var configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 20)
        configuration.deberta.buckets = .init(bucketSize: 8, maxPosition: 16)
        let mixer = try Mechanisms.make("deberta", configuration: configuration, seed: 3)
        #expect(mixer.namedParameters().map(\.0).contains("shared.rel_embeddings.weight"))
        #expect(mixer.namedParameters().map(\.0).contains("shared.LayerNorm.weight"))
        let x = Tensor.randomNormal([1, 20, 8], seed: 2)
        let y = try mixer(x, context: MixerContext())
        #expect(y.shape == [1, 20, 8] && y.scalars.allSatisfy(\.isFinite))
        var generator = RandomGenerator(seed: 0)
        let bare = try DisentangledAttention(configuration: configuration, generator: &generator)
        #expect(
            throws: MixerError.missingCarriedValue(
                mechanism: "deberta", key: RelativePositionEmbeddings.carriedKey)
        ) {
            try bare(x, context: MixerContext())
        }
    }

    @Test func causalOutputsIgnoreTheFuture() throws {
        var configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 24)
        configuration.deberta.buckets = .init(bucketSize: 4, maxPosition: 16)
        let mixer = try Mechanisms.make(
            "deberta", configuration: configuration, causal: true, seed: 3)
        let x = Tensor.randomNormal([1, 24, 8], seed: 9)
        let changed = Tensor.concatenated(
            [x.sliced(alongAxis: 1, 0..<15), Tensor.randomNormal([1, 9, 8], seed: 10)], alongAxis: 1
        )
        let a = try mixer(x, context: MixerContext(isCausal: true)).sliced(alongAxis: 1, 0..<15)
        let b = try mixer(changed, context: MixerContext(isCausal: true)).sliced(
            alongAxis: 1, 0..<15)
        try assertClose(a, b, .reordered, "first 15 positions")
    }

    @Test func fullyPaddedQueriesGiveZeros() {
        let o = DisentangledOperands(
            b: 1, n: 5, h: 1, d: 4, buckets: .init(bucketSize: 2, maxPosition: 4))
        let y = Tensor.disentangledAttention(
            query: o.q, key: o.k, value: o.v, positionKey: o.kr, positionQuery: o.qr,
            index: o.index, scale: 1,
            queryMask: Tensor.zeros([1, 5]), keyMask: Tensor.zeros([1, 5]))
        #expect(y.scalars.allSatisfy { $0 == 0 })
    }
}
