// Everything a mechanism may be configured with, as data (Codable, snake_case JSON keys). Common
// fields here; each mechanism declares its own `Options` struct in its own file (with the reference
// implementation's defaults) as a `MechanismOptions` section, and its registry entry names that
// type, so a mechanism reads only what is its own and adds nothing to this file. The sections this
// configuration decodes, encodes and checks are those of the registered mechanisms, in registry
// order (`mixer_options` JSON keeps the key and the place each section always had).
import AttendCore

/// Configuration for building a token mixer from the registry.
public struct MixerConfiguration: Codable, Sendable, Equatable {
    /// Model width c.
    public var modelDimension: Int
    /// Number of heads h.
    public var headCount: Int
    /// Longest sequence the mixer must accept (mechanisms with length-sized parameters use it).
    public var maximumLength: Int
    /// Whether the q/k/v/output projections have biases.
    public var projectionBias = true
    /// Dropout on attention probabilities (mechanisms that materialise them).
    public var attentionDropout: Float = 0
    /// Seed for random structure (BigBird blocks, Performer features) and initial weights.
    public var seed: UInt64 = 0
    /// Each mechanism's options (read through `self[Options.self]` or the mechanism's accessor,
    /// such as `local`).
    private var sections = MechanismOptionSections()

    /// A configuration with the given shape and default mechanism options.
    public init(modelDimension: Int, headCount: Int, maximumLength: Int) {
        self.modelDimension = modelDimension
        self.headCount = headCount
        self.maximumLength = maximumLength
    }

    /// Head dimension d = c/h.
    public var headDimension: Int { modelDimension / max(headCount, 1) }

    /// The options of the mechanisms whose entries name `Options` (the section
    /// `Options.section` of `mixer_options`); their defaults until set or decoded.
    public subscript<Options: MechanismOptions>(_ type: Options.Type) -> Options {
        get { sections[type] }
        set { sections[type] = newValue }
    }

    /// The options type of every registered mechanism, each once, in registry order.
    static let registeredOptions: [any MechanismOptions.Type] = {
        var types: [any MechanismOptions.Type] = []
        for mechanism in Mechanisms.all where !types.contains(where: { $0 == mechanism.options }) {
            types.append(mechanism.options)
        }
        return types
    }()

    /// A JSON key: a field every mechanism reads, or a mechanism's section.
    struct CodingKeys: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }

        init(_ key: String) { stringValue = key }
        init(stringValue: String) { self.init(stringValue) }
        init?(intValue: Int) { nil }

        static let modelDimension = Self("model_dimension"), headCount = Self("head_count")
        static let maximumLength = Self("maximum_length"), seed = Self("seed")
        static let projectionBias = Self("projection_bias")
        static let attentionDropout = Self("attention_dropout")
    }

    /// Decodes, keeping defaults for absent keys.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            modelDimension: try c.decode(Int.self, forKey: .modelDimension),
            headCount: try c.decode(Int.self, forKey: .headCount),
            maximumLength: try c.decode(Int.self, forKey: .maximumLength))
        try c.override(&projectionBias, .projectionBias)
        try c.override(&attentionDropout, .attentionDropout)
        try c.override(&seed, .seed)
        for options in Self.registeredOptions { try options.decodeSection(into: &self, from: c) }
    }

    /// Encodes every field and every registered mechanism's section, defaults included (so a
    /// written configuration names each option it was run with).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(modelDimension, forKey: .modelDimension)
        try c.encode(headCount, forKey: .headCount)
        try c.encode(maximumLength, forKey: .maximumLength)
        try c.encode(projectionBias, forKey: .projectionBias)
        try c.encode(attentionDropout, forKey: .attentionDropout)
        try c.encode(seed, forKey: .seed)
        for options in Self.registeredOptions { try options.encodeSection(of: self, into: &c) }
    }

    /// Checks that heads divide the width; mechanisms call this first.
    public func validatedHeads(for mechanism: String) throws -> (h: Int, d: Int) {
        guard headCount > 0, modelDimension % headCount == 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: mechanism,
                problem: "head count \(headCount) does not divide model width \(modelDimension)")
        }
        return (headCount, modelDimension / headCount)
    }
}

extension MechanismOptions {
    /// Replaces this section of `configuration` with the one `container` holds, if any.
    fileprivate static func decodeSection(
        into configuration: inout MixerConfiguration,
        from container: KeyedDecodingContainer<MixerConfiguration.CodingKeys>
    ) throws {
        try container.override(&configuration[Self.self], .init(section))
    }

    /// Writes this section of `configuration` into `container`.
    fileprivate static func encodeSection(
        of configuration: MixerConfiguration,
        into container: inout KeyedEncodingContainer<MixerConfiguration.CodingKeys>
    ) throws {
        try container.encode(configuration[Self.self], forKey: .init(section))
    }
}

extension MixerConfiguration: LimitedOptions {
    /// The fields every mechanism reads.
    public static let limits: [OptionLimit<Self>] = [
        .number("attention_dropout", \.attentionDropout, .from(0, below: 1))
    ]

    /// Each section of `mixer_options` with its limits and the mechanisms that read it: the
    /// fields every mechanism reads, then each registered mechanism's `Options`, in registry
    /// order. A new mechanism's section is here once its entry is in `Mechanisms.all`.
    public static let optionSections: [MixerOptionSection] =
        [MixerOptionSection(nil, mechanisms: [], read: { $0 }, write: { $0 = $1 })]
        + registeredOptions.map { options in
            options.optionSection(
                mechanisms: Mechanisms.all.filter { $0.options == options }.map(\.name))
        }
}
