// Fine-tuning a Hugging Face DeBERTa-v2 folder on labelled texts (`attend train --data FILE
// --init-from DEBERTA_DIR`): transformers' DebertaV2ForSequenceClassification (the ContextPooler
// and a classifier on [CLS]) over the folder's encoder, texts tokenised by the folder's WordPiece
// tokenizer as for BERT; text pairs run as one sequence [CLS] a [SEP] b [SEP] without segment ids
// (DeBERTa-v2/v3 have no segment embeddings; a folder with some is refused for pairs). DeBERTa runs
// its own disentangled attention unless `--mixer` names another mechanism, which then runs between
// the pretrained content projections without the relative-position terms.
import AttendData
import AttendModels
import Foundation

extension DebertaV2SequenceClassifier: PretrainedClassifier {
    /// Single texts as they come; text pairs joined into [CLS] a [SEP] b [SEP] (padding id 0,
    /// transformers' `pad_token_id` default).
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        guard let second = batch.pairTokens, let secondMask = batch.pairMask else {
            return try self(batch.tokens, mask: batch.mask)
        }
        let joined = joinTextPairs(
            batch.tokens, mask: batch.mask, second, mask: secondMask, paddingID: 0,
            limit: deberta.configuration.maximumPositions)
        return try self(joined.ids, mask: joined.mask)
    }
}

/// The DeBERTa-v2 family of `FineTuning`.
public enum DebertaV2FineTuning {
    /// What fine-tuning the DeBERTa-v2 folder `directory` on `task` starts from; throws for token
    /// ids beyond its vocabulary, and for text pairs when the model has segment embeddings.
    static func initialization(
        directory: String, task: any SequenceTask, freezeEncoder: Bool
    ) throws -> PretrainedInitialization {
        let path = PretrainedFolder.configurationPath(in: directory)
        let deberta = try DebertaV2Configuration.load(path: path)
        let head = try PretrainedFolder.configuration(DebertaV2ClassifierHead.self, at: path)
        _ = try PretrainedFolder.weightsPath(in: directory)  // fail now, not when training starts
        guard !task.isPair || deberta.typeVocabularySize == 0 else {
            throw TrainingError.incompatible(
                "\(directory) has segment embeddings (type_vocab_size "
                    + "\(deberta.typeVocabularySize)); text pairs are fine-tuned without "
                    + "segment ids, so give it single texts")
        }
        try FineTuning.checkTextTask(
            task, vocabularySize: deberta.vocabularySize, directory: directory)
        var initialization = PretrainedInitialization(
            directory: directory, architecture: .debertaV2(deberta, head),
            labels: task.classNames)
        initialization.freezeEncoder = freezeEncoder
        return initialization
    }

    /// The model's mechanism for the run's `mixer`: full attention (the default) is DeBERTa's
    /// own attention, full attention plus its relative-position terms.
    static func mechanism(_ mixer: String) -> String {
        mixer == "full" ? DebertaV2Model.ownMechanism : mixer
    }

    /// What the run says once when another mechanism replaces DeBERTa's attention, else nil.
    public static func mechanismNote(
        _ mixer: String, _ deberta: DebertaV2Configuration
    ) -> String? {
        guard mechanism(mixer) != DebertaV2Model.ownMechanism else { return nil }
        var note =
            "'\(mixer)' attention between the pretrained projections: DeBERTa's relative-position "
            + "terms (c2p/p2c) are dropped"
        if !deberta.positionBiasedInput {
            note +=
                "; warning: position_biased_input is false, so the model has no position "
                + "information except what '\(mixer)' itself encodes"
        }
        return note
    }

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
