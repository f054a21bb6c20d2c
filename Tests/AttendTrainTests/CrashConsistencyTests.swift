// `kill -9` at the worst moments: while a resume rewrites a long metrics file, and at random
// moments of a short training run and its resumes (scripts/crash-campaign.sh, which runs the long
// campaign with more kills). After every kill the run must resume, and in the end its metrics are
// complete and unduplicated, no temporary file is left and the model is byte-identical to an
// uninterrupted run's.
import Foundation
import Testing

@Suite(.serialized) struct CrashConsistencyTests {
    @Test(.optimizedBuildsOnly) func killingAResumeWhileItRewritesMetricsLosesNothing() throws {
        guard let attend = requireAttendExecutable() else { return }
        let out = NSTemporaryDirectory() + "attend-crash-metrics-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let train = try runCommand(
            attend,
            [
                "train", "--task", "listops", "--preset", "tiny", "--steps", "2", "--threads", "1",
                "--out", out,
            ])
        #expect(train.status == 0, "\(train.output)")
        // A long history before the checkpoint (every record is kept by a resume), so that
        // rewriting it takes long enough to be caught in the act.
        let metricsPath = out + "/metrics.jsonl"
        let original = try Data(contentsOf: URL(fileURLWithPath: metricsPath))
        let record = "{\"event\":\"note\",\"step\":0}\n"
        let filler = Data(String(repeating: record, count: 40_000).utf8)
        try (filler + original).write(to: URL(fileURLWithPath: metricsPath))
        let lines = 40_000 + original.split(separator: UInt8(ascii: "\n")).count

        // Kill the resume the moment the metrics file stops being the one written above.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: attend)
        process.arguments = ["train", "--resume", "--threads", "1", "--out", out]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let before = try FileManager.default.attributesOfItem(atPath: metricsPath)
        try process.run()
        while process.isRunning {
            let now = try? FileManager.default.attributesOfItem(atPath: metricsPath)
            if now?[.size] as? Int != before[.size] as? Int
                || now?[.systemFileNumber] as? Int != before[.systemFileNumber] as? Int
            {
                kill(process.processIdentifier, SIGKILL)
                break
            }
        }
        process.waitUntilExit()
        // Either the old file, or the kept records (the final evaluation goes: it is redone).
        let after = try String(contentsOfFile: metricsPath, encoding: .utf8)
        let count = after.split(separator: "\n").count
        #expect(count == lines || count == lines - 1, "\(count) of \(lines) metrics lines left")
        let resumed = try runCommand(attend, ["train", "--resume", "--threads", "1", "--out", out])
        #expect(resumed.status == 0, "\(resumed.output)")
        let final = try String(contentsOfFile: metricsPath, encoding: .utf8)
        #expect(final.split(separator: "\n").count == lines)
    }

    @Test(.optimizedBuildsOnly) func randomKillsDuringTrainingAndResumes() throws {
        guard let attend = requireAttendExecutable() else { return }
        let script = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/crash-campaign.sh").path
        let result = try runCommand(
            "/bin/bash",
            [script, "--kills", "6", "--steps", "24", "--seed", "7", "--attend", attend],
            limit: 300)
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("6 kills"), "\(result.output)")
    }
}
