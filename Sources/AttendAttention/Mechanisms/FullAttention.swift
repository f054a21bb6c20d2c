// Full softmax attention (Vaswani et al., 2017): every query sees every key, O(n²·d) time.
// Two paths that must agree: the fused tiled kernel (default; O(n) extra memory, backward by
// recomputation, causal skips the upper triangle's tiles) and the materialised reference.
import AttendCore
import AttendNN

/// softmax(q·kᵀ/√d)·v over all keys.
public final class FullAttention: AttentionCore {
    /// Which implementation runs.
    public enum Path: String, Sendable, Codable {
        /// Tiled online softmax (memory-efficient).
        case fused
        /// Materialised scores and probabilities (the oracle).
        case reference
    }

    /// Options of the full-attention mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Implementation to run.
        public var path: Path = .fused
        /// Defaults: the fused path.
        public init() {}
        /// Decodes the options, keeping the default path when absent.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&path, .path)
        }
    }

    /// The implementation in use.
    public let path: Path

    /// Full attention on the given path.
    public init(path: Path = .fused) { self.path = path }

    /// q [b, n, h, d], k [b, m, h, d], v [b, m, h, e] → [b, n, h, e]: softmax(q·kᵀ/√d)·v,
    /// with the context's padding mask and causality.
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        let scale = 1 / Float(query.shape[3]).squareRoot()
        let mask = context.paddingMask
        switch path {
        case .fused:
            return Tensor.fusedAttention(
                query: query, key: key, value: value, scale: scale, causal: context.isCausal,
                keyMask: mask)
        case .reference:
            return referenceAttention(
                query: query, key: key, value: value, scale: scale, causal: context.isCausal,
                keyMask: mask)
        }
    }

    /// Working memory: the multi-head frame around the fused kernel (O(n) extra); the reference
    /// path adds its [b, h, n, n] scores, masked scores, probabilities and their gradients (about
    /// 3.2 maps alive at the peak, measured; 4.5 declared).
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let maps = configuration.full.path == .reference ? 4.5 : 0
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.maps(maps, keysPerQuery: Double(size.length), configuration, size)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "full",
        summary:
            "exact softmax attention, fused tiled kernel (Vaswani et al. 2017; FlashAttention tiling)",
        capabilities: {
            var c = Capabilities(supportsCausal: true, complexity: "O(n²·d) time, O(n) memory")
            c.canSeeEveryKey = true
            return c
        }(),
        options: FullAttention.Options.self,
        kernelOps: [FusedAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try MultiHeadAttention(
                mechanism: "full", configuration: configuration,
                core: FullAttention(path: configuration.full.path), generator: &generator)
        })
}

extension FullAttention: DecodingAttentionCore {
    /// A key/value cache of the prompts.
    public func decodingState(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Int], context: MixerContext
    ) throws -> any DecodingState {
        KeyValueCache(key: key, value: value, lengths: lengths, window: nil)
    }

    /// The new query against every cached key (both paths compute the same exact attention).
    public func step(
        query: Tensor, key: Tensor, value: Tensor, state: any DecodingState, context: MixerContext
    ) throws -> Tensor {
        guard let cache = state as? KeyValueCache else { throw foreignState("full", state) }
        let scale = 1 / Float(query.shape[3]).squareRoot()
        return cache.attend(query: query, key: key, value: value, scale: scale)
    }
}

extension FullAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "full"

    /// None: the kernel path is the only option.
    public static let limits: [OptionLimit<Self>] = []
}

extension MixerConfiguration {
    /// Full attention's options (`mixer_options.full`).
    public var full: FullAttention.Options {
        get { self[FullAttention.Options.self] }
        set { self[FullAttention.Options.self] = newValue }
    }
}
