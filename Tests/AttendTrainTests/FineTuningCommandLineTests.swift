// `attend train --init-from`, `attend export` and the exported folder in `attend embed`, as a user
// runs them: a tiny random BERT folder fine-tuned for a few steps on tiny ListOps (whose token ids
// fit its vocabulary), evaluated, exported, embedded with; labelled JSON-lines files (single texts
// and text pairs) tokenised by the folder's WordPiece vocabulary, then `attend predict`; shape flags
// that contradict the folder and exports of unfinished runs are one-line errors.
import AttendTesting
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct FineTuningCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    @Test func fineTuneEvaluateExportAndEmbed() throws {
        let folder = try tinyPretrainedFolder()
        let out = NSTemporaryDirectory() + "attend-cli-finetune-\(UUID().uuidString)"
        let exported = out + "-hf"
        defer {
            for path in [folder, out, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let train = try run([
            "train", "--task", "listops", "--preset", "tiny", "--init-from", folder, "--steps", "3",
            "--batch", "8", "--out", out,
        ])
        #expect(train.status == 0, "\(train.output)")
        #expect(
            train.output.contains("fine-tuning: encoder from")
                && train.output.contains("new classifier (10 classes)"))
        #expect(FileManager.default.fileExists(atPath: out + "/tokenizer/vocab.txt"))
        let eval = try run(["eval", "--run", out, "--split", "test"])
        #expect(eval.status == 0 && eval.output.contains("listops test: loss"), "\(eval.output)")
        let export = try run(["export", "--run", out, "--out", exported])
        #expect(
            export.status == 0 && export.output.contains("model.safetensors"), "\(export.output)")
        let embed = try run(["embed", "--model", exported, "w5 w6 w7"])
        #expect(embed.status == 0 && embed.output.contains("\"embedding\":["), "\(embed.output)")
        let again = try run([
            "train", "--task", "listops", "--preset", "tiny", "--init-from", exported, "--steps",
            "1",
            "--batch", "8", "--out", out + "-again",
        ])
        defer { try? FileManager.default.removeItem(atPath: out + "-again") }
        #expect(
            again.status == 0 && again.output.contains("classifier from the folder"),
            "\(again.output)")
    }

    @Test func labelledTextFileIsTokenisedByTheFoldersWordPieceAndPredicted() throws {
        let folder = try tinyPretrainedFolder()
        let out = NSTemporaryDirectory() + "attend-cli-finetune-data-\(UUID().uuidString)"
        let file = out + ".jsonl"
        defer {
            for path in [folder, out, file] { try? FileManager.default.removeItem(atPath: path) }
        }
        let task = MajorityWordTask()
        let lines = (0..<48).map { index -> String in
            let example = task.example(index, in: .train)
            let words = example.tokens.dropFirst().dropLast().map { "W\($0)" }.joined(
                separator: " ")
            return #"{"text": "\#(words)", "label": "\#(task.classNames[example.label])"}"#
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let train = try run([
            "train", "--data", file, "--init-from", folder, "--steps", "2", "--batch", "8",
            "--out", out,
        ])
        #expect(
            train.status == 0 && train.output.contains("new classifier (2 classes)"),
            "\(train.output)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(config.contains(#""kind" : "wordpiece""#), "the run records the folder's tokenizer")
        let predict = try run(["predict", "--run", out, "W30 W31 W40", "W6 W7 W8"])
        #expect(predict.status == 0, "\(predict.output)")
        #expect(
            predict.output.split(separator: "\n").filter { $0.contains(#""label""#) }.count == 2,
            "\(predict.output)")
    }

    @Test func textPairsTrainAsOneSequenceWithSegments() throws {
        let folder = try tinyPretrainedFolder()
        let out = NSTemporaryDirectory() + "attend-cli-finetune-pairs-\(UUID().uuidString)"
        let file = out + ".jsonl"
        defer {
            for path in [folder, out, file] { try? FileManager.default.removeItem(atPath: path) }
        }
        let lines = (0..<32).map { i in
            #"{"text_a": "w\#(5 + i % 40) w6", "text_b": "w\#(9 + i % 30)", "label": "\#(i % 2)"}"#
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let train = try run([
            "train", "--data", file, "--init-from", folder, "--steps", "2", "--batch", "8",
            "--out", out,
        ])
        #expect(train.status == 0 && train.output.contains("validation:"), "\(train.output)")
        let config = try String(contentsOfFile: out + "/config.json", encoding: .utf8)
        #expect(config.contains(#""segment_separator_id" : 3"#), "[SEP] splits the segments")
    }

    @Test func contradictoryFlagsAndUnfinishedRunsAreOneLineErrors() throws {
        let folder = try tinyPretrainedFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let shape = try run([
            "train", "--task", "listops", "--init-from", folder, "--dim", "64", "--out",
            "/tmp/never",
        ])
        #expect(
            shape.status == 2 && shape.output.contains("--dim cannot change a pretrained model"),
            "\(shape.output)")
        let freeze = try run([
            "train", "--task", "listops", "--freeze-encoder", "--out", "/tmp/never",
        ])
        #expect(
            freeze.status == 2 && freeze.output.contains("--freeze-encoder needs --init-from"),
            "\(freeze.output)")
        let missing = try run(["export", "--run", "/tmp/attend-no-such-run", "--out", "/tmp/never"])
        #expect(
            missing.status == 1 && missing.output.contains("no run at /tmp/attend-no-such-run"),
            "\(missing.output)")
        #expect(missing.output.split(separator: "\n").count == 1)
    }
}
