// `attend bench ffn`: the Switch mixture-of-experts FFN against a dense FFN of the same active size
// (one T5 expert: wi → ReLU → wo, no biases, d_ff equal to an expert's), forward and forward+backward
// (input and parameter gradients, router losses included) at several token counts. Tokens come in
// sequences of --seq-len (the Switch routing group). Evaluation mode (no jitter), both capacity
// factors set to --capacity-factor. Benchmarks/peers/ffn.py times Hugging Face's sparse MLP and
// dense FFN on the same shapes.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import Foundation

struct FeedForwardResult: Codable {
    let layer: String, tokens: Int, sequenceLength: Int, width: Int, hiddenWidth: Int, experts: Int
    let forwardMilliseconds: Double, backwardMilliseconds: Double
    let forwardTokensPerSecond: Double, backwardTokensPerSecond: Double
    let droppedFraction: Double
    var ratioToDense: Double?, backwardRatioToDense: Double?
}

/// The options of `attend bench ffn`.
struct FeedForwardBenchmarkOptions: OptionGroup {
    let tokens = DefaultedOption(
        .intList(
            "tokens", "LIST", "token counts"), default: "1024,4096,16384")
    let width = DefaultedOption(.positiveInt("width", "N", "model width"), default: "512")
    let ffnDim = DefaultedOption(
        .positiveInt("ffn-dim", "N", "hidden units of the dense FFN and of each expert"),
        default: "2048")
    let experts = DefaultedOption(.positiveInt("experts", "N", "Switch experts"), default: "8")
    let seqLen = DefaultedOption(
        .positiveInt("seq-len", "N", "tokens per sequence, the routing group"), default: "512")
    let capacityFactor = DefaultedOption(
        .float("capacity-factor", "X", "Switch capacity factor"), default: "1.25")
    let output = BenchOutputOptions()
}

enum FeedForwardBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench ffn", summary: "dense feed-forward against a Switch mixture of experts",
        usage: "bench ffn [options]", positionals: nil)

    static func run(_ arguments: ParsedArguments<FeedForwardBenchmarkOptions>) throws {
        try BenchOutputOptions.start(arguments.group(\.output))
        let tokenCounts = try arguments[\.tokens]
        let width = try arguments[\.width]
        let hidden = try arguments[\.ffnDim]
        let experts = try arguments[\.experts]
        let sequenceLength = try arguments[\.seqLen]
        let factor = try arguments[\.capacityFactor]
        let runs = try arguments[\.output.runs]
        print(
            "ffn: width \(width), d_ff \(hidden) per expert, \(experts) experts, sequences of \(sequenceLength), "
                + "capacity factor \(factor), ReLU, no biases, eval mode")
        var results: [FeedForwardResult] = []
        for tokens in tokenCounts {
            let n = Swift.min(sequenceLength, tokens)
            guard tokens % n == 0 else {
                throw UsageError(
                    "attend bench ffn: token count \(tokens) is not a multiple of --seq-len \(n)")
            }
            var generator = RandomGenerator(seed: 1)
            var options = SwitchFeedForward.Options()
            options.expertCount = experts
            options.capacityFactor = factor
            options.evaluationCapacityFactor = factor
            let switchLayer = try SwitchFeedForward(
                dimension: width, hiddenDimension: hidden, options: options, dropout: 0,
                generator: &generator)
            let dense = ExpertFeedForward(
                dimension: width, hiddenDimension: hidden, activation: .relu, dropout: 0,
                generator: &generator)
            switchLayer.eval()
            dense.eval()
            let x = Tensor.randomNormal([tokens / n, n, width], seed: 2)
            let dropped =
                Double(withoutGradient { switchRouting(switchLayer, x) }.dropped.count)
                / Double(tokens)
            let (denseRow, switchRow) = measurePair(
                dense: dense, switch: switchLayer, x, hidden: hidden, experts: experts, runs: runs,
                dropped: dropped)
            results += [denseRow, switchRow]
            FileHandle.standardError.write(Data("  \(tokens) tokens done\n".utf8))
        }
        let rows = results.map { r in
            [
                r.layer, "\(r.tokens)", AttentionBenchmark.format(r.forwardMilliseconds),
                AttentionBenchmark.format(r.backwardMilliseconds),
                String(format: "%.0f", r.forwardTokensPerSecond),
                String(format: "%.0f", r.backwardTokensPerSecond),
                String(format: "%.3f", r.droppedFraction),
                r.ratioToDense.map { String(format: "%.3f", $0) } ?? "-",
                r.backwardRatioToDense.map { String(format: "%.3f", $0) } ?? "-",
            ]
        }
        print(
            TextTable(
                header: [
                    "layer", "tokens", "forward ms", "fwd+bwd ms", "fwd tokens/s",
                    "fwd+bwd tokens/s", "dropped",
                    "fwd / dense", "fwd+bwd / dense",
                ],
                rows: rows
            ).rendered)
        try ResultFiles.write(results, arguments.group(\.output))
    }

    /// The routing the layer would make for `x` (for the dropped-token column).
    static func switchRouting(_ layer: SwitchFeedForward, _ x: Tensor) -> SwitchRouting {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let probabilities = layer.router(x.reshaped([b * n, c])).softmax(alongAxis: -1)
        return SwitchRouting(
            probabilities: probabilities.scalars, groups: b, groupSize: n,
            experts: layer.options.expertCount,
            mask: nil, capacity: layer.capacity(realTokens:))
    }

    /// Times the dense layer and the Switch layer on `x`, alternating their runs so that a machine whose
    /// load drifts (shared cores) affects both alike; the ratio uses the medians.
    static func measurePair(
        dense: ExpertFeedForward, switch switchLayer: SwitchFeedForward, _ x: Tensor, hidden: Int,
        experts: Int,
        runs: Int, dropped: Double
    ) -> (FeedForwardResult, FeedForwardResult) {
        let layers: [any FeedForwardLayer] = [dense, switchLayer]
        let forwards = layers.map { layer in
            { _ = withoutGradient { layer(x, context: MixerContext()) } }
        }
        let backwards = layers.map { layer in
            let leaves = [x.requiringGradient()] + layer.parameters.map(\.value)
            return {
                let context = MixerContext()
                let y = layer(leaves[0], context: context)
                let objective = context.auxiliaryLosses.reduce(y.summed()) { $0 + $1.value }
                _ = gradients(of: objective, withRespectTo: leaves)
            }
        }
        let forward = Measurement.alternating(runs: runs, forwards)
        let both = Measurement.alternating(runs: runs, backwards)
        let tokens = x.shape[0] * x.shape[1]
        func row(_ i: Int, _ name: String) -> FeedForwardResult {
            FeedForwardResult(
                layer: name, tokens: tokens, sequenceLength: x.shape[1], width: x.shape[2],
                hiddenWidth: hidden,
                experts: i == 0 ? 1 : experts, forwardMilliseconds: forward[i].median * 1000,
                backwardMilliseconds: both[i].median * 1000,
                forwardTokensPerSecond: Double(tokens) / forward[i].median,
                backwardTokensPerSecond: Double(tokens) / both[i].median,
                droppedFraction: i == 0 ? 0 : dropped,
                ratioToDense: i == 0 ? nil : forward[1].median / forward[0].median,
                backwardRatioToDense: i == 0 ? nil : both[1].median / both[0].median)
        }
        return (row(0, "dense"), row(1, "switch-\(experts)"))
    }
}
