// A run directory: `config.json` (the resolved configuration), `metrics.jsonl` (one JSON object per
// logged event), `checkpoint.safetensors` (latest training state) and `model.safetensors` (the final
// parameters). Everything a later `attend eval` or `--resume` needs.
import Foundation

/// The files of one training run.
public struct RunDirectory: Sendable {
    /// The directory.
    public let path: String

    /// A run directory at `path` (created on `prepare()`).
    public init(path: String) { self.path = path }

    public var configurationPath: String { path + "/config.json" }
    public var metricsPath: String { path + "/metrics.jsonl" }
    public var checkpointPath: String { path + "/checkpoint.safetensors" }
    public var modelPath: String { path + "/model.safetensors" }

    /// Creates the directory, failing with a message naming it when that is impossible.
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.run("cannot create run directory \(path): \(error.localizedDescription)")
        }
    }

    /// Writes the resolved configuration (atomically).
    public func saveConfiguration(_ configuration: TrainingConfiguration) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(configuration).write(to: URL(fileURLWithPath: configurationPath), options: .atomic)
        } catch {
            throw TrainingError.run("cannot write \(configurationPath): \(error.localizedDescription)")
        }
    }

    /// Reads the configuration a run was made with.
    public func loadConfiguration() throws -> TrainingConfiguration {
        guard let data = FileManager.default.contents(atPath: configurationPath) else {
            throw TrainingError.run("no run at \(path): \(configurationPath) is missing (train one with `attend train … --out \(path)`)")
        }
        do {
            return try JSONDecoder().decode(TrainingConfiguration.self, from: data)
        } catch {
            throw TrainingError.run("\(configurationPath) is not a valid run configuration: \(error)")
        }
    }

    /// Appends one JSON object as a line to `metrics.jsonl`.
    public func log(_ record: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: record, options: [.sortedKeys])
        let line = data + Data("\n".utf8)
        if let handle = FileHandle(forWritingAtPath: metricsPath) {
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: line)
        } else {
            guard FileManager.default.createFile(atPath: metricsPath, contents: line) else {
                throw TrainingError.run("cannot write \(metricsPath) (disk full or no permission?)")
            }
        }
    }

    /// Every metrics record logged so far.
    public func metrics() -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Drops metrics records of steps after `step` (a resumed run rewrites them).
    public func truncateMetrics(after step: Int) throws {
        let kept = metrics().filter { ($0["step"] as? Int ?? 0) <= step }
        try? FileManager.default.removeItem(atPath: metricsPath)
        for record in kept { try log(record) }
    }
}
