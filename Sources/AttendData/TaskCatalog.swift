// Tasks by name, in preset sizes: the one place the CLI (`attend train --task`, `attend lra
// --tasks … --preset …`) turns words into tasks. Presets scale the data, not the task: `lra` is
// Long Range Arena's setting (lengths and split sizes), `cpu` shortens sequences and shrinks splits
// so a run fits a few minutes on two cores, `tiny` makes data for tests in milliseconds.

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

/// Every task, by name.
public enum TaskCatalog {
    /// Task names in the order results tables list them.
    public static let names = [
        "listops", "text", "retrieval", "image", "pathfinder", "pathx", "pathfinder64", "bytelm",
    ]
    /// The Long Range Arena tasks (Image is Fashion-MNIST here; Path-X is separate, as in LRA).
    public static let longRangeArena = ["listops", "text", "retrieval", "image", "pathfinder"]

    /// One-line descriptions for `attend list`.
    public static let summaries: [String: String] = [
        "listops": "ListOps: value of nested MIN/MAX/MED/SM expressions, 10 classes (LRA)",
        "text": "byte-level passages: Shakespeare, Milton, King James Bible or GCIDE, 4 classes",
        "retrieval":
            "two byte passages: from the same work or not, two-tower (LRA Retrieval style)",
        "image": "Fashion-MNIST as 784 grey-level tokens, 10 classes (LRA Image style)",
        "pathfinder": "Pathfinder 32×32: are the two markers joined by one dashed path? (LRA)",
        "pathx": "Path-X: Pathfinder at 128×128, 16,384 tokens (LRA)",
        "pathfinder64": "Pathfinder at 64×64, 4,096 tokens",
        "bytelm": "next-byte prediction on Shakespeare, reported in bits per byte",
    ]

    /// The task `name` at `preset` size, with everything random drawn from `seed`.
    public static func make(
        _ name: String, preset: TaskPreset = .cpu, seed: UInt64 = 0, files: DataFiles = DataFiles()
    ) throws(DataError) -> any SequenceTask {
        switch name {
        case "listops":
            let c: ListOpsConfiguration =
                switch preset {
                case .tiny: .tiny
                case .cpu: .cpu
                case .lra: .lra
                }
            return try ListOpsTask(c.seeded(seed))
        case "text":
            let c: TextClassificationConfiguration =
                switch preset {
                case .tiny: .tiny
                case .cpu: .cpu
                case .lra: .lra
                }
            return try TextClassificationTask(c.seeded(seed), files: files)
        case "retrieval":
            let c: RetrievalConfiguration =
                switch preset {
                case .tiny: .tiny
                case .cpu: .cpu
                case .lra: .lra
                }
            return try RetrievalTask(c.seeded(seed), files: files)
        case "image":
            let c: FashionMNISTConfiguration =
                switch preset {
                case .tiny: .tiny
                case .cpu: .cpu
                case .lra: .full
                }
            return try FashionMNISTTask(c.seeded(seed), files: files)
        case "pathfinder", "pathx", "pathfinder64":
            let base: PathfinderConfiguration =
                switch name {
                case "pathx": .pathX
                case "pathfinder64": .pathfinder64
                default: .pathfinder32
                }
            let large = name != "pathfinder"
            let c =
                switch preset {
                case .tiny: base.counts(train: 256, validation: 64, test: 64)
                case .cpu:
                    large
                        ? base.counts(train: 4_000, validation: 500, test: 500)
                        : base.counts(train: 20_000, validation: 2_000, test: 2_000)
                case .lra: base
                }
            return try PathfinderTask(c.seeded(seed))
        case "bytelm":
            let c: ByteLanguageModelConfiguration =
                switch preset {
                case .tiny: .tiny
                case .cpu: .cpu
                case .lra: .lra
                }
            return try ByteLanguageModelTask(c.seeded(seed), files: files)
        default:
            throw DataError.unknownTask(name, known: names)
        }
    }

    /// The data files task `name` reads (empty for generated tasks).
    public static func files(of name: String) -> [DataFile] {
        switch name {
        case "text", "retrieval":
            [.shakespeareArchive, .kingJamesBible, .gcide]
        case "bytelm": [.shakespeareArchive]
        case "image":
            [
                "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                "t10k-images-idx3-ubyte.gz",
                "t10k-labels-idx1-ubyte.gz",
            ].map(DataFile.fashionMNIST)
        default: []
        }
    }
}
