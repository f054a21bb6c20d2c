// `attend train --init-from DIR --seq-len N --extend-positions tile` beyond the folder's 64
// positions, as a user runs it: the label of each text is decided only by words after position 64,
// so the run learns it only if the inputs really are N tokens long; `predict`, `eval --data` and
// `export` then use the grown table from the run. Without --extend-positions the run is refused
// with one line that names the fix.
import AttendTesting
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct LongInputFineTuningCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    /// 70 filler words, then eight words from the lower (label "low") or upper ("high") part of
    /// the tiny vocabulary: about 80 WordPiece tokens, the label only in the last 10.
    static func lines(count: Int) -> [String] {
        (0..<count).map { i in
            let high = i % 2 == 1
            let tail = (0..<8).map { j in "w\((high ? 40 : 8) + (i * 3 + j * 5) % 9)" }
            let words = Array(repeating: "w5", count: 70) + tail
            return
                #"{"text": "\#(words.joined(separator: " "))", "label": "\#(high ? "high" : "low")"}"#
        }
    }

    @Test func longInputsTrainPredictEvaluateAndExportWithTheGrownTable() throws {
        let folder = try tinyPretrainedFolder()
        let out = NSTemporaryDirectory() + "attend-cli-long-\(UUID().uuidString)"
        let (file, predictions, exported) = (
            out + ".jsonl", out + "-predictions.jsonl", out + "-hf"
        )
        defer {
            for path in [folder, out, file, predictions, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        try (Self.lines(count: 16).joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let common = [
            "train", "--data", file, "--validation", file, "--init-from", folder, "--seq-len", "96",
        ]
        let refused = try run(common + ["--out", out])
        #expect(
            refused.status == 2
                && refused.output.contains("--seq-len 96 is longer than the 64 positions")
                && refused.output.contains("add --extend-positions tile"),
            "\(refused.output)")
        let train = try run(
            common + [
                "--extend-positions", "tile", "--steps", "40", "--batch", "8", "--lr", "3e-3",
                "--out", out,
            ])
        #expect(
            train.status == 0 && train.output.contains("positions 64 → 96 (tile)"),
            "\(train.output)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(
            config.contains(#""position_extension" : "tile""#)
                && config.contains(#""trained_positions" : 64"#), "\(config)")

        let predict = try run(["predict", "--run", out, "--data", file, "--out", predictions])
        #expect(predict.status == 0, "\(predict.output)")
        let labels = try String(contentsOfFile: predictions, encoding: .utf8)
            .split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
                return (object as? [String: Any])?["label"] as? String
            }
        let expected = (0..<16).map { $0 % 2 == 1 ? "high" : "low" }
        #expect(labels == expected, "predict returns the training labels: \(labels)")
        let eval = try run(["eval", "--run", out, "--data", file])
        #expect(eval.status == 0 && eval.output.contains("accuracy"), "\(eval.output)")

        let export = try run(["export", "--run", out, "--out", exported])
        #expect(export.status == 0, "\(export.output)")
        let exportedConfig = try String(contentsOfFile: exported + "/config.json", encoding: .utf8)
        #expect(exportedConfig.contains(#""max_position_embeddings" : 96"#), "\(exportedConfig)")
    }
}
