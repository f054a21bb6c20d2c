// `attend bench distributed`, run under `mpirun -np N`: the `bench train` model (4
// layers, width 256, 4 heads, FFN 1024) trained data-parallel, each process on batch/N of every
// batch, gradients averaged with the trainer's bucketed all-reduce. Per step it times the local
// forward+backward, the wait for the slowest process (a barrier), the all-reduce (packing into the
// buckets included) and the update, and reports the median of each;
// then it times all-reduces of several sizes to fit the latency α and bandwidth β of the
// interconnect, t(bytes) ≈ α + bytes/β, which docs/results/distributed.md uses to model N machines.
// Benchmarks/distributed.sh compares 1 process × 2 threads with 2 processes × 1 thread.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import AttendTrain
import Foundation

/// The options of `attend bench distributed`.
struct DistributedBenchmarkOptions: OptionGroup {
    let lengths = DefaultedOption(
        .intList("lengths", "LIST", "sequence length (the first is timed)"), default: "512")
    let batch = DefaultedOption(
        .positiveInt("batch", "N", "global batch size, divided among the processes"), default: "8")
    let output = BenchOutputOptions()
}

enum DistributedTrainBenchmark: Command {
    static let spec = CommandSpec(
        name: "bench distributed",
        summary: "data-parallel training under `mpirun -np N` (see Benchmarks/distributed.sh)",
        usage: "bench distributed [options]", positionals: nil)

    struct Row: Codable {
        let processes: Int, threadsPerProcess: Int, length: Int, batch: Int, tokensPerSecond: Double
        let stepMilliseconds: Double, computeMilliseconds: Double, waitMilliseconds: Double
        let allReduceMilliseconds: Double, updateMilliseconds: Double, allReduceShare: Double
        let gradientBytes: Int, buckets: Int
    }

    struct AllReduceRow: Codable {
        let processes: Int, bytes: Int, microseconds: Double, gigabytesPerSecond: Double
    }

    static func run(_ arguments: ParsedArguments<DistributedBenchmarkOptions>) throws {
        let mpi = try MPICommunicator()
        let group = WatchedCommunicator(mpi, timeout: 600)
        do {
            try measure(arguments, group: group, processesPerMachine: mpi.localSize)
            try mpi.finish()
        } catch {
            writeError("attend bench: process \(mpi.rank) of \(mpi.size): error: \(error)")
            group.abort(code: 1)
        }
    }

    static func measure(
        _ arguments: ParsedArguments<DistributedBenchmarkOptions>, group: any Communicator,
        processesPerMachine: Int
    ) throws {
        if let threads = try arguments[\.output.threads] {
            Parallel.setThreadCount(threads)
        } else {
            Parallel.setThreadCount(
                Swift.max(1, ProcessInfo.processInfo.activeProcessorCount / processesPerMachine))
        }
        guard let n = try arguments[\.lengths].first else {
            throw UsageError("attend bench distributed: --lengths needs a sequence length")
        }
        let batch = try arguments[\.batch]
        let runs = try arguments[\.output.runs]
        let size = group.size
        guard batch % size == 0 else {
            throw UsageError(
                "attend bench: --batch \(batch) is not divisible by the \(size) processes")
        }
        let say = { (text: String) in if group.isRoot { print(text) } }
        say(Environment.summary)
        var configuration = ModelConfiguration(
            vocabularySize: 256, modelDimension: 256, layerCount: 4, headCount: 4,
            feedForwardDimension: 1024,
            maximumLength: n)
        configuration.dropout = 0
        configuration.classCount = 10
        configuration.pooling = .mean
        let model = try EncoderClassifier(configuration)
        let optimizer = AdamW(parameters: model.namedParameters())
        let buckets = GradientBuckets(parameters: optimizer.parameters.map(\.1))
        // The global batch, the same on every process; each takes its rows.
        var generator = RandomGenerator(seed: 1)
        let allTokens = (0..<(batch * n)).map { _ in generator.nextInt(below: 256) }
        let allLabels = (0..<batch).map { _ in generator.nextInt(below: 10) }
        let rows = (group.rank * batch / size)..<((group.rank + 1) * batch / size)
        let tokens = Indices(
            shape: [rows.count, n],
            values: Array(allTokens[(rows.lowerBound * n)..<(rows.upperBound * n)]))
        let labels = Array(allLabels[rows])
        say(
            "data-parallel training step: 4 layers, width 256, 4 heads, FFN 1024, n = \(n), batch \(batch) = "
                + "\(size) process\(size == 1 ? "" : "es") × \(batch / size), \(Parallel.threadCount) thread(s) each; "
                + "gradients \(buckets.totalCount * 4 / 1_000_000) MB in \(buckets.buckets.count) bucket(s)"
        )

        // per timed step: compute, wait, all-reduce, update
        var phases: [[Double]] = [[], [], [], []]
        let clock = ContinuousClock()
        let step = {
            let t0 = clock.now
            var (_, gradients) = try valueAndGradient(of: model) { model in
                crossEntropy(logits: try model(tokens, mask: nil).logits, targets: labels)
            }
            let t1 = clock.now
            try group.barrier()
            let t2 = clock.now
            let present = buckets.parameters.map { gradients[$0] != nil }
            try buckets.average(
                &gradients, weight: 1, totalWeight: Float(size), present: present, over: group)
            let t3 = clock.now
            optimizer.step(gradients, learningRate: 1e-4)
            let t4 = clock.now
            for (i, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3].enumerated() {
                phases[i].append(d / .seconds(1))
            }
        }
        try step()  // warm-up
        phases = [[], [], [], []]
        let time = try Measurement.run(warmup: 0, runs: runs, step)
        try Replicas.verify(model, step: runs + 1, over: group)
        // The step time is the slowest process's: take the maximum of the medians.
        let stepSeconds = try group.allReduce([time.median], .maximum)[0]
        let median = phases.map { $0.sorted()[$0.count / 2] }
        let row = Row(
            processes: size, threadsPerProcess: Parallel.threadCount, length: n, batch: batch,
            tokensPerSecond: Double(batch * n) / stepSeconds, stepMilliseconds: stepSeconds * 1000,
            computeMilliseconds: median[0] * 1000, waitMilliseconds: median[1] * 1000,
            allReduceMilliseconds: median[2] * 1000, updateMilliseconds: median[3] * 1000,
            allReduceShare: median[2] / median.reduce(0, +),
            gradientBytes: buckets.totalCount * 4, buckets: buckets.buckets.count)
        say(
            TextTable(
                header: [
                    "processes", "threads", "tokens/s", "step ms", "compute ms", "wait ms",
                    "all-reduce ms", "update ms", "all-reduce %",
                ],
                rows: [
                    [
                        "\(row.processes)", "\(row.threadsPerProcess)",
                        String(format: "%.0f", row.tokensPerSecond),
                        String(format: "%.1f", row.stepMilliseconds),
                        String(format: "%.1f", row.computeMilliseconds),
                        String(format: "%.1f", row.waitMilliseconds),
                        String(format: "%.2f", row.allReduceMilliseconds),
                        String(format: "%.1f", row.updateMilliseconds),
                        String(format: "%.2f", 100 * row.allReduceShare),
                    ]
                ]
            ).rendered)

        let sizes = [1 << 10, 1 << 14, 1 << 18, 1 << 20, 1 << 22, buckets.totalCount * 4]
        var allReduceRows: [AllReduceRow] = []
        for bytes in sizes {
            var buffer = [Float](repeating: 1, count: bytes / 4)
            let repetitions = bytes <= 1 << 18 ? 200 : 20
            var samples: [Double] = []
            for _ in 0..<repetitions {
                try group.barrier()
                let start = clock.now
                try buffer.withUnsafeMutableBufferPointer { try group.allReduceSum($0) }
                samples.append((clock.now - start) / .seconds(1))
            }
            let median = try group.allReduce([samples.sorted()[samples.count / 2]], .maximum)[0]
            allReduceRows.append(
                AllReduceRow(
                    processes: size, bytes: bytes, microseconds: median * 1e6,
                    gigabytesPerSecond: Double(bytes) / median / 1e9))
        }
        say(
            TextTable(
                header: ["all-reduce bytes", "µs (median)", "GB/s"],
                rows: allReduceRows.map {
                    [
                        "\($0.bytes)", String(format: "%.1f", $0.microseconds),
                        String(format: "%.2f", $0.gigabytesPerSecond),
                    ]
                }
            ).rendered)
        if size > 1, let fit = fitLatencyAndBandwidth(allReduceRows) {
            say(
                String(
                    format:
                        "t(bytes) ≈ α + bytes/β with α = %.1f µs (1 KiB), β = %.2f GB/s (largest)",
                    fit.latency * 1e6, fit.bandwidth / 1e9))
        }
        if group.isRoot {
            try ResultFiles.write([row], arguments.group(\.output))
        }
    }

    /// t(bytes) ≈ α + bytes/β: α is the smallest message's time, β the largest message's bytes over
    /// its time less α. (A least-squares line is dominated by the large messages and loses α.)
    static func fitLatencyAndBandwidth(_ rows: [AllReduceRow]) -> (
        latency: Double, bandwidth: Double
    )? {
        guard let small = rows.min(by: { $0.bytes < $1.bytes }),
            let large = rows.max(by: { $0.bytes < $1.bytes }),
            large.microseconds > small.microseconds
        else { return nil }
        let latency = small.microseconds * 1e-6
        return (latency, Double(large.bytes) / (large.microseconds * 1e-6 - latency))
    }
}
