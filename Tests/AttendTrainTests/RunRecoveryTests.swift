// What a run directory looks like after crashes and repeated resumes: torn temporary files of
// interrupted atomic writes are removed (and nothing else is), the metrics rewrite of a resume
// keeps exactly the records before the checkpoint, and resuming a finished run does not add a
// second final evaluation.
import AttendCore
import AttendTrain
import Foundation
import Testing

@Suite struct RunRecoveryTests {
    /// The id of a process that has exited (so a temporary file naming it is a crash leftover).
    static func deadProcessID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func tornTemporaryFilesAreRemovedWhenARunDirectoryIsOpened() throws {
        let run = temporaryRun("torn")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        try run.prepare()
        let dead = try Self.deadProcessID()
        let torn = [
            ".checkpoint.safetensors.tmp-\(dead)-12345", ".model.safetensors.tmp-\(dead)-0",
            ".metrics.jsonl.tmp-\(dead)-4294967295", ".config.json.tmp-\(getpid())-7",
        ]
        let kept = [
            "checkpoint.safetensors", "notes.txt", ".checkpoint.safetensors.tmp-\(dead)",
            ".checkpoint.safetensors.tmp-\(dead)-1-2", ".checkpoint.safetensors.tmp-+\(dead)-1",
            ".other.safetensors.tmp-\(dead)-1", "x.checkpoint.safetensors.tmp-\(dead)-1",
        ]
        for name in torn + kept {
            let path = run.path + "/" + name
            #expect(FileManager.default.createFile(atPath: path, contents: Data([1])))
        }
        try RunDirectory(path: run.path).prepare()
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: run.path))
        #expect(left == Set(kept))
    }

    @Test func temporaryFilesOfALiveProcessAreLeftAlone() throws {
        let run = temporaryRun("live")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        try run.prepare()
        let live = ".checkpoint.safetensors.tmp-1-99"  // process 1 is always running
        #expect(FileManager.default.createFile(atPath: run.path + "/" + live, contents: nil))
        run.removeTornWrites()
        #expect(FileManager.default.fileExists(atPath: run.path + "/" + live))
    }

    @Test func keepingMetricsDropsTornLinesAndRewritesInOneStep() throws {
        let run = temporaryRun("metrics")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        try run.prepare()
        for step in 1...6 { try run.log(["event": "train", "step": step]) }
        // A record cut short by a crash, as a kill between two writes of old code left them.
        let handle = try #require(FileHandle(forWritingAtPath: run.metricsPath))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data("{\"event\": \"tra".utf8))
        try handle.close()
        try run.keepMetrics { ($0["step"] as? Int ?? 0) <= 4 }
        #expect(run.metrics().map { $0["step"] as? Int } == [1, 2, 3, 4])
        let text = try String(contentsOfFile: run.metricsPath, encoding: .utf8)
        #expect(text.hasSuffix("}\n") && text.split(separator: "\n").count == 4)
        let names = try FileManager.default.contentsOfDirectory(atPath: run.path)
        #expect(!names.contains { $0.contains(".tmp-") })
    }

    @Test func resumingAFinishedRunDoesNotRepeatItsRecords() throws {
        let (configuration, task) = try tinyConfiguration("listops", steps: 4)
        let run = temporaryRun("finished")
        defer { try? FileManager.default.removeItem(atPath: run.path) }
        _ = try Trainer(configuration: configuration, task: task, run: run).train()
        let first = run.metrics()
        let model = try Data(contentsOf: URL(fileURLWithPath: run.modelPath))
        for _ in 0..<2 {
            let summary = try Trainer(configuration: configuration, task: task, run: run)
                .train(resume: true)
            #expect(summary.steps == 4 && !summary.interrupted)
        }
        let again = run.metrics()
        let evaluations = again.filter { $0["event"] as? String == "evaluate" }
        #expect(evaluations.count == 1, "\(evaluations)")
        #expect(again.count == first.count)
        #expect(try Data(contentsOf: URL(fileURLWithPath: run.modelPath)) == model)
    }
}
