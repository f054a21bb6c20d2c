// Everything a mechanism may be configured with, as data (Codable, snake_case JSON keys). Common
// fields here; each mechanism declares its own `Options` struct in its own file (with the reference
// implementation's defaults) and gets one field below, so a mechanism reads only what is its own.
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

    /// Per-mechanism options.
    public var full = FullAttention.Options()
    /// Sliding-window attention.
    public var local = LocalAttention.Options()
    /// BigBird block-sparse attention.
    public var bigbird = BigBirdAttention.Options()
    /// Linformer low-rank projections.
    public var linformer = LinformerAttention.Options()
    /// Performer FAVOR+ random features.
    public var performer = PerformerAttention.Options()
    /// Transformer-LS short- and long-range attention.
    public var longShort = LongShortAttention.Options()
    /// FLASH gated attention unit.
    public var flash = FlashGAU.Options()
    /// DeBERTa disentangled attention.
    public var deberta = DisentangledAttention.Options()
    /// Options of `mgk` and `mgk-linear`.
    public var mgk = MixtureOfGaussianKeysAttention.Options()
    /// Hypercube attention.
    public var hypercube = HypercubeAttention.Options()
    /// Treeformer's decision-tree attention.
    public var treeformer = TreeformerAttention.Options()
    /// SPADE's bottom layer (S4D + local attention).
    public var spade = SpadeMixer.Options()
    /// Evolving attention's convolved maps.
    public var evolving = EvolvingAttention.Options()

    /// A configuration with the given shape and default mechanism options.
    public init(modelDimension: Int, headCount: Int, maximumLength: Int) {
        self.modelDimension = modelDimension
        self.headCount = headCount
        self.maximumLength = maximumLength
    }

    /// Head dimension d = c/h.
    public var headDimension: Int { modelDimension / max(headCount, 1) }

    enum CodingKeys: String, CodingKey {
        case modelDimension = "model_dimension", headCount = "head_count", maximumLength =
            "maximum_length"
        case projectionBias = "projection_bias", attentionDropout = "attention_dropout", seed
        case full, local, bigbird, linformer, performer, longShort = "long_short", flash, deberta,
            mgk, hypercube
        case treeformer, spade, evolving
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
        try c.override(&full, .full)
        try c.override(&local, .local)
        try c.override(&bigbird, .bigbird)
        try c.override(&linformer, .linformer)
        try c.override(&performer, .performer)
        try c.override(&longShort, .longShort)
        try c.override(&flash, .flash)
        try c.override(&deberta, .deberta)
        try c.override(&mgk, .mgk)
        try c.override(&hypercube, .hypercube)
        try c.override(&treeformer, .treeformer)
        try c.override(&spade, .spade)
        try c.override(&evolving, .evolving)
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

extension MixerConfiguration: LimitedOptions {
    /// The fields every mechanism reads.
    public static let limits: [OptionLimit<Self>] = [
        .number("attention_dropout", \.attentionDropout, .from(0, below: 1))
    ]

    /// Each section of `mixer_options` with its limits and the mechanisms that read it; a new
    /// mechanism adds its own (a registry-wide test fails for a mechanism that has none).
    public static let optionSections: [MixerOptionSection] = [
        .init(nil, \.self, mechanisms: []),
        .init("full", \.full, mechanisms: ["full"]),
        .init("local", \.local, mechanisms: ["local"]),
        .init("bigbird", \.bigbird, mechanisms: ["bigbird"]),
        .init("linformer", \.linformer, mechanisms: ["linformer"]),
        .init("performer", \.performer, mechanisms: ["performer"]),
        .init("long_short", \.longShort, mechanisms: ["long-short"]),
        .init("flash", \.flash, mechanisms: ["flash-gau"]),
        .init("deberta", \.deberta, mechanisms: ["deberta"]),
        .init("mgk", \.mgk, mechanisms: ["mgk", "mgk-linear"]),
        .init("hypercube", \.hypercube, mechanisms: ["hypercube"]),
        .init("treeformer", \.treeformer, mechanisms: ["treeformer"]),
        .init("spade", \.spade, mechanisms: ["spade"]),
        .init("evolving", \.evolving, mechanisms: ["evolving"]),
    ]
}
