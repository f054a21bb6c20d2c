// The catalogue's entry point for run configurations: the task a run's `TaskOptions` describe, a
// registered task or the user's own data, masked for self-pretraining.
import AttendData

extension TaskCatalog {
    /// The task a run configuration names: its user data set if it has one, else catalogue task
    /// `name`; masked for self-pretraining when `options.masking` is set.
    public static func make(_ name: String, options: TaskOptions) throws -> any SequenceTask {
        let task =
            try options.data.map { try UserData.make($0) }
            ?? make(name, preset: options.preset, seed: options.seed)
        guard let masking = options.masking else { return task }
        return try MaskedTokenTask(base: task, masking: masking)
    }
}
