// `attend bench train`: training throughput of a 4-layer encoder classifier (d = 256, 4 heads,
// FFN 1024) on random token batches: forward, backward and an AdamW update per step, in tokens/s.
// Benchmarks/peers/train.py trains the same architecture in PyTorch eager on the same batches.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import Foundation

/// The options of `attend bench train`.
struct TrainBenchmarkOptions: OptionGroup {
    let mixers = DefaultedOption(
        .list("mixers", "LIST", "mechanisms to time, comma-separated, or 'all'"), default: "full")
    let lengths = DefaultedOption(.intList("lengths", "LIST", "sequence lengths"), default: "1024")
    let batch = DefaultedOption(.positiveInt("batch", "N", "batch size"), default: "8")
    let output = BenchOutputOptions()
}

enum TrainBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench train", summary: "training steps per second of a small encoder per mechanism",
        usage: "bench train [options]", positionals: nil)

    struct Row: Codable {
        let mixer: String, length: Int, batch: Int, tokensPerSecond: Double,
            stepMilliseconds: Double
        /// Minor page faults and tensor-cache misses per timed step (0 once memory is reused).
        let pageFaultsPerStep: Double, allocatorMissesPerStep: Double
    }

    static func run(_ arguments: ParsedArguments<TrainBenchmarkOptions>) throws {
        try BenchOutputOptions.start(arguments.group(\.output))
        let requested = try arguments[\.mixers]
        let mixers = requested == ["all"] ? Mechanisms.names : requested
        let lengths = try arguments[\.lengths]
        let batch = try arguments[\.batch]
        let runs = try arguments[\.output.runs]
        var rows: [Row] = []
        print(
            "training step: 4 layers, width 256, 4 heads, FFN 1024, vocabulary 256, batch \(batch), AdamW"
        )
        for n in lengths {
            for mixer in mixers {
                var configuration = ModelConfiguration(
                    vocabularySize: 256, modelDimension: 256, layerCount: 4, headCount: 4,
                    feedForwardDimension: 1024, maximumLength: n)
                configuration.mixer = mixer
                configuration.dropout = 0
                configuration.classCount = 10
                configuration.pooling = .mean
                let model = try EncoderClassifier(configuration)
                let optimizer = AdamW(parameters: model.namedParameters())
                var generator = RandomGenerator(seed: 1)
                let tokens = Indices(
                    shape: [batch, n],
                    values: (0..<(batch * n)).map { _ in generator.nextInt(below: 256) })
                let labels = (0..<batch).map { _ in generator.nextInt(below: 10) }
                let step = {
                    let (_, gradients) = try valueAndGradient(of: model) { model in
                        crossEntropy(logits: try model(tokens, mask: nil).logits, targets: labels)
                    }
                    optimizer.step(gradients, learningRate: 1e-4)
                }
                let time = try Measurement.run(runs: runs, step)
                let row = Row(
                    mixer: mixer, length: n, batch: batch,
                    tokensPerSecond: Double(batch * n) / time.median,
                    stepMilliseconds: time.median * 1000, pageFaultsPerStep: time.pageFaultsPerRun,
                    allocatorMissesPerStep: time.allocatorMissesPerRun)
                rows.append(row)
            }
        }
        let table = rows.map {
            [
                $0.mixer, "\($0.length)", "\($0.batch)", String(format: "%.0f", $0.tokensPerSecond),
                String(format: "%.1f", $0.stepMilliseconds),
                String(format: "%.0f", $0.pageFaultsPerStep),
                String(format: "%.1f", $0.allocatorMissesPerStep),
            ]
        }
        print(
            TextTable(
                header: [
                    "mixer", "n", "batch", "tokens/s", "step ms", "page faults/step",
                    "cache misses/step",
                ],
                rows: table
            ).rendered)
        try ResultFiles.write(rows, arguments.group(\.output))
    }
}
