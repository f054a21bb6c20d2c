// The tensor memory one forward and backward pass of a mixer adds, declared by every mechanism in
// its own file and registered through its entry (`Mechanism.workingMemory`), so that a size can be
// refused before anything is allocated (`attend bench attention`). An estimate is an upper bound
// on the peak tensor bytes of the pass above its input and the mixer's parameters (what the
// benchmark reports as its peak), and at most `WorkingMemory.tightness` times that peak:
// MechanismWorkingMemoryTests measures both for every registered mechanism. Estimates count in
// Double, so that sizes past 2^63 bytes compare instead of overflowing.
// Shapes: b batch, n length, h heads, d head dimension, c = h·d model width.

/// The pass a working-memory estimate is asked for.
public struct PassSize: Sendable, Equatable {
    /// b.
    public var batch: Int
    /// n, the number of queries and of keys.
    public var length: Int
    /// Whether position t sees only positions ≤ t.
    public var causal: Bool

    /// A pass over `batch` sequences of `length` tokens.
    public init(batch: Int, length: Int, causal: Bool = false) {
        self.batch = batch
        self.length = length
        self.causal = causal
    }

    /// b·n as a real number.
    public var tokens: Double { Double(batch) * Double(length) }
}

/// Upper bound, in bytes, on the tensor memory one forward and backward pass of a mechanism's mixer
/// adds above its input and parameters, for the mixer `MixerConfiguration` describes.
public typealias WorkingMemoryEstimate = @Sendable (MixerConfiguration, PassSize) -> Double

/// Shared terms of the mechanisms' estimates.
public enum WorkingMemory {
    /// How many times the measured peak an estimate may be at most, at the test's small sizes,
    /// so that estimates stay useful rather than merely safe.
    public static let tightness = 3.0

    /// Bytes of `floats` float32 values.
    public static func bytes(_ floats: Double) -> Double { 4 * floats }

    /// b·n·c activations in bytes, `count` times: the unit of every buffer that grows like the
    /// input.
    public static func activations(
        _ count: Double, _ configuration: MixerConfiguration, _ size: PassSize
    ) -> Double {
        bytes(count * size.tokens * Double(configuration.modelDimension))
    }

    /// b·h·n maps of `keysPerQuery` entries each, `count` times: attention maps, random features,
    /// landmark weights (whatever has a row per head and query).
    public static func maps(
        _ count: Double, keysPerQuery: Double, _ configuration: MixerConfiguration,
        _ size: PassSize
    ) -> Double {
        bytes(count * size.tokens * Double(configuration.headCount) * keysPerQuery)
    }

    /// The gradients of the four c × c projections (and their biases) of `MultiHeadAttention`.
    public static func projectionGradients(_ configuration: MixerConfiguration) -> Double {
        let c = Double(configuration.modelDimension)
        return bytes(4 * (c * c + (configuration.projectionBias ? c : 0)))
    }

    /// `MultiHeadAttention` around a core whose own buffers are `coreActivations` times b·n·c: the
    /// projected q, k, v, the core's output and the output projection with their gradients and
    /// the backward's temporaries (eleven b·n·c in all at n = 16384, docs/results/attention.md;
    /// twelve here, for the rounding of smaller shapes), and the projections' gradients.
    public static func frame(
        _ configuration: MixerConfiguration, _ size: PassSize, coreActivations: Double = 0
    ) -> Double {
        activations(12 + coreActivations, configuration, size)
            + projectionGradients(configuration)
    }

    /// The default, for a q/k/v mechanism that materialises nothing beyond O(n·c) (a fused kernel
    /// of exact softmax attention over the heads).
    public static let linear: WorkingMemoryEstimate = { configuration, size in
        WorkingMemory.frame(configuration, size)
    }
}
