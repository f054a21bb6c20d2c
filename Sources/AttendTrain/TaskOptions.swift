// How a run names its data: a task from AttendData's catalog at a size preset and seed, or a user's
// own files (`data`: format, paths, fields, tokenizer and label map, saved with the run), and for a
// self-pretraining run how its inputs are masked (`masking`). The task they make:
// TaskCatalog+TaskOptions.swift.
import AttendData

/// Which task data a run uses: preset and seed (the task itself is named in the configuration).
public struct TaskOptions: Codable, Sendable, Equatable {
    /// The task's size preset (sequence length, example counts).
    public var preset: TaskPreset
    /// Seed of the task's generated examples.
    public var seed: UInt64
    /// A user's data set; when set, the run trains on it instead of a catalogue task.
    public var data: UserDataConfiguration?
    /// Set for a self-pretraining run (`attend pretrain`): the task's inputs are masked and the
    /// model reconstructs them (labels unused).
    public var masking: MaskingOptions?

    /// Options at the CPU preset with seed 0, on a catalogue task without masking, unless given.
    public init(
        preset: TaskPreset = .cpu, seed: UInt64 = 0, data: UserDataConfiguration? = nil,
        masking: MaskingOptions? = nil
    ) {
        self.preset = preset
        self.seed = seed
        self.data = data
        self.masking = masking
    }

    /// Decodes the options, taking each missing key's default from `init()`.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.override(&preset, .preset)
        try c.override(&seed, .seed)
        try c.override(&data, .data)
        try c.override(&masking, .masking)
    }

    enum CodingKeys: String, CodingKey { case preset, seed, data, masking }
}
