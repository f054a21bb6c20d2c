// Training on a user's file and using the run, as a user would: `attend train --data` on a tiny
// labelled JSON-lines file it can overfit, then `attend predict` returns the training labels,
// `attend eval --data` scores them, and a label the run never saw is a named error.
import AttendTesting
import AttendTrain
import Foundation
import Testing

@Suite(.serialized) struct DataCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    /// Two classes a byte model tells apart at a glance: runs of vowels against runs of digits.
    static let examples: [(text: String, label: String)] = [
        ("aeiou aeiou", "vowels"), ("ooo eee aaa", "vowels"), ("ia ia io", "vowels"),
        ("eau oui", "vowels"),
        ("123 456", "digits"), ("9 8 7 6 5", "digits"), ("2024 1999", "digits"),
        ("31415", "digits"),
    ]

    @Test(.optimizedBuildsOnly) func predictAfterTrainReturnsTheTrainingLabels() throws {
        let folder = NSTemporaryDirectory() + "attend-cli-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let lines = Self.examples.map { "{\"text\": \"\($0.text)\", \"label\": \"\($0.label)\"}" }
        let data = folder + "/train.jsonl"
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: data, atomically: true, encoding: .utf8)
        let out = folder + "/run"
        let train = try run([
            "train", "--data", data, "--validation-fraction", "0", "--preset", "tiny", "--steps",
            "80",
            "--lr", "0.005", "--out", out,
        ])
        #expect(train.status == 0, "\(train.output)")
        #expect(train.output.contains("labels: digits 4, vowels 4"), "\(train.output)")
        #expect(train.output.contains("0 of 8 training examples cut"), "\(train.output)")

        let predictions = folder + "/predictions.jsonl"
        let predict = try run([
            "predict", "--run", out, "--data", data, "--out", predictions, "--embeddings",
        ])
        #expect(predict.status == 0, "\(predict.output)")
        let records = try String(contentsOfFile: predictions, encoding: .utf8).split(
            separator: "\n"
        ).map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(records.map { $0["label"] as? String } == Self.examples.map(\.label))
        for record in records {
            let probabilities = record["probabilities"] as? [String: Double] ?? [:]
            #expect(Set(probabilities.keys) == ["digits", "vowels"])
            #expect(abs(probabilities.values.reduce(0, +) - 1) < 1e-5)
            #expect((record["embedding"] as? [Double])?.count == 32)
        }

        let direct = try run(["predict", "--run", out, "ooo aaa", "1234"])
        #expect(direct.status == 0, "\(direct.output)")
        let directLabels = direct.output.split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["label"]
                as? String
        }
        #expect(directLabels == ["vowels", "digits"], "\(direct.output)")

        let eval = try run(["eval", "--run", out, "--data", data])
        #expect(
            eval.status == 0 && eval.output.contains("accuracy 1.0000, macro-F1 1.0000 over 8"),
            "\(eval.output)")
        #expect(eval.output.contains("confusion matrix"))

        let unknown = folder + "/unknown.jsonl"
        try "{\"text\": \"xyz\", \"label\": \"consonants\"}\n".write(
            toFile: unknown, atomically: true, encoding: .utf8)
        let refused = try run(["eval", "--run", out, "--data", unknown])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains("\(unknown):1: unknown label 'consonants'"), "\(refused.output)"
        )

        // Trained without --test, the run has no test split to score: a usage error, not 0 examples.
        let noTestSplit = try run(["eval", "--run", out, "--split", "test"])
        #expect(noTestSplit.status == 2, "\(noTestSplit.output)")
        #expect(noTestSplit.output.contains("test split is empty"), "\(noTestSplit.output)")
    }

    @Test func dataErrorsAreOneLine() throws {
        let folder = NSTemporaryDirectory() + "attend-cli-data-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let bad = folder + "/bad.jsonl"
        try "{\"text\": \"a\", \"label\": \"x\"}\n{oops\n".write(
            toFile: bad, atomically: true, encoding: .utf8)
        let result = try run(["train", "--data", bad, "--out", folder + "/run"])
        #expect(result.status == 1)
        #expect(
            result.output.contains("\(bad):2: not valid JSON")
                && result.output.contains("--skip-bad-lines"))
        let binary = folder + "/data.bin"
        try "x".write(toFile: binary, atomically: true, encoding: .utf8)
        let unknownFormat = try run(["train", "--data", binary, "--out", folder + "/run"])
        #expect(
            unknownFormat.status == 2 && unknownFormat.output.contains("--format"),
            "\(unknownFormat.output)")
    }
}

@Test func classificationReportCountsByHand() {
    // true:      0 0 0 1 1 2
    // predicted: 0 1 0 1 0 2
    // class 0: tp 2, fp 1, fn 1 → F1 2/3; class 1: tp 1, fp 1, fn 1 → 1/2; class 2: tp 1 → 1;
    // class 3 neither occurs nor is predicted. Macro-F1 (2/3 + 1/2 + 1)/3 = 13/18.
    let report = ClassificationReport(
        labels: [0, 0, 0, 1, 1, 2], predictions: [0, 1, 0, 1, 0, 2], classCount: 4)
    #expect(report.confusion == [[2, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
    #expect(abs(report.accuracy - 4.0 / 6) < 1e-12)
    #expect(report.f1[3] == nil)
    #expect(abs(report.macroF1 - 13.0 / 18) < 1e-12)
}
