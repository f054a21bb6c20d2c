// `attend bench <suite>`: the Swift side of the benchmarks. Timings are reported, never asserted.
import AttendCore
import Foundation

/// `attend bench`: one subcommand per suite, each with its own options.
enum BenchCommand: CommandGroup {
    static let name = "bench"
    static var summary: String { "run a benchmark suite (\(names.joined(separator: ", ")))" }
    static var subcommands: [any Command.Type] {
        [
            CoreBenchmark.self, AttentionBenchmark.self, TrainBenchmark.self,
            DistributedTrainBenchmark.self, FeedForwardBenchmark.self, EmbedBenchmark.self,
            GenerateBenchmark.self,
        ]
    }
}

/// Options every benchmark suite has: repetitions, threads and result files.
struct BenchOutputOptions: OptionGroup {
    let runs = DefaultedOption(
        .positiveInt("runs", "N", "timed repetitions (median reported)"), default: "5")
    let threads = Option.positiveInt(
        "threads", "N", "threads for BLAS and parallel loops (default: all cores)")
    let json = Option.string("json", "FILE", "also write the results as JSON")
    let csv = Option.string("csv", "FILE", "also write the results as CSV")

    /// Sets `--threads` and prints the machine's summary that heads every table.
    static func start(_ arguments: ParsedArguments<Self>) throws {
        if let threads = try arguments[\.threads] { Parallel.setThreadCount(threads) }
        print(Environment.summary)
    }
}

/// Machine facts printed with every table: results are only comparable within one machine.
enum Environment {
    static var summary: String {
        let flags = cpuFlags.filter { ["avx2", "fma", "avx512f", "avx512bw"].contains($0) }
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? "(auto)"
        return
            "# \(cpuModel) | flags: \(flags.joined(separator: " ")) | threads: \(Parallel.threadCount) | "
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
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return nil
        }
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            return line.split(separator: ":", maxSplits: 1).last.map {
                $0.trimmingCharacters(in: .whitespaces)
            }
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
