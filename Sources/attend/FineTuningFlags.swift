// `attend train --init-from DIR [--freeze-encoder]`: the fine-tuning configuration the flags start
// from, the checks after the other flags are applied, and what happens once before the first step
// (the pretrained weights copied in, the folder's tokenizer kept with the run). DIR is either a
// Hugging Face BERT, DeBERTa-v2 or ViT folder or an Attend run directory (`attend pretrain`'s,
// usually), whose encoder is copied by name into a model the other flags describe as usual.
import AttendData
import AttendModels
import AttendTrain
import Foundation

/// The options `attend train` adds for fine-tuning.
struct FineTuningOptions: OptionGroup {
    let initFrom = Option.string(
        "init-from", "DIR",
        "fine-tune a Hugging Face BERT or DeBERTa-v2 folder (config.json, model.safetensors, "
            + "vocab.txt or spm.model) or ViT folder (images as --data): "
            + "its encoder, a new classifier, Hugging Face's fine-tuning defaults (lr 5e-5, "
            + "6 % warm-up, "
            + "linear decay, weight decay 0.01, 3 epochs, batch 32); or start from the encoder of "
            + "an Attend run (`attend pretrain`), keeping the task's own presets")
    let freezeEncoder = Flag(
        "freeze-encoder",
        "with --init-from: train only the classifier, keeping the pretrained encoder fixed")
    let extendPositions = Option<PositionExtension>.cases(
        "extend-positions", "HOW",
        "with --init-from and a --seq-len beyond the folder's positions: grow its position table "
            + "by tile (copies, first positions unchanged) or interpolate")
}

enum FineTuningFlags {
    /// Flags that set a shape the pretrained folder fixes.
    static func shapeFlags(_ o: TrainOptions) -> [any OptionDeclaration] {
        [
            o.layers, o.dim, o.heads, o.ffn, o.architecture, o.patch, o.ffnKind, o.upperMixer,
            o.dropout, o.positions,
        ]
    }

    /// The fine-tuning configuration for `task` when `--init-from` is given, else nil; refuses
    /// flags that would change the pretrained shape.
    static func configuration(
        from arguments: ParsedArguments<TrainOptions>, task: any SequenceTask, taskName: String,
        options: TaskOptions, seed: UInt64
    ) throws -> TrainingConfiguration? {
        guard let directory = try pretrainedFolder(arguments) else { return nil }
        if let flag = shapeFlags(arguments.options).first(where: arguments.isGiven) {
            throw UsageError(
                "attend train: --\(flag.specs[0].name) cannot change a pretrained model; "
                    + "the config.json of "
                    + "\(directory) fixes its shape and dropout")
        }
        let initialization = try FineTuning.initialization(
            directory: directory, task: task, freezeEncoder: arguments[\.fineTuning.freezeEncoder])
        return FineTuning.configuration(
            task: task, taskName: taskName, taskOptions: options, initialization: initialization,
            seed: seed)
    }

    /// The `--init-from` folder when it is a Hugging Face folder, or nil; `--freeze-encoder`
    /// alone is an error.
    static func pretrainedFolder(_ arguments: ParsedArguments<TrainOptions>) throws -> String? {
        guard let directory = try arguments[\.fineTuning.initFrom] else {
            if arguments[\.fineTuning.freezeEncoder] {
                throw UsageError(
                    "attend train: --freeze-encoder needs --init-from DIR (a pretrained encoder to "
                        + "freeze)"
                )
            }
            return nil
        }
        return try attendRun(arguments) == nil ? directory : nil
    }

    /// The `--init-from` directory when it is an Attend run, or nil; a directory that is neither
    /// an Attend run nor a model folder is an error.
    static func attendRun(_ arguments: ParsedArguments<TrainOptions>) throws -> String? {
        guard let directory = try arguments[\.fineTuning.initFrom] else { return nil }
        if Pretraining.isRunDirectory(directory) { return directory }
        guard FileManager.default.fileExists(atPath: directory + "/config.json") else {
            throw UsageError(
                "attend train: --init-from \(directory) is neither an Attend run "
                    + "directory (the config.json and model.safetensors of `attend pretrain` or "
                    + "`attend train`) nor a Hugging Face model folder (config.json, "
                    + "model.safetensors, vocab.txt)")
        }
        return nil
    }

    /// With `--init-from`: the folder must be of a family that reads the data (a ViT for images);
    /// texts are tokenised by the pretrained folder's tokenizer (SentencePiece when it holds an
    /// spm.model, else WordPiece), whose files are copied
    /// into the run directory first (`tokenizer/`), so that evaluation and prediction read them
    /// from the run.
    static func useTokenizerOfPretrainedFolder(
        _ arguments: ParsedArguments<TrainOptions>, data: inout UserDataConfiguration
    ) throws {
        guard let directory = try pretrainedFolder(arguments) else { return }
        // The family is checked first: its error beats one about missing tokenizer files.
        try FineTuning.checkFamily(directory: directory, images: data.format.isImages)
        guard !data.format.isImages else { return }
        let run = RunDirectory(path: DataFlags.absolute(try arguments.required(\.out)))
        try FineTuning.saveTokenizer(from: directory, to: run)
        data.tokenizer = .pretrained(directory: run.tokenizerDirectory)
    }

    /// The fine-tuning configuration for the `--data` run `data` (its task, split, seed and
    /// input length) when `--init-from` is given, else nil.
    static func configuration(
        from arguments: ParsedArguments<TrainOptions>, data: TrainingConfiguration
    ) throws
        -> TrainingConfiguration?
    {
        guard try pretrainedFolder(arguments) != nil else { return nil }
        let task = try TaskCatalog.make(data.task, options: data.taskOptions)
        guard
            var fineTuning = try configuration(
                from: arguments, task: task, taskName: data.task, options: data.taskOptions,
                seed: data.seed)
        else { return nil }
        fineTuning.model.maximumLength = Swift.min(
            data.model.maximumLength, fineTuning.model.maximumLength)
        return fineTuning
    }

    /// After the other flags: refuses --config with --init-from and inputs longer than the
    /// model's positions, and recomputes the warm-up from the final step count unless `--warmup`
    /// was given.
    static func finish(
        _ configuration: inout TrainingConfiguration, arguments: ParsedArguments<TrainOptions>
    ) throws {
        if try arguments[\.fineTuning.initFrom] != nil && arguments[\.config] != nil {
            throw UsageError(
                "attend train: --init-from starts a new fine-tuning run; drop --config (or drop "
                    + "--init-from to train from the configuration)")
        }
        if let run = try attendRun(arguments) {
            if arguments[\.fineTuning.freezeEncoder] {
                throw UsageError(
                    "attend train: --freeze-encoder works with Hugging Face folders; "
                        + "an encoder from \(run) is fine-tuned whole")
            }
            configuration.encoderFrom = DataFlags.absolute(run)
        }
        let method = try arguments[\.fineTuning.extendPositions]
        guard let pretrained = configuration.model.pretrained else {
            if method != nil {
                throw UsageError(
                    "attend train: --extend-positions needs --init-from DIR (a Hugging Face "
                        + "folder whose position table to grow)")
            }
            return
        }
        configuration.model.pretrained = try checkInputLength(
            configuration.model, of: pretrained, extension: method, arguments: arguments)
        if try arguments[\.fineTuning.initFrom] != nil
            && !arguments.isGiven(arguments.options.warmup)
        {
            configuration.warmupSteps = FineTuning.warmupSteps(forSteps: configuration.steps)
        }
    }

    /// Checks the model's input length against the pretrained folder: a DeBERTa-v2 folder runs
    /// its own attention when `--mixer` is left out (`--mixer deberta` is refused), a ViT reads
    /// whole images (no `--seq-len`), and a BERT folder's position table grows by `method`
    /// (`--extend-positions`) when `--seq-len` exceeds it. Returns the initialization with the
    /// grown table recorded.
    static func checkInputLength(
        _ model: ModelConfiguration, of pretrained: PretrainedInitialization,
        extension method: PositionExtension?, arguments: ParsedArguments<TrainOptions>
    ) throws -> PretrainedInitialization {
        if case .debertaV2 = pretrained.architecture, model.mixer == DebertaV2Model.ownMechanism {
            throw UsageError(
                "attend train: --mixer deberta: the DeBERTa-v2 model of \(pretrained.directory) "
                    + "runs its own disentangled attention by default (leave --mixer out)")
        }
        guard let positions = pretrained.architecture.maximumPositions else {
            for (flag, given) in [
                ("--seq-len", arguments.isGiven(arguments.options.seqLen)),
                ("--extend-positions", method != nil),
            ] where given {
                throw UsageError(
                    "attend train: \(flag) cannot change the input of the ViT at "
                        + "\(pretrained.directory): it reads whole images of its image_size")
            }
            return pretrained
        }
        guard model.maximumLength > positions else { return pretrained }
        guard pretrained.bert != nil else {
            throw UsageError(
                "attend train: --seq-len \(model.maximumLength) is longer than the "
                    + "\(positions) positions of \(pretrained.directory) (only BERT folders "
                    + "can grow their position table with --extend-positions)")
        }
        guard let method else {
            throw UsageError(
                "attend train: --seq-len \(model.maximumLength) is longer than the \(positions) "
                    + "positions of \(pretrained.directory); add --extend-positions tile (or "
                    + "interpolate) to grow its position table, or lower --seq-len")
        }
        return pretrained.extendingPositions(to: model.maximumLength, by: method)
    }

    /// Before the first step of a new (not resumed) fine-tuning run: copies the pretrained
    /// weights into the model (an Attend run's encoder, or a folder's weights and tokenizer into
    /// the run), and says what was loaded.
    static func start(_ trainer: Trainer, run: RunDirectory) throws {
        if let source = trainer.configuration.encoderFrom {
            let count = try Pretraining.loadEncoder(into: trainer.model, fromRun: source)
            writeError("attend train: encoder (\(count) tensors) from \(source)")
        }
        guard let pretrained = trainer.configuration.model.pretrained else { return }
        let report = try FineTuning.loadPretrainedWeights(into: trainer.model, from: pretrained)
        try run.prepare()
        if pretrained.architecture.maximumPositions != nil {  // a text model: keep its tokenizer
            try FineTuning.saveTokenizer(from: pretrained.directory, to: run)
        }
        var notes = ["encoder from \(report.encoder.file)"]
        notes.append(
            report.loadedClassifier
                ? "classifier from the folder"
                : "new classifier (\(pretrained.labels.count) classes)")
        if report.newPooler { notes.append("new pooler (the folder has none)") }
        if !report.encoder.keptInitial.isEmpty {
            notes.append(
                "\(report.encoder.keptInitial.count) mechanism parameters at their initial values")
        }
        if let method = pretrained.positionExtension, let trained = pretrained.trainedPositions,
            let grown = pretrained.architecture.maximumPositions
        {
            notes.append("positions \(trained) → \(grown) (\(method.rawValue))")
        }
        if case .debertaV2(let deberta, _) = pretrained.architecture,
            let note = DebertaV2FineTuning.mechanismNote(trainer.configuration.model.mixer, deberta)
        {
            notes.append(note)
        }
        if pretrained.freezeEncoder { notes.append("encoder frozen") }
        writeError("attend train: fine-tuning: " + notes.joined(separator: "; "))
        writeError(Environment.summary)  // runs are benchmarks too: CPU, threads, BLAS kernel
    }
}
