// Transformer-MGK (Nguyen et al., ICML 2022, arXiv:2110.08678): each head's key at position j is a
// mixture of M Gaussians with means k_j1…k_jM, priors π and variances σ_r², and attention is the
// posterior of a query under that mixture (mechanisms-a.md §2, reconstructed from the reference code
// minhtannguyen/transformer-mgk, whose defaults are kept):
//     A_ij ∝ Σ_r π_r·exp(−‖q_i − k_jr‖²/(2σ_r²))     (soft),   ∝ max_r exp(−‖q_i − k_jr‖²/(2σ_r²))  (hard)
// - keys: M separate key projections (the LRA `key2` / LM `rbf2keys` runs, the default) or one
//   projection minus learned offsets μ_r, μ_0 = 0 (`multi_gauss` / `rbf`);
// - priors: one π per head and component, learned by gradient descent and clamped to [0, 1] at use
//   (the LRA code shares one π across heads; the LM code keeps one per head and key position, which
//   ties the model to a length), or fixed and equal;
// - variances: σ_r² = √d/s_r with scales s (LRA: all 1; the LM code: [1, 3]);
// - the score can drop the norm terms (q·k/σ² instead of the distance), which with M = 1 and equal
//   priors is exactly softmax attention.
// The head dimension may be set independently of the head count (the LRA code's `head_dim`), so a
// 4-head MGK and an 8-head softmax model can share a width: MGK's point is matching accuracy with
// fewer heads. Registered twice: `mgk` (softmax, tiled kernel, O(M·n²·d)) and `mgk-linear`
// (Transformer-MLK, `MixtureOfLinearKeys.swift`, O(n·M·d²)).
// Shapes: b batch, n tokens, c width, h heads, d head dimension, M components.
import AttendCore
import AttendNN
import Foundation

/// Multi-head attention whose keys are Gaussian mixtures (softmax) or mixtures of linear keys.
public final class MixtureOfGaussianKeysAttention: TokenMixer {
    /// How the M component keys are made.
    public enum KeyConstruction: String, Codable, Sendable {
        /// One key projection per component (`key2`).
        case projections
        /// One key projection minus learned per-head offsets, μ_0 = 0 (`multi_gauss`).
        case offsets
    }

    /// How components combine.
    public enum Assignment: String, Codable, Sendable {
        /// Prior-weighted sum over components (the mixture likelihood).
        case soft
        /// Only the closest component counts (the hard E-step); no priors.
        case hard
    }

    /// Where the priors come from.
    public enum Priors: String, Codable, Sendable {
        /// A parameter per head and component, initialised to 1/M, clamped to [0, 1] at use.
        case learned
        /// Equal and constant: 1/M.
        case fixed
    }

    /// The per-component score.
    public enum Score: String, Codable, Sendable {
        /// −‖q − k‖²/(2σ²): the Gaussian log-density (the reference).
        case gaussian
        /// q·k/σ²: the distance without its norm terms (plain softmax attention when M = 1).
        case dotProduct = "dot_product"
    }

    /// Which implementation of the softmax form runs.
    public enum Path: String, Codable, Sendable {
        case fused, reference
    }

    /// The attention form, fixed by the registry entry.
    public enum Form: Sendable {
        /// Softmax over keys of the mixture likelihoods (`mgk`).
        case softmax
        /// Normalised linear attention over prior-mixed key features (`mgk-linear`).
        case linear
    }

    /// Options of `mgk` and `mgk-linear`, with the reference's defaults.
    public struct Options: Codable, Sendable, Equatable {
        /// M, the Gaussians per key.
        public var components = 2
        /// How the M component keys are made.
        public var keys = KeyConstruction.projections
        /// Whether components combine by prior-weighted sum or only the closest counts.
        public var assignment = Assignment.soft
        /// Learned or fixed (1/M) priors; soft assignment only.
        public var priors = Priors.learned
        /// s_r with σ_r² = √d/s_r; empty means every s_r = 1 (LRA). The LM code uses [1, 3].
        public var varianceScales: [Float] = []
        /// The per-component score: Gaussian log-density or scaled dot product.
        public var score = Score.gaussian
        /// d when not c/h (the reference's `head_dim`), so fewer heads need not mean wider heads.
        public var headDimension: Int?
        /// Which implementation of the softmax form runs.
        public var path = Path.fused

        /// The reference's defaults.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case components, keys, assignment, priors, varianceScales = "variance_scales", score
            case headDimension = "head_dimension", path
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&components, .components)
            try c.override(&keys, .keys)
            try c.override(&assignment, .assignment)
            try c.override(&priors, .priors)
            try c.override(&varianceScales, .varianceScales)
            try c.override(&score, .score)
            try c.override(&headDimension, .headDimension)
            try c.override(&path, .path)
        }
    }

    /// Softmax (`mgk`) or linear (`mgk-linear`).
    public let form: Form
    /// Components, key construction, assignment, priors, score and path.
    public let options: Options
    /// Query and value projections c → h·d and the output projection h·d → c.
    public let query: Linear, value: Linear, output: Linear
    /// c → M·h·d (component r in rows r·h·d ..< (r+1)·h·d) for `.projections`; c → h·d for `.offsets`.
    public let key: Linear
    /// [M − 1, h, d] offsets μ_1… (μ_0 = 0) for `.offsets`, else nil.
    public let offsets: Parameter?
    /// [h, M] learned priors, else nil.
    public let priors: Parameter?
    /// h and d.
    public let headCount: Int, headDimension: Int

    /// A layer of the given form sized by `configuration`.
    public init(configuration: MixerConfiguration, form: Form, generator: inout RandomGenerator)
        throws
    {
        let name = form == .softmax ? "mgk" : "mgk-linear"
        let options = configuration.mgk
        let h = configuration.headCount
        let c = configuration.modelDimension
        let M = options.components
        func invalid(_ problem: String) -> MixerError {
            .invalidConfiguration(mechanism: name, problem: problem)
        }
        guard h > 0 else { throw invalid("head count must be positive") }
        let d: Int
        if let explicit = options.headDimension {
            guard explicit > 0 else {
                throw invalid("head dimension must be positive, got \(explicit)")
            }
            d = explicit
        } else {
            d = try configuration.validatedHeads(for: name).d
        }
        guard M >= 1 else { throw invalid("needs at least one component, got \(M)") }
        guard options.varianceScales.isEmpty || options.varianceScales.count == M else {
            throw invalid("\(options.varianceScales.count) variance scales for \(M) components")
        }
        guard options.varianceScales.allSatisfy({ $0 > 0 }) else {
            throw invalid("variance scales must be positive")
        }
        if form == .linear && options.assignment == .hard {
            throw invalid(
                "the hard assignment has no linear form (it needs each query's closest component)")
        }
        let bias = configuration.projectionBias
        let width = h * d
        self.form = form
        self.options = options
        query = Linear(inputCount: c, outputCount: width, bias: bias, generator: &generator)
        key = Linear(
            inputCount: c, outputCount: options.keys == .projections ? M * width : width,
            bias: bias,
            generator: &generator)
        value = Linear(inputCount: c, outputCount: width, bias: bias, generator: &generator)
        output = Linear(inputCount: width, outputCount: c, bias: bias, generator: &generator)
        offsets =
            options.keys == .offsets && M > 1
            ? Parameter(
                Initializer.normal(standardDeviation: 0.5).make(
                    [M - 1, h, d], generator: &generator)) : nil
        priors =
            options.assignment == .soft && options.priors == .learned
            ? Parameter(Tensor(repeating: 1 / Float(M), shape: [h, M])) : nil
        headCount = h
        headDimension = d
    }

    /// `offsets` and `priors`, when present.
    public var ownParameters: [(String, Parameter)] {
        (offsets.map { [("offsets", $0)] } ?? []) + (priors.map { [("priors", $0)] } ?? [])
    }
    /// `query`, `key`, `value` and `output`.
    public var children: [(String, any Module)] {
        [("query", query), ("key", key), ("value", value), ("output", output)]
    }

    /// The component keys [b, n, M, h, d] of hidden states x [b, n, c].
    public func componentKeys(_ x: Tensor) -> Tensor {
        let (b, n, h, d, M) = (x.shape[0], x.shape[1], headCount, headDimension, options.components)
        switch options.keys {
        case .projections:
            return key(x).reshaped([b, n, M, h, d])
        case .offsets:
            let k = key(x).reshaped([b, n, 1, h, d])
            guard let offsets else { return k }
            let means = Tensor.concatenated(
                [Tensor.zeros([1, h, d]), offsets.value], alongAxis: 0)  // [M, h, d]
            return k - means.reshaped([1, 1, M, h, d])
        }
    }

    /// π [h, M]: the learned priors clamped to [0, 1], or 1/M.
    public func mixturePriors() -> Tensor {
        priors.map { $0.value.clamped(lower: 0, upper: 1) }
            ?? Tensor(
                repeating: 1 / Float(options.components), shape: [headCount, options.components])
    }

    /// log π for the soft assignment's log-sum-exp over components; nil for the hard one's maximum.
    func scoreLogPriors() -> Tensor? { options.assignment == .hard ? nil : mixturePriors().log() }

    /// 1/σ_r² = s_r/√d.
    public var inverseVariances: [Float] {
        let scales =
            options.varianceScales.isEmpty
            ? [Float](repeating: 1, count: options.components) : options.varianceScales
        return scales.map { $0 / Float(headDimension).squareRoot() }
    }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let c = query.inputCount
        guard x.rank == 3, x.shape[2] == c else {
            throw MixerError.shapeMismatch(
                mechanism: form == .softmax ? "mgk" : "mgk-linear",
                expected: "[batch, length, \(c)]", got: x.shape)
        }
        let (b, n, h, d) = (x.shape[0], x.shape[1], headCount, headDimension)
        let q = query(x).reshaped([b, n, h, d])
        let keys = componentKeys(x)  // [b, n, M, h, d]
        let v = value(x).reshaped([b, n, h, d])
        let mixed: Tensor  // [b, n, h, d]
        switch form {
        case .softmax:
            let logPriors = scoreLogPriors()
            let gaussian = options.score == .gaussian
            switch options.path {
            case .fused:
                mixed = Tensor.mixtureOfGaussianKeysAttention(
                    query: q, keys: keys, value: v, logPriors: logPriors,
                    inverseVariances: inverseVariances,
                    gaussian: gaussian, causal: context.isCausal, keyMask: context.paddingMask)
            case .reference:
                mixed = referenceMixtureOfGaussianKeysAttention(
                    query: q, keys: keys, value: v, logPriors: logPriors,
                    inverseVariances: inverseVariances,
                    gaussian: gaussian, causal: context.isCausal, keyMask: context.paddingMask)
            }
        case .linear:
            mixed = mixtureOfLinearKeysAttention(
                query: q, keys: keys, value: v, priors: mixturePriors(),
                scale: 1 / Float(d).squareRoot(),
                causal: context.isCausal, keyMask: context.paddingMask)
        }
        return output(mixed.reshaped([b, n, h * d]))
    }

    /// Working memory: the multi-head frame with M key projections instead of one (their outputs
    /// and gradients), at the options' head dimension; the reference path adds M [b, h, n, n]
    /// score maps, the mixed probabilities and their gradients.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.mgk
        let M = Double(options.components)
        let widened = widthScaled(configuration)
        let maps = options.path == .reference ? 8 * M + 2 : 0
        return WorkingMemory.frame(widened, size, coreActivations: 3 * (M - 1))
            + WorkingMemory.maps(maps, keysPerQuery: Double(size.length), widened, size)
    }

    /// The configuration with the width of the heads the options give (h × their head
    /// dimension), which the projections' outputs have.
    static func widthScaled(_ configuration: MixerConfiguration) -> MixerConfiguration {
        var widened = configuration
        if let d = configuration.mgk.headDimension {
            widened.modelDimension = Swift.max(
                configuration.modelDimension, configuration.headCount * d)
        }
        return widened
    }

    /// Registry entry of the softmax form.
    public static let entry = Mechanism(
        name: "mgk",
        summary:
            "Transformer-MGK: keys as mixtures of Gaussians, soft or hard, learned or fixed priors (Nguyen et al. 2022)",
        capabilities: Capabilities(supportsCausal: true, complexity: "O(M·n²·d) time, O(n) memory"),
        options: MixtureOfGaussianKeysAttention.Options.self,
        kernelOps: [MixtureOfGaussianKeysOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try MixtureOfGaussianKeysAttention(
                configuration: configuration, form: .softmax, generator: &generator)
        })
}

extension MixtureOfGaussianKeysAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "mgk"

    /// Components M, one variance scale per component (or none), and an explicit head dimension.
    public static let limits: [OptionLimit<Self>] = [
        .whole("components", \.components, 1...64),
        .numbers(
            "variance_scales", \.varianceScales, each: .above(0, atMost: 1e6),
            counts: { [0, $0.components] }),
        .optionalWhole("head_dimension", \.headDimension, 1...65_536),
    ]
}

extension MixerConfiguration {
    /// Options of `mgk` and `mgk-linear` (`mixer_options.mgk`).
    public var mgk: MixtureOfGaussianKeysAttention.Options {
        get { self[MixtureOfGaussianKeysAttention.Options.self] }
        set { self[MixtureOfGaussianKeysAttention.Options.self] = newValue }
    }
}
