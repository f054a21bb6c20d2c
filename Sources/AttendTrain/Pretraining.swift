// Self-pretraining (Amos et al. 2023, "Never Train from Scratch"): a run that trains a task's
// encoder to reconstruct masked tokens of the task's own training inputs, and the copy of that
// encoder into a later run's model (`attend train --init-from RUN`, `attend lra --pretrain-steps`).
// The pretraining model embeds one token more than the task has, the mask token (the last row of
// `encoder.token_embedding.weight`); a fine-tuning model never sees that token, so the row is
// dropped when the encoder is copied.
import AttendCore
import AttendData
import AttendModels
import AttendNN
import Foundation

/// Building pretraining runs and initialising other runs from their encoders.
public enum Pretraining {
    /// The parameter that holds the mask token's embedding as its last row.
    static let tokenEmbeddingName = "encoder.token_embedding.weight"

    /// The default fraction of hidden positions: 0.15 for token sequences (BERT's rate: text and
    /// ListOps carry much information per token), 0.5 for images, whose neighbouring pixels are so
    /// redundant that a low rate is solved by copying a neighbour (the rate of Amos et al.'s
    /// example configuration; masked autoencoders go higher still).
    public static func defaultMaskRate(for task: any SequenceTask) -> Double {
        TrainingPresets.isImage(task) ? 0.5 : 0.15
    }

    /// The pretraining run of `base`, a training configuration of a classification task: the same
    /// model shape and optimisation, its inputs masked by `masking`, one more embedding row (the
    /// mask token) and a head over the task's tokens. Throws when the task or model cannot be
    /// pretrained (language modelling, a Hugging Face encoder, a ViT, invalid masking).
    public static func configuration(
        from base: TrainingConfiguration, masking: MaskingOptions
    ) throws -> TrainingConfiguration {
        guard base.model.pretrained == nil else {
            throw TrainingError.incompatible(
                "a Hugging Face encoder is already pretrained; drop --init-from")
        }
        guard base.model.architecture == .encoder else {
            throw TrainingError.incompatible(
                "pretraining trains the token encoder; a ViT has no token embedding to mask")
        }
        var configuration = base
        configuration.taskOptions.masking = masking
        configuration.encoderFrom = nil
        let task = try TaskCatalog.make(base.task, options: configuration.taskOptions)
        configuration.model.vocabularySize = task.vocabularySize
        configuration.model.classCount = task.classCount
        return configuration
    }

    /// Copies the encoder of the run in `directory` (its final `model.safetensors`) into `model`'s
    /// encoder; returns the number of tensors copied.
    @discardableResult
    public static func loadEncoder(into model: any Module, fromRun directory: String) throws
        -> Int
    {
        let run = RunDirectory(path: directory)
        let source = try run.loadConfiguration()
        guard FileManager.default.fileExists(atPath: run.modelPath) else {
            throw TrainingError.run(
                "--init-from \(directory): \(run.modelPath) is missing: the run has not finished "
                    + "(resume it with `attend pretrain --resume --out \(directory)`)")
        }
        let file = try SafetensorsFile(path: run.modelPath)
        var state: [String: Tensor] = [:]
        for name in file.names where name.hasPrefix("encoder.") {
            state[name] = try file.tensor(name)
        }
        let isPretraining = source.taskOptions.masking != nil
        return try loadEncoder(
            into: model, from: state, hasMaskToken: isPretraining, source: directory)
    }

    /// Copies the `encoder.*` tensors of `state` into `model`'s encoder, by name. With
    /// `hasMaskToken` the token embedding may have one row more than `model`'s (the mask token),
    /// which is dropped. Any other missing, extra or differently shaped name is an error listing
    /// them, and nothing is copied.
    @discardableResult
    public static func loadEncoder(
        into model: any Module, from state: [String: Tensor], hasMaskToken: Bool, source: String
    ) throws -> Int {
        let encoder = model.namedParameters().filter { $0.0.hasPrefix("encoder.") }
        guard !encoder.isEmpty else {
            throw TrainingError.incompatible(
                "--init-from \(source): the model has no encoder to initialise")
        }
        var tensors = state.filter { $0.key.hasPrefix("encoder.") }
        if hasMaskToken, let embedding = tensors[tokenEmbeddingName],
            let target = encoder.first(where: { $0.0 == tokenEmbeddingName })?.1,
            embedding.shape == [target.shape[0] + 1, target.shape[1]]
        {
            tensors[tokenEmbeddingName] = embedding.sliced(alongAxis: 0, 0..<target.shape[0])
        }
        if let mismatch = StateDictionaryMismatch(parameters: encoder, tensors: tensors) {
            throw TrainingError.incompatible(
                "--init-from \(source): its encoder does not fit this model (train with the same "
                    + "preset, --mixer and shape flags as the pretraining run); \(mismatch)")
        }
        for (name, parameter) in encoder { parameter.value = tensors[name]! }
        return encoder.count
    }

    /// True when `directory` holds an Attend run (a `config.json` Attend can read as a training
    /// configuration), as opposed to a Hugging Face model folder.
    public static func isRunDirectory(_ directory: String) -> Bool {
        (try? RunDirectory(path: directory).loadConfiguration()) != nil
    }
}
