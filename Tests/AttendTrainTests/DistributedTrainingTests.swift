// Data-parallel training end to end, through the real `attend` executable and Open MPI's `mpirun`:
// two processes with 4 examples each follow one process with batch 8, step by step, and a
// distributed run stopped after 5 steps and resumed repeats the uninterrupted distributed run bit
// for bit.
//
// Tolerance. The two runs do the same arithmetic except for summation order: a gradient element is
// one sum over 8 examples in one process, two sums over 4 joined by the all-reduce in two. That
// moves results by a few float32 ulps (~1e-7 relative); AdamW's update m/(√v + ε) carries a
// relative gradient error ε to the update at about ε, so after 10 steps of a 1-layer width-32
// model the losses and gradient norms agree to ~1e-6 relative (measured: 2.1e-7 for the losses,
// 9e-8 for the norms, 4e-7 absolute for the parameters, the key biases aside — see below). A relative
// tolerance of 1e-4 leaves that two orders of margin, while every plausible bug — overlapping or
// missing shards (different examples), a missing average (gradient norm ×2: AdamW alone would not
// notice a scale, the logged norm does), stale parameters on one process — changes the loss or the
// norm in the second or third digit.
import AttendCore
import AttendTrain
import Foundation
import Testing

/// The `attend` executable next to this test bundle (the same build), or nil when absent.
func builtAttendExecutable() -> String? {
    var candidates: [URL] = []
    if let override = ProcessInfo.processInfo.environment["ATTEND_EXECUTABLE"] {
        candidates.append(URL(fileURLWithPath: override))
    }
    for base in [Bundle.main.executableURL, URL(fileURLWithPath: CommandLine.arguments[0])]
        .compactMap({ $0 })
    {
        var directory = base.deletingLastPathComponent()
        for _ in 0..<3 {  // the bundle may sit in a .xctest folder inside the build directory
            candidates.append(directory.appendingPathComponent("attend"))
            directory = directory.deletingLastPathComponent()
        }
    }
    return candidates.map(\.path).first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// `mpirun` on the search path, or nil.
func mpirunPath() -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    return path.split(separator: ":").map { "\($0)/mpirun" }.first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
}

/// Runs a command with a time limit; returns its exit status and combined output.
func runCommand(_ executable: String, _ arguments: [String], limit: Double = 180) throws -> (
    status: Int32, output: String
) {
    let log = NSTemporaryDirectory() + "attend-command-\(UUID().uuidString).log"
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    defer { try? FileManager.default.removeItem(atPath: log) }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    let deadline = Date(timeIntervalSinceNow: limit)
    while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    if process.isRunning { process.terminate() }
    process.waitUntilExit()
    try handle.close()
    let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    return (process.isRunning ? -1 : process.terminationStatus, output)
}

@Suite(.serialized) struct DistributedTrainingTests {
    static let tolerance = 1e-4

    struct Trajectory {
        var losses: [Double], norms: [Double], parameters: [String: [Float]], validationLoss: Double
    }

    /// The tiny run every test uses: 10 steps of batch 8, a constant learning rate after 2 warm-up
    /// steps (so a run stopped early and resumed follows the same schedule), every step logged.
    static func configurationFile() throws -> String {
        var (configuration, _) = try tinyConfiguration("listops", steps: 10)
        configuration.schedule = .constant
        configuration.warmupSteps = 2
        configuration.logInterval = 1
        configuration.evaluationExamples = 16
        let path = NSTemporaryDirectory() + "attend-distributed-\(UUID().uuidString).json"
        try JSONEncoder().encode(configuration).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// `attend train` with `flags`, in `processes` processes through mpirun when more than one.
    static func train(_ attend: String, processes: Int, _ flags: [String]) throws {
        let result: (status: Int32, output: String)
        if processes == 1 {
            result = try runCommand(attend, ["train", "--threads", "1"] + flags)
        } else {
            let mpirun = try #require(
                mpirunPath(), "mpirun is missing: install openmpi-bin (scripts/setup.sh does)")
            result = try runCommand(
                mpirun,
                [
                    "--allow-run-as-root", "--oversubscribe", "-np", "\(processes)", attend,
                    "train", "--threads", "1",
                    "--distributed", "mpi", "--collective-timeout", "60",
                ] + flags)
        }
        try #require(
            result.status == 0, "attend train (\(processes) processes) failed:\n\(result.output)")
    }

    static func trajectory(of run: RunDirectory) throws -> Trajectory {
        let records = run.metrics()
        let steps = records.filter { $0["event"] as? String == "train" }
        let model = try SafetensorsFile(path: run.modelPath)
        var parameters: [String: [Float]] = [:]
        for name in model.names { parameters[name] = try model.tensor(name).scalars }
        let validation = records.last { $0["event"] as? String == "evaluate" }
        return Trajectory(
            losses: steps.compactMap { $0["loss"] as? Double },
            norms: steps.compactMap { $0["gradient_norm"] as? Double },
            parameters: parameters, validationLoss: validation?["loss"] as? Double ?? .nan)
    }

    static func relativeDifference(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { abs($0 - $1) / Swift.max(abs($1), 1e-12) }.max() ?? .infinity
    }

    @Test(
        .enabled(
            if: builtAttendExecutable() != nil,
            "the attend executable is not built next to the tests (make test builds it)"))
    func twoProcessesFollowOneProcessAndResumeExactly() throws {
        let attend = try #require(builtAttendExecutable())
        let configuration = try Self.configurationFile()
        let single = temporaryRun("single"), both = temporaryRun("both"),
            resumed = temporaryRun("resumed")
        defer {
            try? FileManager.default.removeItem(atPath: configuration)
            for run in [single, both, resumed] {
                try? FileManager.default.removeItem(atPath: run.path)
            }
        }
        try Self.train(attend, processes: 1, ["--config", configuration, "--out", single.path])
        try Self.train(attend, processes: 2, ["--config", configuration, "--out", both.path])
        let one = try Self.trajectory(of: single), two = try Self.trajectory(of: both)
        #expect(one.losses.count == 10 && two.losses.count == 10)
        let lossDifference = Self.relativeDifference(two.losses, one.losses)
        let normDifference = Self.relativeDifference(two.norms, one.norms)
        #expect(
            lossDifference < Self.tolerance,
            "losses: 1 process \(one.losses), 2 processes \(two.losses)")
        #expect(
            normDifference < Self.tolerance,
            "gradient norms: 1 process \(one.norms), 2 processes \(two.norms)")
        // Attention is invariant to the key bias (it shifts every score of a query alike), so its true
        // gradient is 0 and AdamW turns the rounding noise there into ±lr steps: both runs' key biases
        // are noise, and they are the only parameters left out.
        #expect(Set(one.parameters.keys) == Set(two.parameters.keys))
        var parameterDifference: Float = 0
        for (name, values) in one.parameters where !name.hasSuffix("key.bias") {
            parameterDifference = Swift.max(
                parameterDifference,
                zip(values, two.parameters[name] ?? []).map { abs($0 - $1) }.max() ?? .infinity)
        }
        #expect(parameterDifference < 1e-4, "largest parameter difference \(parameterDifference)")
        #expect(
            abs(two.validationLoss - one.validationLoss) < Self.tolerance * abs(one.validationLoss))
        print(
            "distributed vs single: loss rel. diff \(lossDifference), norm rel. diff \(normDifference), "
                + "parameter abs. diff \(parameterDifference)")

        // Stop the distributed run after 5 steps, then resume it to 10 (process 0 alone reads the run).
        try Self.train(
            attend, processes: 2,
            ["--config", configuration, "--steps", "5", "--out", resumed.path])
        var saved = try resumed.loadConfiguration()
        saved.steps = 10
        try resumed.saveConfiguration(saved)
        try Self.train(attend, processes: 2, ["--resume", "--out", resumed.path])
        let continued = try Self.trajectory(of: resumed)
        #expect(
            continued.losses == two.losses,
            "resumed \(continued.losses) vs uninterrupted \(two.losses)")
        #expect(continued.norms == two.norms)
        #expect(continued.parameters == two.parameters, "resumed distributed run is bit-identical")
    }
}
