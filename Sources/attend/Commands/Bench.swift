// `attend bench <suite>`: the Swift side of the benchmarks. Timings are reported, never asserted.
import AttendCore
import Foundation

enum BenchCommand: Command {
    static let suites = ["core", "attention", "train", "ffn", "embed", "generate"]
    static let spec = CommandSpec(
        name: "bench", summary: "run a benchmark suite (\(suites.joined(separator: ", ")))",
        usage: "bench <suite> [options]",
        options: [
            .option(
                "mixers", "LIST",
                "attention/train/embed/generate: mechanisms to time, comma-separated, or 'all'"),
            .option(
                "contexts", "LIST",
                "generate: prompt lengths before the timed decoding steps (default 512,2048,8192)"),
            .option(
                "models", "LIST",
                "generate: model shapes, cpu (width 64, 2 layers) and/or large (width 512, 6 layers)"),
            .option("lengths", "LIST", "attention/train/embed: sequence lengths (attention default 512,1024,2048,4096; train 1024; embed 32,128,256)"),
            .option("batch", "N", "attention: batch size (default 1); train: batch size (default 8); embed: texts per batch (default 32)"),
            .option("model", "DIR", "embed: pretrained model folder (default: $ATTEND_MINILM, else the MiniLM scripts/setup.sh fetches)"),
            .option("mixer-options", "JSON", "embed: options of the mechanisms, e.g. '{\"local\": {\"window_size\": 64}}'"),
            .option("adapted", "LIST", "embed: folders written by attend adapt, each run with its recorded mechanism and compared with --model's full attention (same --extend-positions as the adaptation)"),
            .option("extend-positions", "HOW", "embed: how lengths beyond the model's positions extend its table: tile or interpolate (default tile)"),
            .option("heads", "N", "attention: heads", default: "8"),
            .option("head-dim", "N", "attention: head dimension", default: "64"),
            .flag("causal", "attention: causal masking"),
            .flag("backward", "attention: also time forward+backward"),
            .option("tokens", "LIST", "ffn: token counts (default 1024,4096,16384)"),
            .option("width", "N", "ffn: model width (default 512)"),
            .option("ffn-dim", "N", "ffn: hidden units of the dense FFN and of each expert (default 2048)"),
            .option("experts", "N", "ffn: Switch experts (default 8)"),
            .option("seq-len", "N", "ffn: tokens per sequence, the routing group (default 512)"),
            .option("capacity-factor", "X", "ffn: Switch capacity factor (default 1.25)"),
            .option("runs", "N", "timed repetitions (median reported)", default: "5"),
            .option("threads", "N", "threads for BLAS and parallel loops (default: all cores)"),
            .option("distributed", "MODE", "train: none, or mpi to time data-parallel training under `mpirun -np N` "
                + "(see Benchmarks/distributed.sh)", default: "none"),
            .option("json", "FILE", "also write the results as JSON"),
            .option("csv", "FILE", "also write the results as CSV"),
            .option(
                "svg", "FILE", "attention/generate: also plot time against length (log-log SVG)"),
        ],
        positionals: "<suite>: \(suites.joined(separator: " | "))")

    static func run(_ arguments: ParsedArguments) throws {
        guard let suite = arguments.positional.first else {
            throw UsageError("attend bench: name a suite: \(suites.joined(separator: ", "))")
        }
        if let threads = try arguments.positiveInt("threads") { Parallel.setThreadCount(threads) }
        if try arguments.choice("distributed", from: ["none", "mpi"]) == "mpi" {
            guard suite == "train" else { throw UsageError("attend bench: --distributed applies to the train suite only") }
            return try DistributedTrainBenchmark.run(arguments)  // prints the machine summary on process 0 only
        }
        print(Environment.summary)
        switch suite {
        case "core": try CoreBenchmark.run(arguments)
        case "attention": try AttentionBenchmark.run(arguments)
        case "train": try TrainBenchmark.run(arguments)
        case "embed": try EmbedBenchmark.run(arguments)
        case "ffn": try FeedForwardBenchmark.run(arguments)
        case "generate": try GenerateBenchmark.run(arguments)
        default: throw UsageError("attend bench: unknown suite '\(suite)'; choose one of: \(suites.joined(separator: ", "))")
        }
    }
}

/// Machine facts printed with every table: results are only comparable within one machine.
enum Environment {
    static var summary: String {
        let flags = cpuFlags.filter { ["avx2", "fma", "avx512f", "avx512bw"].contains($0) }
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(auto)"
        return "# \(cpuModel) | flags: \(flags.joined(separator: " ")) | threads: \(Parallel.threadCount) | "
            + "OpenBLAS kernel: \(BLAS.coreName), OPENBLAS_CORETYPE=\(coreType) | tensor cache limit: "
            + ByteSize.format(TensorAllocator.cacheLimit)
    }

    static var cpuModel: String {
        cpuInfoLine("model name") ?? "unknown CPU"
    }

    static var cpuFlags: [String] {
        (cpuInfoLine("flags") ?? "").split(separator: " ").map(String.init)
    }

    private static func cpuInfoLine(_ key: String) -> String? {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        return nil
    }
}

/// Timing helper: warm-up runs, then the median of timed runs.
struct Measurement {
    let seconds: [Double]
    /// Minor page faults per timed run (fresh pages the kernel had to map and zero), and tensor
    /// allocations per timed run that the allocator's cache could not serve: both 0 in a steady
    /// state that reuses its memory.
    var pageFaultsPerRun = 0.0, allocatorMissesPerRun = 0.0
    var median: Double { seconds.sorted()[seconds.count / 2] }
    var best: Double { seconds.min() ?? .nan }

    static func run(warmup: Int = 1, runs: Int, _ body: () throws -> Void) rethrows -> Measurement {
        for _ in 0..<warmup { try body() }
        let clock = ContinuousClock()
        var seconds: [Double] = []
        let faults = minorPageFaults(), misses = TensorAllocator.statistics.misses
        for _ in 0..<max(runs, 1) {
            let start = clock.now
            try body()
            let elapsed = clock.now - start
            seconds.append(elapsed / .seconds(1))
        }
        var measurement = Measurement(seconds: seconds)
        measurement.pageFaultsPerRun = Double(minorPageFaults() - faults) / Double(seconds.count)
        measurement.allocatorMissesPerRun =
            Double(TensorAllocator.statistics.misses - misses) / Double(seconds.count)
        return measurement
    }

    /// Minor page faults of this process so far.
    static func minorPageFaults() -> Int {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_minflt
    }
}

extension Measurement {
    /// One measurement per body, their runs interleaved (body 0, body 1, …, body 0, …) after one
    /// warm-up round.
    static func alternating(runs: Int, _ bodies: [() -> Void]) -> [Measurement] {
        for body in bodies { body() }
        let clock = ContinuousClock()
        var seconds = [[Double]](repeating: [], count: bodies.count)
        for _ in 0..<Swift.max(runs, 1) {
            for (i, body) in bodies.enumerated() {
                let elapsed = clock.measure(body)
                seconds[i].append(elapsed / .seconds(1))
            }
        }
        return seconds.map { Measurement(seconds: $0) }
    }
}
