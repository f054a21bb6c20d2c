// `attend generate`: sample text from a byte-level language model trained by `attend train --task
// bytelm`. Each new byte re-reads the whole (bounded) context; temperature and top-k shape sampling.
import AttendCore
import AttendData
import AttendTrain
import Foundation

enum GenerateCommand: Command {
    static let spec = CommandSpec(
        name: "generate", summary: "sample text from a trained byte-level language model",
        usage: "generate --run DIR --prompt TEXT [--tokens N] [--temperature T] [--top-k K]",
        options: [
            .option("run", "DIR", "run directory of a language model (`attend train --task bytelm …`)"),
            .option("prompt", "TEXT", "text to continue", default: ""),
            .option("tokens", "N", "bytes to generate", default: "200"),
            .option("temperature", "T", "sampling temperature (0 = always the most likely byte)", default: "0.8"),
            .option("top-k", "K", "sample only among the K most likely bytes (0 = all)", default: "40"),
            .option("seed", "N", "sampling seed", default: "0"),
            .option("threads", "N", "threads (default: all cores)"),
        ],
        positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        if let threads = try arguments.positiveInt("threads") { Parallel.setThreadCount(threads) }
        let runDirectory = RunDirectory(path: try arguments.requiredString("run"))
        let configuration = try runDirectory.loadConfiguration()
        let task = try TaskCatalog.make(configuration.task, options: configuration.taskOptions)
        guard task.kind == .languageModel else {
            throw UsageError("attend generate: run \(runDirectory.path) was trained on \(task.name), not a language model (bytelm)")
        }
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        try Checkpoint.loadModel(trainer.model, from: runDirectory.modelPath)
        trainer.model.eval()
        let count = try arguments.positiveInt("tokens") ?? 200
        let temperature = try arguments.float("temperature") ?? 0.8
        let topK = try arguments.int("top-k") ?? 40
        guard temperature >= 0 else { throw UsageError("attend generate: --temperature must be ≥ 0") }
        var generator = RandomGenerator(seed: UInt64(try arguments.int("seed") ?? 0))
        let prompt = arguments.string("prompt") ?? ""
        var context = ByteTokenizer.encode(prompt)
        if context.isEmpty { context = ByteTokenizer.encode("\n") }
        let window = configuration.model.maximumLength
        FileHandle.standardOutput.write(Data(prompt.utf8))
        var pending: [UInt8] = []
        for _ in 0..<count {
            let visible = Array(context.suffix(window))
            let batch = Batch.collate([Example(tokens: visible, targets: visible)], indices: [0])
            let logits = try withoutGradient { try trainer.model.output(for: batch, trainingStep: 0).logits }
            let last = logits.sliced(alongAxis: 1, (visible.count - 1)..<visible.count).scalars
            let next = sample(last, temperature: temperature, topK: topK, generator: &generator)
            context.append(next)
            // Print whole UTF-8 characters as they complete.
            pending += ByteTokenizer.decode([next])
            if let text = String(validating: pending, as: UTF8.self) {
                FileHandle.standardOutput.write(Data(text.utf8))
                pending.removeAll()
            }
        }
        print()
    }

    /// Draws a token id from logits with temperature and top-k (padding id excluded).
    static func sample(_ logits: [Float], temperature: Float, topK: Int, generator: inout RandomGenerator) -> Int {
        var candidates = Array(logits.indices.dropFirst())  // id 0 is padding, never generated
        candidates.sort { logits[$0] > logits[$1] }
        if temperature == 0 { return candidates[0] }
        if topK > 0 { candidates = Array(candidates.prefix(topK)) }
        let top = logits[candidates[0]]
        let weights = candidates.map { Foundation.exp((logits[$0] - top) / temperature) }
        return candidates[generator.nextCategorical(weights: weights)]
    }
}
