// The memory check before step one, as a user meets it: a run whose measured need exceeds
// --memory-limit is refused with one line naming the need and the options that fit, and
// --fit-memory picks them instead. Through the executable, because the check measures the peak
// tensor memory of the whole process and other tests in this one allocate at the same time. The
// model is widened so its activations (about 1 MiB per example) dwarf the resident program.
import AttendTesting
import Foundation
import Testing

/// Under a sanitizer the process is resident at several times its size (shadow memory), so no
/// micro-batch fits 160 MiB there (`make sanitize` sets ATTEND_SANITIZER).
private let sanitized = ProcessInfo.processInfo.environment["ATTEND_SANITIZER"] != nil

@Suite(.serialized, .optimizedBuildsOnly) struct MemoryCheckTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func train(_ extra: [String]) throws -> (status: Int32, output: String) {
        let out = NSTemporaryDirectory() + "attend-memory-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let arguments = [
            "train", "--task", "text", "--preset", "tiny", "--dim", "128", "--ffn", "512",
            "--batch", "128",
            "--steps", "1", "--out", out,
        ]
        return try runAttend(attend, arguments + extra, limit: 180)
    }

    @Test(.disabled(if: sanitized, "a sanitizer's resident memory exceeds the limit"))
    func aRunThatWouldNotFitIsRefusedWithTheOptionsThatFit() throws {
        let refused = try train(["--memory-limit", "160M"])
        #expect(refused.status == 1, "\(refused.output)")
        let line = refused.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "one line: \(line)")
        #expect(
            line.contains("this run needs about")
                && line.contains("but 160 MiB is the --memory-limit"), "\(line)")
        #expect(line.contains("make it fit with --fit-memory, or --accumulate"), "\(line)")
    }

    @Test(.disabled(if: sanitized, "a sanitizer's resident memory exceeds the limit"))
    func fitMemoryChoosesAccumulationThatFits() throws {
        let fitted = try train(["--memory-limit", "160M", "--fit-memory"])
        #expect(fitted.status == 0, "\(fitted.output)")
        #expect(
            fitted.output.contains("of 160 MiB available; to fit, training with --accumulate"),
            "\(fitted.output)")
    }

    @Test func aLimitNothingFitsInSaysSo() throws {
        let refused = try train(["--memory-limit", "1M", "--fit-memory"])
        #expect(refused.status == 1)
        #expect(
            refused.output.contains(
                "even one example per micro-batch with checkpointing does not fit"))
    }

    @Test func sizesMustBeSizes() throws {
        let refused = try train(["--memory-limit", "lots"])
        #expect(refused.status == 2)
        #expect(refused.output.contains("--memory-limit expects a size such as 12G"))
    }
}
