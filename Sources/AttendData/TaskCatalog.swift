// Tasks by name, in preset sizes: the one place the CLI (`attend train --task`, `attend lra
// --tasks … --preset …`) turns words into tasks. Presets scale the data, not the task: `lra` is
// Long Range Arena's setting (lengths and split sizes), `cpu` shortens sequences and shrinks splits
// so a run fits a few minutes on two cores, `tiny` makes data for tests in milliseconds.
// Like the mechanisms' registry, an explicit list of entries, each declared once in its task's own
// file (name, summary, kind, data files, and a maker that picks the preset's configuration).

/// How large a task's data are.
public enum TaskPreset: String, CaseIterable, Codable, Sendable {
    /// A few hundred short examples, for tests.
    case tiny
    /// Short sequences and small splits for CPU training.
    case cpu
    /// Long Range Arena's lengths and split sizes.
    case lra

    /// The preset called `name`, or an error listing the known ones.
    public static func named(_ name: String) throws(DataError) -> TaskPreset {
        guard let preset = TaskPreset(rawValue: name) else {
            throw DataError.unknownPreset(name, known: allCases.map(\.rawValue))
        }
        return preset
    }
}

/// A registered task: name, one-line summary, kind, the data files it reads and a factory.
public struct TaskEntry: Sendable {
    /// Stable id used by the CLI, run configurations and results tables.
    public let name: String
    /// One line for `attend list` and `--help`.
    public let summary: String
    /// What its examples are (the built task's `kind`).
    public let kind: TaskKind
    /// Whether `attend lra` runs it by default (the Long Range Arena's five tasks).
    public let isLongRangeArena: Bool
    /// The data files it reads (empty for generated tasks).
    public let files: [DataFile]
    /// Builds the task at a preset size, with everything random drawn from the seed.
    public let make: Maker

    /// A task's factory: preset, seed and where data files are looked up → the task.
    public typealias Maker =
        @Sendable (TaskPreset, UInt64, DataFiles) throws(DataError) -> any SequenceTask

    /// An entry.
    public init(
        name: String, summary: String, kind: TaskKind, isLongRangeArena: Bool,
        files: [DataFile] = [], make: @escaping Maker
    ) {
        self.name = name
        self.summary = summary
        self.kind = kind
        self.isLongRangeArena = isLongRangeArena
        self.files = files
        self.make = make
    }
}

/// Every task, by name.
public enum TaskCatalog {
    /// Every task, in the order results tables list them.
    public static let all: [TaskEntry] = [
        ListOpsTask.entry,
        TextClassificationTask.entry,
        RetrievalTask.entry,
        FashionMNISTTask.entry,
        PathfinderTask.entry,
        PathfinderTask.pathXEntry,
        PathfinderTask.pathfinder64Entry,
        ByteLanguageModelTask.entry,
    ]

    /// Task names in the order results tables list them.
    public static let names = all.map(\.name)
    /// The Long Range Arena tasks (Image is Fashion-MNIST here; Path-X is separate, as in LRA).
    public static let longRangeArena = all.filter(\.isLongRangeArena).map(\.name)
    /// One-line descriptions for `attend list`.
    public static let summaries = Dictionary(
        uniqueKeysWithValues: all.map { ($0.name, $0.summary) })

    /// The task called `name`, or an error listing the valid names.
    public static func named(_ name: String) throws(DataError) -> TaskEntry {
        guard let entry = all.first(where: { $0.name == name }) else {
            throw DataError.unknownTask(name, known: names)
        }
        return entry
    }

    /// The task `name` at `preset` size, with everything random drawn from `seed`.
    public static func make(
        _ name: String, preset: TaskPreset = .cpu, seed: UInt64 = 0, files: DataFiles = DataFiles()
    ) throws(DataError) -> any SequenceTask {
        try named(name).make(preset, seed, files)
    }

    /// The data files task `name` reads (empty for generated tasks and unknown names).
    public static func files(of name: String) -> [DataFile] {
        all.first { $0.name == name }?.files ?? []
    }
}
