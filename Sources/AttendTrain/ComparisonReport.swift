// The result page of a mechanism comparison: accuracy per task and on average, training speed, peak
// memory and parameter count for each mixer, as a Markdown table with the command that produced it,
// and an SVG of average accuracy against training throughput.
import Foundation

/// One trained and evaluated (task, mixer, seed).
public struct MixerTaskResult: Codable, Sendable {
    public let task: String, mixer: String, seed: UInt64
    public let accuracy: Float?, loss: Float?
    public let tokensPerSecond: Double?
    public let peakMemoryBytes: Int?
    public let parameters: Int?
    public let seconds: Double?
    /// Why the pair has no result (refused configuration, non-finite loss…).
    public let failure: String?

    public init(task: String, mixer: String, seed: UInt64, accuracy: Float?, loss: Float?, tokensPerSecond: Double?,
                peakMemoryBytes: Int?, parameters: Int?, seconds: Double?, failure: String?) {
        (self.task, self.mixer, self.seed, self.accuracy, self.loss) = (task, mixer, seed, accuracy, loss)
        (self.tokensPerSecond, self.peakMemoryBytes, self.parameters) = (tokensPerSecond, peakMemoryBytes, parameters)
        (self.seconds, self.failure) = (seconds, failure)
    }
}

/// Aggregates comparison results into tables and a plot.
public struct ComparisonReport {
    public let results: [MixerTaskResult]
    public let tasks: [String], mixers: [String]
    public let preset: String, command: String

    public init(results: [MixerTaskResult], tasks: [String], mixers: [String], preset: String, command: String) {
        (self.results, self.tasks, self.mixers, self.preset, self.command) = (results, tasks, mixers, preset, command)
    }

    /// Mean and (sample) standard deviation of the accuracies of a pair over seeds, in percent.
    func accuracy(_ task: String, _ mixer: String) -> (mean: Double, std: Double, runs: Int)? {
        let values = results.filter { $0.task == task && $0.mixer == mixer }.compactMap(\.accuracy).map { Double($0) * 100 }
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.count > 1 ? values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1) : 0
        return (mean, variance.squareRoot(), values.count)
    }

    func mean(_ mixer: String, _ value: (MixerTaskResult) -> Double?) -> Double? {
        let values = results.filter { $0.mixer == mixer }.compactMap(value)
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// Average test accuracy of a mixer over the tasks it completed.
    func averageAccuracy(_ mixer: String) -> Double? {
        let means = tasks.compactMap { accuracy($0, mixer)?.mean }
        return means.isEmpty ? nil : means.reduce(0, +) / Double(means.count)
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
            for t in tasks {
                if let a = accuracy(t, mixer) {
                    line += a.runs > 1 ? String(format: " %.1f ± %.1f |", a.mean, a.std) : String(format: " %.1f |", a.mean)
                } else {
                    line += " — |"
                }
            }
            line += averageAccuracy(mixer).map { String(format: " %.1f |", $0) } ?? " — |"
            line += mean(mixer, { $0.tokensPerSecond }).map { String(format: " %.0f |", $0) } ?? " — |"
            line += mean(mixer, { $0.peakMemoryBytes.map { Double($0) / 1_048_576 } }).map { String(format: " %.1f |", $0) } ?? " — |"
            line += mean(mixer, { $0.parameters.map(Double.init) }).map { String(format: " %.0f |", $0) } ?? " — |"
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }

    /// Path of the SVG written beside a Markdown report.
    public static func plotPath(for markdownPath: String) -> String {
        (markdownPath.hasSuffix(".md") ? String(markdownPath.dropLast(3)) : markdownPath) + ".svg"
    }

    /// Writes the Markdown page and the SVG plot.
    public func write(markdownPath: String) throws {
        let plotFile = ComparisonReport.plotPath(for: markdownPath)
        let failures = results.filter { $0.failure != nil }
        var page = """
            # Mechanism comparison (\(preset) preset)

            Test accuracy in percent per task (mean ± standard deviation over seeds when there are several),
            average over the tasks each mixer completed, training throughput in real tokens per second,
            peak tensor memory during training, and parameter count (averaged over tasks).

            \(table)

            ![accuracy against training speed](\((plotFile as NSString).lastPathComponent))

            Produced by:

            ```
            \(command)
            ```

            """
        if !failures.isEmpty {
            page += "\nPairs without a result:\n\n"
            for f in failures { page += "- \(f.task) / \(f.mixer) (seed \(f.seed)): \(f.failure!)\n" }
        }
        let directory = (markdownPath as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        try page.write(toFile: markdownPath, atomically: true, encoding: .utf8)
        var plot = SVGPlot(title: "Average test accuracy against training speed", xLabel: "training tokens/s (log)",
                           yLabel: "average test accuracy (%)")
        plot.logX = true
        plot.connect = false
        for mixer in mixers {
            if let accuracy = averageAccuracy(mixer), let speed = mean(mixer, { $0.tokensPerSecond }) {
                plot.series.append(.init(name: mixer, points: [(speed, accuracy)]))
            }
        }
        try plot.rendered().write(toFile: plotFile, atomically: true, encoding: .utf8)
    }
}
