// A run directory: `config.json` (the resolved configuration), `metrics.jsonl` (one JSON object per
// logged event), `checkpoint.safetensors` (latest training state) and `model.safetensors` (the final
// parameters). Everything a later `attend eval` or `--resume` needs.
import AttendCore
import Foundation

/// The files of one training run.
public struct RunDirectory: Sendable {
    /// The directory.
    public let path: String

    /// A run directory at `path` (created on `prepare()`).
    public init(path: String) { self.path = path }

    /// `config.json`: the resolved training configuration.
    public var configurationPath: String { path + "/config.json" }
    /// `metrics.jsonl`: one JSON metric record per logged event.
    public var metricsPath: String { path + "/metrics.jsonl" }
    /// `checkpoint.safetensors`: the latest training state, for `--resume`.
    public var checkpointPath: String { path + "/checkpoint.safetensors" }
    /// `model.safetensors`: the final parameters, for `attend eval`.
    public var modelPath: String { path + "/model.safetensors" }

    /// Creates the directory, failing with a message naming it when that is impossible, and
    /// removes the temporary files of writes that a crash interrupted (`removeTornWrites`).
    public func prepare() throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.run(
                "cannot create run directory \(path): \(error.localizedDescription)")
        }
        removeTornWrites()
    }

    /// Deletes the temporary files that an atomic write of one of this directory's files leaves
    /// when its process is killed (`.checkpoint.safetensors.tmp-<pid>-<n>` and the like), so a
    /// run directory does not grow by a checkpoint per crash. Only names of that exact pattern
    /// whose process is gone (or is this one, reusing a dead run's id) are touched.
    public func removeTornWrites() {
        let destinations = [configurationPath, metricsPath, checkpointPath, modelPath].map {
            String($0.dropFirst(path.count + 1))
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names {
            for destination in destinations {
                guard let owner = AtomicFile.temporaryFileOwner(name, destination: destination),
                    owner == getpid() || !isRunning(owner)
                else { continue }
                unlink(path + "/" + name)
            }
        }
    }

    /// Writes the resolved configuration (atomically).
    public func saveConfiguration(_ configuration: TrainingConfiguration) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try AtomicFile.write(to: configurationPath, bytes: Array(encoder.encode(configuration)))
        } catch {
            throw TrainingError.run("cannot write \(configurationPath): \(error)")
        }
    }

    /// Reads the configuration a run was made with.
    public func loadConfiguration() throws -> TrainingConfiguration {
        guard let data = FileManager.default.contents(atPath: configurationPath) else {
            throw TrainingError.run(
                "no run at \(path): \(configurationPath) is missing (train one with `attend train … --out \(path)`)"
            )
        }
        let configuration: TrainingConfiguration
        do {
            configuration = try JSONDecoder().decode(TrainingConfiguration.self, from: data)
        } catch let error as DecodingError {
            throw TrainingError.run(
                "\(configurationPath) is not a valid run configuration: \(error.plainDescription)")
        }
        do {
            try configuration.validate()
        } catch {
            throw TrainingError.run(
                "\(configurationPath) is not a valid run configuration: \(error)")
        }
        return configuration
    }

    /// Appends one typed record as a line to `metrics.jsonl` (keys sorted).
    public func log(_ record: some MetricRecord) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try appendMetricsLine(encoder.encode(record))
    }

    /// Appends one JSON object as a line to `metrics.jsonl` (keys sorted).
    public func log(_ record: [String: Any]) throws {
        try appendMetricsLine(
            JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]))
    }

    /// Appends `data` and a newline to `metrics.jsonl`, creating it when missing.
    private func appendMetricsLine(_ data: Data) throws {
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
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else {
            return []
        }
        return text.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Keeps only the metrics records that `keep` accepts (a resumed run drops those it will
    /// write again). The file is replaced atomically, in one write: a crash leaves either the old
    /// records or the kept ones, never a part of them.
    public func keepMetrics(where keep: ([String: Any]) -> Bool) throws {
        guard let data = FileManager.default.contents(atPath: metricsPath) else { return }
        var kept: [UInt8] = []
        kept.reserveCapacity(data.count)
        for line in data.split(separator: UInt8(ascii: "\n")) {
            let record = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            guard let record, keep(record) else { continue }
            kept += line
            kept.append(UInt8(ascii: "\n"))
        }
        try AtomicFile.write(to: metricsPath, bytes: kept)
    }
}

/// Whether process `pid` exists (signal 0 checks without sending anything).
private func isRunning(_ pid: pid_t) -> Bool {
    kill(pid, 0) == 0 || errno == EPERM
}
