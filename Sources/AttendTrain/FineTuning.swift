// Fine-tuning a Hugging Face checkpoint (`attend train --init-from DIR`): the run's configuration
// (the folder's config.json inside the model configuration, and the optimisation defaults Hugging
// Face's Trainer uses for BERT-sized models), the copy of the encoder weights when training starts,
// and the folder's tokenizer files kept in the run directory, so that the run can be evaluated,
// resumed and exported without the original folder.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import Foundation

extension BertSequenceClassifier: TaskModel {
    /// Single texts as they come; text pairs joined into [CLS] a [SEP] b [SEP].
    public func output(for batch: Batch, trainingStep: Int) throws -> ModelOutput {
        guard let second = batch.pairTokens, let secondMask = batch.pairMask else {
            return try self(batch.tokens, mask: batch.mask)
        }
        let joined = joinedPairs(
            batch.tokens, mask: batch.mask, second, mask: secondMask,
            paddingID: bert.configuration.paddingTokenID)
        return try self(joined.ids, mask: joined.mask)
    }
}

extension BertSequenceClassifier: PretrainedClassifier {}

/// A classifier built on a Hugging Face encoder, which a folder's weights are copied into.
public protocol PretrainedClassifier: TaskModel {
    /// Copies the folder's encoder (and a classifier of this model's shape) into the model, as
    /// `initialization` built it (a BERT's position table grown as it records).
    func loadPretrained(
        from archive: any SafetensorsArchive, as initialization: PretrainedInitialization
    ) throws -> PretrainedClassifierLoadReport
}

/// Building, starting and storing fine-tuning runs.
public enum FineTuning {
    /// Epochs a fine-tuning run takes unless `--steps` says otherwise (BERT's paper: 2–4).
    public static let epochs = 3
    /// Peak learning rate (transformers' `TrainingArguments` default; BERT's paper: 2e-5…5e-5).
    public static let learningRate: Float = 5e-5
    /// Examples per step (BERT's paper: 16 or 32).
    public static let batchSize = 32
    /// Fraction of the steps spent warming up linearly (RoBERTa's GLUE recipe: 6 %).
    public static let warmupFraction = 0.06
    /// AdamW's decoupled weight decay on matrices (not on biases or norms).
    public static let weightDecay: Float = 0.01
    /// The tokenizer files of a model folder that a run keeps, when present.
    static let tokenizerFiles = [
        "vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
        SentencePieceTextTokenizer.fileName,
    ]

    /// What fine-tuning the folder `directory` on `task` starts from: its config.json (a BERT or
    /// a ViT: `ViTFineTuning`), the task's labels and whether the encoder is frozen.
    ///
    /// Throws when the folder is of another family or the task's token ids do not fit its
    /// vocabulary (tasks tokenised by bytes, not by the folder's WordPiece vocabulary).
    public static func initialization(
        directory: String, task: any SequenceTask, freezeEncoder: Bool
    ) throws -> PretrainedInitialization {
        let configPath = PretrainedFolder.configurationPath(in: directory)
        switch try checkFamily(directory: directory, images: task is UserImageTask) {
        case "vit":
            return try ViTFineTuning.initialization(
                directory: directory, task: task, freezeEncoder: freezeEncoder)
        case "deberta-v2":
            return try DebertaV2FineTuning.initialization(
                directory: directory, task: task, freezeEncoder: freezeEncoder)
        default: break
        }
        let bert = try BertConfiguration(contentsOf: configPath)
        _ = try Bert.weightsPath(in: directory)  // fail now, not when training starts
        try checkTextTask(task, vocabularySize: bert.vocabularySize, directory: directory)
        var initialization = PretrainedInitialization(
            directory: directory, bert: bert, labels: task.classNames)
        initialization.freezeEncoder = freezeEncoder
        if task.isPair {  // joined as [CLS] a [SEP] b [SEP]: segment 1 starts after the first [SEP]
            initialization.segmentSeparatorID = try WordPieceTokenizer(directory: directory)
                .separatorID
        }
        return initialization
    }

    /// Throws unless `task` is a classification whose token ids fit a vocabulary of
    /// `vocabularySize` (the folder `directory`'s).
    static func checkTextTask(
        _ task: any SequenceTask, vocabularySize: Int, directory: String
    ) throws {
        guard task.kind != .languageModel else {
            throw TrainingError.incompatible(
                "--init-from fine-tunes a sequence classifier; task \(task.name) is language "
                    + "modelling"
            )
        }
        guard task.vocabularySize <= vocabularySize else {
            throw TrainingError.incompatible(
                "task \(task.name) has token ids up to \(task.vocabularySize - 1), beyond the "
                    + "\(vocabularySize) tokens of \(directory); a pretrained model needs "
                    + "data tokenised with its own vocabulary"
            )
        }
    }

    /// The families `--init-from` fine-tunes, by transformers' `model_type`.
    public static let families = ["bert", "vit", "deberta-v2"]

    /// Throws unless the folder `directory` is of a family in `families` that reads the data given
    /// (`images`: a ViT; texts: the others); returns its `model_type`.
    @discardableResult
    public static func checkFamily(directory: String, images: Bool) throws -> String {
        let configPath = PretrainedFolder.configurationPath(in: directory)
        let modelType = try modelType(ofConfiguration: configPath)
        guard families.contains(modelType) else {
            throw PretrainedModelError.unsupported(
                feature: "--init-from a \(modelType) folder (\(configPath))", supported: families)
        }
        guard (modelType == "vit") == images else {
            throw TrainingError.incompatible(
                modelType == "vit"
                    ? ViTFineTuning.imagesOnly(directory)
                    : "--init-from \(directory) is a \(modelType) folder, which reads texts; "
                        + "images need a ViT folder")
        }
        return modelType
    }

    /// transformers' `model_type` of a config.json ("bert" when absent: BERT exports predate it).
    static func modelType(ofConfiguration path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PretrainedModelError.missingFile(
                path: path, hint: "--init-from takes a Hugging Face model folder")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PretrainedModelError.invalidConfiguration(
                path: path, problem: "not a JSON object")
        }
        return object["model_type"] as? String ?? "bert"
    }

    /// The fine-tuning run of `initialization` on `task`: the pretrained shape, full attention,
    /// inputs up to the task's length (at most the model's positions; a ViT's: the whole image),
    /// and Hugging Face's optimisation (AdamW β₂ 0.999, ε 1e-8, weight decay 0.01, peak rate 5e-5
    /// with linear warm-up over 6 % of the steps and linear decay, gradient norm clipped at 1,
    /// three epochs).
    public static func configuration(
        task: any SequenceTask, taskName: String, taskOptions: TaskOptions,
        initialization: PretrainedInitialization, seed: UInt64
    ) -> TrainingConfiguration {
        var model: ModelConfiguration
        switch initialization.architecture {
        case .bert(let bert): model = bertModel(bert, task: task)
        case .vit(let vit, _): model = ViTFineTuning.model(vit, task: task)
        case .debertaV2(let deberta, _): model = DebertaV2FineTuning.model(deberta, task: task)
        }
        model.classCount = task.classCount
        model.seed = seed
        model.pretrained = initialization
        let perEpoch = Swift.max(1, (task.count(of: .train) + batchSize - 1) / batchSize)
        let steps = epochs * perEpoch
        var configuration = TrainingConfiguration(
            task: taskName, taskOptions: taskOptions, model: model, steps: steps,
            batchSize: batchSize,
            learningRate: learningRate, warmupSteps: warmupSteps(forSteps: steps),
            weightDecay: weightDecay)
        configuration.schedule = .linear
        configuration.beta2 = 0.999
        configuration.epsilon = 1e-8
        configuration.gradientClip = 1
        configuration.seed = seed
        return configuration
    }

    /// The model configuration mirroring `bert`, for inputs up to `task`'s length.
    static func bertModel(_ bert: BertConfiguration, task: any SequenceTask) -> ModelConfiguration {
        var model = ModelConfiguration(
            vocabularySize: bert.vocabularySize, modelDimension: bert.modelDimension,
            layerCount: bert.layerCount,
            headCount: bert.headCount, feedForwardDimension: bert.feedForwardDimension,
            maximumLength: Swift.min(task.maxLength, bert.maximumPositions))
        model.activation = bert.activation
        model.dropout = bert.hiddenDropout
        model.preNorm = false
        model.positions = .learned
        model.layerNormEpsilon = bert.layerNormEpsilon
        return model
    }

    /// The classifier of `pretrained`'s family that `configuration` describes, with random weights
    /// until the folder's or a run's weights are loaded into it.
    public static func classifier(
        _ configuration: ModelConfiguration, _ pretrained: PretrainedInitialization
    ) throws -> any PretrainedClassifier {
        switch pretrained.architecture {
        case .bert: try BertSequenceClassifier(configuration, pretrained: pretrained)
        case .vit: try ViTClassifier(configuration, pretrained: pretrained)
        case .debertaV2(let deberta, let head):
            try DebertaV2SequenceClassifier(
                deberta, head: head, classCount: configuration.classCount,
                mechanism: DebertaV2FineTuning.mechanism(configuration.mixer),
                mixerConfiguration: configuration.mixerOptions,
                freezeEncoder: pretrained.freezeEncoder, seed: configuration.seed)
        }
    }

    /// Warm-up steps for a run of `steps` steps: 6 %, rounded up.
    public static func warmupSteps(forSteps steps: Int) -> Int {
        Int((Double(steps) * warmupFraction).rounded(.up))
    }

    /// Copies the weights of the folder `initialization` names into a new fine-tuning model.
    @discardableResult
    public static func loadPretrainedWeights(
        into model: any TaskModel, from initialization: PretrainedInitialization
    ) throws -> PretrainedClassifierLoadReport {
        guard let classifier = model as? any PretrainedClassifier else {
            throw TrainingError.incompatible(
                "the model was not built from a pretrained folder (--init-from)")
        }
        let archive = try Safetensors.open(
            try PretrainedFolder.weightsPath(in: initialization.directory))
        return try classifier.loadPretrained(from: archive, as: initialization)
    }

    /// Copies the tokenizer files of `directory` into the run's `tokenizer/` folder.
    public static func saveTokenizer(from directory: String, to run: RunDirectory) throws {
        let target = run.tokenizerDirectory
        do {
            try FileManager.default.createDirectory(
                atPath: target, withIntermediateDirectories: true)
            for name in tokenizerFiles {
                let source = URL(fileURLWithPath: directory).appendingPathComponent(name).path
                guard FileManager.default.fileExists(atPath: source) else { continue }
                let destination = target + "/" + name
                try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.copyItem(atPath: source, toPath: destination)
            }
        } catch {
            throw TrainingError.run(
                "cannot copy the tokenizer of \(directory) into \(target): "
                    + error.localizedDescription
            )
        }
    }
}

extension RunDirectory {
    /// The tokenizer files of a fine-tuned model's pretrained folder, kept with the run.
    public var tokenizerDirectory: String { path + "/tokenizer" }
}
