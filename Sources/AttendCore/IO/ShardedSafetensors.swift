// Checkpoints split across several safetensors files, as Hugging Face saves large models:
// `model.safetensors.index.json` = {"metadata": {"total_size": …}, "weight_map": {name: shard file}},
// shard files named relative to the index's directory. Every shard is opened (mapped) up front and
// checked against the index, so a missing or mismatched shard fails at once, not halfway through
// loading a model.
import Foundation

/// A checkpoint sharded across several safetensors files, read through its index.
public final class ShardedSafetensors: SafetensorsArchive, @unchecked Sendable {
    /// The index file's path as given.
    public let path: String
    /// Every tensor name in the index, sorted.
    public let names: [String]
    /// The index's `metadata` (numbers such as `total_size` as their decimal text).
    public let metadata: [String: String]
    /// The shard files, in sorted order of their names.
    public let shards: [SafetensorsFile]

    private let shardOf: [String: SafetensorsFile]

    /// Reads the index at `indexPath` and opens every shard it lists.
    public init(indexPath: String) throws {
        path = indexPath
        let root = try Self.readIndex(indexPath)
        guard case .object(let members) = root else {
            throw SafetensorsError.invalidIndex(
                file: indexPath, problem: "it is \(root.kind), not an object")
        }
        metadata = try Self.metadata(members.first { $0.key == "metadata" }?.value, path: indexPath)
        guard let weightMap = members.first(where: { $0.key == "weight_map" })?.value else {
            throw SafetensorsError.invalidIndex(
                file: indexPath, problem: "it has no \"weight_map\"")
        }
        guard case .object(let entries) = weightMap else {
            throw SafetensorsError.invalidIndex(
                file: indexPath, problem: "\"weight_map\" is \(weightMap.kind), not an object")
        }

        var shardNameOf: [String: String] = [:]
        for (name, value) in entries {
            guard case .string(let shard) = value, !shard.isEmpty else {
                throw SafetensorsError.invalidIndex(
                    file: indexPath,
                    problem: "tensor '\(name)' maps to \(value.summary), not a shard file name")
            }
            shardNameOf[name] = shard
        }

        let directory = indexPath.lastIndex(of: "/").map { String(indexPath[...$0]) } ?? ""
        var opened: [String: SafetensorsFile] = [:]
        for shard in Set(shardNameOf.values).sorted() {
            let shardPath = shard.hasPrefix("/") ? shard : directory + shard
            guard FileManager.default.fileExists(atPath: shardPath) else {
                throw SafetensorsError.missingShard(index: indexPath, shard: shardPath)
            }
            opened[shard] = try SafetensorsFile(path: shardPath)
        }
        var shardOf: [String: SafetensorsFile] = [:]
        for (name, shard) in shardNameOf {
            let file = opened[shard]!
            guard file.contains(name) else {
                throw SafetensorsError.shardMismatch(
                    index: indexPath, shard: file.path, tensor: name)
            }
            shardOf[name] = file
        }
        self.shardOf = shardOf
        names = shardNameOf.keys.sorted()
        shards = opened.keys.sorted().map { opened[$0]! }
    }

    /// True when the index lists a tensor named `name`.
    public func contains(_ name: String) -> Bool { shardOf[name] != nil }

    /// The shard holding `name`.
    public func shard(containing name: String) throws -> SafetensorsFile {
        guard let file = shardOf[name] else {
            throw SafetensorsError.missingTensor(name: name, file: path, available: names)
        }
        return file
    }

    /// Dtype, shape and byte range (within its shard) of the tensor `name`.
    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        try shard(containing: name).info(name)
    }

    /// The tensor `name` as float32 (see `SafetensorsFile.tensor(_:)`).
    public func tensor(_ name: String) throws -> Tensor { try shard(containing: name).tensor(name) }

    /// The integer tensor `name` as indices (see `SafetensorsFile.indices(_:)`).
    public func indices(_ name: String) throws -> Indices {
        try shard(containing: name).indices(name)
    }

    private static func readIndex(_ path: String) throws -> JSONValue {
        let bytes: [UInt8]
        do {
            bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw SafetensorsError.unreadable(file: path, reason: error.localizedDescription)
        }
        do {
            return try JSONValue.parse(bytes)
        } catch {
            throw SafetensorsError.invalidIndex(
                file: path, problem: "not JSON at byte \(error.offset): \(error.message)")
        }
    }

    /// Index metadata: strings kept, numbers and booleans as their text, null or absent as empty.
    private static func metadata(_ value: JSONValue?, path: String) throws -> [String: String] {
        let pairs: [(key: String, value: JSONValue)]
        switch value {
        case nil, .null?: return [:]
        case .object(let members)?: pairs = members
        case let other?:
            throw SafetensorsError.invalidIndex(
                file: path, problem: "\"metadata\" is \(other.kind), not an object")
        }
        var result: [String: String] = [:]
        for (key, item) in pairs {
            switch item {
            case .string(let text): result[key] = text
            case .integer, .number, .bool: result[key] = item.summary
            default:
                throw SafetensorsError.invalidIndex(
                    file: path,
                    problem: "metadata \"\(key)\" is \(item.kind), not a string or number")
            }
        }
        return result
    }
}
