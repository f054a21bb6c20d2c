// A finished run trained on a user's data, opened for evaluation and prediction on new files: its
// configuration (with the data description, tokenizer and label map) and its final model.
import AttendData
import Foundation

/// A run directory's configuration and trained model.
public struct TrainedRun {
    /// The run's configuration.
    public let configuration: TrainingConfiguration
    /// How the run read its data (format, fields, tokenizer, label map).
    public let data: UserDataConfiguration
    /// The final model, in evaluation mode.
    public let model: any TaskModel

    /// Opens the run in `run`, failing with a message that says what to do when it was not
    /// trained on `--data` or has not finished.
    public init(_ run: RunDirectory) throws {
        configuration = try run.loadConfiguration()
        guard let data = configuration.taskOptions.data else {
            throw TrainingError.run(
                "\(run.path) was trained on task \(configuration.task), not on --data; "
                    + "evaluate it with `attend eval --run \(run.path) --split test`")
        }
        guard configuration.taskOptions.masking == nil else {
            throw TrainingError.run(
                "\(run.path) is a self-pretraining run (masked tokens), not a classifier; start "
                    + "one from it with `attend train --data FILE --init-from \(run.path) "
                    + "--out DIR`")
        }
        self.data = data
        guard FileManager.default.fileExists(atPath: run.modelPath) else {
            throw TrainingError.run(
                "\(run.modelPath) is missing: the run has not finished (resume it with "
                    + "`attend train --resume --out \(run.path)`)")
        }
        model = try makeModel(for: data.kind, configuration.model)
        try Checkpoint.loadModel(model, from: run.modelPath)
        model.eval()
    }
}

extension UserDataConfiguration {
    /// What the data's examples ask the model to predict.
    public var kind: TaskKind {
        if format == .text { return .languageModel }
        return format.hasFields && fields.pair != nil ? .pairClassification : .classification
    }
}
