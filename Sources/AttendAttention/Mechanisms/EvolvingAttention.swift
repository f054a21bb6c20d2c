// Evolving attention (Wang et al., ICML 2021, arXiv:2102.12895; TPAMI arXiv:2212.08330;
// pkuyym/EvolvingAttention, mechanisms-a §5): the attention logits of consecutive layers are linked
// by a residual path through a 3×3 convolution over the maps, heads as channels:
//   S_i = q·kᵀ/√d
//   M_i = (1 − ρ)·S_i + ρ·Ã_{i−1}                  (ρ: the code's `beta`)
//   Ã_i = γ·act(Conv3×3(M_i)) + (1 − γ)·M_i        (γ: the code's `alpha`)
//   out = softmax(Ã_i)·v;  Ã_i goes to layer i + 1 through `MixerContext.carried`
// The first layer (nothing carried, or a map of another shape) uses Ã = S: it is plain attention.
// Defaults are EA-DC's options.py (PyTorch): γ = 0.3, ρ = 0.7, LeakyReLU; EA-ResNet (TensorFlow)
// uses γ = 1, ρ = 0.5 with ReLU. Conv weights start as PyTorch's Conv2d (U(±1/√(9h))).
// Base pattern: `full` stores the whole [n, m] map; `local` stores the diagonal band of a sliding
// window (|i − j| ≤ ⌊w/2⌋, or i − w < j ≤ i causally: the `local` mechanism's windows), which is the
// whole map with the cells outside the window at 0, in O(n·w) memory.
// Masking (mechanisms-a §5.4, our design; the reference has none): cells of padded keys or queries,
// future cells (causal) and cells outside the window are 0 before the convolution and in the carried
// map, and −∞ (keys) before the softmax; the causal convolution reads only rows i−2…i and columns
// j−2…j. Padded query rows of evolved layers see every real key uniformly.
// The maps are materialised, so the mixer states its memory need and refuses inputs whose maps would
// exceed `memory_budget` (`MixerError.memoryBudgetExceeded`) instead of exhausting memory.
// Shapes: b batch, h heads, n queries, m keys, W stored columns (m, or the window), d head dimension.
import AttendCore
import AttendNN

/// Attention whose logits evolve from layer to layer through a convolution over the maps.
public final class EvolvingAttention: AttentionCore {
    /// Which keys a query sees (and how the map is stored).
    public enum Base: String, Codable, Sendable, CaseIterable {
        /// Every key (EA on full attention): [n, m] maps.
        case full
        /// A sliding window (EA on local attention): banded maps of the window's width.
        case local
    }

    /// Options of the evolving-attention mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Full or windowed attention underneath.
        public var base: Base = .full
        /// Window size w for `local` (the `local` mechanism's convention).
        public var windowSize = 128
        /// ρ: weight of the previous layer's map in the residual mix (code: beta).
        public var residualWeight: Float = 0.7
        /// γ: weight of the convolution branch (code: alpha).
        public var convolutionWeight: Float = 0.3
        /// Non-linearity after the convolution.
        public var activation: MapActivation = .leakyRelu
        /// Largest memory the maps may take, in bytes (1 GiB).
        public var memoryBudget = 1 << 30

        /// EA-DC's defaults on full attention, 1 GiB budget.
        public init() {}

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&base, .base)
            try c.override(&windowSize, .windowSize)
            try c.override(&residualWeight, .residualWeight)
            try c.override(&convolutionWeight, .convolutionWeight)
            try c.override(&activation, .activation)
            try c.override(&memoryBudget, .memoryBudget)
        }

        enum CodingKeys: String, CodingKey {
            case base, windowSize = "window_size", residualWeight = "residual_weight"
            case convolutionWeight = "convolution_weight", activation, memoryBudget =
                "memory_budget"
        }
    }

    /// Key under which a layer leaves its evolved logits for the next.
    public static let carriedKey = "evolving.logits"
    /// Maps of b·h·n·W floats budgeted per layer and training step. Forward keeps the mixed map,
    /// the pre-activation, the evolved (carried) map and the probabilities, and briefly the scores
    /// and masked logits; backward adds gradient maps as others are freed. `attend bench attention
    /// --backward` measured a peak of 4.6 maps (n = 1024, h = 8); 6 leaves a margin.
    public static let mapsPerStep = 6

    /// The options it was built with.
    public let options: Options
    /// Convolution over heads, [h, h, 3, 3], and its bias [h].
    public let weight: Parameter, bias: Parameter
    /// Heads h (the convolution's channels).
    public let headCount: Int

    /// A layer for `headCount` heads.
    public init(headCount: Int, options: Options, generator: inout RandomGenerator) throws {
        guard (0...1).contains(options.residualWeight), (0...1).contains(options.convolutionWeight)
        else {
            throw MixerError.invalidConfiguration(
                mechanism: "evolving",
                problem:
                    "residual and convolution weights must lie in [0, 1], got \(options.residualWeight) and \(options.convolutionWeight)"
            )
        }
        guard options.base == .full || options.windowSize >= 1 else {
            throw MixerError.invalidConfiguration(
                mechanism: "evolving",
                problem: "window size must be at least 1, got \(options.windowSize)")
        }
        self.options = options
        self.headCount = headCount
        let fanIn = Initializer.fanInUniform(fanIn: 9 * headCount)
        weight = Parameter(fanIn.make([headCount, headCount, 3, 3], generator: &generator))
        bias = Parameter(fanIn.make([headCount], generator: &generator))
    }

    /// The 3×3 convolution across heads' score maps: weight [h, h, 3, 3] and bias [h].
    public var ownParameters: [(String, Parameter)] {
        [("map_conv.weight", weight), ("map_conv.bias", bias)]
    }

    /// Columns of the stored map and the keys before the diagonal in its first column.
    func layout(keys m: Int, causal: Bool) -> (width: Int, before: Int) {
        guard options.base == .local else { return (m, 0) }
        let w = options.windowSize
        return causal ? (w, w - 1) : (2 * (w / 2) + 1, w / 2)
    }

    /// Bytes the maps need for a forward and backward pass on these sizes.
    public func memoryNeed(batch: Int, heads: Int, queries n: Int, keys m: Int, causal: Bool) -> Int
    {
        let width = layout(keys: m, causal: causal).width
        return EvolvingAttention.mapsPerStep * batch * heads * n * width * MemoryLayout<Float>.size
    }

    /// q, k [b, n, h, d], v [b, m, h, e] → [b, n, h, e] with maps evolved by the convolution;
    /// throws when the maps would exceed `memoryBudget`.
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let m = key.shape[1]
        let causal = context.isCausal
        if options.base == .local, m != n {
            throw MixerError.invalidConfiguration(
                mechanism: "evolving",
                problem: "sliding windows need as many keys as queries, got \(n) and \(m)")
        }
        let need = memoryNeed(batch: b, heads: h, queries: n, keys: m, causal: causal)
        guard need <= options.memoryBudget else {
            throw MixerError.memoryBudgetExceeded(
                mechanism: "evolving", needed: need, budget: options.memoryBudget)
        }
        let (width, before) = layout(keys: m, causal: causal)
        let scale = 1 / Float(d).squareRoot()
        let scores: Tensor  // [b, h, n, W]
        switch options.base {
        case .full:
            // [b, h, n, d], [b, h, m, d]
            let q = query.permuted([0, 2, 1, 3]), k = key.permuted([0, 2, 1, 3])
            scores = Tensor.matmul(q, k, transposeB: true) * scale
        case .local:
            scores = Tensor.bandedScores(
                query: query, key: key, scale: scale, before: before, width: width)
        }
        let masks = EvolvingAttention.masks(
            batch: b, queries: n, keys: m, width: width, before: before,
            banded: options.base == .local, causal: causal,
            padding: context.paddingMask)
        let logits: Tensor
        let evolved: Tensor
        if let previous = context.carried[EvolvingAttention.carriedKey],
            previous.shape == scores.shape
        {
            evolved = Tensor.evolvingUpdate(
                scores: scores, previous: previous, weight: weight.value, bias: bias.value,
                valid: masks.valid,
                residualWeight: options.residualWeight,
                convolutionWeight: options.convolutionWeight,
                activation: options.activation, shift: options.base == .local ? 1 : 0,
                causal: causal)
            logits = evolved
        } else {
            evolved = scores * masks.valid
            logits = scores
        }
        context.carried[EvolvingAttention.carriedKey] = evolved
        let probabilities = logits.maskedFill(where: masks.hidden, with: -.infinity).softmax(
            alongAxis: -1)  // [b, h, n, W]
        switch options.base {
        case .full:
            let v = value.permuted([0, 2, 1, 3])  // [b, h, m, e]
            return Tensor.matmul(probabilities, v).permuted([0, 2, 1, 3])  // [b, n, h, e]
        case .local:
            return Tensor.bandedMix(probabilities: probabilities, value: value, before: before)
        }
    }

    /// `valid` [1 or b, 1, n, W]: 1 on cells that exist and whose key and query are visible (the
    /// convolution's input); `hidden` [1 or b, 1, n, W]: 1 on cells the softmax must skip (keys
    /// outside the sequence or window, padded keys, future keys).
    static func masks(
        batch b: Int, queries n: Int, keys m: Int, width: Int, before: Int, banded: Bool,
        causal: Bool, padding: Tensor?
    ) -> (valid: Tensor, hidden: Tensor) {
        let rows = padding == nil ? 1 : b
        let mask = padding?.scalars
        var valid = [Float](repeating: 0, count: rows * n * width)
        var hidden = [Float](repeating: 1, count: rows * n * width)
        for r in 0..<rows {
            for i in 0..<n {
                let queryVisible = mask.map { $0[r * n + i] != 0 } ?? true
                for c in 0..<width {
                    let j = banded ? i - before + c : c
                    guard j >= 0, j < m else { continue }
                    if let mask, mask[r * m + j] == 0 { continue }
                    if causal && j > i + m - n { continue }
                    let index = (r * n + i) * width + c
                    hidden[index] = 0
                    valid[index] = queryVisible ? 1 : 0
                }
            }
        }
        return (
            Tensor(shape: [rows, 1, n, width], scalars: valid),
            Tensor(shape: [rows, 1, n, width], scalars: hidden)
        )
    }

    /// Working memory: the multi-head frame, the `mapsPerStep` maps [b, h, n, W] its budget counts
    /// (scores, evolved map, logits, probabilities and their gradients; about four are alive at
    /// once in a first layer, docs/results/attention.md) and the two masks, as arrays and tensors.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.evolving
        let width =
            options.base == .full
            ? size.length
            : (size.causal ? options.windowSize : 2 * (options.windowSize / 2) + 1)
        let w = Double(width)
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.maps(Double(mapsPerStep), keysPerQuery: w, configuration, size)
            + WorkingMemory.bytes(4 * size.tokens * w)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "evolving",
        summary:
            "attention maps evolved across layers by a 3×3 convolution, on full or local attention (Wang et al. 2021)",
        capabilities: {
            var c = Capabilities(
                supportsCausal: true,
                complexity: "O(n²·(d + 9h)) time, O(n²) memory (O(n·w) on local)")
            c.materializesAttentionMap = true
            c.canSeeEveryKey = true  // a layer with nothing carried is plain attention
            return c
        }(),
        options: EvolvingAttention.Options.self,
        kernelOps: [BandedScoresOp.self, BandedMixOp.self, EvolvingUpdateOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            let (h, _) = try configuration.validatedHeads(for: "evolving")
            return try MultiHeadAttention(
                mechanism: "evolving", configuration: configuration,
                core: EvolvingAttention(
                    headCount: h, options: configuration.evolving, generator: &generator),
                generator: &generator)
        })
}

extension EvolvingAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "evolving"

    /// The local base's window, the residual and convolution weights, and the bytes the
    /// materialised maps may take.
    public static let limits: [OptionLimit<Self>] = [
        .whole("window_size", \.windowSize, 1...1_048_576),
        .number("residual_weight", \.residualWeight, .from(0, to: 1)),
        .number("convolution_weight", \.convolutionWeight, .from(0, to: 1)),
        .whole("memory_budget", \.memoryBudget, 1...(1 << 44)),
    ]
}

extension MixerConfiguration {
    /// Evolving attention's convolved maps (`mixer_options.evolving`).
    public var evolving: EvolvingAttention.Options {
        get { self[EvolvingAttention.Options.self] }
        set { self[EvolvingAttention.Options.self] = newValue }
    }
}
