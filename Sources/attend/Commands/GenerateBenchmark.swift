// `attend bench generate`: incremental decoding of randomly initialised byte-level causal LMs, per
// mechanism and context length: the prefill of a prompt of `context` bytes, then the median time of
// one decoding step (one new byte, batch 1) and the bytes the decoding state holds at that point.
// Two model shapes: the `cpu` preset's byte LM (width 64, 4 heads, 2 layers) and a larger one
// (width 512, 8 heads, 6 layers, FFN 2048). Benchmarks/peers/generate.py times Hugging Face
// `generate` with its key/value cache on a GPT-2 of the same shapes.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation

struct GenerateResult: Codable {
    let model: String, mixer: String, context: Int
    let msPerToken: Double, prefillMilliseconds: Double, stateBytes: Int
}

enum GenerateBenchmark {
    /// A model shape to decode with.
    struct Shape {
        let name: String, width: Int, heads: Int, layers: Int, feedForward: Int
    }

    /// The `cpu` preset's byte LM and the larger shape of issue 21.
    static let shapes = [
        Shape(name: "cpu", width: 64, heads: 4, layers: 2, feedForward: 128),
        Shape(name: "large", width: 512, heads: 8, layers: 6, feedForward: 2048),
    ]

    static func run(_ arguments: ParsedArguments) throws {
        let requested = arguments.list("mixers") ?? ["full", "local", "performer"]
        let causal = Mechanisms.all.filter(\.capabilities.supportsCausal).map(\.name)
        let mixers = requested == ["all"] ? causal : requested
        let contexts = try arguments.intList("contexts") ?? [512, 2048, 8192]
        let runs = try arguments.positiveInt("runs") ?? 5
        let names = arguments.list("models") ?? shapes.map(\.name)
        let chosen = try names.map { name in
            guard let shape = shapes.first(where: { $0.name == name }) else {
                throw UsageError(
                    "attend bench generate: unknown model '\(name)'; choose "
                        + shapes.map(\.name).joined(separator: ", ")
                )
            }
            return shape
        }
        print(
            "generate: batch 1, random weights, eval mode; ms/token = median of \(runs) decoding "
                + "steps after the prompt"
        )
        var results: [GenerateResult] = []
        var refused: [String] = []
        for shape in chosen {
            for mixer in mixers {
                for context in contexts {
                    do {
                        results.append(
                            try measure(shape, mixer: mixer, context: context, runs: runs))
                    } catch let error as MixerError {  // no state, over a memory budget: go on
                        refused.append("\(shape.name) \(mixer) \(context): \(error)")
                    }
                    FileHandle.standardError.write(
                        Data("  \(shape.name) \(mixer) \(context) done\n".utf8))
                }
            }
        }
        let rows = results.map { r in
            [
                r.model, r.mixer, "\(r.context)", AttentionBenchmark.format(r.msPerToken),
                AttentionBenchmark.format(r.prefillMilliseconds),
                String(format: "%.2f", Double(r.stateBytes) / 1_048_576),
            ]
        }
        print(
            TextTable(
                header: ["model", "mixer", "context", "ms/token", "prefill ms", "state MiB"],
                rows: rows
            ).rendered)
        for line in refused { print("refused: \(line)") }
        try ResultFiles.write(results, json: arguments.string("json"), csv: arguments.string("csv"))
        if let svg = arguments.string("svg") {
            try plot(results).rendered().write(toFile: svg, atomically: true, encoding: .utf8)
        }
    }

    /// Milliseconds per generated token against context length on log-log axes, one line per model
    /// shape and mixer.
    static func plot(_ results: [GenerateResult]) -> SVGPlot {
        var plot = SVGPlot(
            title: "Decoding time per token vs context", xLabel: "context (prompt tokens)",
            yLabel: "ms per token")
        plot.logX = true
        plot.logY = true
        var lines: [String] = []
        for r in results where !lines.contains("\(r.model) \(r.mixer)") {
            lines.append("\(r.model) \(r.mixer)")
        }
        for line in lines {
            let points = results.filter { "\($0.model) \($0.mixer)" == line }.map {
                (x: Double($0.context), y: $0.msPerToken)
            }
            plot.series.append(.init(name: line, points: points))
        }
        return plot
    }

    /// Prefill of `context` bytes, then `runs` timed steps (greedy bytes).
    static func measure(
        _ shape: Shape, mixer: String, context: Int, runs: Int
    ) throws -> GenerateResult {
        var model = ModelConfiguration(
            vocabularySize: ByteTokenizer.vocabularySize, modelDimension: shape.width,
            layerCount: shape.layers,
            headCount: shape.heads, feedForwardDimension: shape.feedForward,
            maximumLength: context + runs + 1)
        model.mixer = mixer
        model.dropout = 0
        model.pooling = .mean
        model.seed = 1
        let lm = try CausalLM(model)
        lm.eval()
        let prompt = Indices(
            shape: [1, context], values: (0..<context).map { 1 + ($0 * 31 + $0 / 7) % 255 })
        let clock = ContinuousClock()
        let start = clock.now
        let (logits, state) = try withoutGradient { try lm.prefill(prompt, lengths: [context]) }
        let prefill = (clock.now - start) / .seconds(1)
        var token = greedy(logits.sliced(alongAxis: 1, (context - 1)..<context).scalars)
        var seconds: [Double] = []
        for _ in 0..<runs {
            let begin = clock.now
            let next = try withoutGradient { try lm.step([token], state: state) }
            seconds.append((clock.now - begin) / .seconds(1))
            token = greedy(next.scalars)
        }
        return GenerateResult(
            model: shape.name, mixer: mixer, context: context,
            msPerToken: Measurement(seconds: seconds).median * 1000,
            prefillMilliseconds: prefill * 1000, stateBytes: state.byteCount)
    }

    /// The most likely byte (padding excluded).
    static func greedy(_ logits: [Float]) -> Int {
        (1..<logits.count).max { logits[$0] < logits[$1] } ?? 1
    }
}
