// The registry: every mechanism by its stable lower-case name, in the order `attend list` prints them.
// An explicit list (no registration by side effect), so every entry is held to the same property
// tests and appears in the same tables.
import AttendCore

/// A registered mechanism: name, one-line summary, declared capabilities and a factory.
public struct Mechanism: Sendable {
    /// Stable id used by the CLI, fixtures and benchmark tables.
    public let name: String
    /// One line for `attend list`, with the paper.
    public let summary: String
    /// What it can do.
    public let capabilities: Capabilities
    /// Builds a mixer from a configuration, drawing initial weights from the generator.
    public let make: @Sendable (MixerConfiguration, inout RandomGenerator) throws -> any TokenMixer

    /// An entry.
    public init(
        name: String, summary: String, capabilities: Capabilities,
        make: @escaping @Sendable (MixerConfiguration, inout RandomGenerator) throws -> any TokenMixer
    ) {
        self.name = name
        self.summary = summary
        self.capabilities = capabilities
        self.make = make
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

    /// Builds the mixer `name`, checking the request against its capabilities first.
    public static func make(
        _ name: String, configuration: MixerConfiguration, causal: Bool = false, seed: UInt64? = nil
    ) throws -> any TokenMixer {
        let mechanism = try named(name)
        if causal && !mechanism.capabilities.supportsCausal {
            throw MixerError.causalUnsupported(mechanism: name, reason: "it has no causal form")
        }
        var generator = RandomGenerator(seed: seed ?? configuration.seed)
        return try mechanism.make(configuration, &generator)
    }
}
