// `attend generate`: sample text from a byte-level language model trained by `attend train --task
// bytelm`. By default the prompt runs once (prefill) and each new byte is one decoding step against
// the model's state (key/value cache, running sums…); `--no-cache` re-reads the whole (bounded)
// context for every byte instead, for comparison. Several samples decode as one batch; each stops
// at `--tokens` or after its end byte. Temperature and top-k shape sampling.
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

/// The options of `attend generate`.
struct GenerateOptions: OptionGroup {
    let run = Option.string(
        "run", "DIR", "run directory of a language model (`attend train --task bytelm …`)")
    let prompt = DefaultedOption(.string("prompt", "TEXT", "text to continue"), default: "")
    let tokens = DefaultedOption(
        .positiveInt("tokens", "N", "bytes to generate per sample"), default: "200")
    let samples = DefaultedOption(
        .positiveInt("samples", "N", "samples generated together as one batch"), default: "1")
    let endByte = Option.int(
        "end-byte", "B",
        "stop a sample after it generates this byte value (1–255, e.g. 10 = newline)")
    let cache = FlagPair(
        "cache", "decode with the model's state (the default)",
        negated: "recompute the whole context for every byte instead of decoding with the "
            + "model's state")
    let temperature = DefaultedOption(
        .float("temperature", "T", "sampling temperature (0 = always the most likely byte)"),
        default: "0.8")
    let topK = DefaultedOption(
        .int("top-k", "K", "sample only among the K most likely bytes (0 = all)"), default: "40")
    let seed = DefaultedOption(.seed("seed", "N", "sampling seed"), default: "0")
    let threads = Option.positiveInt("threads", "N", "threads (default: all cores)")
}

enum GenerateCommand: Command {
    static let spec = CommandSpec(
        name: "generate", summary: "sample text from a trained byte-level language model",
        usage:
            "generate --run DIR --prompt TEXT [--tokens N] [--samples N] [--end-byte B] "
            + "[--no-cache] "
            + "[--temperature T] [--top-k K]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<GenerateOptions>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        let runDirectory = RunDirectory(path: try arguments.required(\.run))
        let configuration = try runDirectory.loadConfiguration()
        let task = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        guard task.kind == .languageModel, configuration.model.architecture == .encoder else {
            throw UsageError(
                "attend generate: run \(runDirectory.path) was trained on \(task.name), "
                    + "not a language model (bytelm)"
            )
        }
        let count = try arguments[\.tokens]
        let samples = try arguments[\.samples]
        let temperature = try arguments[\.temperature]
        let topK = try arguments[\.topK]
        guard temperature >= 0 else {
            throw UsageError("attend generate: --temperature must be ≥ 0")
        }
        let endByte = try arguments[\.endByte]
        if let endByte, !(1...255).contains(endByte) {
            throw UsageError(
                "attend generate: --end-byte must be a byte value in 1...255, got \(endByte)")
        }
        let model = try CausalLM(configuration.model)
        try Checkpoint.loadModel(model, from: runDirectory.modelPath)
        model.eval()
        var generator = RandomGenerator(seed: try arguments[\.seed])
        let prompt = try arguments[\.prompt]
        var context = ByteTokenizer.encode(prompt)
        if context.isEmpty { context = ByteTokenizer.encode("\n") }
        let endToken = endByte.map { ByteTokenizer.encode([UInt8($0)])[0] }
        let decoder = TextDecoder(
            model: model, prompt: context, samples: samples, cached: try arguments[\.cache] ?? true)
        var printer = Utf8Printer()
        if samples == 1 { FileHandle.standardOutput.write(Data(prompt.utf8)) }
        let texts = try decoder.generate(count: count, endToken: endToken) { _, logits in
            let next = sample(logits, temperature: temperature, topK: topK, generator: &generator)
            if samples == 1 { printer.write(next) }
            return next
        }
        if samples == 1 {
            print()
            return
        }
        for (i, text) in texts.enumerated() {
            print("── sample \(i + 1) ──")
            print(prompt + String(decoding: ByteTokenizer.decode(text), as: UTF8.self))
        }
    }

    /// Draws a token id from logits with temperature and top-k (padding id excluded).
    static func sample(
        _ logits: [Float], temperature: Float, topK: Int, generator: inout RandomGenerator
    ) -> Int {
        var candidates = Array(logits.indices.dropFirst())  // id 0 is padding, never generated
        candidates.sort { logits[$0] > logits[$1] }
        if temperature == 0 { return candidates[0] }
        if topK > 0 { candidates = Array(candidates.prefix(topK)) }
        let top = logits[candidates[0]]
        let weights = candidates.map { Foundation.exp((logits[$0] - top) / temperature) }
        return candidates[generator.nextCategorical(weights: weights)]
    }
}

/// Writes generated bytes to standard output as whole UTF-8 characters complete.
struct Utf8Printer {
    private var pending: [UInt8] = []

    mutating func write(_ token: Int) {
        pending += ByteTokenizer.decode([token])
        if let text = String(validating: pending, as: UTF8.self) {
            FileHandle.standardOutput.write(Data(text.utf8))
            pending.removeAll()
        }
    }
}
