// Fine-tuning a Hugging Face DeBERTa-v2 folder on labelled texts (`attend train --data FILE
// --init-from DEBERTA_DIR`): transformers' DebertaV2ForSequenceClassification (the ContextPooler
// and a classifier on [CLS]) over the folder's encoder, texts tokenised by the folder's WordPiece
// tokenizer as for BERT. DeBERTa runs its own disentangled attention (another `--mixer` is
// refused), and text pairs are not joined for it yet (refused by name).
import AttendData
import AttendModels
import Foundation

extension DebertaV2SequenceClassifier: PretrainedClassifier {
    /// Single texts ([CLS] text [SEP]); a pair batch is refused.
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        guard batch.pairTokens == nil else { throw DebertaV2FineTuning.pairsRefused }
        return try self(batch.tokens, mask: batch.mask)
    }
}

/// The DeBERTa-v2 family of `FineTuning`.
enum DebertaV2FineTuning {
    /// What fine-tuning the DeBERTa-v2 folder `directory` on `task` starts from; throws for text
    /// pairs and for token ids beyond its vocabulary.
    static func initialization(
        directory: String, task: any SequenceTask, freezeEncoder: Bool
    ) throws -> PretrainedInitialization {
        let path = PretrainedFolder.configurationPath(in: directory)
        let deberta = try DebertaV2Configuration.load(path: path)
        let head = try PretrainedFolder.configuration(DebertaV2ClassifierHead.self, at: path)
        _ = try PretrainedFolder.weightsPath(in: directory)  // fail now, not when training starts
        guard !task.isPair else { throw pairsRefused }
        try FineTuning.checkTextTask(
            task, vocabularySize: deberta.vocabularySize, directory: directory)
        var initialization = PretrainedInitialization(
            directory: directory, architecture: .debertaV2(deberta, head),
            labels: task.classNames)
        initialization.freezeEncoder = freezeEncoder
        return initialization
    }

    /// Text pairs are not joined into one DeBERTa-v2 sequence yet.
    static let pairsRefused = TrainingError.incompatible(
        "text pairs are fine-tuned with BERT folders only so far; give a DeBERTa-v2 folder single "
            + "texts (one text field), or join the pair into one text")

    /// The model configuration mirroring `deberta`, for inputs up to `task`'s length.
    static func model(_ deberta: DebertaV2Configuration, task: any SequenceTask)
        -> ModelConfiguration
    {
        var model = ModelConfiguration(
            vocabularySize: deberta.vocabularySize, modelDimension: deberta.modelDimension,
            layerCount: deberta.layerCount, headCount: deberta.headCount,
            feedForwardDimension: deberta.feedForwardDimension,
            maximumLength: Swift.min(task.maxLength, deberta.maximumPositions))
        model.activation = deberta.activation
        model.dropout = deberta.hiddenDropout
        model.preNorm = false
        model.positions = deberta.positionBiasedInput ? .learned : .none
        model.layerNormEpsilon = deberta.layerNormEpsilon
        return model
    }
}

/// transformers' config.json of a DeBERTa-v2 classifier's encoder and head, with its `model_type`.
struct DebertaV2ClassifierConfiguration: Encodable {
    let encoder: DebertaV2Configuration
    let head: DebertaV2ClassifierHead

    enum CodingKeys: String, CodingKey { case modelType = "model_type" }

    func encode(to encoder: any Encoder) throws {
        try self.encoder.encode(to: encoder)
        try head.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("deberta-v2", forKey: .modelType)
    }
}
