// Hypercube attention. No reference package exists (mechanisms-a.md §0), so the checks come from the
// spec: the reference construction's neighbour sets (m = 4, 6, 8), the graph's properties, a
// hand-computed n = 4 case, the gathered kernel against dense attention masked by the graph (values and
// gradients, blocks, causal, padded, n not a power of two), finite differences, and the receptive
// field: through ⌈log₂ n⌉ stacked layers every output depends on every input (its gradient is non-zero),
// through one layer fewer some pair is still disconnected, and the dependency pattern after L layers is
// exactly the graph's L-step reachability.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

struct HypercubeCase: CustomTestStringConvertible, Sendable {
    let n: Int, block: Int, causal: Bool, padded: Bool
    var testDescription: String {
        "n\(n) block \(block)\(causal ? " causal" : "")\(padded ? " padded" : "")"
    }
}

let hypercubeCases: [HypercubeCase] = [
    .init(n: 16, block: 1, causal: false, padded: true),
    .init(n: 13, block: 1, causal: true, padded: false),
    .init(n: 50, block: 4, causal: false, padded: true),
    .init(n: 37, block: 3, causal: true, padded: true),
    .init(n: 300, block: 16, causal: false, padded: true),
    .init(n: 1, block: 1, causal: false, padded: false),
]

@Suite struct HypercubeTests {
    @Test func neighbourSetsMatchTheReferenceConstruction() {
        // mechanisms-a.md §3.2 (regenerated from TesseractSparsityConfig), as sorted sets with self.
        #expect(
            HypercubeGraph(nodes: 8).neighbours == [
                [0, 1, 3, 7], [0, 1, 2, 6], [1, 2, 3, 5], [0, 2, 3, 4], [3, 4, 5, 7], [2, 4, 5, 6],
                [1, 5, 6, 7], [0, 4, 6, 7],
            ])
        #expect(
            HypercubeGraph(nodes: 6).neighbours == [
                [0, 1, 3], [0, 1, 2], [1, 2, 3, 5], [0, 2, 3, 4], [3, 4, 5], [2, 4, 5],
            ])
        #expect(
            HypercubeGraph(nodes: 4).neighbours == [[0, 1, 3], [0, 1, 2], [1, 2, 3], [0, 2, 3]])
        #expect(
            HypercubeGraph(nodes: 8, causal: true).neighbours == [
                [0], [0, 1], [1, 2], [0, 2, 3], [3, 4], [2, 4, 5], [1, 5, 6], [0, 4, 6, 7],
            ])
        #expect(HypercubeGraph(nodes: 1).neighbours == [[0]])
        // The reference's bit-reversed codes for k = 4 are these Gray codes read backwards.
        let reversed = [0, 8, 12, 4, 6, 14, 10, 2, 3, 11, 15, 7, 5, 13, 9, 1]
        for p in 0..<16 {
            let code = HypercubeGraph.grayCode(p)
            let flipped = (0..<4).reduce(0) { $0 | (((code >> $1) & 1) << (3 - $1)) }
            #expect(flipped == reversed[p])
            #expect(HypercubeGraph.position(ofCode: code) == p)
        }
    }

    @Test func graphIsSymmetricLogarithmicAndContainsTheChain() {
        for m in 2...70 {
            let graph = HypercubeGraph(nodes: m)
            for (p, set) in graph.neighbours.enumerated() {
                #expect(set.count <= graph.dimension + 1)
                for q in set { #expect(graph.neighbours[q].contains(p)) }
                if p + 1 < m { #expect(set.contains(p + 1)) }
            }
        }
    }

    @Test func everyPairConnectsWithinLogLayers() {
        for m in 2...130 {
            for causal in [false, true] {
                let graph = HypercubeGraph(nodes: m, causal: causal)
                let reach = graph.reachable(within: graph.dimension)
                for i in 0..<m {
                    for j in 0..<m where !causal || j <= i {
                        #expect(reach[i][j], "m \(m) causal \(causal): \(j) → \(i)")
                    }
                }
                if m & (m - 1) == 0 {  // a full cube has diameter exactly k
                    #expect(graph.reachable(within: graph.dimension - 1).joined().contains(false))
                }
            }
        }
    }

    @Test func handComputedFourTokens() throws {
        // n = 4, d = 1, scale 1: token 0 sees {0, 1, 3}, token 2 sees {1, 2, 3}; q_i = 1, k_j = v_j = j.
        let q = Tensor.ones([1, 4, 1, 1])
        let kv = Tensor(shape: [1, 4, 1, 1], scalars: [0, 1, 2, 3])
        let y = Tensor.hypercubeAttention(
            query: q, key: kv, value: kv, graph: HypercubeGraph(nodes: 4), blockSize: 1, scale: 1)
        let e = Foundation.exp(1.0), e2 = Foundation.exp(2.0), e3 = Foundation.exp(3.0)
        let expected0 = (e + 3 * e3) / (1 + e + e3)  // keys 0, 1, 3
        let expected2 = (e + 2 * e2 + 3 * e3) / (e + e2 + e3)  // keys 1, 2, 3
        #expect(abs(Double(y.scalars[0]) - expected0) < 1e-5)
        #expect(abs(Double(y.scalars[2]) - expected2) < 1e-5)
        // Padding key 3 leaves token 0 with {0, 1}: (0 + e)/(1 + e).
        let padded = Tensor.hypercubeAttention(
            query: q, key: kv, value: kv, graph: HypercubeGraph(nodes: 4), blockSize: 1, scale: 1,
            keyMask: Tensor(shape: [1, 4], scalars: [1, 1, 1, 0]))
        #expect(abs(Double(padded.scalars[0]) - e / (1 + e)) < 1e-6)
    }

    @Test(arguments: hypercubeCases)
    func gatheredKernelEqualsMaskedDenseAttention(_ c: HypercubeCase) throws {
        let (b, h, d) = (2, 2, 4)
        let q = Tensor.randomNormal([b, c.n, h, d], seed: 1)
        let k = Tensor.randomNormal([b, c.n, h, d], seed: 2)
        let v = Tensor.randomNormal([b, c.n, h, d], seed: 3)
        let mask = c.padded ? thirdPadded(b: b, n: c.n) : nil
        let graph = HypercubeGraph(nodes: (c.n + c.block - 1) / c.block, causal: c.causal)
        let allowed = hypercubeMask(graph, blockSize: c.block, length: c.n)
        let upstream = Tensor.randomNormal([b, c.n, h, d], seed: 4)
        func attend(_ x: [Tensor], sparse: Bool) -> Tensor {
            sparse
                ? Tensor.hypercubeAttention(
                    query: x[0], key: x[1], value: x[2], graph: graph, blockSize: c.block,
                    scale: 0.5, keyMask: mask)
                : referenceAttention(
                    query: x[0], key: x[1], value: x[2], scale: 0.5, causal: c.causal,
                    keyMask: mask, allowed: allowed)
        }
        try assertSameAttention(
            valueAndGradients([q, k, v], upstream: upstream) { attend($0, sparse: true) },
            valueAndGradients([q, k, v], upstream: upstream) { attend($0, sparse: false) },
            outputTolerance: .reordered)
    }

    @Test func kernelGradientsMatchFiniteDifferences() throws {
        let (b, n, h, d) = (2, 7, 2, 3)
        let q = Tensor.randomNormal([b, n, h, d], seed: 5)
        let k = Tensor.randomNormal([b, n, h, d], seed: 6)
        let v = Tensor.randomNormal([b, n, h, d], seed: 7)
        let mask = thirdPadded(b: b, n: n)
        for (block, causal) in [(1, false), (1, true), (2, true)] {
            let graph = HypercubeGraph(nodes: (n + block - 1) / block, causal: causal)
            try GradientCheck.check([q, k, v], label: "block \(block) causal \(causal)") { x in
                Tensor.hypercubeAttention(
                    query: x[0], key: x[1], value: x[2], graph: graph, blockSize: block, scale: 0.7,
                    keyMask: mask)
            }
        }
    }

    @Test func layerGradientsMatchFiniteDifferences() throws {
        var configuration = MixerConfiguration(modelDimension: 6, headCount: 2, maximumLength: 11)
        configuration.hypercube.blockSize = 2
        let mixer = try Mechanisms.make(
            "hypercube", configuration: configuration, causal: true, seed: 12)
        let x = Tensor.randomNormal([2, 11, 6], seed: 13)
        let weights = Tensor.randomUniform([2, 11, 6], seed: 14, low: -1, high: 1)
        let context = MixerContext(paddingMask: thirdPadded(b: 2, n: 11), isCausal: true)
        func loss() throws -> Float {
            try withoutGradient { try (mixer(x, context: context) * weights).summed().scalar }
        }
        let (_, grads) = try valueAndGradient(of: mixer) {
            try ($0(x, context: context) * weights).summed()
        }
        let named = Dictionary(uniqueKeysWithValues: mixer.namedParameters())
        for name in ["query.weight", "key.bias", "value.weight"] {
            let parameter = try #require(named[name])
            let numeric = try parameterFiniteDifferences(parameter, loss)
            try assertClose(
                try #require(grads[parameter]).scalars, numeric, .finiteDifference, name)
        }
        try GradientCheck.check([x], label: "input") { inputs in
            (try? mixer(inputs[0], context: context)) ?? Tensor.zeros([1])
        }
    }

    /// dependsOn[i][j]: whether output i of `layers` stacked hypercube mixers has a non-zero gradient
    /// with respect to input j.
    func dependencies(n: Int, layers: Int, block: Int, causal: Bool) throws -> [[Bool]] {
        var configuration = MixerConfiguration(modelDimension: 4, headCount: 1, maximumLength: n)
        configuration.hypercube.blockSize = block
        let stack = try (0..<layers).map {
            try Mechanisms.make(
                "hypercube", configuration: configuration, causal: causal, seed: UInt64(40 + $0))
        }
        let x = Tensor.randomNormal([1, n, 4], seed: 8)
        return try (0..<n).map { i in
            let (_, grads) = try valueAndGradient(at: [x]) { inputs in
                var y = inputs[0]
                for mixer in stack { y = try mixer(y, context: MixerContext(isCausal: causal)) }
                return y.sliced(alongAxis: 1, i..<(i + 1)).summed()
            }
            let g = grads[0].scalars
            return (0..<n).map { j in (0..<4).contains { g[j * 4 + $0] != 0 } }
        }
    }

    @Test(arguments: [(16, 1, false), (12, 1, false), (16, 1, true), (16, 2, false)])
    func stackedLayersReachEveryPairInLogLayers(_ n: Int, _ block: Int, _ causal: Bool) throws {
        let graph = HypercubeGraph(nodes: (n + block - 1) / block, causal: causal)
        let k = graph.dimension
        for layers in 1...k {
            let measured = try dependencies(n: n, layers: layers, block: block, causal: causal)
            let blocks = graph.reachable(within: layers)
            for i in 0..<n {
                for j in 0..<n {
                    let expected = blocks[i / block][j / block] && (!causal || j <= i)
                    #expect(
                        measured[i][j] == expected, "\(layers) layers: output \(i) on input \(j)")
                }
            }
            let everyPair = (0..<n).allSatisfy { i in
                (0..<n).allSatisfy { j in measured[i][j] || (causal && j > i) }
            }
            #expect(
                everyPair == (layers == k),
                "\(layers) of \(k) layers: every pair connected = \(everyPair)")
        }
    }

    @Test func keysPerQueryGrowLogarithmically() {
        for n in [16, 1024, 4096, 65536] {
            let graph = HypercubeGraph(nodes: n)
            #expect(graph.maximumDegree == Int(log2(Double(n))) + 1)
        }
    }

    @Test func fullyPaddedRowsGiveZerosAndTheMixerRuns() throws {
        let q = Tensor.randomNormal([1, 5, 1, 4], seed: 9)
        let y = Tensor.hypercubeAttention(
            query: q, key: q, value: q, graph: HypercubeGraph(nodes: 5), blockSize: 1, scale: 1,
            keyMask: Tensor.zeros([1, 5]))
        #expect(y.scalars.allSatisfy { $0 == 0 })
        let mixer = try Mechanisms.make(
            "hypercube",
            configuration: MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 33))
        let out = try mixer(
            Tensor.randomNormal([2, 33, 8], seed: 10),
            context: MixerContext(paddingMask: thirdPadded(b: 2, n: 33)))
        #expect(out.shape == [2, 33, 8] && out.scalars.allSatisfy(\.isFinite))
    }
}
