// `attend adapt`: distils a pretrained BERT folder into the same model running an efficient
// attention mechanism (AttendTrain/Adaptation.swift), on unlabeled text, and writes a model
// folder that `attend embed --model` loads with that mechanism.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

/// The options of `attend adapt`.
struct AdaptOptions: OptionGroup {
    /// The settings' own defaults, which the options show and use (each written once, in
    /// `AdaptationSettings`).
    static let defaults = AdaptationSettings(model: "", mechanism: "full", length: 0)

    let model = Option.string(
        "model", "DIR",
        "pretrained BERT folder (default: $ATTEND_MINILM, else the MiniLM scripts/setup.sh "
            + "fetches)")
    let mixer = Option.string("mixer", "NAME", "the student's attention mechanism (attend list)")
    let mixerOptions = Option.string(
        "mixer-options", "JSON", "its options, e.g. '{\"local\": {\"window_size\": 64}}'")
    let steps = Option.positiveInt(
        "steps", "N", "optimizer steps (learning rate decays linearly to 0)")
    let minutes = Option.float(
        "minutes", "M", "adapt for M minutes instead (constant rate; default 10)")
    let texts = Option.string(
        "texts", "FILE",
        "UTF-8 text to adapt on, paragraphs as documents (default: the King James Bible and "
            + "Shakespeare from data-cache/)")
    let length = Option.positiveInt(
        "length", "N",
        "tokens per chunk with [CLS] and [SEP]; beyond the folder's positions the table is "
            + "extended (default: the folder's positions)")
    let extendPositions = DefaultedOption(
        Option<PositionExtension>.cases(
            "extend-positions", "HOW", "tile (copies, first positions unchanged) or interpolate"),
        default: Self.defaults.positionExtension.rawValue)
    let train = DefaultedOption(
        Option<AdaptationScope>.cases(
            "train", "WHAT",
            "mixer (the mechanism's own parameters), norms (those and the LayerNorms) or all"),
        default: Self.defaults.scope.rawValue)
    let lr = Option.float(
        "lr", "X", "peak AdamW learning rate (default 1e-4 for all, 1e-3 for mixer and norms)")
    let batch = DefaultedOption(
        .positiveInt("batch", "N", "chunks per step"), default: "\(Self.defaults.batchSize)")
    let heldOut = DefaultedOption(
        .positiveInt("held-out", "N", "held-out chunks the cosine to the teacher is measured on"),
        default: "\(Self.defaults.heldOutChunks)")
    let checkpointEvery = DefaultedOption(
        .positiveInt("checkpoint-every", "N", "steps between checkpoints"),
        default: "\(Self.defaults.checkpointEvery)")
    let seed = DefaultedOption(
        .seed("seed", "N", "seed of the batch order and the mechanism's new parameters"),
        default: "\(Self.defaults.seed)")
    let threads = Option.positiveInt(
        "threads", "N", "threads for BLAS and parallel loops (default: all cores)")
    let out = Option.string(
        "out", "DIR2", "folder to write: the adapted model, adapt.json, metrics, checkpoint")
    let resume = Flag(
        "resume", "continue the run in --out from its checkpoint, with its adapt.json settings")

    /// Options that define the run; with --resume they come from the folder's adapt.json.
    var settingOptions: [any OptionDeclaration] {
        [
            model, mixer, mixerOptions, steps, minutes, texts, length, train, lr, batch, heldOut,
            extendPositions, checkpointEvery, seed,
        ]
    }
}

enum AdaptCommand: Command {
    /// Training chunks prepared for a run limited by time rather than steps.
    static let timedRunChunks = 2048

    static let spec = CommandSpec(
        name: "adapt", summary: "distil a pretrained BERT into one running an efficient mechanism",
        usage: "adapt --model DIR --mixer NAME [--mixer-options JSON] [--steps N | --minutes M] "
            + "[--texts FILE] [--length N] [--train mixer|norms|all] [--lr X] --out DIR2 "
            + "[--resume]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<AdaptOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        let out = try arguments.required(\.out)
        let resume = arguments[\.resume]
        let settings: AdaptationSettings
        if resume {
            let given = arguments.options.settingOptions.filter(arguments.isGiven)
                .map(\.specs[0].name)
            guard given.isEmpty else {
                throw UsageError(
                    "attend adapt: --resume takes the settings from \(out)/adapt.json; drop "
                        + given.map { "--" + $0 }.joined(separator: ", "))
            }
            let path = URL(fileURLWithPath: out).appendingPathComponent("adapt.json").path
            guard let data = FileManager.default.contents(atPath: path) else {
                throw UsageError(
                    "attend adapt: \(path) is missing: nothing to resume; run without --resume "
                        + "first")
            }
            do {
                settings = try JSONDecoder().decode(AdaptationSettings.self, from: data)
                try settings.mixerOptions?.validateOptions()
            } catch let error as DecodingError {
                throw TrainingError.run("\(path) is not valid: \(error.plainDescription)")
            } catch {
                throw TrainingError.run("\(path) is not valid: mixer_options.\(error)")
            }
        } else {
            settings = try self.settings(from: arguments)
        }
        let tokenizer = try WordPieceTokenizer(directory: settings.model)
        writeError(
            "attend adapt: tokenizing \(settings.texts ?? "the King James Bible and Shakespeare")…")
        let documents =
            try settings.texts.map(AdaptationTexts.documents(inFile:))
            ?? AdaptationTexts.defaultDocuments()
        let texts = try AdaptationTexts(
            documents: documents, tokenizer: tokenizer, length: settings.length,
            trainingLimit: settings.steps.map { $0 * settings.batchSize } ?? timedRunChunks,
            heldOutLimit: settings.heldOutChunks, source: settings.texts ?? "the default corpora")
        writeError(
            "attend adapt: \(texts.training.count) training and \(texts.heldOut.count) held-out "
                + "chunks of \(settings.length) tokens")
        let adaptation = try Adaptation(settings: settings, texts: texts)
        InterruptFlag.install()
        let result = try adaptation.run(in: out, resume: resume) { writeError($0) }
        print(
            String(
                format:
                    "adapted %@ to %@ in %d steps (%@): held-out cosine to full attention "
                    + "%.4f → %.4f (min %.4f → %.4f); wrote %@",
                settings.model, settings.mechanism, result.steps,
                String(format: "%.0f s", result.seconds), result.cosineBefore, result.cosineAfter,
                result.minimumCosineBefore, result.minimumCosineAfter, out))
    }

    /// The settings the options describe, checked.
    static func settings(from arguments: ParsedArguments<AdaptOptions>) throws -> AdaptationSettings
    {
        let model = try arguments[\.model] ?? defaultMiniLMDirectory
        guard let mixer = try arguments[\.mixer] else {
            throw UsageError(
                "attend adapt: --mixer is required (the student's mechanism; attend list)")
        }
        _ = try Mechanisms.named(mixer)
        let options = try mixerConfiguration(
            fromJSON: arguments[\.mixerOptions], command: "adapt")
        let positions = try BertConfiguration(
            contentsOf: URL(fileURLWithPath: model).appendingPathComponent("config.json").path
        ).maximumPositions
        let length = try arguments[\.length] ?? positions
        guard length >= 3 else {
            throw UsageError("attend adapt: --length must be at least 3 ([CLS], a token, [SEP])")
        }
        let scope = try arguments[\.train]
        if let rate = try arguments[\.lr], rate <= 0 {
            throw UsageError("attend adapt: --lr must be positive, got \(rate)")
        }
        var settings = AdaptationSettings(
            model: model, mechanism: mixer, length: length, scope: scope,
            learningRate: try arguments[\.lr])
        settings.mixerOptions = options
        settings.positionExtension = try arguments[\.extendPositions]
        settings.batchSize = try arguments[\.batch]
        settings.heldOutChunks = try arguments[\.heldOut]
        settings.checkpointEvery = try arguments[\.checkpointEvery]
        settings.seed = try arguments[\.seed]
        settings.texts = try arguments[\.texts]
        settings.steps = try arguments[\.steps]
        settings.minutes = try arguments[\.minutes].map(Double.init)
        switch (settings.steps, settings.minutes) {
        case (.some, .some):
            throw UsageError("attend adapt: give --steps or --minutes, not both")
        case (nil, let minutes?) where minutes <= 0:
            throw UsageError("attend adapt: --minutes must be positive, got \(minutes)")
        case (nil, nil):
            settings.minutes = 10
        default: break
        }
        return settings
    }
}
