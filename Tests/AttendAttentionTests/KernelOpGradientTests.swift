import AttendCore
import AttendTesting
import Testing

// Finite-difference cases of AttendAttention's kernel ops, one table checked against the registry
// (`AttentionKernelOps.all`): a registered op without a case fails `everyKernelOpHasACase`, as a
// core op without one fails GradientCheckTests. Shapes are tiny; the mechanisms' own suites test
// the same kernels against their references at larger sizes.
@testable import AttendAttention

enum AttentionKernelOpCases {
    static let all: [KernelOpCase] = attention + sparse + maps + stateSpace

    /// Softmax attention over every key, over its own score terms, and linear attention.
    static let attention: [KernelOpCase] = {
        let (q, k, v) = (
            normal([1, 5, 2, 3], 1), normal([1, 5, 2, 3], 2), normal([1, 5, 2, 3], 3)
        )
        let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
        let o = DisentangledOperands(
            b: 1, n: 5, h: 2, d: 3, buckets: .init(bucketSize: 2, maxPosition: 8), seed: 4)
        let keys = Tensor.randomNormal([1, 5, 2, 2, 3], seed: 5, standardDeviation: 0.7)
        let logPriors = Tensor(shape: [2, 2], scalars: [-0.3, -1.2, -0.7, -0.1])
        let features = positive([1, 5, 2, 4], 6)
        var generator = RandomGenerator(seed: 12)
        let projection = Tensor(
            shape: [6, 4],
            scalars: PositiveRandomFeatures.orthogonalGaussianProjection(
                rows: 6, columns: 4, generator: &generator))
        let (x, xValue) = (
            Tensor.randomNormal([1, 5, 2, 4], seed: 13),
            Tensor.randomNormal([1, 5, 2, 3], seed: 14)
        )
        return [
            KernelOpCase(FusedAttentionOp.op, "causal, padded", [q, k, v]) {
                Tensor.fusedAttention(
                    query: $0[0], key: $0[1], value: $0[2], scale: 0.5, causal: true, keyMask: mask)
            },
            KernelOpCase(
                DisentangledAttentionOp.op, "both position terms", [o.q, o.k, o.v, o.kr, o.qr]
            ) {
                Tensor.disentangledAttention(
                    query: $0[0], key: $0[1], value: $0[2], positionKey: $0[3],
                    positionQuery: $0[4],
                    index: o.index, scale: 0.4, queryMask: mask, keyMask: mask)
            },
            KernelOpCase(MixtureOfGaussianKeysOp.op, "soft, gaussian", [q, keys, v, logPriors]) {
                Tensor.mixtureOfGaussianKeysAttention(
                    query: $0[0], keys: $0[1], value: $0[2], logPriors: $0[3],
                    inverseVariances: [0.6, 1.1],
                    gaussian: true, causal: true, keyMask: mask)
            },
            KernelOpCase(
                LinearAttentionOp.op, "bidirectional", [features, positive([1, 5, 2, 4], 8), v]
            ) {
                Tensor.linearAttention(
                    queryFeatures: $0[0], keyFeatures: $0[1], value: $0[2], causal: false,
                    keyFeatureFloor: 0.05)
            },
            // Row-stabilised query features through linear attention, whose ratio cancels the
            // stabiliser (a constant of the rule that moves under finite differences), as
            // PerformerTests checks every stabiliser.
            KernelOpCase(PositiveRandomFeaturesOp.op, "row-stabilised queries", [x]) {
                let queries = Tensor.positiveRandomFeatures(
                    $0[0], projection: projection, stabilizer: .row,
                    offset: PositiveRandomFeatures.epsilon)
                let keys = Tensor.positiveRandomFeatures(
                    x, projection: projection, stabilizer: .global, offset: 0, mask: mask)
                return Tensor.linearAttention(
                    queryFeatures: queries.features, keyFeatures: keys.features, value: xValue,
                    causal: false,
                    keyFeatureFloor: PositiveRandomFeatures.epsilon / Float(6).squareRoot(),
                    keyMask: mask)
            },
        ]
    }()

    /// Attention over a pattern of keys: windows, landmarks, hypercube edges, tree leaves, chunks.
    static let sparse: [KernelOpCase] = {
        let (q, k, v) = (
            normal([1, 6, 2, 3], 11), normal([1, 6, 2, 3], 12), normal([1, 6, 2, 3], 13)
        )
        let (globalKey, globalValue) = (normal([1, 2, 2, 3], 14), normal([1, 2, 2, 3], 15))
        let mask = Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let graph = HypercubeGraph(nodes: 3, causal: true)
        let chunk = (
            normal([1, 6, 3], 16), normal([1, 6, 3], 17), normal([1, 6, 2], 18), normal([5], 19)
        )
        return [
            KernelOpCase(SegmentedAttentionOp.op, "window of 4, padded", [q, k, v]) {
                try! LocalAttention(windowSize: 4).attend(
                    query: $0[0], key: $0[1], value: $0[2], context: MixerContext(paddingMask: mask)
                )
            },
            KernelOpCase(
                GlobalLocalAttentionOp.op, "segments of 3 and 2 landmarks",
                [q, k, v, globalKey, globalValue]
            ) {
                Tensor.globalLocalAttention(
                    query: $0[0], key: $0[1], value: $0[2], globalKey: $0[3], globalValue: $0[4],
                    scale: 0.6,
                    window: .segments(size: 3, extra: 1), visibility: .all, keyMask: mask)
            },
            KernelOpCase(HypercubeAttentionOp.op, "blocks of 2, causal", [q, k, v]) {
                Tensor.hypercubeAttention(
                    query: $0[0], key: $0[1], value: $0[2], graph: graph, blockSize: 2, scale: 0.7,
                    keyMask: mask)
            },
            KernelOpCase(
                ChunkedReluSquaredAttentionOp.op, "chunks of 4 with a bias",
                [chunk.0, chunk.1, chunk.2, chunk.3]
            ) {
                Tensor.chunkedReluSquaredAttention(
                    query: $0[0], key: $0[1], value: $0[2], chunk: 4, scales: [0.5], keyMask: mask,
                    bias: $0[3],
                    maximumDistance: 2, causal: false)
            },
        ] + tree
    }()

    /// Treeformer's TF and TC attention, with queries and keys kept away from the splits (where
    /// routing jumps) as TreeformerTests does.
    static let tree: [KernelOpCase] = {
        let fineCore = try! TreeformerTests.core(height: 1, seed: 5)
        var fine = TreeformerTests.inputs(1, 8, 2, 4, seed: 20)
        fine[0] = TreeformerTests.awayFromSplits(fine[0], core: fineCore, margin: 0.05, seed: 21)
        fine[1] = TreeformerTests.awayFromSplits(fine[1], core: fineCore, margin: 0.05, seed: 22)
        var options = TreeformerAttention.Options()
        options.schedule = .init(fullAttentionSteps: 0, coarseSteps: 1_000)
        let coarseCore = try! TreeformerTests.core(height: 1, options: options, seed: 11)
        // |z| > 1: the straight-through surrogate vanishes.
        coarseCore.treeWeight.value = coarseCore.treeWeight.value * 40
        var coarse = TreeformerTests.inputs(1, 8, 2, 4, seed: 50)
        coarse[0] = TreeformerTests.awayFromSplits(
            coarse[0], core: coarseCore, margin: 1.5, seed: 51)
        coarse[1] = TreeformerTests.awayFromSplits(
            coarse[1], core: coarseCore, margin: 1.5, seed: 52)
        let context = TreeformerTests.context(step: 0, causal: false, mask: nil)
        return [
            KernelOpCase(TreeFineAttentionOp.op, "height 1", fine) {
                try! fineCore.attend(query: $0[0], key: $0[1], value: $0[2], context: context)
            },
            KernelOpCase(TreeCoarseAttentionOp.op, "height 1", coarse) {
                try! coarseCore.attend(query: $0[0], key: $0[1], value: $0[2], context: context)
            },
        ]
    }()

    /// Evolving attention's maps: banded scores and mixing, the 3×3 convolution, the update.
    static let maps: [KernelOpCase] = {
        let (q, k) = (normal([1, 5, 2, 3], 31), normal([1, 5, 2, 3], 32))
        let band = normal([1, 2, 5, 3], 33)
        let (weight, bias) = (
            Tensor.randomNormal([2, 2, 3, 3], seed: 34, standardDeviation: 0.3), normal([2], 35)
        )
        let previous = normal([1, 2, 5, 3], 36)
        let valid = Tensor(shape: [1, 1, 5, 3], scalars: (0..<15).map { $0 % 7 == 3 ? 0 : 1 })
        return [
            KernelOpCase(BandedScoresOp.op, "band of 3", [q, k]) {
                Tensor.bandedScores(query: $0[0], key: $0[1], scale: 0.5, before: 1, width: 3)
            },
            KernelOpCase(BandedMixOp.op, "band of 3", [band, k]) {
                Tensor.bandedMix(probabilities: $0[0], value: $0[1], before: 1)
            },
            KernelOpCase(MapConvolutionOp.op, "banded, causal", [band, weight, bias]) {
                Tensor.mapConvolution($0[0], weight: $0[1], bias: $0[2], shift: 1, causal: true)
            },
            KernelOpCase(EvolvingUpdateOp.op, "banded", [band, previous, weight, bias]) {
                Tensor.evolvingUpdate(
                    scores: $0[0], previous: $0[1], weight: $0[2], bias: $0[3], valid: valid,
                    residualWeight: 0.6,
                    convolutionWeight: 0.4, activation: .identity, shift: 1, causal: false)
            },
        ]
    }()

    /// S4D's kernel from its parameters and the FFT convolution.
    static let stateSpace: [KernelOpCase] = {
        let logDt = Tensor(shape: [2], scalars: [-2.5, -3])
        let logAReal = Tensor(repeating: -0.69, shape: [2, 3])  // A = −½
        let aImaginary = Tensor(shape: [2, 3], scalars: [1, 2, 3, 1, 2, 3].map { Float.pi * $0 })
        let c = normal([2, 2, 3, 2], 41)
        return [
            KernelOpCase(
                S4DKernelOp.op, "two directions, length 7", [logDt, logAReal, aImaginary, c]
            ) {
                S4D.kernel(logDt: $0[0], logAReal: $0[1], aImaginary: $0[2], c: $0[3], length: 7)
            },
            KernelOpCase(
                LongConvolutionOp.op, "causal", [normal([2, 3, 7], 42), normal([1, 3, 7], 43)]
            ) {
                Tensor.longConvolution($0[0], kernel: $0[1])
            },
        ]
    }()

    static func normal(_ shape: [Int], _ seed: UInt64) -> Tensor {
        Tensor.randomNormal(shape, seed: seed)
    }

    /// e^(N(0, 0.5²)): positive features.
    static func positive(_ shape: [Int], _ seed: UInt64) -> Tensor {
        Tensor.randomNormal(shape, seed: seed, standardDeviation: 0.5).exp()
    }
}

@Suite struct KernelOpGradientTests {
    @Test(arguments: AttentionKernelOpCases.all)
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(
            AttentionKernelOps.all, by: AttentionKernelOpCases.all)
    }
}
