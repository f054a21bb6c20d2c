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
// Note on causality: as in both references, the key stabiliser is the maximum over all real positions
// of a (batch, head), future ones included. It cancels exactly except through ε = 1e-4, so outputs at t
// depend on later keys only at the ε level (relative effect ≲ 1e-4).
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
            case featureCount = "feature_count", kernel, featureRedrawInterval = "feature_redraw_interval"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            featureCount = try c.decode(.featureCount, default: featureCount)
            kernel = try c.decode(.kernel, default: kernel)
            featureRedrawInterval = try c.decode(.featureRedrawInterval, default: featureRedrawInterval)
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
                mechanism: "performer", problem: "feature count must be at least 1, got \(options.featureCount)")
        }
        guard options.featureRedrawInterval >= 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "performer",
                problem: "feature redraw interval must be ≥ 0 (0 = never), got \(options.featureRedrawInterval)")
        }
        self.options = options
        self.headDimension = headDimension
        self.seed = seed
        projection = options.kernel == .softmax
            ? Parameter(.zeros([options.featureCount, headDimension]), trainable: false) : nil
        drawScheduled(0)
    }

    public var ownParameters: [(String, Parameter)] { projection.map { [("projection_matrix", $0)] } ?? [] }
    public func setOwnTrainingMode(_ training: Bool) { isTraining = training }

    /// The projection W [m, d] (nil for the ReLU kernel): export it to reproduce these features.
    public var projectionMatrix: Tensor? { projection?.value }

    /// Imports a projection (e.g. a reference implementation's buffer). Training mode's schedule
    /// replaces it at the next redraw boundary.
    public func setProjectionMatrix(_ matrix: Tensor) throws {
        guard let projection else {
            throw MixerError.invalidConfiguration(mechanism: "performer", problem: "the ReLU kernel has no projection")
        }
        guard matrix.shape == projection.shape else {
            throw MixerError.shapeMismatch(
                mechanism: "performer", expected: "projection \(projection.shape)", got: matrix.shape)
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

    /// φ(q) or φ(k) for [b, n, h, d] heads: [b, n, h, m] (m = d for the ReLU kernel). Padded keys get
    /// zero features.
    public func features(_ x: Tensor, isQuery: Bool, keyMask: Tensor?) -> Tensor {
        guard let projection else {
            let phi = x.relu() + Self.reluOffset
            guard !isQuery, let keyMask else { return phi }
            return phi * keyMask.reshaped([x.shape[0], x.shape[1], 1, 1])
        }
        return Tensor.positiveRandomFeatures(x, projection: projection.value.detached(), isQuery: isQuery, keyMask: keyMask)
    }

    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws -> Tensor {
        if isTraining, projection != nil, options.featureRedrawInterval > 0 {
            let index = context.trainingStep / options.featureRedrawInterval
            if index != drawIndex { drawScheduled(index) }
        }
        let mask = context.paddingMask
        return Tensor.linearAttention(
            queryFeatures: features(query, isQuery: true, keyMask: nil),
            keyFeatures: features(key, isQuery: false, keyMask: mask),
            value: value, causal: context.isCausal, denominatorOffset: Self.denominatorOffset)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "performer",
        summary: "FAVOR+ positive orthogonal random features, linear attention (Choromanski et al. 2020)",
        capabilities: {
            var c = Capabilities(supportsCausal: true, complexity: "O(n·m·d)")
            c.isRandomized = true
            return c
        }(),
        make: { configuration, generator in
            let (_, d) = try configuration.validatedHeads(for: "performer")
            let core = try PerformerAttention(options: configuration.performer, headDimension: d, seed: generator.next())
            return try MultiHeadAttention(
                mechanism: "performer", configuration: configuration, core: core, generator: &generator)
        })
}

extension Tensor {
    /// FAVOR+ features (see Kernels/PositiveRandomFeatures.swift) of [b, n, h, d] heads with projection
    /// W [m, d]: [b, n, h, m]. Differentiable in `x` (the stabilising maxima are constants); W is a
    /// buffer and gets no gradient.
    public static func positiveRandomFeatures(_ x: Tensor, projection: Tensor, isQuery: Bool, keyMask: Tensor?) -> Tensor {
        precondition(x.rank == 4, "positiveRandomFeatures: x must be [b, n, h, d], got \(x.shape)")
        let (b, n, h, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        precondition(projection.rank == 2 && projection.shape[1] == d, "positiveRandomFeatures: projection \(projection.shape) for head dimension \(d)")
        if let keyMask { precondition(keyMask.shape == [b, n], "positiveRandomFeatures: key mask \(keyMask.shape), expected [\(b), \(n)]") }
        let m = projection.shape[0]
        let inputLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: d)
        let featureLayout = HeadLayout.positionMajor(length: n, heads: h, dimension: m)
        func withProblem<R>(_ body: (FeatureMapProblem) -> R) -> R {
            x.withUnsafeBufferPointer { xs in
                projection.withUnsafeBufferPointer { w in
                    func make(_ mask: UnsafePointer<Float>?) -> R {
                        body(FeatureMapProblem(
                            batch: b, heads: h, length: n, dimension: d, features: m, isQuery: isQuery,
                            keyMask: isQuery ? nil : mask, input: xs.baseAddress!, inputLayout: inputLayout,
                            projection: w.baseAddress!))
                    }
                    guard let keyMask else { return make(nil) }
                    return keyMask.withUnsafeBufferPointer { make($0.baseAddress!) }
                }
            }
        }
        let phi = Tensor.filled(shape: [b, n, h, m]) { out in
            withProblem { PositiveRandomFeatures.forward($0, output: out.baseAddress!, outputLayout: featureLayout) }
        }
        return phi.recorded(.custom, from: [x]) { dphi in
            var dx = Tensor.zeros(x.shape)
            withProblem { p in
                phi.withUnsafeBufferPointer { f in
                    dphi.withUnsafeBufferPointer { g in
                        dx.withUnsafeMutableBufferPointer { dxp in
                            PositiveRandomFeatures.backward(
                                p, features: f.baseAddress!, featureGradient: g.baseAddress!,
                                featureLayout: featureLayout, inputGradient: dxp.baseAddress!)
                        }
                    }
                }
            }
            return [dx]
        }
    }
}
