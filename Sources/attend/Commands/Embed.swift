// `attend embed`: sentence embeddings from a Hugging Face / sentence-transformers BERT folder, one JSON
// object per line ({"text": …, "embedding": […]}), texts from the arguments or else from standard
// input, one per line. `--mixer` runs the same pretrained weights with another registered attention
// mechanism (full attention reproduces the model; `attend bench embed --mixers …` measures the cost).
import AttendAttention
import AttendCore
import AttendModels
import Foundation

/// The options of `attend embed`.
struct EmbedOptions: OptionGroup {
    let model = Option.string(
        "model", "DIR",
        "model folder: config.json, model.safetensors, tokenizer.json or vocab.txt (default: "
            + "$ATTEND_MINILM, else the MiniLM scripts/setup.sh fetches)")
    let pooling = Option<Pooling>.cases(
        "pooling", "MODE",
        "mean (over real tokens) or cls (default: the folder's 1_Pooling config, else mean)")
    let normalize = FlagPair(
        "normalize",
        "scale every vector to unit length (default: when the folder's modules.json has a "
            + "Normalize step)",
        negated: "keep raw pooled vectors even if the folder's modules.json normalises")
    let maxLength = Option.positiveInt(
        "max-length", "N",
        "tokens per text with [CLS] and [SEP]; longer texts are truncated (default: the folder's "
            + "max_seq_length, else the model's positions); beyond the positions, the table is extended"
    )
    let batch = DefaultedOption(.positiveInt("batch", "N", "texts per forward pass"), default: "32")
    let extendPositions = DefaultedOption(
        Option<PositionExtension>.cases(
            "extend-positions", "HOW",
            "how --max-length beyond the model's positions grows the table: tile (copies, first "
                + "positions unchanged) or interpolate"),
        default: "tile")
    let mixer = Option.string(
        "mixer", "NAME",
        "attention mechanism between the pretrained q/k/v projections (attend list; default: the "
            + "one the folder was adapted to, else full)")
    let mixerOptions = Option.string(
        "mixer-options", "JSON",
        "the mechanism's options, e.g. '{\"local\": {\"window_size\": 64}}'")
    let threads = Option.positiveInt(
        "threads", "N", "threads for BLAS and parallel loops (default: all cores)")
}

enum EmbedCommand: Command {
    static let spec = CommandSpec(
        name: "embed", summary: "sentence embeddings from a pretrained BERT folder, as JSON lines",
        usage:
            "embed --model DIR [--pooling mean|cls] [--normalize] [--max-length N] [--extend-positions tile|interpolate] [--batch N] [--mixer NAME] [TEXT …]",
        positionals: "TEXT …: texts to embed; without any, one text per line of standard input")

    static func run(_ arguments: ParsedArguments<EmbedOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        let directory = try arguments[\.model] ?? defaultMiniLMDirectory
        let mixer = try arguments[\.mixer]
        if let mixer { _ = try Mechanisms.named(mixer) }
        let normalized = try arguments[\.normalize]
        let pooling = try arguments[\.pooling]
        let maximumLength = try arguments[\.maxLength]
        if let maximumLength, maximumLength < 2 {
            throw UsageError("attend embed: --max-length must be at least 2 ([CLS] and [SEP])")
        }
        let batch = try arguments[\.batch]
        let embedder = try SentenceEmbedder(
            directory: directory, mechanism: mixer,
            mixerConfiguration: try mixerConfiguration(
                fromJSON: arguments[\.mixerOptions], command: "embed"),
            pooling: pooling, normalized: normalized, maximumLength: maximumLength,
            positionExtension: try arguments[\.extendPositions])
        let texts = arguments.positional.isEmpty ? readLines() : arguments.positional
        let (vectors, truncated) = try embedder.embed(texts, batchSize: batch)
        if truncated > 0 {
            writeError(
                "attend embed: \(truncated) of \(texts.count) texts were longer than \(embedder.maximumLength) tokens and were truncated"
            )
        }
        let c = vectors.shape[1]
        let values = vectors.scalars
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        var output = ""
        for (i, text) in texts.enumerated() {
            let quoted = String(decoding: try encoder.encode(text), as: UTF8.self)
            let numbers = values[(i * c)..<((i + 1) * c)].map { "\($0)" }.joined(separator: ",")
            output += "{\"text\":\(quoted),\"embedding\":[\(numbers)]}\n"
            if output.utf8.count > 1 << 16 {
                FileHandle.standardOutput.write(Data(output.utf8))
                output = ""
            }
        }
        FileHandle.standardOutput.write(Data(output.utf8))
    }

    /// `--extend-positions` (tile unless given).
    /// Standard input split into lines (a final newline ends the last line, it does not add one).
    static func readLines() -> [String] {
        let text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        }
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}
