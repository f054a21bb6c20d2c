// `attend adapt`: distils a pretrained BERT folder into the same model running an efficient
// attention mechanism (AttendTrain/Adaptation.swift), on unlabeled text, and writes a model
// folder that `attend embed --model` loads with that mechanism.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

enum AdaptCommand: Command {
    /// Options that define the run; with --resume they come from the folder's adapt.json.
    static let settingOptions = [
        "model", "mixer", "mixer-options", "steps", "minutes", "texts", "length", "train", "lr",
        "batch", "held-out", "extend-positions", "checkpoint-every", "seed",
    ]
    /// Training chunks prepared for a run limited by time rather than steps.
    static let timedRunChunks = 2048

    static let spec = CommandSpec(
        name: "adapt", summary: "distil a pretrained BERT into one running an efficient mechanism",
        usage: "adapt --model DIR --mixer NAME [--mixer-options JSON] [--steps N | --minutes M] "
            + "[--texts FILE] [--length N] [--train mixer|norms|all] [--lr X] --out DIR2 "
            + "[--resume]",
        options: [
            .option(
                "model", "DIR",
                "pretrained BERT folder (default: $ATTEND_MINILM, else the MiniLM "
                    + "scripts/setup.sh fetches)"),
            .option("mixer", "NAME", "the student's attention mechanism (attend list)"),
            .option(
                "mixer-options", "JSON", "its options, e.g. '{\"local\": {\"window_size\": 64}}'"),
            .option("steps", "N", "optimizer steps (learning rate decays linearly to 0)"),
            .option("minutes", "M", "adapt for M minutes instead (constant rate; default 10)"),
            .option(
                "texts", "FILE",
                "UTF-8 text to adapt on, paragraphs as documents (default: the King James "
                    + "Bible and Shakespeare from data-cache/)"),
            .option(
                "length", "N",
                "tokens per chunk with [CLS] and [SEP]; beyond the folder's positions the table "
                    + "is extended (default: the folder's positions)"),
            .option(
                "extend-positions", "HOW",
                "tile (copies, first positions unchanged) or interpolate", default: "tile"),
            .option(
                "train", "WHAT",
                "mixer (the mechanism's own parameters), norms (those and the LayerNorms) or all",
                default: "all"),
            .option(
                "lr", "X",
                "peak AdamW learning rate (default 1e-4 for all, 1e-3 for mixer and norms)"),
            .option("batch", "N", "chunks per step", default: "8"),
            .option(
                "held-out", "N", "held-out chunks the cosine to the teacher is measured on",
                default: "32"),
            .option("checkpoint-every", "N", "steps between checkpoints", default: "50"),
            .option(
                "seed", "N", "seed of the batch order and the mechanism's new parameters",
                default: "0"),
            .option("threads", "N", "threads for BLAS and parallel loops (default: all cores)"),
            .option(
                "out", "DIR2", "folder to write: the adapted model, adapt.json, metrics, checkpoint"
            ),
            .flag(
                "resume",
                "continue the run in --out from its checkpoint, with its adapt.json settings"),
        ],
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        if let threads = try arguments.positiveInt("threads") { Parallel.setThreadCount(threads) }
        let out = try arguments.requiredString("out")
        let resume = arguments.flag("resume")
        let settings: AdaptationSettings
        if resume {
            let given = settingOptions.filter {
                arguments.string($0) != nil && !isDefault($0, arguments)
            }
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
            settings = try JSONDecoder().decode(AdaptationSettings.self, from: data)
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

    /// True when `name` holds only its declared default (so --resume may ignore it).
    static func isDefault(_ name: String, _ arguments: ParsedArguments) -> Bool {
        spec.options.first { $0.name == name }?.defaultValue == arguments.string(name)
    }

    /// The settings the options describe, checked.
    static func settings(from arguments: ParsedArguments) throws -> AdaptationSettings {
        let model = arguments.string("model") ?? defaultMiniLMDirectory
        guard let mixer = arguments.string("mixer") else {
            throw UsageError(
                "attend adapt: --mixer is required (the student's mechanism; attend list)")
        }
        _ = try Mechanisms.named(mixer)
        let options = try mixerConfiguration(
            fromJSON: arguments.string("mixer-options"), command: "adapt")
        let positions = try BertConfiguration(
            contentsOf: URL(fileURLWithPath: model).appendingPathComponent("config.json").path
        ).maximumPositions
        let length = try arguments.positiveInt("length") ?? positions
        guard length >= 3 else {
            throw UsageError("attend adapt: --length must be at least 3 ([CLS], a token, [SEP])")
        }
        let scope =
            try arguments.choice("train", from: AdaptationScope.allCases.map(\.rawValue))
            .flatMap(AdaptationScope.init(rawValue:)) ?? .all
        if let rate = try arguments.float("lr"), rate <= 0 {
            throw UsageError("attend adapt: --lr must be positive, got \(rate)")
        }
        var settings = AdaptationSettings(
            model: model, mechanism: mixer, length: length, scope: scope,
            learningRate: try arguments.float("lr"))
        settings.mixerOptions = options
        settings.positionExtension = try EmbedCommand.positionExtension(arguments)
        settings.batchSize = try arguments.positiveInt("batch") ?? settings.batchSize
        settings.heldOutChunks = try arguments.positiveInt("held-out") ?? settings.heldOutChunks
        settings.checkpointEvery =
            try arguments.positiveInt("checkpoint-every") ?? settings.checkpointEvery
        let seed = try arguments.int("seed") ?? 0
        guard seed >= 0 else {
            throw UsageError("attend adapt: --seed must be 0 or more, got \(seed)")
        }
        settings.seed = UInt64(seed)
        settings.texts = arguments.string("texts")
        settings.steps = try arguments.positiveInt("steps")
        settings.minutes = try arguments.float("minutes").map(Double.init)
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
