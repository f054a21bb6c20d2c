// Treeformer (Madaan, Bhojanapalli, Jain & Jain, ICLR 2023, arXiv:2208.09015; mechanisms-a §1):
// attention as retrieval through a decision tree. Queries and keys of a head are routed through the
// same tree of oblique splits (one tree per layer and head, height ht, 2^ht leaves).
// - TF-attention (fine): each query attends only to the keys of its own leaf, cost per query
//   O(ht·d + leaf size·d). Routing is piecewise constant, so the tree gets no gradient from it.
// - TC-attention (coarse): each query attends over the ht + 1 nodes of its own path, each node
//   summarised by the mean key and value routed through it: linear in n, and through DGT's
//   straight-through estimator every token's routing gets a gradient ("dense gradients").
// - Two-level bootstrapped training (§1.5, the port's recommended procedure; the paper's exact
//   recipe is unverified): `schedule` runs full attention for the first N₁ steps (so q and k
//   acquire geometry), TC-attention for the next N₂ (the tree learns its splits), then
//   TF-attention, optionally plus `coarse_weight`·TC (the dense-gradient path kept as an auxiliary
//   branch). The phase follows `MixerContext.trainingStep` in training and evaluation alike.
// - Splits are fitted to the data the first time the tree is used (§1.5): each node's normal is the
//   principal direction of the queries and keys reaching it and its offset their median, so leaves
//   start balanced. Queries and keys have different means (different projections); the direction of
//   that difference is projected out of the normal, or the first split would send all queries one
//   way and all keys the other. `tree.initialized` records the fit in checkpoints, so a resumed run
//   keeps its tree.
// Without official code, the node aggregates (means), the softmax across path levels, "empty leaf →
// 0", padded queries → 0 and the causal variants (j ≤ i inside a leaf; prefix aggregates for TC) are
// our design, as the spec says. A shared tree can still come to separate queries from keys in
// training (a state TC gives no gradient to leave); watch `keysPerLeaf` and empty-leaf rates.
// Shapes: b batch, n length, h heads, d head dimension, I = 2^ht − 1 splits.
import AttendCore
import AttendNN
import Foundation

/// Decision-tree attention: fine (leaf) and coarse (path) layers with a training schedule.
public final class TreeformerAttention: AttentionCore {
    /// Which attention runs.
    public enum Phase: String, Codable, Sendable, CaseIterable {
        /// Exact softmax attention (bootstrap stage 1).
        case full
        /// TC-attention only (bootstrap stage 2: the tree learns).
        case coarse
        /// TF-attention (plus `coarseWeight`·TC when that is non-zero).
        case fine
    }

    /// The two-level bootstrapped training procedure.
    public struct Schedule: Codable, Sendable, Equatable {
        /// N₁: steps of full attention first.
        public var fullAttentionSteps: Int
        /// N₂: steps of TC-attention next; TF-attention afterwards.
        public var coarseSteps: Int

        /// A schedule; the default (0, 0) is TF-attention from the start.
        public init(fullAttentionSteps: Int = 0, coarseSteps: Int = 0) {
            self.fullAttentionSteps = fullAttentionSteps
            self.coarseSteps = coarseSteps
        }

        /// Decodes the schedule, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&fullAttentionSteps, .fullAttentionSteps)
            try c.override(&coarseSteps, .coarseSteps)
        }

        enum CodingKeys: String, CodingKey {
            case fullAttentionSteps = "full_attention_steps", coarseSteps = "coarse_steps"
        }

        /// The phase at optimizer step `step`.
        public func phase(at step: Int) -> Phase {
            if step < fullAttentionSteps { return .full }
            if step < fullAttentionSteps + coarseSteps { return .coarse }
            return .fine
        }
    }

    /// Options of the Treeformer mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Tree height ht (2^ht leaves); nil derives it from the maximum length and `leafSize`.
        public var height: Int?
        /// Target keys per leaf when the height is derived: ht = ⌈log₂(maximum length / leaf size)⌉.
        public var leafSize = 128
        /// Bootstrapped training schedule.
        public var schedule = Schedule()
        /// Weight of the TC path added to TF's output in the fine phase (0: TF alone).
        public var coarseWeight: Float = 0
        /// Fit the splits to the first batch that uses the tree.
        public var dataInitialization = true

        /// Defaults: height from the length (128 keys per leaf), TF from the start, data-fitted splits.
        public init() {}

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&height, .height)
            try c.override(&leafSize, .leafSize)
            try c.override(&schedule, .schedule)
            try c.override(&coarseWeight, .coarseWeight)
            try c.override(&dataInitialization, .dataInitialization)
        }

        enum CodingKeys: String, CodingKey {
            case height, leafSize = "leaf_size", schedule, coarseWeight = "coarse_weight"
            case dataInitialization = "data_initialization"
        }

        /// The height for sequences up to `maximumLength`.
        public func resolvedHeight(maximumLength: Int) -> Int {
            if let height { return height }
            let ratio = Double(maximumLength) / Double(max(leafSize, 1))
            return ratio <= 1 ? 0 : Int(Foundation.ceil(Foundation.log2(ratio)))
        }
    }

    /// The options it was built with.
    public let options: Options
    /// ht.
    public let height: Int
    /// Heads h and head width d.
    public let headCount: Int, headDimension: Int
    /// Split normals [h, I, d] and offsets [h, I].
    public let treeWeight: Parameter, treeBias: Parameter
    /// 1 once the splits were fitted to data (a buffer: saved, never trained).
    public let initialized: Parameter
    let seed: UInt64
    /// Routes of the last forward pass that used the tree (for statistics).
    public private(set) var lastRoutes: TreeRoutes?

    /// A core for `headCount` heads of width `headDimension`, with trees of height `height`.
    public init(
        headCount: Int, headDimension: Int, height: Int, options: Options, seed: UInt64,
        generator: inout RandomGenerator
    ) throws {
        guard (0...16).contains(height) else {
            throw MixerError.invalidConfiguration(
                mechanism: "treeformer", problem: "tree height must lie in 0...16, got \(height)")
        }
        guard options.coarseWeight >= 0, options.schedule.fullAttentionSteps >= 0,
            options.schedule.coarseSteps >= 0
        else {
            throw MixerError.invalidConfiguration(
                mechanism: "treeformer", problem: "schedule steps and coarse weight must be ≥ 0")
        }
        self.options = options
        self.height = height
        self.headCount = headCount
        self.headDimension = headDimension
        self.seed = seed
        let splits = TreeRouting.internalNodes(height: height)
        treeWeight = Parameter(
            Tensor.randomNormal(
                [headCount, splits, headDimension],
                standardDeviation: 1 / Float(headDimension).squareRoot(), generator: &generator))
        treeBias = Parameter(.zeros([headCount, splits]))
        initialized = Parameter(.zeros([1]), trainable: false)
    }

    /// The tree's split weights and biases, and the flag that its splits were fitted to data.
    public var ownParameters: [(String, Parameter)] {
        [("tree.weight", treeWeight), ("tree.bias", treeBias), ("tree.initialized", initialized)]
    }

    /// Keys per leaf of each head in the last forward pass (summed over the batch): the leaf-size
    /// histogram to watch for empty or giant leaves.
    public var keysPerLeaf: [[Int]]? { lastRoutes?.keysPerLeaf() }

    /// q, k [b, n, h, d], v [b, n, h, e] → [b, n, h, e], keys routed to the query's leaf;
    /// the training step picks full, coarse (TC) or tree (TF) attention from the schedule.
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        let (n, h, d) = (query.shape[1], query.shape[2], query.shape[3])
        guard key.shape[1] == n else {
            throw MixerError.invalidConfiguration(
                mechanism: "treeformer",
                problem: "needs as many keys as queries, got \(n) and \(key.shape[1])")
        }
        guard h == headCount, d == headDimension else {
            throw MixerError.shapeMismatch(
                mechanism: "treeformer", expected: "[b, n, \(headCount), \(headDimension)] heads",
                got: query.shape)
        }
        let phase = options.schedule.phase(at: context.trainingStep)
        let scale = 1 / Float(d).squareRoot()
        if phase == .full {
            return Tensor.fusedAttention(
                query: query, key: key, value: value, scale: scale, causal: context.isCausal,
                keyMask: context.paddingMask)
        }
        if options.dataInitialization, initialized.value.scalar == 0 {
            fitSplits(query: query, key: key, mask: context.paddingMask)
        }
        let routes = route(query: query, key: key, mask: context.paddingMask)
        lastRoutes = routes
        let operands = TreeOperands(
            scale: scale, causal: context.isCausal, height: height, routes: routes)
        switch phase {
        case .full:
            preconditionFailure("handled above")
        case .coarse:
            return operands.coarse(
                query: query, key: key, value: value, weight: treeWeight.value, bias: treeBias.value
            )
        case .fine:
            let fine = operands.fine(
                query: query, key: key, value: value, weight: treeWeight.value, bias: treeBias.value
            )
            guard options.coarseWeight > 0 else { return fine }
            let coarse = operands.coarse(
                query: query, key: key, value: value, weight: treeWeight.value, bias: treeBias.value
            )
            return fine + coarse * options.coarseWeight
        }
    }

    /// Leaves and split values of every query and key (no gradient: routing is piecewise constant).
    func route(query: Tensor, key: Tensor, mask: Tensor?) -> TreeRoutes {
        let (weight, bias) = (treeWeight.value, treeBias.value)
        return Tensor.withBaseAddresses([query, key, weight, bias, mask]) { p in
            let problem = TreeProblem(
                batch: query.shape[0], length: query.shape[1], heads: query.shape[2],
                dimension: query.shape[3], valueDimension: query.shape[3], height: height, scale: 1,
                causal: false,
                query: p[0]!, key: p[1]!, value: p[1]!, weights: p[2]!, biases: p[3]!)
            return TreeAttention.route(problem, mask: p[4])
        }
    }

    /// Fits every head's splits to this batch's unpadded queries and keys (at most 2048 points per
    /// head, evenly spaced), then marks the tree initialised.
    func fitSplits(query: Tensor, key: Tensor, mask: Tensor?) {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let (q, k, m) = (query.scalars, key.scalars, mask?.scalars)
        let splits = TreeRouting.internalNodes(height: height)
        treeWeight.update { weights in
            treeBias.update { biases in
                let (w, bias) = (
                    SendablePointer(weights.baseAddress!), SendablePointer(biases.baseAddress!)
                )
                Parallel.forEach(h) { head in
                    var rows: [Int] = []
                    for batch in 0..<b {
                        for i in 0..<n where m.map({ $0[batch * n + i] != 0 }) ?? true {
                            rows.append((batch * n + i) * h + head)
                        }
                    }
                    let stride = max(1, (2 * rows.count + 2047) / 2048)
                    var points: [Float] = []
                    var isQuery: [Bool] = []
                    for (index, row) in rows.enumerated() where index % stride == 0 {
                        points += q[row * d..<(row + 1) * d]
                        points += k[row * d..<(row + 1) * d]
                        isQuery += [true, false]
                    }
                    var generator = RandomGenerator(seed: seed, stream: UInt64(head))
                    TreeRouting.fitSplits(
                        points, isQuery: isQuery, dimension: d, height: height,
                        weights: w.base + head * splits * d,
                        biases: bias.base + head * splits, generator: &generator)
                }
            }
        }
        initialized.update { $0[0] = 1 }
    }

    /// Working memory: the multi-head frame, the fine and coarse branches' outputs and their sum
    /// with gradients, the node aggregates and the routing tables (per head and position: a leaf,
    /// ht + 1 scores and path weights).
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.treeformer
        let height = Double(options.resolvedHeight(maximumLength: configuration.maximumLength))
        let branches = options.coarseWeight > 0 ? 6.0 : 0
        return WorkingMemory.frame(configuration, size, coreActivations: 2 + branches)
            + WorkingMemory.maps(3 * (height + 2), keysPerQuery: 1, configuration, size)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "treeformer",
        summary:
            "decision-tree attention: leaf (TF) and path (TC) layers, bootstrapped schedule (Madaan et al. 2023)",
        capabilities: {
            var c = Capabilities(supportsCausal: true, complexity: "O(n·(ht + n/2^ht)·d)")
            c.canSeeEveryKey = true  // height 0: one leaf holds every key
            return c
        }(),
        options: TreeformerAttention.Options.self,
        kernelOps: [FusedAttentionOp.self, TreeFineAttentionOp.self, TreeCoarseAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            let (h, d) = try configuration.validatedHeads(for: "treeformer")
            let options = configuration.treeformer
            let core = try TreeformerAttention(
                headCount: h, headDimension: d,
                height: options.resolvedHeight(maximumLength: configuration.maximumLength),
                options: options, seed: configuration.seed, generator: &generator)
            return try MultiHeadAttention(
                mechanism: "treeformer", configuration: configuration, core: core,
                generator: &generator)
        })
}

/// The differentiable TF and TC operations for one forward pass's routes.
struct TreeOperands {
    let scale: Float, causal: Bool, height: Int
    let routes: TreeRoutes

    /// TF-attention: [b, n, h, e] from q, k [b, n, h, d], v [b, n, h, e].
    func fine(query: Tensor, key: Tensor, value: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        Tensor.fused(
            TreeFineAttentionOp(
                query: query, key: key, value: value, weight: weight, bias: bias, operands: self))
    }

    /// TC-attention: [b, n, h, e]; differentiable in q, k, v and, through the straight-through
    /// estimator, in the tree's weight [h, I, d] and bias [h, I].
    func coarse(query: Tensor, key: Tensor, value: Tensor, weight: Tensor, bias: Tensor) -> Tensor {
        Tensor.fused(
            TreeCoarseAttentionOp(
                query: query, key: key, value: value, weight: weight, bias: bias, operands: self))
    }

    /// The `TreeProblem` of q, k, v [b, n, h, ·] and the tree's weight and bias at these addresses.
    func problem(
        query: Tensor, value: Tensor, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
        _ v: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>
    ) -> TreeProblem {
        TreeProblem(
            batch: query.shape[0], length: query.shape[1], heads: query.shape[2],
            dimension: query.shape[3],
            valueDimension: value.shape[3], height: height, scale: scale, causal: causal,
            query: q, key: k, value: v, weights: weight, biases: bias)
    }
}

/// TF-attention as a kernel op: inputs q, k, v; constants the tree's weight and bias (routing
/// only).
struct TreeFineAttentionOp: KernelOp {
    static let op = Op("treeFineAttention")
    let query: Tensor, key: Tensor, value: Tensor, weight: Tensor, bias: Tensor,
        operands: TreeOperands

    var inputs: [Tensor?] { [query, key, value] }
    var constants: [Tensor?] { [weight, bias] }
    var outputShape: [Int] { value.shape }

    func problem(_ x: KernelBuffers) -> TreeProblem {
        operands.problem(
            query: query, value: value, x.input(0), x.input(1), x.input(2), weight: x.constant(0)!,
            bias: x.constant(1)!)
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        TreeAttention.fineForward(problem(x), routes: operands.routes, output: output)
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        TreeAttention.fineBackward(
            problem(x), routes: operands.routes, outputGradient: g.outputGradient,
            queryGradient: g.input(0),
            keyGradient: g.input(1), valueGradient: g.input(2))
    }
}

/// TC-attention as a kernel op: inputs q, k, v, the tree's weight and bias; saved each query's
/// weights over its path's levels.
struct TreeCoarseAttentionOp: KernelOp {
    static let op = Op("treeCoarseAttention")
    let query: Tensor, key: Tensor, value: Tensor, weight: Tensor, bias: Tensor,
        operands: TreeOperands

    var inputs: [Tensor?] { [query, key, value, weight, bias] }
    var outputShape: [Int] { value.shape }

    func problem(_ x: KernelBuffers) -> TreeProblem {
        operands.problem(
            query: query, value: value, x.input(0), x.input(1), x.input(2), weight: x.input(3),
            bias: x.input(4))
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        let (b, n, h) = (query.shape[0], query.shape[1], query.shape[2])
        var alpha = [Float](repeating: 0, count: b * h * n * (operands.height + 1))
        TreeAttention.coarseForward(
            problem(x), routes: operands.routes, output: output, weights: &alpha)
        return alpha
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved alpha: [Float]) {
        TreeAttention.coarseBackward(
            problem(x), routes: operands.routes, weights: alpha, outputGradient: g.outputGradient,
            queryGradient: g.input(0), keyGradient: g.input(1), valueGradient: g.input(2),
            treeWeightGradient: g.input(3), treeBiasGradient: g.input(4))
    }
}

extension TreeformerAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "treeformer"

    /// Tree height (2^height leaves per head), keys per leaf, the bootstrapped schedule and the
    /// weight of TC-attention.
    public static let limits: [OptionLimit<Self>] = [
        .optionalWhole("height", \.height, 0...16),
        .whole("leaf_size", \.leafSize, 1...1_048_576),
        .whole("schedule.full_attention_steps", \.schedule.fullAttentionSteps, 0...1_000_000_000),
        .whole("schedule.coarse_steps", \.schedule.coarseSteps, 0...1_000_000_000),
        .number("coarse_weight", \.coarseWeight, .from(0, to: 100)),
    ]
}

extension MixerConfiguration {
    /// Treeformer's decision-tree attention (`mixer_options.treeformer`).
    public var treeformer: TreeformerAttention.Options {
        get { self[TreeformerAttention.Options.self] }
        set { self[TreeformerAttention.Options.self] = newValue }
    }
}
