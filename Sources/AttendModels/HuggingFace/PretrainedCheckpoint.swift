// The one strict loading path for Hugging Face checkpoints, shared by BERT, DeBERTa-v2 and ViT. The
// module trees carry transformers' parameter names, so loading is a name-for-name copy after each
// family's few key translations (`CheckpointNaming`): a task model's base prefix (`bert.`,
// `deberta.`, `vit.`) is stripped and the task heads outside it are skipped, index buffers such as
// `position_ids` are skipped, and older spellings are renamed. Missing, unexpected and mis-shaped
// tensors are reported together, by name, before any weight changes; parameters a checkpoint may
// lack (another mechanism's, a pooler a classifier adds) keep their initial values and are
// reported. F16, BF16 (and F64) weights are widened to float32.
import AttendCore
import AttendNN
import Foundation

/// What loading a pretrained checkpoint did besides copying weights.
public struct PretrainedLoadReport: Sendable, Equatable {
    /// The checkpoint (file or sharded index) that was read.
    public let file: String
    /// Names in the checkpoint deliberately not loaded: index buffers and task heads.
    public let skipped: [String]
    /// Parameters the checkpoint does not hold and may lack (a Linformer projection, say, or a
    /// pooler a classifier adds): kept at their initial values.
    public let keptInitial: [String]
    /// Stored element types other than F32, with how many tensors of each were converted.
    public let converted: [String: Int]
}

/// What loading a BERT checkpoint did (the report every family shares).
public typealias BertLoadReport = PretrainedLoadReport
/// What loading a ViT checkpoint did (the report every family shares).
public typealias ViTLoadReport = PretrainedLoadReport

/// How one model family's checkpoint keys become its module's parameter names.
struct CheckpointNaming: Sendable {
    /// The base model's prefix in task-model checkpoints (`bert.`): stripped, and keys without it
    /// (the task heads) skipped, when any key has it.
    let prefix: String
    /// Whether a (stripped) name is not a weight of the model: an index buffer, an unused table.
    var isSkipped: @Sendable (String) -> Bool = { _ in false }
    /// Older spellings of a (stripped) name mapped to today's.
    var rename: @Sendable (String) -> String = { $0 }

    /// Checkpoint keys sorted into parameter names (name → key) and skipped keys.
    func sort(_ keys: [String]) -> (model: [String: String], skipped: [String]) {
        let prefixed = keys.contains { $0.hasPrefix(prefix) }
        var model: [String: String] = [:]
        var skipped: [String] = []
        for key in keys {
            if prefixed && !key.hasPrefix(prefix) {
                skipped.append(key)  // a task head outside the base model
                continue
            }
            let name = prefixed ? String(key.dropFirst(prefix.count)) : key
            if isSkipped(name) {
                skipped.append(key)
                continue
            }
            model[rename(name)] = key
        }
        return (model, skipped)
    }
}

extension PretrainedFolder {
    /// The opened weights of `directory`, and whether they hold a pooler under `naming` (BERT and
    /// ViT build one only then).
    static func weights(
        in directory: String, naming: CheckpointNaming
    ) throws -> (archive: any SafetensorsArchive, hasPooler: Bool) {
        let archive = try Safetensors.open(try weightsPath(in: directory))
        return (archive, naming.sort(archive.names).model["pooler.dense.weight"] != nil)
    }
}

extension Module {
    /// Copies `archive`'s tensors into this module's parameters of the same names, after `naming`'s
    /// translations. Throws `PretrainedModelError.weightsMismatch` naming every missing, unexpected
    /// and mis-shaped tensor, and `.nonFloatingPointWeight`, before anything is assigned.
    ///
    /// - Parameter optional: parameter names that may be absent and then keep their initial values.
    func loadPretrained(
        from archive: any SafetensorsArchive, naming: CheckpointNaming, optional: Set<String> = []
    ) throws -> PretrainedLoadReport {
        let keys = naming.sort(archive.names)
        let named = namedParameters()
        let own = Set(named.map(\.0))
        var infos: [String: SafetensorsTensorInfo] = [:]
        for (name, key) in keys.model where own.contains(name) {
            infos[name] = try archive.info(key)
        }
        let missing = named.map(\.0).filter { infos[$0] == nil && !optional.contains($0) }
        let unexpected = keys.model.keys.filter { !own.contains($0) }.map { keys.model[$0]! }
            .sorted()
        let wrongShape = named.compactMap { name, parameter -> (String, [Int], [Int])? in
            guard let info = infos[name], info.shape != parameter.shape else { return nil }
            return (keys.model[name]!, parameter.shape, info.shape)
        }
        guard missing.isEmpty && unexpected.isEmpty && wrongShape.isEmpty else {
            throw PretrainedModelError.weightsMismatch(
                file: archive.path,
                mismatch: StateDictionaryMismatch(
                    missing: missing, unexpected: unexpected, wrongShape: wrongShape))
        }
        for (name, info) in infos where !info.dtype.isFloatingPoint {
            throw PretrainedModelError.nonFloatingPointWeight(
                file: archive.path, tensor: keys.model[name]!, dtype: info.dtype)
        }
        var converted: [String: Int] = [:]
        for (name, parameter) in named {
            guard let info = infos[name] else { continue }
            parameter.value = try archive.tensor(keys.model[name]!)
            if info.dtype != .float32 { converted[info.dtype.rawValue, default: 0] += 1 }
        }
        return PretrainedLoadReport(
            file: archive.path, skipped: keys.skipped,
            keptInitial: optional.filter { infos[$0] == nil }.sorted(), converted: converted)
    }

    /// Writes `configuration` as config.json and every parameter as model.safetensors (F32, by
    /// name) into `directory`, creating it if needed: a folder transformers' `from_pretrained`
    /// loads.
    func savePretrained(configuration: some Encodable, to directory: String) throws {
        let folder = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SafetensorsError.writeFailed(file: directory, reason: "\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let config = PretrainedFolder.configurationPath(in: directory)
        do {
            try (encoder.encode(configuration) + Data("\n".utf8)).write(
                to: URL(fileURLWithPath: config), options: .atomic)
        } catch {
            throw SafetensorsError.writeFailed(file: config, reason: "\(error)")
        }
        try Safetensors.write(
            namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
            metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors").path)
    }
}
