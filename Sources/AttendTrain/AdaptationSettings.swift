// The settings of an `attend adapt` run, kept as adapt.json in its output folder so that
// `--resume` continues the same run and a reader can see how the folder was made.
import AttendAttention
import AttendModels
import Foundation

/// Which of the student's parameters adaptation trains.
public enum AdaptationScope: String, CaseIterable, Codable, Sendable {
    /// The mechanism's own parameters (Linformer's projections, Long-Short's…).
    case mixer
    /// The mechanism's parameters and every LayerNorm's scale and shift.
    case norms
    /// Every parameter of the encoder.
    case all
}

/// How one adaptation run distils a pretrained BERT into a student running another mechanism.
public struct AdaptationSettings: Codable, Sendable, Equatable {
    /// The pretrained folder: the teacher's weights and the student's starting point.
    public var model: String
    /// The student's mechanism (a registry name).
    public var mechanism: String
    /// Its options (`--mixer-options`); nil for the mechanism's defaults.
    public var mixerOptions: MixerConfiguration?
    /// Tokens per training chunk, [CLS] and [SEP] included.
    public var length: Int
    /// How the position table grows when `length` exceeds the folder's positions.
    public var positionExtension: PositionExtension = .tile
    /// What trains.
    public var scope: AdaptationScope = .all
    /// Peak learning rate of AdamW.
    public var learningRate: Float
    /// Chunks per step.
    public var batchSize: Int = 8
    /// Optimizer steps; nil when the run is limited by `minutes` instead.
    public var steps: Int?
    /// Minutes of adaptation (all sessions of a resumed run together); nil with `steps`.
    public var minutes: Double?
    /// The text file adapted on; nil for the offline corpora (King James Bible, Shakespeare).
    public var texts: String?
    /// Held-out chunks the cosine to the teacher is measured on.
    public var heldOutChunks: Int = 32
    /// Steps between checkpoints.
    public var checkpointEvery: Int = 50
    /// Seed of the batch order and of the mechanism's new parameters.
    public var seed: UInt64 = 0

    /// Settings with the defaults for everything but the model, mechanism and length; the
    /// learning rate defaults to 1e-4 when everything trains and 1e-3 for the smaller scopes.
    public init(
        model: String, mechanism: String, length: Int, scope: AdaptationScope = .all,
        learningRate: Float? = nil
    ) {
        self.model = model
        self.mechanism = mechanism
        self.length = length
        self.scope = scope
        self.learningRate = learningRate ?? (scope == .all ? 1e-4 : 1e-3)
    }

    /// Steps of linear warm-up: 5 % of a fixed number of steps, else 10.
    public var warmupSteps: Int {
        steps.map { Swift.max(1, $0 / 20) } ?? 10
    }

    /// The learning rate of update `step` (0-based): linear warm-up, then linear decay to 0 over
    /// a fixed number of steps, or constant when the run is limited by time.
    public func learningRate(at step: Int) -> Float {
        let warmup = warmupSteps
        if step < warmup { return learningRate * Float(step + 1) / Float(warmup) }
        guard let steps else { return learningRate }
        let span = Swift.max(steps - warmup, 1)
        return learningRate * Swift.max(0, 1 - Float(step - warmup) / Float(span))
    }

    enum CodingKeys: String, CodingKey {
        case model, mechanism
        case mixerOptions = "mixer_options"
        case length
        case positionExtension = "position_extension"
        case scope = "train"
        case learningRate = "learning_rate"
        case batchSize = "batch"
        case steps, minutes, texts
        case heldOutChunks = "held_out_chunks"
        case checkpointEvery = "checkpoint_every"
        case seed
    }
}
