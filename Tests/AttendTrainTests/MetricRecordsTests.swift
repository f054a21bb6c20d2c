import Foundation
import Testing

// The typed metrics records write the bytes the dictionary records of earlier versions wrote
// (JSONSerialization with sorted keys), so metrics.jsonl of old and new runs read alike and a
// resumed old run appends lines of the same shape.
@testable import AttendTrain

@Suite struct MetricRecordsTests {
    /// The line the dictionary `record` makes, as runs before the typed records wrote it.
    static func dictionaryLine(_ record: [String: Any]) throws -> String {
        String(
            decoding: try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]),
            as: UTF8.self)
    }

    /// Lines of metrics.jsonl after logging `records` into a fresh run directory.
    static func typedLines(_ records: [any MetricRecord]) throws -> [String] {
        let run = temporaryRun("metric-records")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        try run.prepare()
        for record in records { try run.log(record) }
        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    /// Floats as training produces them (widened to Double), across magnitudes, and a few Doubles.
    static let values: [Double] = {
        var generator = SystemRandomNumberGenerator()
        let floats = (0..<200).map { _ in
            Double(Float(bitPattern: UInt32.random(in: 0...0x7F7F_FFFF, using: &generator)))
        }
        return floats + [0, 1, 5e-5, 0.1, 2.302_585_092_994_046, 123_456.789, 1e-12]
    }()

    @Test func trainingRecordsMatchTheDictionaryRecords() throws {
        var typed: [any MetricRecord] = []
        var expected: [String] = []
        for (i, x) in Self.values.enumerated() {
            let distributed = i % 2 == 0
            typed.append(
                TrainingStepRecord(
                    step: i + 1, loss: x, accuracy: x / 3, learningRate: x * 1e-4,
                    gradientNorm: x + 1, tokensPerSecond: x * 1000, elapsed: x / 7,
                    communicationSeconds: distributed ? x / 11 : nil))
            var record: [String: Any] = [
                "event": "train", "step": i + 1, "loss": x, "accuracy": x / 3,
                "learning_rate": x * 1e-4, "gradient_norm": x + 1, "tokens_per_second": x * 1000,
                "elapsed": x / 7,
            ]
            if distributed { record["communication_seconds"] = x / 11 }
            expected.append(try Self.dictionaryLine(record))
        }
        #expect(try Self.typedLines(typed) == expected)
    }

    @Test func evaluationAndDistributedRecordsMatchTheDictionaryRecords() throws {
        let evaluation = Evaluation(
            split: "validation", loss: 0.693_147_2, accuracy: 0.5, counted: 8)
        let typed: [any MetricRecord] = [
            EvaluationRecord(step: 40, evaluation),
            DistributedRecord(step: 0, processes: 4, bucketBytes: 16 << 20, buckets: 3),
        ]
        let expected = [
            try Self.dictionaryLine([
                "event": "evaluate", "step": 40, "split": "validation",
                "loss": Double(Float(0.693_147_2)), "accuracy": 0.5,
            ]),
            try Self.dictionaryLine([
                "event": "distributed", "step": 0, "processes": 4, "bucket_bytes": 16 << 20,
                "buckets": 3,
            ]),
        ]
        #expect(try Self.typedLines(typed) == expected)
    }
}
