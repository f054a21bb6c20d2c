// Hypercube attention (Wang et al., "What Dense Graph Do You Need for Self-Attention?", ICML 2022,
// arXiv:2205.14014; reference code yxzwang/Normalized-Information-Payload): scaled dot-product softmax
// attention restricted to the hypercube graph (`HypercubeGraph`): each token (or block of tokens, as
// the reference's block-sparse form with block 16) attends to itself and its ⌈log₂ m⌉ Gray-code
// neighbours, O(n log n). Stacking ⌈log₂ m⌉ layers connects every pair of positions.
// The paper's "NIP" (normalized information payload) is its score for comparing attention graphs, not
// part of the attention itself; the reference code computes ordinary 1/√d softmax scores over the graph.
// Causal use keeps the neighbours at or before each position (our design; the reference is
// encoder-only): every position still reaches all earlier ones within ⌈log₂ m⌉ layers (tested).
// Shapes: b batch, n tokens, h heads, d head dimension, B block size.
import AttendCore
import AttendNN

/// Softmax attention over the hypercube graph.
public final class HypercubeAttention: AttentionCore {
    /// Which implementation runs.
    public enum Path: String, Codable, Sendable {
        /// Gathered neighbour keys, O(n log n).
        case sparse
        /// Dense scores with the graph as a mask (the oracle).
        case reference
    }

    /// Options of the hypercube mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Tokens per graph node: 1 is the token-level hypercube; the reference's LRA and BERT runs use
        /// 16 (the last block may be partial).
        public var blockSize = 1
        /// Which implementation runs.
        public var path = Path.sparse

        /// Token level, sparse path.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case blockSize = "block_size", path
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&blockSize, .blockSize)
            try c.override(&path, .path)
        }
    }

    /// Block size and path.
    public let options: Options

    /// Hypercube attention with `options`.
    public init(options: Options = Options()) throws {
        guard options.blockSize >= 1 else {
            throw MixerError.invalidConfiguration(
                mechanism: "hypercube",
                problem: "block size must be positive, got \(options.blockSize)")
        }
        self.options = options
    }

    /// The graph over the blocks of an n-token input.
    public func graph(length n: Int, causal: Bool) -> HypercubeGraph {
        HypercubeGraph(nodes: (n + options.blockSize - 1) / options.blockSize, causal: causal)
    }

    /// q, k [b, n, h, d], v [b, n, h, e] → [b, n, h, e], each block attending to its graph
    /// neighbours; self-attention only (as many keys as queries).
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        let n = query.shape[1]
        guard key.shape[1] == n else {
            throw MixerError.invalidConfiguration(
                mechanism: "hypercube",
                problem: "self-attention only: \(n) queries, \(key.shape[1]) keys")
        }
        let graph = graph(length: n, causal: context.isCausal)
        let scale = 1 / Float(query.shape[3]).squareRoot()
        switch options.path {
        case .sparse:
            return Tensor.hypercubeAttention(
                query: query, key: key, value: value, graph: graph, blockSize: options.blockSize,
                scale: scale,
                keyMask: context.paddingMask)
        case .reference:
            return referenceAttention(
                query: query, key: key, value: value, scale: scale, causal: context.isCausal,
                keyMask: context.paddingMask,
                allowed: hypercubeMask(graph, blockSize: options.blockSize, length: n))
        }
    }

    /// Working memory: the multi-head frame and the probabilities the sparse kernel keeps for
    /// backward, one per query and neighbour slot (⌈log₂ m⌉ + 1 blocks of B tokens); the reference
    /// path adds the [n, n] graph mask and [b, h, n, n] scores, probabilities and gradients.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.hypercube
        let blocks = Swift.max(size.length - 1, 0) / options.blockSize + 1  // ⌈n/B⌉, no overflow
        let slots = Double(HypercubeGraph.dimension(nodes: blocks) + 1) * Double(options.blockSize)
        let n = Double(size.length)
        let reference =
            options.path == .reference
            ? WorkingMemory.maps(4.5, keysPerQuery: n, configuration, size)
                + WorkingMemory.bytes(n * n) : 0
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.maps(1, keysPerQuery: slots, configuration, size) + reference
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "hypercube",
        summary:
            "Hypercube attention: Gray-code neighbours, log₂ n keys per token (Wang et al. 2022)",
        capabilities: Capabilities(
            supportsCausal: true, complexity: "O(n·log n·d) time, O(n·log n) memory"),
        options: HypercubeAttention.Options.self,
        kernelOps: [HypercubeAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try MultiHeadAttention(
                mechanism: "hypercube", configuration: configuration,
                core: HypercubeAttention(options: configuration.hypercube), generator: &generator)
        })
}

/// [1, 1, n, n] with 1 where token j's block is a neighbour of token i's block (the graph as a dense
/// mask; causality is left to the caller).
public func hypercubeMask(_ graph: HypercubeGraph, blockSize: Int, length n: Int) -> Tensor {
    Tensor.filled(shape: [1, 1, n, n]) { out in
        out.initialize(repeating: 0)
        for i in 0..<n {
            for block in graph.neighbours[i / blockSize] {
                for j in (block * blockSize)..<Swift.min((block + 1) * blockSize, n) {
                    out[i * n + j] = 1
                }
            }
        }
    }
}

extension Tensor {
    /// Softmax attention over `graph` (built for ⌈n/blockSize⌉ nodes; causal when the graph is) on
    /// [b, n, h, d] heads, gathering only the neighbours' keys: O(n·log n) time and memory.
    public static func hypercubeAttention(
        query: Tensor, key: Tensor, value: Tensor, graph: HypercubeGraph, blockSize: Int,
        scale: Float,
        keyMask: Tensor? = nil
    ) -> Tensor {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let e = value.shape[3]
        precondition(
            key.shape == [b, n, h, d] && value.shape == [b, n, h, e],
            "hypercubeAttention: q \(query.shape), k \(key.shape), v \(value.shape)")
        precondition(
            graph.nodes == (n + blockSize - 1) / blockSize,
            "hypercubeAttention: graph of \(graph.nodes) nodes for \(n) tokens in blocks of \(blockSize)"
        )
        requireShape("hypercubeAttention", "key mask", keyMask, [b, n])
        return fused(
            HypercubeAttentionOp(
                query: query, key: key, value: value, keyMask: keyMask, graph: graph,
                blockSize: blockSize, scale: scale))
    }
}

/// `Tensor.hypercubeAttention` as a kernel op: inputs q, k, v; constant the key mask; saved each
/// query's probabilities over its neighbours' keys.
struct HypercubeAttentionOp: HeadsKernelOp {
    static let op = Op("hypercubeAttention")
    let query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?
    let graph: HypercubeGraph, blockSize: Int, scale: Float
    let table: [Int32], reverse: [Int32]

    init(
        query: Tensor, key: Tensor, value: Tensor, keyMask: Tensor?, graph: HypercubeGraph,
        blockSize: Int,
        scale: Float
    ) {
        (self.query, self.key, self.value, self.keyMask) = (query, key, value, keyMask)
        (self.graph, self.blockSize, self.scale) = (graph, blockSize, scale)
        (table, reverse) = (graph.table, graph.reverseTable)
    }

    var causal: Bool { graph.isCausal }

    func withProblem<T>(_ x: KernelBuffers, _ body: (HypercubeProblem) -> T) -> T {
        let attention = attentionProblem(x, keyMask: x.constant(0))
        return table.withUnsafeBufferPointer { t in
            reverse.withUnsafeBufferPointer { r in
                body(
                    HypercubeProblem(
                        attention: attention, blockSize: blockSize, slots: graph.maximumDegree,
                        neighbours: t.baseAddress!,
                        reverse: r.baseAddress!))
            }
        }
    }

    /// Each query's probabilities over its neighbours' keys: [b, h, n, slots·block size].
    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        let slots = graph.maximumDegree * blockSize
        var probabilities = [Float](repeating: 0, count: query.count / query.shape[3] * slots)
        withProblem(x) {
            HypercubeAttentionKernel.forward(
                $0, output: output, outputLayout: outputLayout, probabilities: &probabilities)
        }
        return probabilities
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved probabilities: [Float]) {
        withProblem(x) {
            HypercubeAttentionKernel.backward(
                $0, output: g.output, outputLayout: outputLayout, outputGradient: g.outputGradient,
                probabilities: probabilities, queryGradient: g.input(0), keyGradient: g.input(1),
                valueGradient: g.input(2))
        }
    }
}

extension HypercubeAttention: DecodingAttentionCore {
    /// A key/value cache of every position: a later query's neighbours can lie anywhere before it.
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws -> any DecodingState {
        KeyValueCache(key: key, value: value, lengths: lengths, window: nil)
    }

    /// The new query against the tokens of its block's earlier neighbours (its own block up to
    /// itself).
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws -> Tensor {
        guard let cache = state as? KeyValueCache else { throw foreignState("hypercube", state) }
        cache.append(key: key, value: value)
        let size = options.blockSize
        let slots = cache.lengths.map { length -> [Int] in
            let t = length - 1
            return HypercubeGraph.earlierNeighbours(of: t / size).flatMap { block in
                (block * size)..<Swift.min((block + 1) * size, t + 1)
            }
        }
        let scale = 1 / Float(query.shape[3]).squareRoot()
        return cache.attend(query: query, scale: scale, slots: { i, _ in slots[i] })
    }
}

extension HypercubeAttentionOp {
    /// Blocks of 2 over 6 positions (the last padded) on the causal graph of 3 nodes.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let graph = HypercubeGraph(nodes: 3, causal: true)
        let qkv = (11...13).map { Tensor.randomNormal([1, 6, 2, 3], seed: UInt64($0)) }
        return [
            KernelOpExample("blocks of 2, causal", qkv) {
                Tensor.hypercubeAttention(
                    query: $0[0], key: $0[1], value: $0[2], graph: graph, blockSize: 2, scale: 0.7,
                    keyMask: mask)
            }
        ]
    }
}

extension HypercubeAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "hypercube"

    /// Tokens per hypercube node.
    public static let limits: [OptionLimit<Self>] = [
        .whole("block_size", \.blockSize, 1...65_536)
    ]
}

extension MixerConfiguration {
    /// Hypercube attention's options (`mixer_options.hypercube`).
    public var hypercube: HypercubeAttention.Options {
        get { self[HypercubeAttention.Options.self] }
        set { self[HypercubeAttention.Options.self] = newValue }
    }
}
