// The Switch Transformer mixture-of-experts FFN (Fedus et al. 2021), a drop-in for the dense FFN:
//
//     p = softmax(W_r·x)  (float32, no bias)      e* = argmax p (top-1)      y = p_e*·FFN_e*(x)
//
// Each sequence is one routing group (as Hugging Face routes); an expert takes at most
// C = ⌈real tokens/E × capacity factor⌉ of its tokens, earliest positions first (HF's cumulative-sum
// priority), and the rest are dropped: their output is 0, so the block's residual passes them on.
// Experts are T5 FFNs (wi → act → dropout → wo, no biases) run on gathered [count, c] blocks; the
// outputs are scattered back to their rows, scaled by the gate p_e*, which is what gives the router
// its gradient. Nothing is computed for tokens an expert does not receive (no dense masking).
//
// Two losses go to the trainer through the context, already weighted by their coefficients:
//   load balance (Switch eq. 4–6, HF's per-group form): mean over groups and experts of f·P, × E²,
//     f = fraction of a group's tokens whose argmax is e (before dropping), P = mean router probability;
//     1 for a uniform router, E when every token goes to one expert with p = 1;
//   router z-loss (ST-MoE): mean over tokens of (log Σ_e exp h_e)².
// Each Switch layer records its own pair (the paper sums them over layers; HF concatenates the
// layers' logits before one loss, which differs slightly). Padded tokens are neither routed nor
// counted (HF routes them and counts them).
//
// Router initialisation follows the paper (truncated normal, std √(0.1/fan_in), cut at ±2 std, as
// Mesh TensorFlow draws it), for the router and the experts alike; HF initialises the router from
// N(0, 1) and the experts from N(0, 1/√d_model). Jitter multiplies the router's input (only the
// router's: HF's in-place multiply also jitters the experts' input in float32) by U(1−ε, 1+ε) in
// training; its stream is reseeded per step like dropout.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// A top-1 mixture-of-experts feed-forward layer.
public final class SwitchFeedForward: FeedForwardLayer {
    /// Options of the Switch layer (HF's defaults where the paper and HF differ, noted).
    public struct Options: Codable, Sendable, Equatable {
        /// E.
        public var expertCount = 8
        /// Capacity factor in training (paper: 1.0–1.25).
        public var capacityFactor: Float = 1.25
        /// Capacity factor in evaluation (paper: 2.0).
        public var evaluationCapacityFactor: Float = 2
        /// A fixed capacity per sequence instead of the factors (HF's `expert_capacity`).
        public var expertCapacity: Int?
        /// Weight of the load-balancing loss (HF 1e-3; the paper 1e-2).
        public var auxiliaryLossCoefficient: Float = 1e-3
        /// Weight of the router z-loss (ST-MoE, HF: 1e-3).
        public var zLossCoefficient: Float = 1e-3
        /// ε of the multiplicative router jitter in training (HF 0.01; 0 turns it off).
        public var jitter: Float = 0.01
        /// The experts' activation (Switch/T5: ReLU).
        public var activation: Activation = .relu
        /// Every k-th FFN is a Switch layer, by HF's rule: layer i when k = 1 or i mod k = 1.
        public var layerInterval = 1

        /// HF's defaults.
        public init() {}

        /// Whether layer `index` gets a Switch FFN.
        public func isSwitchLayer(_ index: Int) -> Bool {
            layerInterval == 1 || (layerInterval > 1 && index % layerInterval == 1)
        }

        enum CodingKeys: String, CodingKey {
            case expertCount = "expert_count", capacityFactor = "capacity_factor"
            case evaluationCapacityFactor = "evaluation_capacity_factor", expertCapacity =
                "expert_capacity"
            case auxiliaryLossCoefficient = "auxiliary_loss_coefficient", zLossCoefficient =
                "z_loss_coefficient"
            case jitter, activation, layerInterval = "layer_interval"
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&expertCount, .expertCount)
            try c.override(&capacityFactor, .capacityFactor)
            try c.override(&evaluationCapacityFactor, .evaluationCapacityFactor)
            try c.override(&expertCapacity, .expertCapacity)
            try c.override(&auxiliaryLossCoefficient, .auxiliaryLossCoefficient)
            try c.override(&zLossCoefficient, .zLossCoefficient)
            try c.override(&jitter, .jitter)
            try c.override(&activation, .activation)
            try c.override(&layerInterval, .layerInterval)
        }
    }

    /// Experts, capacities, router losses and layers, as configured.
    public let options: Options
    /// "router.classifier": c → E, no bias.
    public let router: SwitchRouter
    /// "experts.expert_<i>".
    public let experts: ExpertList
    /// Training mode: capacities use `capacityFactor`, else `evaluationCapacityFactor`.
    public private(set) var isTraining = true

    /// A Switch layer of width `dimension` whose experts have `hiddenDimension` units.
    public init(
        dimension: Int, hiddenDimension: Int, options: Options, dropout: Float,
        generator: inout RandomGenerator
    ) throws {
        guard options.expertCount >= 1, options.capacityFactor > 0,
            options.evaluationCapacityFactor > 0,
            (options.expertCapacity ?? 1) >= 1, options.jitter >= 0, options.jitter < 1,
            options.layerInterval >= 1
        else {
            throw MixerError.invalidConfiguration(
                mechanism: "switch",
                problem:
                    "needs ≥ 1 expert, positive capacity factors and capacity, jitter in [0, 1) and layer interval ≥ 1; got \(options)"
            )
        }
        self.options = options
        router = SwitchRouter(
            dimension: dimension, experts: options.expertCount, jitter: options.jitter,
            generator: &generator)
        experts = ExpertList(
            (0..<options.expertCount).map { _ in
                ExpertFeedForward(
                    dimension: dimension, hiddenDimension: hiddenDimension,
                    activation: options.activation,
                    dropout: dropout, generator: &generator)
            })
    }

    /// `router` and `experts`, as Hugging Face Switch checkpoints name them.
    public var children: [(String, any Module)] { [("router", router), ("experts", experts)] }
    /// Switches between the training and the evaluation capacity factor.
    public func setOwnTrainingMode(_ training: Bool) { isTraining = training }

    /// Tokens one expert may take from a group with `realTokens` tokens.
    public func capacity(realTokens: Int) -> Int {
        if let fixed = options.expertCapacity { return fixed }
        let factor = Double(isTraining ? options.capacityFactor : options.evaluationCapacityFactor)
        return Int((Double(realTokens) / Double(options.expertCount) * factor).rounded(.up))
    }

    /// The parameter values as plain tensors: the layer is a function of these (tests differentiate it).
    public struct Weights {
        /// [E, c].
        public var router: Tensor
        /// Per expert: wi [d_ff, c] and wo [c, d_ff].
        public var experts: [(wi: Tensor, wo: Tensor)]

        /// Weights from tensors.
        public init(router: Tensor, experts: [(wi: Tensor, wo: Tensor)]) {
            self.router = router
            self.experts = experts
        }
    }

    /// The current parameter values.
    public var weights: Weights {
        Weights(
            router: router.classifier.weight.value,
            experts: experts.list.map { ($0.wi.weight.value, $0.wo.weight.value) })
    }

    /// [b, n, c] → [b, n, c]; records the two router losses in `context`.
    public func callAsFunction(_ x: Tensor, context: MixerContext) -> Tensor {
        self(x, weights: weights, context: context)
    }

    /// The layer with the given parameter values.
    public func callAsFunction(_ x: Tensor, weights w: Weights, context: MixerContext) -> Tensor {
        routed(x, weights: w, context: context, earlier: nil).output
    }

    /// The layer and its routing; `earlier` counts, per sequence and expert, the tokens of
    /// positions before `x` (incremental decoding), which fill capacity first.
    func routed(_ x: Tensor, weights w: Weights, context: MixerContext, earlier: [[Int]]?)
        -> (output: Tensor, routing: SwitchRouting)
    {
        precondition(
            x.rank == 3, "Switch FFN: input must be [batch, length, width], got \(x.shape)")
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let tokens = x.reshaped([b * n, c])
        let logits = router(tokens, weight: w.router)  // [T, E]
        let probabilities = logits.softmax(alongAxis: -1)  // [T, E]
        let mask = context.paddingMask?.scalars
        let routing = SwitchRouting(
            probabilities: probabilities.scalars, groups: b, groupSize: n,
            experts: options.expertCount,
            mask: mask, capacity: capacity(realTokens:), earlier: earlier)
        let gate = probabilities.gathered(
            alongAxis: 1, Indices(shape: [b * n, 1], values: routing.expert))  // [T, 1]
        var outputs: [Tensor] = [], rows: [[Int]] = []
        for (e, assigned) in routing.tokens.enumerated() where !assigned.isEmpty {
            let picked = tokens.indexSelect(alongAxis: 0, Indices(assigned))  // [count, c]
            // [count, c]
            outputs.append(experts.list[e](picked, wi: w.experts[e].wi, wo: w.experts[e].wo))
            rows.append(assigned)
        }
        let y = SwitchFeedForward.combine(
            outputs, rows: rows, gate: gate, tokenCount: b * n, width: c)  // [T, c]
        let losses = SwitchFeedForward.routerLosses(
            logits: logits, probabilities: probabilities, routing: routing, mask: mask)
        if options.auxiliaryLossCoefficient > 0 {
            context.addAuxiliaryLoss(
                "switch.load_balancing", losses.loadBalancing * options.auxiliaryLossCoefficient)
        }
        if options.zLossCoefficient > 0 {
            context.addAuxiliaryLoss("switch.router_z", losses.z * options.zLossCoefficient)
        }
        return (y.reshaped([b, n, c]), routing)
    }

    /// out[rows[i][j]] = gate[rows[i][j]]·outputs[i][j] for parts [count_i, width]; rows no part names
    /// are 0. Differentiable in every part and in the gate [tokens, 1]: d part = gate·dy[rows],
    /// d gate[r] = dy[r]·(part row).
    public static func combine(
        _ outputs: [Tensor], rows: [[Int]], gate: Tensor, tokenCount: Int, width: Int
    ) -> Tensor {
        precondition(
            gate.shape == [tokenCount, 1],
            "combine: gate must be [\(tokenCount), 1], got \(gate.shape)")
        for (part, targets) in zip(outputs, rows) {
            precondition(
                part.shape == [targets.count, width],
                "combine: part \(part.shape) for \(targets.count) rows of width \(width)")
        }
        return Tensor.fused(SwitchCombineOp(parts: outputs, rows: rows, gate: gate, width: width))
    }

    /// The two router losses, unweighted.
    public struct RouterLosses {
        /// mean_{groups, experts}(f·P)·E².
        public let loadBalancing: Tensor
        /// mean over real tokens of logsumexp(h)².
        public let z: Tensor
    }

    /// Load-balancing and z-losses of one layer's routing (logits and probabilities [b·n, E]).
    public static func routerLosses(
        logits: Tensor, probabilities: Tensor, routing: SwitchRouting, mask: [Float]?
    ) -> RouterLosses {
        let (b, n, experts) = (routing.groups, routing.groupSize, routing.experts)
        let isReal = mask ?? [Float](repeating: 1, count: b * n)
        let weights = Tensor(shape: [b, n, 1], scalars: isReal)
        let real = (0..<b).map { g in Swift.max(1, isReal[(g * n)..<((g + 1) * n)].reduce(0, +)) }
        // f: argmax counts per group and expert over real tokens, before dropping (no gradient).
        var fraction = [Float](repeating: 0, count: b * experts)
        for t in 0..<(b * n) where isReal[t] != 0 {
            fraction[(t / n) * experts + routing.expert[t]] += 1 / real[t / n]
        }
        let meanProbability =
            (probabilities.reshaped([b, n, experts]) * weights).summed(alongAxes: [1])
            / Tensor(shape: [b, 1], scalars: real)  // P [b, E]
        let balance =
            (meanProbability * Tensor(shape: [b, experts], scalars: fraction)).summed()
            * (Float(experts * experts) / Float(b * experts))
        let logPartition = logits.logSumExp(alongAxis: -1).reshaped([b, n, 1])  // [b, n, 1]
        let z = (logPartition.squared() * weights).summed() / Swift.max(1, isReal.reduce(0, +))
        return RouterLosses(loadBalancing: balance, z: z)
    }
}

/// Top-1 assignments of one forward pass (plain values, no gradient).
public struct SwitchRouting: Sendable {
    /// Groups (sequences), tokens per group, experts.
    public let groups: Int, groupSize: Int, experts: Int
    /// argmax expert of every token [b·n] (padded tokens too; they are never dispatched).
    public let expert: [Int]
    /// Token rows each expert processes, in position order.
    public let tokens: [[Int]]
    /// Rows of real tokens dropped because their expert was full.
    public let dropped: [Int]
    /// Real tokens whose argmax is each expert, per group [groups][experts] (`earlier` included).
    public let taken: [[Int]]

    /// Routes [b·n, E] probabilities: argmax per token, then, per group in position order, each
    /// expert keeps its first `capacity(real tokens of the group)` tokens, after the
    /// `earlier[g][e]` tokens earlier positions of group g sent it (incremental decoding; nil =
    /// none).
    public init(
        probabilities: [Float], groups: Int, groupSize: Int, experts: Int, mask: [Float]?,
        capacity: (Int) -> Int, earlier: [[Int]]? = nil
    ) {
        (self.groups, self.groupSize, self.experts) = (groups, groupSize, experts)
        var expert = [Int](repeating: 0, count: groups * groupSize)
        for t in expert.indices {
            var best = 0
            for e in 1..<experts
            where probabilities[t * experts + e] > probabilities[t * experts + best] { best = e }
            expert[t] = best
        }
        var tokens = [[Int]](repeating: [], count: experts)
        var dropped: [Int] = []
        var takenPerGroup: [[Int]] = []
        for g in 0..<groups {
            let rows = (g * groupSize)..<((g + 1) * groupSize)
            let real = rows.filter { (mask?[$0] ?? 1) != 0 }
            let limit = capacity(real.count)
            var taken = earlier?[g] ?? [Int](repeating: 0, count: experts)
            for t in real {
                taken[expert[t]] += 1
                if taken[expert[t]] <= limit {
                    tokens[expert[t]].append(t)
                } else {
                    dropped.append(t)
                }
            }
            takenPerGroup.append(taken)
        }
        (self.expert, self.tokens, self.dropped) = (expert, tokens, dropped)
        taken = takenPerGroup
    }
}

/// The router: a bias-free linear map to expert logits, with multiplicative input jitter in training.
public final class SwitchRouter: Module, Stochastic {
    /// "classifier": c → E.
    public let classifier: Linear
    /// ε of U(1−ε, 1+ε).
    public let jitter: Float
    /// Training mode: the input jitter is applied only then.
    public private(set) var isTraining = true
    private var generator: RandomGenerator
    /// The jitter's random stream, saved and restored to replay a forward pass exactly.
    public var randomState: RandomGenerator {
        get { generator }
        set { generator = newValue }
    }

    /// A router for `experts` experts, initialised as the paper does.
    public init(dimension: Int, experts: Int, jitter: Float, generator: inout RandomGenerator) {
        classifier = Linear(
            inputCount: dimension, outputCount: experts, bias: false,
            weightInitializer: .truncatedNormal(
                standardDeviation: (0.1 / Float(dimension)).squareRoot()),
            generator: &generator)
        self.jitter = jitter
        self.generator = RandomGenerator(seed: 0)
    }

    /// `classifier`, as Hugging Face Switch checkpoints name it.
    public var children: [(String, any Module)] { [("classifier", classifier)] }
    /// Turns the input jitter on (training) or off.
    public func setOwnTrainingMode(_ training: Bool) { isTraining = training }
    /// Restarts the jitter's random stream from `seed`.
    public func reseed(_ seed: UInt64) { generator = RandomGenerator(seed: seed) }

    /// tokens [T, c] → logits [T, E] (float32 throughout).
    public func callAsFunction(_ tokens: Tensor) -> Tensor {
        self(tokens, weight: classifier.weight.value)
    }

    /// The router with weight [E, c].
    public func callAsFunction(_ tokens: Tensor, weight: Tensor) -> Tensor {
        guard isTraining && jitter > 0 else {
            return Tensor.linear(tokens, weight: weight, bias: nil)
        }
        let noise = Tensor.filled(shape: tokens.shape) { out in
            for i in out.indices { out[i] = 1 - jitter + 2 * jitter * generator.nextUniform() }
        }
        return Tensor.linear(tokens * noise, weight: weight, bias: nil)
    }
}

/// A T5 feed-forward network: wi → activation → dropout → wo, without biases ("DenseActDense").
public final class ExpertFeedForward: Module {
    /// "wi": c → d_ff; "wo": d_ff → c.
    public let wi: Linear, wo: Linear
    /// The non-linearity between `wi` and `wo`.
    public let activation: Activation
    /// Dropout on the hidden units, before `wo`.
    public let dropout: Dropout

    /// An expert initialised as the Switch paper does (truncated normal, std √(0.1/fan_in)).
    public init(
        dimension: Int, hiddenDimension: Int, activation: Activation, dropout: Float,
        generator: inout RandomGenerator
    ) {
        func initializer(_ fanIn: Int) -> Initializer {
            .truncatedNormal(standardDeviation: (0.1 / Float(fanIn)).squareRoot())
        }
        wi = Linear(
            inputCount: dimension, outputCount: hiddenDimension, bias: false,
            weightInitializer: initializer(dimension), generator: &generator)
        wo = Linear(
            inputCount: hiddenDimension, outputCount: dimension, bias: false,
            weightInitializer: initializer(hiddenDimension), generator: &generator)
        self.activation = activation
        self.dropout = Dropout(probability: dropout)
    }

    /// `wi`, `wo` and `dropout`, as Hugging Face T5 names them.
    public var children: [(String, any Module)] { [("wi", wi), ("wo", wo), ("dropout", dropout)] }

    /// [..., c] → [..., c].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        self(x, wi: wi.weight.value, wo: wo.weight.value)
    }

    /// The expert with the given weights.
    public func callAsFunction(_ x: Tensor, wi: Tensor, wo: Tensor) -> Tensor {
        Tensor.linear(
            dropout(activation(Tensor.linear(x, weight: wi, bias: nil))), weight: wo, bias: nil)
    }
}

extension ExpertFeedForward: FeedForwardLayer {
    /// [..., c] → [..., c]; the context is unused.
    public func callAsFunction(_ x: Tensor, context: MixerContext) -> Tensor { self(x) }
}

/// The experts, named "expert_<i>" as in Hugging Face checkpoints.
public final class ExpertList: Module {
    /// The experts, in index order.
    public let list: [ExpertFeedForward]
    /// A list of experts.
    public init(_ list: [ExpertFeedForward]) { self.list = list }
    /// `expert_<i>` for each expert.
    public var children: [(String, any Module)] {
        list.enumerated().map { ("expert_\($0.offset)", $0.element) }
    }
}

/// `SwitchFeedForward.combine` as a kernel op: inputs every expert's part, then the gate.
struct SwitchCombineOp: KernelOp {
    static let op = Op("switchCombine")
    let parts: [Tensor], rows: [[Int]], gate: Tensor, width: Int

    var inputs: [Tensor?] { parts + [gate] }
    var outputShape: [Int] { [gate.shape[0], width] }

    func forward(_ x: KernelBuffers, into out: UnsafeMutablePointer<Float>) {
        let g = x.input(parts.count)
        out.initialize(repeating: 0, count: gate.shape[0] * width)
        for (index, targets) in zip(parts.indices, rows) {
            let part = x.input(index)
            for (j, r) in targets.enumerated() {
                let source = part + j * width
                let target = out + r * width
                for k in 0..<width { target[k] = g[r] * source[k] }
            }
        }
    }

    func backward(_ x: KernelBuffers, _ gradients: KernelGradients, saved: Void) {
        let (g, gy, gateGradient) = (
            x.input(parts.count), gradients.outputGradient, gradients.input(parts.count)
        )
        for (index, targets) in zip(parts.indices, rows) {
            let (part, d) = (x.input(index), gradients.input(index))
            for (j, r) in targets.enumerated() {
                let upstream = gy + r * width
                let target = d + j * width
                for k in 0..<width { target[k] = g[r] * upstream[k] }
                gateGradient[r] = Dot.product(part + j * width, upstream, count: width)
            }
        }
    }
}

extension SwitchCombineOp {
    /// Two experts' parts scattered to rows 0, 2 and 3 of four (row 1 dropped), scaled by the gate.
    static var gradientExamples: [KernelOpExample] {
        let inputs = [
            Tensor.randomNormal([2, 3], seed: 1), Tensor.randomNormal([1, 3], seed: 2),
            Tensor.randomUniform([4, 1], seed: 3, low: 0.2, high: 1),
        ]
        return [
            KernelOpExample("two parts, a dropped row", inputs) { x in
                SwitchFeedForward.combine(
                    [x[0], x[1]], rows: [[0, 2], [3]], gate: x[2], tokenCount: 4, width: 3)
            }
        ]
    }
}
