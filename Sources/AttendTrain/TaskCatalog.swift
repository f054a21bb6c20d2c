// How a run names its data: a task from AttendData's catalog at a size preset and seed, or a user's
// own files (`data`: format, paths, fields, tokenizer and label map, saved with the run).
import AttendData

/// Which task data a run uses: preset and seed (the task itself is named in the configuration).
public struct TaskOptions: Codable, Sendable, Equatable {
    public var preset: TaskPreset = .cpu
    public var seed: UInt64 = 0
    /// A user's data set; when set, the run trains on it instead of a catalogue task.
    public var data: UserDataConfiguration?

    public init(preset: TaskPreset = .cpu, seed: UInt64 = 0, data: UserDataConfiguration? = nil) {
        self.preset = preset
        self.seed = seed
        self.data = data
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.decode(.preset, default: .cpu)
        seed = try c.decode(.seed, default: 0)
        data = try c.decodeIfPresent(UserDataConfiguration.self, forKey: .data)
    }

    enum CodingKeys: String, CodingKey { case preset, seed, data }
}

extension TaskCatalog {
    /// The task a run configuration names: its user data set if it has one, else catalogue task
    /// `name`.
    public static func make(_ name: String, options: TaskOptions) throws -> any SequenceTask {
        if let data = options.data { return try UserData.make(data) }
        return try make(name, preset: options.preset, seed: options.seed)
    }
}
