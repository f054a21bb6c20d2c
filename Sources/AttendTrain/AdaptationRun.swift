// The training loop of `attend adapt`, in its output folder: adapt.json (the settings),
// metrics.jsonl (one line per step), checkpoint.safetensors with adapt-state.json (written
// atomically every `checkpointEvery` steps and on Ctrl-C, so `--resume` continues the same
// trajectory), and at the end the adapted model folder (AdaptedModelFolder.swift) with
// adapt-result.json: the held-out cosine to the teacher before and after, steps and time.
import AttendCore
import AttendNN
import Foundation

/// What an adaptation run measured.
public struct AdaptationResult: Codable, Sendable, Equatable {
    /// Optimizer steps taken (all sessions together).
    public var steps: Int
    /// Seconds spent adapting (all sessions together; loading and measuring excluded).
    public var seconds: Double
    /// Mean and minimum held-out cosine to the teacher before adaptation.
    public var cosineBefore: Double, minimumCosineBefore: Double
    /// Mean and minimum held-out cosine to the teacher after adaptation.
    public var cosineAfter: Double, minimumCosineAfter: Double
    /// How many held-out chunks the cosines are measured on.
    public var heldOutChunks: Int

    enum CodingKeys: String, CodingKey {
        case steps, seconds
        case cosineBefore = "cosine_before"
        case minimumCosineBefore = "minimum_cosine_before"
        case cosineAfter = "cosine_after"
        case minimumCosineAfter = "minimum_cosine_after"
        case heldOutChunks = "held_out_chunks"
    }
}

/// The state saved with a checkpoint besides the weights: time spent and the starting cosines.
struct AdaptationState: Codable {
    var seconds: Double
    var cosineBefore: Double, minimumCosineBefore: Double
}

extension Adaptation {
    /// File names inside the output folder.
    static let settingsFile = "adapt.json", stateFile = "adapt-state.json"
    static let checkpointFile = "checkpoint.safetensors", resultFile = "adapt-result.json"

    /// Runs the distillation in `folder` (created if needed) and writes the adapted model there.
    ///
    /// - Parameters:
    ///   - folder: the output folder: settings, checkpoint, progress and the adapted model.
    ///   - resume: continue from the folder's checkpoint (its settings must equal these).
    ///   - report: receives progress lines (step, loss, cosine, time per step, ETA).
    public func run(in folder: String, resume: Bool, report: (String) -> Void) throws
        -> AdaptationResult
    {
        let directory = URL(fileURLWithPath: folder)
        func path(_ name: String) -> String { directory.appendingPathComponent(name).path }
        let optimizer = AdamW(
            parameters: student.namedParameters(), weightDecay: 0,
            peakLearningRate: settings.learningRate)
        var step = 0
        var state: AdaptationState
        if resume {
            let stored = try Self.readJSON(AdaptationSettings.self, path(Self.settingsFile))
            guard stored == settings else {
                throw TrainingError.incompatible(
                    "\(path(Self.settingsFile)) records other settings than this run's; resume "
                        + "with the same options, or adapt into a new --out folder")
            }
            state = try Self.readJSON(AdaptationState.self, path(Self.stateFile))
            step = try Checkpoint.load(
                model: student, optimizer: optimizer, from: path(Self.checkpointFile))
            report(
                "resumed at step \(step) (\(ProgressReporter.duration(state.seconds)) adapted "
                    + "so far)")
        } else {
            try Self.writeJSON(settings, path(Self.settingsFile), creating: folder)
            try? FileManager.default.removeItem(atPath: path("metrics.jsonl"))  // a former run's
            let cosines = try heldOutCosines()
            state = AdaptationState(
                seconds: 0, cosineBefore: cosines.reduce(0, +) / Double(cosines.count),
                minimumCosineBefore: cosines.min() ?? 0)
            report(
                String(
                    format:
                        "held-out cosine to the teacher before: mean %.4f, min %.4f (%d chunks)",
                    state.cosineBefore, state.minimumCosineBefore, cosines.count))
        }
        let budget = settings.minutes.map { $0 * 60 }
        let start = ContinuousClock.now
        let startSeconds = state.seconds
        let startStep = step
        func saveCheckpoint() throws {
            try Checkpoint.save(
                model: student, optimizer: optimizer, step: step, to: path(Self.checkpointFile))
            try Self.writeJSON(state, path(Self.stateFile), creating: folder)
        }
        while settings.steps.map({ step < $0 }) ?? true, budget.map({ state.seconds < $0 }) ?? true
        {
            let chunks = batch(at: step)
            var parts: (hiddenError: Float, cosine: Float) = (0, 0)
            let (value, computed) = try valueAndGradient(of: student) { _ in
                let loss = try self.loss(chunks)
                parts = (loss.hiddenError, loss.cosine)
                return loss.total
            }
            let loss = value.scalars[0]
            guard loss.isFinite else {
                throw TrainingError.nonFiniteLoss(
                    step: step + 1, loss: loss, checkpoint: path(Self.checkpointFile))
            }
            var gradients = computed
            _ = clipGlobalNorm(&gradients, maxNorm: 1)
            optimizer.step(gradients, learningRate: settings.learningRate(at: step))
            step += 1
            state.seconds = startSeconds + (ContinuousClock.now - start) / .seconds(1)
            try Self.appendLine(
                [
                    "step": step, "loss": loss, "hidden_mse": parts.hiddenError,
                    "cosine": parts.cosine,
                    "seconds": state.seconds,
                ], path("metrics.jsonl"))
            let perStep = (state.seconds - startSeconds) / Double(step - startStep)
            let remaining =
                settings.steps.map { Double($0 - step) * perStep }
                ?? Swift.max(0, (budget ?? 0) - state.seconds)
            report(
                String(
                    format: "step %d%@  loss %.5f  hidden mse %.5f  cos %.4f  %.1f s/step  ETA %@",
                    step,
                    settings.steps.map { "/\($0)" } ?? "", loss, parts.hiddenError, parts.cosine,
                    perStep,
                    ProgressReporter.duration(remaining)))
            if step % settings.checkpointEvery == 0 { try saveCheckpoint() }
            if InterruptFlag.isRaised {
                try saveCheckpoint()
                throw TrainingError.run(
                    "interrupted after step \(step); the checkpoint is saved: continue with "
                        + "`attend adapt --out \(folder) --resume`")
            }
        }
        try saveCheckpoint()
        let cosines = try heldOutCosines()
        let result = AdaptationResult(
            steps: step, seconds: state.seconds, cosineBefore: state.cosineBefore,
            minimumCosineBefore: state.minimumCosineBefore,
            cosineAfter: cosines.reduce(0, +) / Double(cosines.count),
            minimumCosineAfter: cosines.min() ?? 0,
            heldOutChunks: cosines.count)
        try writeModelFolder(to: folder)
        try Self.writeJSON(result, path(Self.resultFile), creating: folder)
        return result
    }

    /// Decodes the JSON file at `path`, naming it when it is missing or malformed.
    static func readJSON<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TrainingError.run(
                "\(path) is missing: nothing to resume (run without --resume first)")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch {
            throw TrainingError.run("\(path) is not a valid \(type) record: \(error)")
        }
    }

    /// Writes `value` as pretty JSON to `path` atomically, creating `folder` first.
    static func writeJSON<T: Encodable>(_ value: T, _ path: String, creating folder: String) throws
    {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try FileManager.default.createDirectory(
                atPath: folder, withIntermediateDirectories: true)
            try (encoder.encode(value) + Data("\n".utf8)).write(
                to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TrainingError.run("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// Appends one JSON line to `path`.
    static func appendLine(_ record: [String: Any], _ path: String) throws {
        let line =
            try JSONSerialization.data(withJSONObject: record, options: .sortedKeys)
            + Data("\n".utf8)
        if let handle = FileHandle(forWritingAtPath: path) {
            defer { try? handle.close() }
            handle.seekToEndOfFile()
            handle.write(line)
        } else if !FileManager.default.createFile(atPath: path, contents: line) {
            throw TrainingError.run("cannot write \(path)")
        }
    }
}
