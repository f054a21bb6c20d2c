// The `attend` tool as a user meets it: one-line errors that list the valid choices (exit status 2 for
// usage errors, 1 for refused requests), help text, a tiny train → eval round trip, and Ctrl-C during
// training writing a checkpoint that `--resume` continues from.
import AttendTesting
import Foundation
import Testing

@Suite(.serialized) struct CommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    /// Runs `attend` with `arguments`, or records why it cannot.
    func run(_ arguments: [String], limit: Double = 120) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: limit)
    }

    @Test func unknownCommandsAndOptionsAreOneLineUsageErrors() throws {
        let command = try run(["trian"])
        #expect(command.status == 2)
        #expect(
            command.output.contains("unknown command 'trian'") && command.output.contains("train"))
        let option = try run(["train", "--task", "listops", "--stesp", "3", "--out", "/tmp/x"])
        #expect(option.status == 2)
        #expect(
            option.output.contains("unknown option --stesp") && option.output.contains("--steps"))
        #expect(option.output.split(separator: "\n").count == 1)
    }

    @Test func unknownTaskAndMixerNamesListTheValidOnes() throws {
        let task = try run(["train", "--task", "listop", "--out", "/tmp/attend-cli"])
        #expect(task.status == 2)
        #expect(task.output.contains("unknown task 'listop'") && task.output.contains("listops"))
        let mixer = try run([
            "train", "--task", "listops", "--mixer", "perfromer", "--out", "/tmp/attend-cli",
        ])
        #expect(mixer.status == 2)
        #expect(mixer.output.contains("perfromer") && mixer.output.contains("performer"))
    }

    @Test func causalTaskWithANonCausalMixerIsRefused() throws {
        let result = try run([
            "train", "--task", "bytelm", "--mixer", "linformer", "--preset", "tiny", "--out",
            NSTemporaryDirectory() + "attend-cli-causal-\(UUID().uuidString)",
        ])
        #expect(result.status == 1)
        #expect(result.output.contains("no causal form") && result.output.contains("performer"))
    }

    @Test func helpDescribesEveryOption() throws {
        let help = try run(["train", "--help"])
        #expect(help.status == 0)
        for option in ["--task", "--mixer", "--steps", "--resume", "--out"] {
            #expect(help.output.contains(option))
        }
        let list = try run(["list"])
        #expect(
            list.status == 0 && list.output.contains("performer")
                && list.output.contains("complexity"))
    }

    @Test(.optimizedBuildsOnly) func trainThenEvaluate() throws {
        let out = NSTemporaryDirectory() + "attend-cli-run-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let train = try run([
            "train", "--task", "listops", "--preset", "tiny", "--steps", "6", "--out", out,
        ])
        #expect(train.status == 0, "\(train.output)")
        for file in ["config.json", "metrics.jsonl", "checkpoint.safetensors", "model.safetensors"]
        {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file) missing")
        }
        let eval = try run(["eval", "--run", out, "--split", "test"])
        #expect(eval.status == 0 && eval.output.contains("listops test: loss"), "\(eval.output)")
    }

    @Test(.optimizedBuildsOnly) func languageModelGeneratesText() throws {
        let out = NSTemporaryDirectory() + "attend-cli-lm-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let train = try run([
            "train", "--task", "bytelm", "--preset", "tiny", "--steps", "4", "--mixer", "performer",
            "--out", out,
        ])
        #expect(train.status == 0, "\(train.output)")
        let generated = try run([
            "generate", "--run", out, "--prompt", "ROMEO:", "--tokens", "20", "--seed", "3",
        ])
        #expect(generated.status == 0, "\(generated.output)")
        #expect(
            generated.output.hasPrefix("ROMEO:")
                && generated.output.utf8.count > "ROMEO:".utf8.count)
        let again = try run([
            "generate", "--run", out, "--prompt", "ROMEO:", "--tokens", "20", "--seed", "3",
        ])
        #expect(again.output == generated.output, "the same seed must sample the same text")
        let sampling = [
            "generate", "--run", out, "--prompt", "ROMEO:", "--tokens", "20", "--seed", "3",
        ]
        let recomputed = try run(sampling + ["--no-cache"])
        #expect(
            recomputed.output == generated.output, "the state must sample what recomputation does")
        let batch = try run(sampling + ["--samples", "3", "--end-byte", "10"])
        let sampleCount = batch.output.components(separatedBy: "── sample").count - 1
        #expect(batch.status == 0 && sampleCount == 3, "\(batch.output)")
        let batchRecomputed = try run(
            sampling + ["--samples", "3", "--end-byte", "10", "--no-cache"])
        #expect(batchRecomputed.output == batch.output)
        let refused = try run(["generate", "--run", out, "--prompt", "x", "--temperature", "-1"])
        #expect(refused.status == 2)
    }

    @Test(.optimizedBuildsOnly) func interruptWritesACheckpointAndResumeFinishes() throws {
        guard let attend else {
            Issue.record("attend was not built")
            return
        }
        let out = NSTemporaryDirectory() + "attend-cli-interrupt-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: attend)
        process.arguments = [
            "train", "--task", "listops", "--preset", "tiny", "--steps", "100000", "--out", out,
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until training has started (the configuration is written first), then press Ctrl-C.
        let deadline = Date(timeIntervalSinceNow: 60)
        while !FileManager.default.fileExists(atPath: out + "/metrics.jsonl") && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.interrupt()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: out + "/checkpoint.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        // Shorten the run so the resumed part finishes quickly: resume reads the saved configuration.
        let configurationPath = out + "/config.json"
        var configuration =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: configurationPath))) as! [String: Any]
        let metrics = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        let lastStep =
            metrics.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
            }.compactMap { $0["step"] as? Int }.max() ?? 0
        configuration["steps"] = lastStep + 3
        try JSONSerialization.data(withJSONObject: configuration).write(
            to: URL(fileURLWithPath: configurationPath))
        let resumed = try run(["train", "--resume", "--out", out])
        #expect(resumed.status == 0, "\(resumed.output)")
        #expect(FileManager.default.fileExists(atPath: out + "/model.safetensors"))
    }

    @Test(.optimizedBuildsOnly) func comparisonContinuesFromItsResultsFile() throws {
        let directory = NSTemporaryDirectory() + "attend-cli-lra-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = directory + "/lra.md"
        let common = ["--tasks", "listops", "--preset", "tiny", "--steps", "4", "--out", report]
        let first = try run(["lra", "--mixers", "full"] + common)
        #expect(first.status == 0, "\(first.output)")
        // The second command trains only the new mixer; the page covers both and names both commands.
        let second = try run(["lra", "--mixers", "full,local"] + common)
        #expect(second.status == 0, "\(second.output)")
        #expect(!second.output.contains("listops/full step"))
        #expect(second.output.contains("listops/local step"))
        let page = try String(contentsOfFile: report, encoding: .utf8)
        #expect(page.contains("| full |") && page.contains("| local |"))
        #expect(
            page.contains("attend lra --mixers full --tasks")
                && page.contains("attend lra --mixers full,local"))
        #expect(FileManager.default.fileExists(atPath: directory + "/lra.svg"))
        #expect(FileManager.default.fileExists(atPath: directory + "/lra.json"))
        let wrongPreset = try run([
            "lra", "--mixers", "full", "--tasks", "listops", "--preset", "cpu", "--out", report,
        ])
        #expect(wrongPreset.status == 1)
        #expect(wrongPreset.output.contains("holds results of preset tiny"))
    }

    @Test(.optimizedBuildsOnly) func comparisonPassesMixerOptions() throws {
        let directory = NSTemporaryDirectory() + "attend-cli-lra-options-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let common = [
            "lra", "--mixers", "evolving", "--tasks", "listops", "--preset", "tiny", "--steps", "2",
        ]
        // A budget of one byte cannot hold the maps: the pair becomes a row that says so.
        let refused = try run(
            common + [
                "--mixer-options", #"{"evolving": {"memory_budget": 1}}"#, "--out",
                directory + "/a.md",
            ])
        #expect(refused.status == 0, "\(refused.output)")
        let page = try String(contentsOfFile: directory + "/a.md", encoding: .utf8)
        #expect(page.contains("budget"), "\(page)")
        #expect(page.contains(#"--mixer-options {"evolving": {"memory_budget": 1}}"#))
        let trained = try run(common + ["--out", directory + "/b.md"])
        #expect(
            trained.status == 0 && trained.output.contains("listops/evolving step"),
            "\(trained.output)")
        let malformed = try run(
            common + ["--mixer-options", "{evolving", "--out", directory + "/c.md"])
        #expect(
            malformed.status == 2
                && malformed.output.contains("--mixer-options must be a JSON object"))
    }

    @Test func trainingPassesMixerOptions() throws {
        let out = NSTemporaryDirectory() + "attend-cli-options-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let refused = try run([
            "train", "--task", "listops", "--preset", "tiny", "--mixer", "evolving", "--steps", "2",
            "--mixer-options", #"{"evolving": {"memory_budget": 1}}"#, "--out", out,
        ])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains("over its memory_budget")
                && refused.output.contains("--mixer-options"))
    }
}
