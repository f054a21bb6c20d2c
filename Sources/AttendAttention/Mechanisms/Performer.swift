// Performer / FAVOR+ (Choromanski et al., 2020, arXiv:2009.14794): softmax attention approximated by
// positive orthogonal random features, so attention becomes linear attention on feature maps:
// y = D⁻¹·Q′(K′ᵀV), O(n·m·d) time instead of O(n²·d), causal by prefix sums.
// References: google-research performer/fast_attention (stabiliser, renormalisation, ReLU
// "generalized" kernel used by Long Range Arena) and lucidrains/performer-pytorch 1.1.4 (projection
// matrix as a buffer, redraw every `feature_redraw_interval` training calls, ε = 1e-6 on the key sum).
// Spec: shared/docs/mechanisms-b.md §2.
//
// Kernels: Kernels/PositiveRandomFeatures.swift (φ and the projection), Kernels/PrefixSumLinearAttention.swift
// (the contraction, both directions, with hand-written backward scans).
// Shapes: b batch, n positions, h heads, d head dimension, m features.
//
// Causality: both references stabilise keys by their maximum over the whole sequence, future positions
// included. It cancels except through ε = 1e-4 — but ε then competes with exp(z − h − M), so a later key
// that raises M shifts weight towards uniform at every earlier position (performer-pytorch issue #82;
// an O(1) effect at realistic norms, not an ε-sized one). Attend's causal form stabilises each query's
// view with the running maximum over keys up to it, rescaling the scan's state as it rises: exactly
// causal, and identical to the reference wherever the running maximum equals the global one. The
// bidirectional form keeps the reference's global maximum.
import AttendCore
import AttendNN

/// FAVOR+ attention on [b, n, h, d] heads.
public final class PerformerAttention: AttentionCore {
    /// The feature map.
    public enum Kernel: String, Codable, Sendable {
        /// Positive random features estimating exp(q·k/√d) (FAVOR+).
        case softmax
        /// φ(x) = relu(x) + 10⁻³, no projection (LRA's default "generalized" Performer).
        case relu
    }

    /// Options of the Performer mechanism (defaults: google's `make_fast_softmax_attention`, redraw
    /// interval of performer-pytorch).
    public struct Options: Codable, Sendable, Equatable {
        /// Random features m (softmax kernel).
        public var featureCount = 256
        /// Feature map.
        public var kernel: Kernel = .softmax
        /// Training steps between projection redraws; 0 keeps one projection forever.
        public var featureRedrawInterval = 1000

        /// Defaults.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case featureCount = "feature_count", kernel, featureRedrawInterval =
                "feature_redraw_interval"
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&featureCount, .featureCount)
            try c.override(&kernel, .kernel)
            try c.override(&featureRedrawInterval, .featureRedrawInterval)
        }
    }

    /// ε added to every feature of the key sum in the denominator (performer-pytorch's causal guard,
    /// used in both directions).
    public static let denominatorOffset: Float = 1e-6
    /// Added to the ReLU features (google's `kernel_epsilon`).
    public static let reluOffset: Float = 1e-3

    /// The options in use.
    public let options: Options
    /// d.
    public let headDimension: Int
    /// Seed of this instance's projections: draw k uses stream k of it.
    public let seed: UInt64
    /// W [m, d], frozen (saved with checkpoints as `projection_matrix`); nil for the ReLU kernel.
    let projection: Parameter?
    /// Which scheduled draw the projection holds (−1 after an explicit `redraw` or import).
    public private(set) var drawIndex = 0
    /// Training mode: only then does the redraw schedule run.
    public private(set) var isTraining = false

    /// A Performer core for heads of size `headDimension`, drawing its first projection from `seed`.
    public init(options: Options, headDimension: Int, seed: UInt64) throws {
        guard options.featureCount >= 1 else {
            throw MixerError.invalidConfiguration(
                mechanism: "performer",
                problem: "feature count must be at least 1, got \(options.featureCount)")
        }
        guard options.featureRedrawInterval >= 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "performer",
                problem:
                    "feature redraw interval must be ≥ 0 (0 = never), got \(options.featureRedrawInterval)"
            )
        }
        self.options = options
        self.headDimension = headDimension
        self.seed = seed
        projection =
            options.kernel == .softmax
            ? Parameter(.zeros([options.featureCount, headDimension]), trainable: false) : nil
        drawScheduled(0)
    }

    /// The projection under performer-pytorch's buffer name (frozen: optimizers skip it).
    public var ownParameters: [(String, Parameter)] {
        projection.map { [("projection_matrix", $0)] } ?? []
    }
    /// Training mode turns the redraw schedule on.
    public func setOwnTrainingMode(_ training: Bool) { isTraining = training }

    /// The projection W [m, d] (nil for the ReLU kernel): export it to reproduce these features.
    public var projectionMatrix: Tensor? { projection?.value }

    /// Imports a projection (e.g. a reference implementation's buffer). Training mode's schedule
    /// replaces it at the next redraw boundary.
    public func setProjectionMatrix(_ matrix: Tensor) throws {
        guard let projection else {
            throw MixerError.invalidConfiguration(
                mechanism: "performer", problem: "the ReLU kernel has no projection")
        }
        guard matrix.shape == projection.shape else {
            throw MixerError.shapeMismatch(
                mechanism: "performer", expected: "projection \(projection.shape)",
                got: matrix.shape)
        }
        projection.value = matrix
        drawIndex = -1
    }

    /// Draws a fresh orthogonal projection from `seed` (same seed, same matrix, bit for bit).
    public func redraw(seed: UInt64) {
        guard let projection else { return }
        var generator = RandomGenerator(seed: seed)
        let values = PositiveRandomFeatures.orthogonalGaussianProjection(
            rows: options.featureCount, columns: headDimension, generator: &generator)
        projection.value = Tensor(shape: projection.shape, scalars: values)
        drawIndex = -1
    }

    /// Scheduled draw k: stream k of the instance seed, so training resumed at any step redraws the
    /// same matrices.
    func drawScheduled(_ index: Int) {
        redraw(seed: RandomGenerator.mix(seed, UInt64(index)))
        drawIndex = index
    }

    /// Reference-form features of [b, n, h, d] heads, [b, n, h, m] (m = d for the ReLU kernel): φ(q),
    /// or for keys φ(k) = m^(−1/2)·(exp(z − h − M) + ε) with the global key maximum M (padded keys 0).
    /// Attention itself passes keys without ε and lets the kernel add it (see `attend`).
    public func features(_ x: Tensor, isQuery: Bool, keyMask: Tensor?) -> Tensor {
        guard let projection else {
            let phi = x.relu() + Self.reluOffset
            guard !isQuery, let keyMask else { return phi }
            return phi * keyMask.reshaped([x.shape[0], x.shape[1], 1, 1])
        }
        let w = projection.value.detached()
        if isQuery {
            return Tensor.positiveRandomFeatures(
                x, projection: w, stabilizer: .row, offset: PositiveRandomFeatures.epsilon
            ).features
        }
        let keys = Tensor.positiveRandomFeatures(
            x, projection: w, stabilizer: .global, offset: 0, mask: keyMask
        ).features
        let floor = Self.keyFloor(features: options.featureCount)
        guard let keyMask else { return keys + floor }
        return keys + floor * keyMask.reshaped([x.shape[0], x.shape[1], 1, 1])
    }

    /// m^(−1/2)·ε: the part of every real key's features that the stabiliser does not scale.
    static func keyFloor(features m: Int) -> Float {
        PositiveRandomFeatures.epsilon / Float(m).squareRoot()
    }

    /// FAVOR+ (or ReLU-kernel) linear attention of [b, n, h, d] heads; redraws the projection first
    /// when training has crossed a redraw boundary.
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        if isTraining, projection != nil, options.featureRedrawInterval > 0 {
            let index = context.trainingStep / options.featureRedrawInterval
            if index != drawIndex { drawScheduled(index) }
        }
        let mask = context.paddingMask
        guard let projection else {
            return Tensor.linearAttention(
                queryFeatures: features(query, isQuery: true, keyMask: nil),
                keyFeatures: features(key, isQuery: false, keyMask: mask),
                value: value, causal: context.isCausal, denominatorOffset: Self.denominatorOffset)
        }
        // Keys: bidirectional ones share the global maximum (the reference's stabiliser); causal ones
        // use the running maximum, rescaled inside the scan, so no output depends on a later key.
        let w = projection.value.detached()
        let queries = Tensor.positiveRandomFeatures(
            query, projection: w, stabilizer: .row, offset: PositiveRandomFeatures.epsilon)
        let keys = Tensor.positiveRandomFeatures(
            key, projection: w, stabilizer: context.isCausal ? .prefix : .global, offset: 0,
            mask: mask)
        return Tensor.linearAttention(
            queryFeatures: queries.features, keyFeatures: keys.features, value: value,
            causal: context.isCausal,
            denominatorOffset: Self.denominatorOffset,
            keyFeatureFloor: Self.keyFloor(features: options.featureCount),
            keyLogScale: keys.logScale, keyMask: mask)
    }

    /// Working memory: the multi-head frame and the query and key features [b, n, h, m] with their
    /// gradients (3.1–3.9 of them alive at the peak, measured; 4.5 declared).
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let m = Double(configuration.performer.featureCount)
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.maps(4.5, keysPerQuery: m, configuration, size)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "performer",
        summary:
            "FAVOR+ positive orthogonal random features, linear attention (Choromanski et al. 2020)",
        capabilities: {
            var c = Capabilities(supportsCausal: true, complexity: "O(n·m·d)")
            c.isRandomized = true
            return c
        }(),
        options: PerformerAttention.Options.self,
        kernelOps: [PositiveRandomFeaturesOp.self, LinearAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            let (_, d) = try configuration.validatedHeads(for: "performer")
            let core = try PerformerAttention(
                options: configuration.performer, headDimension: d, seed: generator.next())
            return try MultiHeadAttention(
                mechanism: "performer", configuration: configuration, core: core,
                generator: &generator)
        })
}

extension Tensor {
    /// FAVOR+ features (see Kernels/PositiveRandomFeatures.swift) of [b, n, h, d] heads with projection
    /// W [m, d]: [b, n, h, m], and for `.prefix` the running maxima [b, h, n] (a constant). Differentiable
    /// in `x` (the stabilising maxima are constants); W is a buffer and gets no gradient.
    public static func positiveRandomFeatures(
        _ x: Tensor, projection: Tensor, stabilizer: FeatureStabilizer, offset: Float,
        mask: Tensor? = nil
    ) -> (features: Tensor, logScale: Tensor?) {
        precondition(x.rank == 4, "positiveRandomFeatures: x must be [b, n, h, d], got \(x.shape)")
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[3])
        precondition(
            projection.rank == 2 && projection.shape[1] == d,
            "positiveRandomFeatures: projection \(projection.shape) for head dimension \(d)")
        requireShape("positiveRandomFeatures", "mask", mask, [b, n])
        let (features, saved) = fusedKeepingSaved(
            PositiveRandomFeaturesOp(
                x: x, projection: projection, mask: mask, stabilizer: stabilizer, offset: offset))
        return (features, saved.first)
    }
}

/// `Tensor.positiveRandomFeatures` as a kernel op: input x; constants the projection and mask;
/// saved, for `.prefix`, the running maxima (handed to the caller, never differentiated).
struct PositiveRandomFeaturesOp: KernelOp {
    static let op = Op("positiveRandomFeatures")
    static let backwardReadsOutput = true
    let x: Tensor, projection: Tensor, mask: Tensor?, stabilizer: FeatureStabilizer, offset: Float

    var inputs: [Tensor?] { [x] }
    var constants: [Tensor?] { [projection, mask] }
    var outputShape: [Int] { [x.shape[0], x.shape[1], x.shape[2], projection.shape[0]] }
    var savedShapes: [[Int]] {
        stabilizer == .prefix ? [[x.shape[0], x.shape[2], x.shape[1]]] : []
    }
    var featureLayout: HeadLayout {
        .positionMajor(length: x.shape[1], heads: x.shape[2], dimension: projection.shape[0])
    }

    func problem(_ buffers: KernelBuffers) -> FeatureMapProblem {
        let (b, n, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        return FeatureMapProblem(
            batch: b, heads: h, length: n, dimension: d, features: projection.shape[0],
            stabilizer: stabilizer,
            offset: offset, mask: buffers.constant(1), input: buffers.input(0),
            inputLayout: .positionMajor(length: n, heads: h, dimension: d),
            projection: buffers.constant(0)!)
    }

    func forward(_ buffers: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        if stabilizer == .prefix {
            PositiveRandomFeatures.forward(
                problem(buffers), output: output, outputLayout: featureLayout,
                logScale: buffers.saved(0))
        } else {
            PositiveRandomFeatures.forward(
                problem(buffers), output: output, outputLayout: featureLayout)
        }
    }

    func backward(_ buffers: KernelBuffers, _ g: KernelGradients, saved: Void) {
        PositiveRandomFeatures.backward(
            problem(buffers), features: g.output, featureGradient: g.outputGradient,
            featureLayout: featureLayout,
            inputGradient: g.input(0))
    }
}

extension PerformerAttention: DecodingAttentionCore {
    /// Running sums Σφ(k)ṽᵀ of the prompts' key features, computed with the projection the parallel
    /// forward used and stabilised by the same running maximum.
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws -> any DecodingState {
        let (keys, logScale) = decodingKeyFeatures(key)
        return LinearAttentionState(
            keyFeatures: keys, keyLogScale: logScale, value: value, lengths: lengths,
            keyFeatureFloor: decodingKeyFloor, denominatorOffset: Self.denominatorOffset)
    }

    /// One position of the causal scan: the new key enters the sums, the new query reads them.
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws -> Tensor {
        guard let sums = state as? LinearAttentionState else {
            throw foreignState("performer", state)
        }
        let (keys, logScale) = decodingKeyFeatures(key)
        let queries =
            projection.map {
                Tensor.positiveRandomFeatures(
                    query, projection: $0.value, stabilizer: .row,
                    offset: PositiveRandomFeatures.epsilon
                ).features
            } ?? features(query, isQuery: true, keyMask: nil)
        return sums.step(
            queryFeatures: queries, keyFeatures: keys, keyLogScale: logScale, value: value)
    }

    /// Causal key features without the floor, and for FAVOR+ their running maxima (of one position
    /// in a step: its row maximum), as `attend` computes them.
    func decodingKeyFeatures(_ key: Tensor) -> (Tensor, Tensor?) {
        guard let projection else { return (features(key, isQuery: false, keyMask: nil), nil) }
        let keys = Tensor.positiveRandomFeatures(
            key, projection: projection.value, stabilizer: .prefix, offset: 0)
        return (keys.features, keys.logScale)
    }

    /// The undecayed floor on key features (none for the ReLU kernel, which adds its own offset).
    var decodingKeyFloor: Float {
        projection == nil ? 0 : Self.keyFloor(features: options.featureCount)
    }
}

extension PositiveRandomFeaturesOp {
    /// Row-stabilised query features through linear attention, whose ratio cancels the stabiliser
    /// (a constant of the rule that moves under finite differences), as PerformerTests checks
    /// every stabiliser.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
        var generator = RandomGenerator(seed: 12)
        let projection = Tensor(
            shape: [6, 4],
            scalars: PositiveRandomFeatures.orthogonalGaussianProjection(
                rows: 6, columns: 4, generator: &generator))
        let (x, value) = (
            Tensor.randomNormal([1, 5, 2, 4], seed: 13),
            Tensor.randomNormal([1, 5, 2, 3], seed: 14)
        )
        return [
            KernelOpExample("row-stabilised queries", [x]) {
                let queries = Tensor.positiveRandomFeatures(
                    $0[0], projection: projection, stabilizer: .row,
                    offset: PositiveRandomFeatures.epsilon)
                let keys = Tensor.positiveRandomFeatures(
                    x, projection: projection, stabilizer: .global, offset: 0, mask: mask)
                return Tensor.linearAttention(
                    queryFeatures: queries.features, keyFeatures: keys.features, value: value,
                    causal: false,
                    keyFeatureFloor: PositiveRandomFeatures.epsilon / Float(6).squareRoot(),
                    keyMask: mask)
            }
        ]
    }
}

extension PerformerAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "performer"

    /// Random features and how often they are redrawn (0: never).
    public static let limits: [OptionLimit<Self>] = [
        .whole("feature_count", \.featureCount, 1...65_536),
        .whole("feature_redraw_interval", \.featureRedrawInterval, 0...1_000_000_000),
    ]
}

extension MixerConfiguration {
    /// Performer's FAVOR+ random features (`mixer_options.performer`).
    public var performer: PerformerAttention.Options {
        get { self[PerformerAttention.Options.self] }
        set { self[PerformerAttention.Options.self] = newValue }
    }
}
