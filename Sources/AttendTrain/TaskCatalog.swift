// How a run names its data: a task from AttendData's catalog at a size preset and seed.
import AttendData

/// Which task data a run uses: preset and seed (the task itself is named in the configuration).
public struct TaskOptions: Codable, Sendable, Equatable {
    public var preset: TaskPreset = .cpu
    public var seed: UInt64 = 0

    public init(preset: TaskPreset = .cpu, seed: UInt64 = 0) {
        self.preset = preset
        self.seed = seed
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        preset = try c.decode(.preset, default: .cpu)
        seed = try c.decode(.seed, default: 0)
    }

    enum CodingKeys: String, CodingKey { case preset, seed }
}

extension TaskCatalog {
    /// The task a run configuration names.
    public static func make(_ name: String, options: TaskOptions) throws -> any SequenceTask {
        try make(name, preset: options.preset, seed: options.seed)
    }
}
