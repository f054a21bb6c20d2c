// `attend adapt` and the adapted folder in `attend embed`, as a user runs them, on a tiny random
// BERT folder and a generated text file: a short run writes a folder that `attend embed` runs with
// the recorded mechanism; `attend embed --max-length` beyond the folder's positions extends them;
// bad options are one-line errors naming the problem.
import AttendCore
import AttendTesting
import Foundation
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct AdaptCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    /// A text file of the tiny vocabulary's words, paragraphs separated by blank lines.
    static func textFile() throws -> String {
        let path = NSTemporaryDirectory() + "attend-adapt-texts-\(UUID().uuidString).txt"
        try AdaptationTests.documents().joined(separator: "\n\n").write(
            toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func adaptThenEmbedWithTheRecordedMechanism() throws {
        let folder = try tinyPretrainedFolder()
        let texts = try Self.textFile()
        let out = NSTemporaryDirectory() + "attend-cli-adapt-\(UUID().uuidString)"
        defer {
            for path in [folder, texts, out] { try? FileManager.default.removeItem(atPath: path) }
        }
        let adapt = try run([
            "adapt", "--model", folder, "--mixer", "local", "--mixer-options",
            #"{"local": {"window_size": 4}}"#,
            "--texts", texts, "--length", "24", "--steps", "3", "--batch", "2", "--held-out", "4",
            "--out", out,
        ])
        #expect(adapt.status == 0, "\(adapt.output)")
        #expect(
            adapt.output.contains("held-out cosine to the teacher before")
                && adapt.output.contains("step 3/3"))
        let recorded = try run(["embed", "--model", out, "w5 w6 w7 w8 w9 w10 w11"])
        let local = try run([
            "embed", "--model", out, "--mixer", "local", "--mixer-options",
            #"{"local": {"window_size": 4}}"#,
            "w5 w6 w7 w8 w9 w10 w11",
        ])
        let full = try run(["embed", "--model", out, "--mixer", "full", "w5 w6 w7 w8 w9 w10 w11"])
        #expect(recorded.status == 0 && local.status == 0 && full.status == 0, "\(recorded.output)")
        #expect(recorded.output == local.output && recorded.output != full.output)
        let resumed = try run(["adapt", "--out", out, "--resume", "--mixer", "full"])
        #expect(resumed.status == 2 && resumed.output.contains("drop --mixer"), "\(resumed.output)")
    }

    @Test func embedBeyondTheFoldersPositionsExtendsThem() throws {
        let folder = try tinyPretrainedFolder()  // 64 positions
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let long = (0..<150).map { "w\(5 + $0 % 45)" }.joined(separator: " ")
        let cut = try run(["embed", "--model", folder, "--mixer", "local", long])
        let extended = try run([
            "embed", "--model", folder, "--mixer", "local", "--max-length", "160", long,
        ])
        let interpolated = try run([
            "embed", "--model", folder, "--mixer", "local", "--max-length", "160",
            "--extend-positions", "interpolate", long,
        ])
        #expect(
            cut.status == 0 && extended.status == 0 && interpolated.status == 0,
            "\(extended.output)")
        #expect(cut.output.contains("truncated") && !extended.output.contains("truncated"))
        #expect(extended.output != interpolated.output)
        let bad = try run([
            "embed", "--model", folder, "--max-length", "160", "--extend-positions", "stretch", "x",
        ])
        #expect(bad.status == 2 && bad.output.contains("tile, interpolate"), "\(bad.output)")
    }

    @Test(arguments: [
        (["--mixer", "nosuch"], "nosuch"),
        (["--mixer", "local", "--steps", "3", "--minutes", "1"], "not both"),
        (["--mixer", "local", "--train", "mixer", "--steps", "1"], "no parameters of its own"),
        (["--mixer", "local", "--train", "heads"], "mixer, norms, all"),
        (["--mixer", "local", "--length", "2"], "at least 3"),
        (["--mixer", "local", "--texts", "/nonexistent/texts.txt"], "/nonexistent/texts.txt"),
    ])
    func badOptionsAreOneLineErrors(options: [String], expected: String) throws {
        let folder = try tinyPretrainedFolder()
        let texts = try Self.textFile()
        let out = NSTemporaryDirectory() + "attend-cli-adapt-bad-\(UUID().uuidString)"
        defer {
            for path in [folder, texts, out] { try? FileManager.default.removeItem(atPath: path) }
        }
        var arguments = ["adapt", "--model", folder, "--out", out, "--length", "24"] + options
        if !options.contains("--texts") { arguments += ["--texts", texts] }
        let result = try run(arguments)
        #expect(result.status != 0)
        #expect(
            result.output.split(separator: "\n").contains { $0.contains(expected) },
            "\(result.output)")
    }

    @Test func interruptedRunResumesToTheSameModel() throws {
        let attend = try #require(attend)
        let folder = try tinyPretrainedFolder()
        let texts = try Self.textFile()
        let whole = NSTemporaryDirectory() + "attend-cli-adapt-whole-\(UUID().uuidString)"
        let parts = whole + "-parts"
        defer {
            for path in [folder, texts, whole, parts] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let options = [
            "adapt", "--model", folder, "--mixer", "linformer", "--mixer-options",
            #"{"linformer": {"projected_length": 4}}"#, "--train", "mixer", "--texts", texts,
            "--length", "24", "--steps", "1000", "--batch", "2", "--held-out", "4",
            "--checkpoint-every", "100000",
        ]
        let uninterrupted = try run(options + ["--out", whole])
        #expect(uninterrupted.status == 0, "\(uninterrupted.output)")

        // Ctrl-C once the first step is logged: the run saves a checkpoint and stops.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: attend)
        process.arguments = options + ["--out", parts]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while !FileManager.default.fileExists(atPath: parts + "/metrics.jsonl"), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.005)
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1, "the run ended before it was interrupted")
        let resumed = try run(["adapt", "--out", parts, "--resume"])
        #expect(
            resumed.status == 0 && resumed.output.contains("resumed at step"), "\(resumed.output)")

        let expected = try SafetensorsFile(path: whole + "/model.safetensors")
        let actual = try SafetensorsFile(path: parts + "/model.safetensors")
        #expect(actual.names == expected.names)
        for name in expected.names {
            #expect(try actual.tensor(name).scalars == expected.tensor(name).scalars, "\(name)")
        }
    }

    @Test func resumingWithoutARunIsAnError() throws {
        let out = NSTemporaryDirectory() + "attend-cli-adapt-none-\(UUID().uuidString)"
        let result = try run(["adapt", "--out", out, "--resume"])
        #expect(
            result.status == 2 && result.output.contains("nothing to resume"), "\(result.output)")
    }
}
