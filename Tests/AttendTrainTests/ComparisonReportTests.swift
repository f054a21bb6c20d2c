// The comparison page of `attend lra`: accuracies aggregated over seeds (mean ± sample standard
// deviation) and over tasks (only for mixers with every task), failures named in their cells and
// listed with their reason, every command that trained a pair
// named, and the results file kept across runs (round trip, preset checked, malformed files refused).
import Foundation
import Testing

@testable import AttendTrain

@Suite struct ComparisonReportTests {
    static func result(
        _ task: String, _ mixer: String, seed: UInt64 = 0, accuracy: Float?, tokens: Double? = 1000,
        failure: String? = nil, command: String? = nil
    ) -> MixerTaskResult {
        MixerTaskResult(
            task: task, mixer: mixer, seed: seed, accuracy: accuracy, loss: accuracy.map { 1 - $0 },
            tokensPerSecond: accuracy == nil ? nil : tokens,
            peakMemoryBytes: accuracy == nil ? nil : 2_097_152,
            parameters: accuracy == nil ? nil : 500, seconds: 1, failure: failure, command: command)
    }

    static let results = [
        result(
            "listops", "full", seed: 0, accuracy: 0.3, tokens: 1000,
            command: "attend lra --tasks listops"),
        result(
            "listops", "full", seed: 1, accuracy: 0.4, tokens: 3000,
            command: "attend lra --tasks listops"),
        result("text", "full", accuracy: 0.5, tokens: 2000, command: "attend lra --tasks text"),
        result("text", "local", accuracy: 0.6, tokens: 4000, command: "attend lra --tasks text"),
        result(
            "listops", "local", accuracy: nil, failure: "refused: too long",
            command: "attend lra --tasks listops"),
    ]

    static let report = ComparisonReport(
        results: results, tasks: ["listops", "text"], mixers: ["full", "local"], preset: "cpu",
        command: "attend lra --tasks all")

    @Test func tableAggregatesSeedsAndTasks() {
        let lines = Self.report.table.split(separator: "\n").map(String.init)
        #expect(
            lines[0]
                == "| mixer | listops | text | average | train tokens/s | peak MiB | parameters |")
        // full: listops (30 + 40)/2 ± 7.07 over two seeds, text 50, average (35 + 50)/2.
        #expect(lines[2] == "| full | 35.0 ± 7.1 | 50.0 | 42.5 | 2000 | 2.0 | 500 |")
        // local: the failed pair shows the start of its reason and its note; with one of two
        // tasks done, local has no average (an average over other tasks would not compare).
        #expect(
            lines[3]
                == "| local | refused: too long [1] | 60.0 | — (1 of 2) | 4000 | 2.0 | 500 |")
        #expect(Self.report.incompleteMixers == ["local"])
    }

    @Test func cellsSayWhyAPairHasNoResult() {
        let long = String(repeating: "x", count: 60)
        let report = ComparisonReport(
            results: [
                Self.result("text", "full", accuracy: 0.5),
                Self.result("text", "local", accuracy: nil, failure: "a | b; details"),
                Self.result("text", "bigbird", accuracy: nil, failure: long),
            ],
            tasks: ["text", "image"], mixers: ["full", "local", "bigbird"], preset: "cpu",
            command: "attend lra")
        #expect(report.cell("text", "local") == "a / b [1]")
        #expect(report.cell("text", "bigbird") == String(repeating: "x", count: 39) + "… [2]")
        #expect(report.cell("image", "full") == "not run")
        #expect(report.incompleteMixers == ["full", "local", "bigbird"])
        #expect(report.coverage.contains("cover the 0 mixers with a result on all 2 tasks"))
    }

    @Test func pageNamesEveryCommandAndFailure() throws {
        #expect(Self.report.commands == ["attend lra --tasks listops", "attend lra --tasks text"])
        let older = ComparisonReport(
            results: [Self.result("text", "full", accuracy: 0.5)], tasks: ["text"],
            mixers: ["full"], preset: "cpu",
            command: "attend lra --tasks text")
        #expect(older.commands == ["attend lra --tasks text"])

        let directory = NSTemporaryDirectory() + "attend-report-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let markdown = directory + "/lra.md"
        try Self.report.write(markdownPath: markdown)
        let page = try String(contentsOfFile: markdown, encoding: .utf8)
        #expect(page.contains("attend lra --tasks listops\nattend lra --tasks text\n"))
        #expect(page.contains("1. listops / local (seed 0): refused: too long"))
        #expect(page.contains("left out: local."))
        #expect(page.contains("![accuracy against training speed](lra.svg)"))
        let plot = try String(
            contentsOfFile: ComparisonReport.plotPath(for: markdown), encoding: .utf8)
        #expect(plot.hasPrefix("<svg") || plot.hasPrefix("<?xml"))
    }

    @Test func resultsFileRoundTripsAndChecksItsPreset() throws {
        let path = NSTemporaryDirectory() + "attend-results-\(UUID().uuidString).json"
        defer { try? FileManager.default.removeItem(atPath: path) }
        // no file yet: nothing done
        #expect(try ComparisonReport.loadResults(path, preset: "cpu").isEmpty)
        try ComparisonReport.saveResults(Self.results, preset: "cpu", to: path)
        let loaded = try ComparisonReport.loadResults(path, preset: "cpu")
        #expect(loaded.map(\.mixer) == Self.results.map(\.mixer))
        #expect(loaded.map(\.accuracy) == Self.results.map(\.accuracy))
        #expect(loaded.map(\.command) == Self.results.map(\.command))
        #expect(throws: TrainingError.self) {
            try ComparisonReport.loadResults(path, preset: "tiny")
        }
        try Data("{\"preset\": \"cpu\", \"results\": [{\"task\": 3}]}".utf8).write(
            to: URL(fileURLWithPath: path))
        #expect(throws: TrainingError.self) {
            try ComparisonReport.loadResults(path, preset: "cpu")
        }
    }

    @Test func reportFilesSitBesideTheMarkdown() {
        #expect(ComparisonReport.resultsPath(for: "docs/results/lra.md") == "docs/results/lra.json")
        #expect(ComparisonReport.plotPath(for: "docs/results/lra.md") == "docs/results/lra.svg")
        #expect(ComparisonReport.resultsPath(for: "report") == "report.json")
    }
}
