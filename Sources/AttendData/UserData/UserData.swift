// The entry point for tasks built from a user's files: the configuration's format picks the task
// type. A built task is kept for the life of the process under its resolved configuration, so
// `attend train`, which builds it once to size the model and once more from the saved
// configuration, reads a large file once. `ExampleList` serves examples made in memory (texts
// given on the command line).

/// Tasks from a user's data.
public enum UserData {
    /// The task the configuration describes, with its label map resolved.
    public static func make(_ configuration: UserDataConfiguration) throws(DataError)
        -> any UserDataTask
    {
        if let built = DecodedCache.shared.value(for: cacheKey(configuration)) as? any UserDataTask
        {
            return built
        }
        let task: any UserDataTask
        switch configuration.format {
        case .jsonl, .csv, .tsv: task = try UserTextTask(configuration)
        case .images, .idx: task = try UserImageTask(configuration)
        case .text: task = try UserTextLanguageModelTask(configuration)
        }
        DecodedCache.shared.store(task, for: cacheKey(task.resolvedConfiguration))
        return task
    }

    private static func cacheKey(_ configuration: UserDataConfiguration) -> String {
        "user-data#" + String(describing: configuration)
    }

    /// Every example of `path` (read as the run's data was) as the test split: for evaluation
    /// (`labelled`) or prediction.
    public static func make(
        _ configuration: UserDataConfiguration, reading path: String, labelled: Bool
    ) throws(DataError) -> any UserDataTask {
        switch configuration.format {
        case .jsonl, .csv, .tsv:
            return try UserTextTask(configuration, reading: path, labelled: labelled)
        case .images, .idx:
            return try UserImageTask(configuration, reading: path, labelled: labelled)
        case .text:
            throw DataError.invalidConfiguration(
                task: "text",
                reason:
                    "a language model has no labels to evaluate or predict; use `attend generate`")
        }
    }
}

/// Examples held in memory, all in the test split (prediction on texts given directly).
public struct ExampleList: SequenceTask {
    /// The examples.
    public let examples: [Example]
    /// `examples`.
    public var name: String { "examples" }
    /// What the examples are for.
    public let kind: TaskKind
    /// Every id is below it.
    public let vocabularySize: Int
    /// Output classes.
    public let classCount: Int
    /// The longest example.
    public var maxLength: Int { max(1, examples.map(\.tokens.count).max() ?? 0) }
    /// Unused: nothing is random.
    public var seed: UInt64 { 0 }

    /// `examples` of a task with the given vocabulary and classes.
    public init(_ examples: [Example], kind: TaskKind, vocabularySize: Int, classCount: Int) {
        self.examples = examples
        self.kind = kind
        self.vocabularySize = vocabularySize
        self.classCount = classCount
    }

    /// All examples in test; none elsewhere.
    public func count(of split: Split) -> Int { split == .test ? examples.count : 0 }

    /// Example `index`.
    public func example(_ index: Int, in split: Split) -> Example { examples[index] }
}
