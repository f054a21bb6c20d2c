// The result page of a mechanism comparison: accuracy per task and on average, training speed, peak
// memory and parameter count for each mixer, as a Markdown table with the command that produced it,
// and an SVG of average accuracy against training throughput. Averages (and the plot) cover only
// mixers with a result on every task: an average over fewer, easier tasks would rank a mixer by
// which tasks it happened to run.
import Foundation

/// One trained and evaluated (task, mixer, seed).
public struct MixerTaskResult: Codable, Sendable {
    /// Which pair was trained, and the seed of its run.
    public let task: String, mixer: String, seed: UInt64
    /// Test accuracy and loss; nil when the pair failed.
    public let accuracy: Float?, loss: Float?
    /// Training throughput, real tokens per second.
    public let tokensPerSecond: Double?
    /// The most tensor memory training held at once, in bytes.
    public let peakMemoryBytes: Int?
    /// The model's parameter count.
    public let parameters: Int?
    /// Wall-clock training time.
    public let seconds: Double?
    /// Why the pair has no result (refused configuration, non-finite loss…).
    public let failure: String?
    /// The command line that trained the pair (nil in results files of older versions).
    public var command: String?
    /// Steps of masked-token self-pretraining before training on the labels (nil: none).
    public var pretrainSteps: Int?
    /// Seconds the self-pretraining took (not included in `seconds`).
    public var pretrainSeconds: Double?

    /// A result with every measured field; `command` nil when the caller does not know it.
    public init(
        task: String, mixer: String, seed: UInt64, accuracy: Float?, loss: Float?,
        tokensPerSecond: Double?,
        peakMemoryBytes: Int?, parameters: Int?, seconds: Double?, failure: String?,
        command: String? = nil
    ) {
        (self.task, self.mixer, self.seed, self.accuracy, self.loss) = (
            task, mixer, seed, accuracy, loss
        )
        (self.tokensPerSecond, self.peakMemoryBytes, self.parameters) = (
            tokensPerSecond, peakMemoryBytes, parameters
        )
        (self.seconds, self.failure, self.command) = (seconds, failure, command)
    }
}

/// Aggregates comparison results into tables and a plot.
public struct ComparisonReport: Sendable {
    /// Every (task, mixer, seed) result, failures included.
    public let results: [MixerTaskResult]
    /// The order of the tables' rows and columns: tasks and mixers as given.
    public let tasks: [String], mixers: [String]
    /// The preset, and the command that writes the page (it trains the pairs recorded without one).
    public let preset: String, command: String

    /// A report over `results`, laid out in the order of `tasks` and `mixers`.
    public init(
        results: [MixerTaskResult], tasks: [String], mixers: [String], preset: String,
        command: String
    ) {
        (self.results, self.tasks, self.mixers, self.preset, self.command) = (
            results, tasks, mixers, preset, command
        )
    }

    /// The distinct commands that trained the results, in the order they first appear; pairs of
    /// older results files, which recorded none, count as trained by `command`.
    public var commands: [String] {
        var seen: [String] = []
        for c in results.map({ $0.command ?? command }) where !seen.contains(c) { seen.append(c) }
        return seen.isEmpty ? [command] : seen
    }

    /// Mean and (sample) standard deviation of the accuracies of a pair over seeds, in percent.
    func accuracy(_ task: String, _ mixer: String) -> (mean: Double, std: Double, runs: Int)? {
        let values = results.filter { $0.task == task && $0.mixer == mixer }.compactMap(\.accuracy)
            .map { Double($0) * 100 }
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance =
            values.count > 1
            ? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1) : 0
        return (mean, variance.squareRoot(), values.count)
    }

    func mean(_ mixer: String, _ value: (MixerTaskResult) -> Double?) -> Double? {
        let values = results.filter { $0.mixer == mixer }.compactMap(value)
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Average test accuracy of a mixer over the tasks; nil unless it has a result on every task,
    /// so that every average is over the same tasks.
    func averageAccuracy(_ mixer: String) -> Double? {
        let means = tasks.compactMap { accuracy($0, mixer)?.mean }
        return means.isEmpty || means.count < tasks.count
            ? nil : means.reduce(0, +) / Double(means.count)
    }

    /// The mixers without a result on every task (left out of the average and the plot).
    var incompleteMixers: [String] { mixers.filter { averageAccuracy($0) == nil } }

    /// Every failed run, in the order of the results; the page numbers them from 1.
    var failures: [MixerTaskResult] { results.filter { $0.failure != nil } }

    /// A pair's table cell: its accuracy (mean ± standard deviation over seeds), else the start
    /// of the reason it has none with the number of its note, else "not run".
    func cell(_ task: String, _ mixer: String) -> String {
        if let a = accuracy(task, mixer) {
            return a.runs > 1
                ? String(format: "%.1f ± %.1f", a.mean, a.std) : String(format: "%.1f", a.mean)
        }
        guard let index = failures.firstIndex(where: { $0.task == task && $0.mixer == mixer })
        else { return "not run" }
        return "\(Self.shortReason(failures[index].failure ?? "")) [\(index + 1)]"
    }

    /// The first clause of a failure, at most 40 characters, safe inside a table cell.
    static func shortReason(_ failure: String) -> String {
        let clause = failure.prefix { $0 != ";" && $0 != "\n" }
            .replacingOccurrences(of: "|", with: "/")
            .trimmingCharacters(in: .whitespaces)
        return clause.count <= 40 ? clause : clause.prefix(39) + "…"
    }

    /// The Markdown table.
    public var table: String {
        var header = "| mixer |"
        var rule = "|---|"
        for t in tasks {
            header += " \(t) |"
            rule += "---:|"
        }
        header += " average | train tokens/s | peak MiB | parameters |"
        rule += "---:|---:|---:|---:|"
        var lines = [header, rule]
        for mixer in mixers {
            var line = "| \(mixer) |"
            for t in tasks { line += " \(cell(t, mixer)) |" }
            let completed = tasks.filter { accuracy($0, mixer) != nil }.count
            line +=
                averageAccuracy(mixer).map { String(format: " %.1f |", $0) }
                ?? " — (\(completed) of \(tasks.count)) |"
            line +=
                mean(mixer, { $0.tokensPerSecond }).map { String(format: " %.0f |", $0) } ?? " — |"
            line +=
                mean(mixer, { $0.peakMemoryBytes.map { Double($0) / 1_048_576 } }).map {
                    String(format: " %.1f |", $0)
                } ?? " — |"
            line +=
                mean(mixer, { $0.parameters.map(Double.init) }).map {
                    String(format: " %.0f |", $0)
                } ?? " — |"
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Path of the JSON results kept beside a Markdown report.
    public static func resultsPath(for markdownPath: String) -> String {
        (markdownPath.hasSuffix(".md") ? String(markdownPath.dropLast(3)) : markdownPath) + ".json"
    }

    /// Stored results of earlier runs at `preset` (none when the file does not exist).
    public static func loadResults(_ path: String, preset: String) throws -> [MixerTaskResult] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        let stored: StoredResults
        do {
            stored = try JSONDecoder().decode(StoredResults.self, from: data)
        } catch {
            throw TrainingError.run(
                "\(path) is not a results file of `attend lra` (\(error)); move it away or pass --results"
            )
        }
        guard stored.preset == preset else {
            throw TrainingError.run(
                "\(path) holds results of preset \(stored.preset), not \(preset); pass another --results file"
            )
        }
        return stored.results
    }

    /// Saves results atomically.
    public static func saveResults(_ results: [MixerTaskResult], preset: String, to path: String)
        throws
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        }
        try encoder.encode(StoredResults(preset: preset, results: results)).write(
            to: URL(fileURLWithPath: path), options: .atomic)
    }

    struct StoredResults: Codable {
        let preset: String
        let results: [MixerTaskResult]
    }

    /// Path of the SVG written beside a Markdown report.
    public static func plotPath(for markdownPath: String) -> String {
        (markdownPath.hasSuffix(".md") ? String(markdownPath.dropLast(3)) : markdownPath) + ".svg"
    }

    /// Which mixers the average and the plot cover.
    var coverage: String {
        let left = incompleteMixers
        let complete = mixers.count - left.count
        guard !left.isEmpty else {
            return "The average and the plot cover all \(mixers.count) mixers."
        }
        return "The average and the plot cover the \(complete) mixers with a result on all "
            + "\(tasks.count) tasks; left out: \(left.joined(separator: ", "))."
    }

    /// Writes the Markdown page and the SVG plot.
    public func write(markdownPath: String) throws {
        let plotFile = ComparisonReport.plotPath(for: markdownPath)
        var page = """
            # Mechanism comparison (\(preset) preset)

            Test accuracy in percent per task (mean ± standard deviation over seeds when there are several;
            a pair without a result says why, with the number of its note below), average over all
            \(tasks.count) tasks (only for mixers with a result on every one, so that every average is
            over the same tasks), training throughput in real tokens per second, peak tensor memory
            during training, and parameter count (averaged over tasks).

            \(table)

            \(coverage)

            ![accuracy against training speed](\((plotFile as NSString).lastPathComponent))

            Produced by (the results file keeps every finished pair, so later commands add to it):

            ```
            \(commands.joined(separator: "\n"))
            ```

            """
        let pretraining = Set(results.compactMap(\.pretrainSteps)).sorted()
        if !pretraining.isEmpty {
            let steps = pretraining.map(String.init).joined(separator: " or ")
            page +=
                "\nEvery pair was first self-pretrained on its task's training inputs (masked "
                + "tokens, \(steps) steps, `--pretrain-steps`); times and speeds are those of the "
                + "supervised stage, `pretrainSeconds` in the results file those of the "
                + "pretraining.\n"
        }
        if !failures.isEmpty {
            page += "\nRuns without a result:\n\n"
            for (number, f) in zip(1..., failures) {
                page += "\(number). \(f.task) / \(f.mixer) (seed \(f.seed)): \(f.failure ?? "")\n"
            }
        }
        let directory = (markdownPath as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        }
        try page.write(toFile: markdownPath, atomically: true, encoding: .utf8)
        var plot = SVGPlot(
            title: "Average test accuracy over all \(tasks.count) tasks against training speed",
            xLabel: "training tokens/s (log)",
            yLabel: "average test accuracy (%)")
        plot.logX = true
        plot.connect = false
        for mixer in mixers {
            if let accuracy = averageAccuracy(mixer),
                let speed = mean(mixer, { $0.tokensPerSecond })
            {
                plot.series.append(.init(name: mixer, points: [(speed, accuracy)]))
            }
        }
        try plot.rendered().write(toFile: plotFile, atomically: true, encoding: .utf8)
    }
}
