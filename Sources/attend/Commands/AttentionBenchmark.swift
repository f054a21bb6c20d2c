// `attend bench attention`: every mechanism on the same [b, n, h·d] inputs across lengths: forward
// time, forward+backward time, peak extra tensor memory beside the mechanism's declared estimate
// of it, and the ratio to full attention. A length whose estimate does not fit in the memory
// available is refused for that mechanism before anything is allocated.
// `full-kernel` times the fused kernel alone on [b, n, h, d] heads, the shape PyTorch's
// scaled_dot_product_attention is timed on by Benchmarks/peers/attention.py.
import AttendAttention
import AttendCore
import AttendNN
import AttendTrain
import Foundation

struct AttentionResult: Codable {
    let mixer: String, length: Int, batch: Int, heads: Int, headDimension: Int, causal: Bool
    let forwardMilliseconds: Double
    let backwardMilliseconds: Double?
    let peakExtraMiB: Double
    /// The mechanism's declared working memory (`Mechanism.workingMemory`), nil for `full-kernel`.
    let estimatedMiB: Double?
    var ratioToFull: Double?
    /// Exact attention's arithmetic rate: forward 4·b·h·n²·d FLOPs (two products), the backward 2.5×
    /// that (it recomputes the scores from the saved log-sum-exp), halved when causal; nil for
    /// mechanisms whose work is not that product.
    var forwardGFLOPS: Double?, forwardBackwardGFLOPS: Double?
}

/// The options of `attend bench attention`.
struct AttentionBenchmarkOptions: OptionGroup {
    let mixers = DefaultedOption(
        .list("mixers", "LIST", "mechanisms to time, comma-separated, or 'all'"), default: "all")
    let mixerOptions = Option.string(
        "mixer-options", "JSON",
        "options of the mechanisms, e.g. '{\"full\": {\"path\": \"reference\"}}'")
    let lengths = DefaultedOption(
        .intList("lengths", "LIST", "sequence lengths"), default: "512,1024,2048,4096")
    let batch = DefaultedOption(.positiveInt("batch", "N", "batch size"), default: "1")
    let heads = DefaultedOption(.positiveInt("heads", "N", "heads"), default: "8")
    let headDim = DefaultedOption(.positiveInt("head-dim", "N", "head dimension"), default: "64")
    let causal = Flag("causal", "causal masking")
    let backward = Flag("backward", "also time forward+backward")
    let svg = Option.string("svg", "FILE", "also plot time against length (log-log SVG)")
    let output = BenchOutputOptions()
}

enum AttentionBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench attention",
        summary: "time and memory of every mechanism across sequence lengths",
        usage: "bench attention [options]", positionals: nil)

    static func run(_ arguments: ParsedArguments<AttentionBenchmarkOptions>) throws {
        let requested = try arguments[\.mixers]
        let mixers = requested == ["all"] ? ["full-kernel"] + Mechanisms.names : requested
        for name in mixers where name != "full-kernel" { _ = try Mechanisms.named(name) }
        let lengths = try arguments[\.lengths]
        let b = try arguments[\.batch]
        let h = try arguments[\.heads]
        let d = try arguments[\.headDim]
        try checkMemory(b: b, lengths: lengths, h: h, d: d)
        let causal = arguments[\.causal]
        let options = try mixerConfiguration(
            fromJSON: arguments[\.mixerOptions], command: "bench attention")
        let sizes = Sizes(b: b, h: h, d: d, causal: causal, options: options)
        try checkWorkingMemory(mixers, lengths: lengths, sizes)
        try BenchOutputOptions.start(arguments.group(\.output))
        let runs = try arguments[\.output.runs]
        let backward = arguments[\.backward]
        var results: [AttentionResult] = []
        var refused: [String] = []
        print(
            "attention: batch \(b), heads \(h), head dim \(d)\(causal ? ", causal" : "")\(backward ? ", with backward" : "")"
        )
        for n in lengths {
            for name in mixers where runsCausally(name) || !causal {
                if let refusal = memoryRefusal(name, n: n, sizes) {
                    refused.append(refusal)
                    FileHandle.standardError.write(Data("  refused: \(refusal)\n".utf8))
                    continue
                }
                let result: AttentionResult
                do {
                    result = try measure(name, n: n, sizes, backward: backward, runs: runs)
                } catch let error as MixerError {
                    // A mechanism that materialises maps refuses lengths over its memory budget: report it, go on.
                    guard case .memoryBudgetExceeded = error else { throw error }
                    refused.append("\(name) n=\(n): \(error)")
                    FileHandle.standardError.write(
                        Data("  \(name) n=\(n): refused (memory budget)\n".utf8))
                    continue
                }
                results.append(result)
                FileHandle.standardError.write(
                    Data(
                        "  \(name) n=\(n): \(String(format: "%.2f", result.forwardMilliseconds)) ms\n"
                            .utf8))
            }
        }
        for i in results.indices where ["full", "full-kernel"].contains(results[i].mixer) {
            let r = results[i]
            let flops =
                4 * Double(r.batch * r.heads * r.headDimension) * Double(r.length)
                * Double(r.length)
                * (r.causal ? 0.5 : 1)
            results[i].forwardGFLOPS = flops / (r.forwardMilliseconds * 1e6)
            results[i].forwardBackwardGFLOPS = r.backwardMilliseconds.map {
                3.5 * flops / ($0 * 1e6)
            }
        }
        for i in results.indices {
            if let full = results.first(where: {
                $0.mixer == "full" && $0.length == results[i].length
            }) {
                results[i].ratioToFull = results[i].forwardMilliseconds / full.forwardMilliseconds
            }
        }
        let rows = results.map { r in
            [
                r.mixer, "\(r.length)", format(r.forwardMilliseconds),
                r.backwardMilliseconds.map(format) ?? "-",
                String(format: "%.1f", r.peakExtraMiB),
                r.estimatedMiB.map { String(format: "%.1f", $0) } ?? "-",
                r.ratioToFull.map { String(format: "%.3f", $0) } ?? "-",
                r.forwardGFLOPS.map { String(format: "%.0f", $0) } ?? "-",
                r.forwardBackwardGFLOPS.map { String(format: "%.0f", $0) } ?? "-",
            ]
        }
        print(
            TextTable(
                header: [
                    "mixer", "n", "forward ms", "fwd+bwd ms", "peak MiB", "estimate MiB",
                    "time / full",
                    "fwd GFLOP/s",
                    "fwd+bwd GFLOP/s",
                ],
                rows: rows
            ).rendered)
        for line in refused { print("refused: \(line)") }
        try ResultFiles.write(results, arguments.group(\.output))
        if let svg = try arguments[\.svg] {
            try plot(results, causal: causal).rendered()
                .write(toFile: svg, atomically: true, encoding: .utf8)
        }
    }

    /// Forward time against length on log-log axes, one line per mixer.
    static func plot(_ results: [AttentionResult], causal: Bool) -> SVGPlot {
        var plot = SVGPlot(
            title: "Attention forward time vs length\(causal ? " (causal)" : "")",
            xLabel: "sequence length n",
            yLabel: "forward time (ms)")
        plot.logX = true
        plot.logY = true
        var mixers: [String] = []
        for r in results where !mixers.contains(r.mixer) { mixers.append(r.mixer) }
        for mixer in mixers {
            let points = results.filter { $0.mixer == mixer }.map {
                (x: Double($0.length), y: $0.forwardMilliseconds)
            }
            plot.series.append(.init(name: mixer, points: points))
        }
        return plot
    }

    /// Refuses sizes whose inputs alone cannot fit: q, k, v and the output ([b, n, h·d] each) and
    /// the four h·d × h·d projections, in Float32, for the longest length, against the memory
    /// available now. Sizes that overflow a 64-bit count are refused the same way, instead of
    /// trapping or failing an allocation deep inside a mechanism.
    static func checkMemory(b: Int, lengths: [Int], h: Int, d: Int) throws {
        let n = lengths.max() ?? 0
        func product(_ factors: [Int]) -> Int? {
            factors.reduce(Int?.some(1)) { total, factor in
                guard let total else { return nil }
                let (value, overflow) = total.multipliedReportingOverflow(by: factor)
                return overflow ? nil : value
            }
        }
        let bytes = product([4, 4, b, n, h, d]).flatMap { activations in
            product([4, 4, h, d, h, d]).flatMap { weights in
                let (sum, overflow) = activations.addingReportingOverflow(weights)
                return overflow ? nil : sum
            }
        }
        let available = SystemMemory.availableBytes ?? .max
        guard let bytes, bytes <= available else {
            let needed = bytes.map { "at least \(gibibytes($0))" } ?? "more than 2^63 bytes"
            throw UsageError(
                "attend bench attention: batch \(b) × length \(n) × \(h) heads × head dimension "
                    + "\(d) needs \(needed) for its inputs, more than the \(gibibytes(available)) "
                    + "available; lower --batch, --lengths, --heads or --head-dim")
        }
    }

    /// Bytes in GiB with one decimal.
    private static func gibibytes(_ bytes: Int) -> String { gibibytes(Double(bytes)) }

    private static func gibibytes(_ bytes: Double) -> String {
        String(format: "%.1f GiB", bytes / 1_073_741_824)
    }

    /// The sizes of a run besides the length, and the mechanisms' options.
    struct Sizes {
        let b: Int, h: Int, d: Int, causal: Bool
        /// `--mixer-options`, nil for every mechanism's defaults.
        let options: MixerConfiguration?

        /// The configuration every mechanism is timed with at length n: width h·d, h heads, the
        /// options given, seed 1.
        func configuration(n: Int) -> MixerConfiguration {
            var configuration =
                options ?? MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
            (configuration.modelDimension, configuration.headCount) = (h * d, h)
            configuration.maximumLength = n
            configuration.seed = 1
            return configuration
        }

        /// The declared working memory of `mechanism` at length n.
        func estimate(_ mechanism: Mechanism, n: Int) -> Double {
            mechanism.workingMemory(
                configuration(n: n), PassSize(batch: b, length: n, causal: causal))
        }
    }

    /// Whether `name` (a mechanism or `full-kernel`) has a causal form.
    static func runsCausally(_ name: String) -> Bool {
        (try? Mechanisms.named(name))?.capabilities.supportsCausal ?? true
    }

    /// Refuses the run, before anything is printed or allocated, when no mechanism fits at any
    /// length (`memoryRefusal`); a run where some do refuses the others as it reaches them.
    static func checkWorkingMemory(_ mixers: [String], lengths: [Int], _ sizes: Sizes) throws {
        let pairs = lengths.flatMap { n in
            mixers.filter { runsCausally($0) || !sizes.causal }.map { ($0, n) }
        }
        let refusals = pairs.compactMap { name, n in memoryRefusal(name, n: n, sizes) }
        if let first = refusals.first, refusals.count == pairs.count {
            throw UsageError("attend bench attention: " + first)
        }
    }

    /// One line refusing mechanism `name` at length `n` when its declared working memory and its
    /// input exceed the memory available (after returning the tensor cache's buffers, which a
    /// mechanism timed before may have left), or nil when it fits (and for `full-kernel`, whose
    /// inputs `checkMemory` covers).
    static func memoryRefusal(_ name: String, n: Int, _ sizes: Sizes) -> String? {
        guard let mechanism = try? Mechanisms.named(name) else { return nil }
        let estimate = sizes.estimate(mechanism, n: n)
        let input = 4 * Double(sizes.b) * Double(n) * Double(sizes.h * sizes.d)
        func available() -> Double { SystemMemory.availableBytes.map(Double.init) ?? .infinity }
        if estimate + input > available() { TensorAllocator.releaseCache() }
        let left = available()
        guard estimate + input > left else { return nil }
        return
            "\(name) at length \(n) needs about \(gibibytes(estimate)) of working memory "
            + "(its declared estimate) beside its \(gibibytes(input)) input, more than the "
            + "\(gibibytes(left)) available; lower --lengths, --batch, --heads or --head-dim, "
            + "or leave \(name) out of --mixers"
    }

    static func format(_ ms: Double) -> String { String(format: ms < 10 ? "%.3f" : "%.1f", ms) }

    static func measure(_ name: String, n: Int, _ sizes: Sizes, backward: Bool, runs: Int)
        throws -> AttentionResult
    {
        let (b, h, d, causal) = (sizes.b, sizes.h, sizes.d, sizes.causal)
        let c = h * d
        var forward: () throws -> Tensor
        var inputs: [Tensor]
        if name == "full-kernel" {
            inputs = (0..<3).map { Tensor.randomNormal([b, n, h, d], seed: UInt64($0)) }
            forward = {
                Tensor.fusedAttention(
                    query: inputs[0], key: inputs[1], value: inputs[2],
                    scale: 1 / Float(d).squareRoot(), causal: causal)
            }
        } else {
            let mixer = try Mechanisms.make(
                name, configuration: sizes.configuration(n: n), causal: causal)
            mixer.eval()
            inputs = [Tensor.randomNormal([b, n, c], seed: 0)]
            forward = {
                let context = MixerContext(isCausal: causal)
                return try mixer(inputs[0], context: context)
            }
        }
        let forwardTime = try Measurement.run(runs: runs) { _ = try withoutGradient(forward) }
        var backwardTime: Measurement?
        let before = MemoryAccounting.liveBytes
        MemoryAccounting.resetPeak()
        if backward {
            let leaves = inputs.map { $0.requiringGradient() }
            let saved = inputs
            inputs = leaves
            backwardTime = try Measurement.run(runs: runs) {
                let y = try forward()
                _ = gradients(of: y, withRespectTo: leaves, seed: Tensor.ones(y.shape))
            }
            inputs = saved
        } else {
            _ = try withoutGradient(forward)
        }
        let peak = Double(MemoryAccounting.peakBytes - before) / 1_048_576
        let estimate = (try? Mechanisms.named(name)).map { sizes.estimate($0, n: n) / 1_048_576 }
        return AttentionResult(
            mixer: name, length: n, batch: b, heads: h, headDimension: d, causal: causal,
            forwardMilliseconds: forwardTime.median * 1000,
            backwardMilliseconds: backwardTime.map { $0.median * 1000 },
            peakExtraMiB: peak, estimatedMiB: estimate, ratioToFull: nil)
    }
}

/// Writes benchmark rows as JSON and/or CSV (so later runs can be compared).
enum ResultFiles {
    /// Writes `rows` to the `--json` and `--csv` files that were given.
    static func write<T: Encodable>(_ rows: [T], _ arguments: ParsedArguments<BenchOutputOptions>)
        throws
    {
        try write(rows, json: arguments[\.json], csv: arguments[\.csv])
    }

    static func write<T: Encodable>(_ rows: [T], json: String?, csv: String?) throws {
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(rows).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
        if let csv {
            let objects = try rows.map { row -> [String: Any] in
                try JSONSerialization.jsonObject(with: JSONEncoder().encode(row)) as? [String: Any]
                    ?? [:]
            }
            let keys = objects.first.map { $0.keys.sorted() } ?? []
            var lines = [keys.joined(separator: ",")]
            for object in objects {
                lines.append(keys.map { object[$0].map { "\($0)" } ?? "" }.joined(separator: ","))
            }
            try (lines.joined(separator: "\n") + "\n").write(
                toFile: csv, atomically: true, encoding: .utf8)
        }
    }
}
