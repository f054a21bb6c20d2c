// SPADE — State sPace AugmenteD TransformEr (Zuo et al., 2022, arXiv:2212.08136;
// microsoft/EfficientLongSequenceModeling `spade_layer.py`, mechanisms-a §4.1): the bottom layer
// runs a state-space model (global information, O(L log L)) beside local attention (fine detail,
// O(L·w)), and every layer above runs local attention alone. This mixer is the bottom layer's:
//   g   = S4D(x̂ ⊙ mask)                  global branch, padded positions zero-filled first
//   loc = Attention(x̂)                   local attention (any registry q/k/v mechanism; "local")
//   concat: y = W_agg·[LN_g(g), LN_l(loc)] + b     (run_lm.sh's --s4-local-combine concat)
//   add:    y = w·LN_g(g) + (1 − w)·LN_l(loc)      (the config default, w = s4_weight = 0.5)
//   stack:  y = Attention(S4D(x̂))                   (no extra norms)
// x̂ is the block's input after its pre-LN; the block adds the residual and the FFN. LN_g and LN_l
// are separate norms because the two branches have very different scales.
// The layers above: the registry entry declares `upperLayerMixer = "local"`, and the model builder
// (SequenceEncoder, ViT) runs that mechanism in layers ≥ 1 unless the model configuration names
// another (`upper_mixer`) — SPADE's `s4_every_n_layers = 100` (only layer 0 has the SSM).
// Causal use (language modelling) takes the one-sided S4D kernel and a causal attention branch.
// Shapes: b batch, n length, c model width (= the S4D channel count H).
import AttendCore
import AttendNN

/// The SPADE bottom layer: S4D and local attention, combined.
public final class SpadeMixer: TokenMixer {
    /// How the two branches are combined.
    public enum Combine: String, Codable, Sendable, CaseIterable {
        /// W_agg·[LN(g), LN(loc)] + b (the published language-model run).
        case concat
        /// w·LN(g) + (1 − w)·LN(loc) (the reference's config default).
        case add
        /// Attention(S4D(x)).
        case stack
    }

    /// Options of the SPADE mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Registry name of the attention branch (a q/k/v mechanism); "local" as in the paper.
        public var attention = "local"
        /// Branch combination.
        public var combine: Combine = .concat
        /// Weight w of the S4D branch for `add`.
        public var s4Weight: Float = 0.5
        /// The state-space layer's options.
        public var s4 = S4D.Options()

        /// Defaults: local attention, concat, S4D-Lin with N = 64.
        public init() {}

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&attention, .attention)
            try c.override(&combine, .combine)
            try c.override(&s4Weight, .s4Weight)
            try c.override(&s4, .s4)
        }

        enum CodingKeys: String, CodingKey { case attention, combine, s4Weight = "s4_weight", s4 }
    }

    /// The options it was built with.
    public let options: Options
    /// The global branch.
    public let s4: S4D
    /// The local branch (q/k/v projections and output projection included).
    public let attention: any TokenMixer
    /// LN_g and LN_l (concat and add).
    public let s4Norm: LayerNorm?, attentionNorm: LayerNorm?
    /// W_agg: 2c → c (concat).
    public let aggregate: Linear?

    /// The bottom layer for `configuration` (its `spade` options; the attention branch reads its
    /// own options, e.g. `local`, from the same configuration).
    public init(configuration: MixerConfiguration, generator: inout RandomGenerator) throws {
        let options = configuration.spade
        guard options.attention != "spade", let branch = try? Mechanisms.named(options.attention)
        else {
            throw MixerError.invalidConfiguration(
                mechanism: "spade",
                problem:
                    "attention branch '\(options.attention)' is not a registered mechanism other than spade; "
                    + "choose one of: \(Mechanisms.names.filter { $0 != "spade" }.joined(separator: ", "))"
            )
        }
        guard !branch.capabilities.replacesFeedForward else {
            throw MixerError.invalidConfiguration(
                mechanism: "spade",
                problem: "attention branch '\(options.attention)' replaces the whole layer")
        }
        guard (0...1).contains(options.s4Weight) else {
            throw MixerError.invalidConfiguration(
                mechanism: "spade", problem: "s4_weight must lie in [0, 1], got \(options.s4Weight)"
            )
        }
        self.options = options
        let c = configuration.modelDimension
        s4 = try S4D(channels: c, options: options.s4, generator: &generator)
        attention = try branch.make(configuration, &generator)
        let normed = options.combine != .stack
        s4Norm = normed ? LayerNorm(dimension: c) : nil
        attentionNorm = normed ? LayerNorm(dimension: c) : nil
        aggregate =
            options.combine == .concat
            ? Linear(
                inputCount: 2 * c, outputCount: c, weightInitializer: .xavierUniform(),
                biasInitializer: .zeros, generator: &generator)
            : nil
    }

    /// `s4`, `attention`, their norms and the `aggregate` projection when present.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [("s4", s4), ("attention", attention)]
        if let s4Norm, let attentionNorm {
            list += [("s4_norm", s4Norm), ("attention_norm", attentionNorm)]
        }
        if let aggregate { list.append(("aggregate", aggregate)) }
        return list
    }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        guard x.rank == 3, x.shape[2] == s4.channels else {
            throw MixerError.shapeMismatch(
                mechanism: "spade", expected: "[batch, length, \(s4.channels)]", got: x.shape)
        }
        let (b, n) = (x.shape[0], x.shape[1])
        var input = x
        // S4Module zero-fills padding
        if let mask = context.paddingMask { input = x * mask.reshaped([b, n, 1]) }
        let global = s4(input, causal: context.isCausal)  // [b, n, c]
        return try combined(x, global: global) { try attention($0, context: context) }
    }

    /// The two branches combined: `global` is S4D's output for input x, `attend` runs the attention
    /// branch (its forward, or a decoding call).
    func combined(_ x: Tensor, global: Tensor, attend: (Tensor) throws -> Tensor) throws -> Tensor {
        switch options.combine {
        case .stack:
            return try attend(global)
        case .add:
            let local = try attend(x)
            return s4Norm!(global) * options.s4Weight + attentionNorm!(local)
                * (1 - options.s4Weight)
        case .concat:
            let local = try attend(x)
            return aggregate!(
                // [b, n, c]
                Tensor.concatenated([s4Norm!(global), attentionNorm!(local)], alongAxis: 2))
        }
    }

    /// Working memory: the attention branch's own estimate; the S4D kernel [r, c, n] (r = 2
    /// directions, 1 when causal) with its gradient; the long convolution's input and output
    /// (transposed copies), the skip term and the sum with their gradients; and, unless the
    /// branches are stacked, the two norms, the combination and the aggregation with theirs.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.spade
        // A branch of spade itself is refused by the mixer; it must not recurse here.
        let named = options.attention == "spade" ? nil : try? Mechanisms.named(options.attention)
        let branch = named?.workingMemory ?? WorkingMemory.linear
        let c = Double(configuration.modelDimension), n = Double(size.length)
        let directions: Double = size.causal ? 1 : 2
        let combine: Double = options.combine == .stack ? 0 : 8
        return branch(configuration, size)
            + WorkingMemory.activations(6 + combine, configuration, size)
            + WorkingMemory.bytes(2 * directions * c * n + 4 * c * c)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "spade",
        summary:
            "S4D state space + local attention in the bottom layer, local above (SPADE, Zuo et al. 2022)",
        capabilities: {
            var c = Capabilities(
                supportsCausal: true, complexity: "O(n log n) S4D + O(n·w·d) local")
            c.upperLayerMixer = "local"
            return c
        }(),
        options: SpadeMixer.Options.self,
        kernelOps: [S4DKernelOp.self, LongConvolutionOp.self, SegmentedAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try SpadeMixer(configuration: configuration, generator: &generator)
        })
}

extension SpadeMixer.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "spade"

    /// The S4 branch's weight in the sum and the S4D layer's options.
    public static let limits: [OptionLimit<Self>] =
        [.number("s4_weight", \.s4Weight, .from(0, to: 1))] + OptionLimit.nested("s4", \.s4)
}

extension MixerConfiguration {
    /// SPADE's bottom layer, S4D + local attention (`mixer_options.spade`).
    public var spade: SpadeMixer.Options {
        get { self[SpadeMixer.Options.self] }
        set { self[SpadeMixer.Options.self] = newValue }
    }
}
