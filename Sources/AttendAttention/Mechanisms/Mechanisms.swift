// The registry: every mechanism by its stable lower-case name, in the order `attend list` prints them.
// An explicit list (no registration by side effect), so every entry is held to the same property
// tests and appears in the same tables.
import AttendCore
import AttendNN

/// A registered mechanism: name, one-line summary, declared capabilities, its options, the kernel
/// ops its mixers record, its working memory and a factory.
public struct Mechanism: Sendable {
    /// Stable id used by the CLI, fixtures and benchmark tables.
    public let name: String
    /// One line for `attend list`, with the paper.
    public let summary: String
    /// What it can do.
    public let capabilities: Capabilities
    /// Its options type: the section of `mixer_options` it reads (`MixerConfiguration`'s sections,
    /// and their limits, are derived from these).
    public let options: any MechanismOptions.Type
    /// The kernel ops (fused kernels) its mixers record; `AttentionKernelOps.all`, and with it the
    /// kernel ops' gradient checks, is derived from these lists.
    public let kernelOps: [any KernelOp.Type]
    /// Upper bound on the tensor bytes a forward and backward pass of its mixer adds
    /// (WorkingMemory.swift), declared in the mechanism's file; `WorkingMemory.linear` unless it
    /// materialises more than O(n·c).
    public let workingMemory: WorkingMemoryEstimate
    /// Builds a mixer from a configuration, drawing initial weights from the generator.
    public let make: @Sendable (MixerConfiguration, inout RandomGenerator) throws -> any TokenMixer
    /// Builds the state this mechanism shares across layers (built once per model), or nil when each
    /// layer is self-contained.
    public let makeShared:
        (@Sendable (MixerConfiguration, inout RandomGenerator) throws -> any LayerSharedState)?

    /// An entry.
    public init(
        name: String, summary: String, capabilities: Capabilities,
        options: any MechanismOptions.Type, kernelOps: [any KernelOp.Type] = [],
        workingMemory: @escaping WorkingMemoryEstimate = WorkingMemory.linear,
        make:
            @escaping @Sendable (MixerConfiguration, inout RandomGenerator) throws -> any TokenMixer,
        makeShared: (
            @Sendable (MixerConfiguration, inout RandomGenerator) throws -> any LayerSharedState
        )? = nil
    ) {
        self.name = name
        self.summary = summary
        self.capabilities = capabilities
        self.options = options
        self.kernelOps = kernelOps
        self.workingMemory = workingMemory
        self.make = make
        self.makeShared = makeShared
    }
}

/// All mechanisms.
public enum Mechanisms {
    /// Every mechanism, in the order `attend list` prints them.
    public static let all: [Mechanism] = [
        FullAttention.entry,
        LocalAttention.entry,
        BigBirdAttention.entry,
        LinformerAttention.entry,
        PerformerAttention.entry,
        LongShortAttention.entry,
        FlashGAU.entry,
        DisentangledAttention.entry,
        MixtureOfGaussianKeysAttention.entry,
        MixtureOfGaussianKeysAttention.linearEntry,
        HypercubeAttention.entry,
        TreeformerAttention.entry,
        SpadeMixer.entry,
        EvolvingAttention.entry,
    ]

    /// Registered names.
    public static var names: [String] { all.map(\.name) }

    /// The mechanism called `name`, or an error listing the valid names.
    public static func named(_ name: String) throws -> Mechanism {
        guard let mechanism = all.first(where: { $0.name == name }) else {
            throw MixerError.unknownMechanism(name, known: names)
        }
        return mechanism
    }

    /// Builds the mixer `name` for use on its own, checking the request against its capabilities
    /// first. A mechanism with shared state gets its own copy of that state (`StandaloneMixer`).
    public static func make(
        _ name: String, configuration: MixerConfiguration, causal: Bool = false, seed: UInt64? = nil
    ) throws -> any TokenMixer {
        let mechanism = try named(name)
        if causal && !mechanism.capabilities.supportsCausal {
            throw MixerError.causalUnsupported(mechanism: name, reason: "it has no causal form")
        }
        var generator = RandomGenerator(seed: seed ?? configuration.seed)
        guard let makeShared = mechanism.makeShared else {
            return try mechanism.make(configuration, &generator)
        }
        let shared = try makeShared(configuration, &generator)
        return StandaloneMixer(shared: shared, mixer: try mechanism.make(configuration, &generator))
    }
}

/// A mixer together with the shared state it would otherwise get from its model (one layer used on
/// its own: benchmarks, tests, a single attention block). Prepares the state on every call.
///
/// Checkpoint names: `shared.…` and `mixer.…`.
public final class StandaloneMixer: TokenMixer {
    /// The state a model would hold once for all layers.
    public let shared: any LayerSharedState
    /// The layer.
    public let mixer: any TokenMixer

    /// Pairs `mixer` with its own `shared` state.
    public init(shared: any LayerSharedState, mixer: any TokenMixer) {
        self.shared = shared
        self.mixer = mixer
    }

    /// `shared` and `mixer`.
    public var children: [(String, any Module)] { [("shared", shared), ("mixer", mixer)] }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        try shared.prepare(context)
        return try mixer(x, context: context)
    }
}
