// `attend inspect`: what a safetensors checkpoint holds (a file, a sharded index, or a model folder):
// every tensor's name, element type and shape, the parameter count, the metadata, and for a folder
// its config.json. A damaged file fails with the safetensors error that names the file and tensor.
import AttendCore
import AttendModels
import Foundation

/// The options of `attend inspect`.
struct InspectOptions: OptionGroup {
    let summary = Flag("summary", "print only the totals and metadata, not every tensor")
}

enum InspectCommand: Command {
    static let spec = CommandSpec(
        name: "inspect",
        summary: "list the tensors, dtypes, shapes and metadata of a safetensors checkpoint",
        usage: "inspect FILE.safetensors|model.safetensors.index.json|DIR",
        positionals:
            "FILE or DIR: a safetensors file, a sharded index, or a model folder holding either")

    static func run(_ arguments: ParsedArguments<InspectOptions>) throws {
        guard arguments.positional.count == 1, let target = arguments.positional.first else {
            throw UsageError("attend inspect: name one safetensors file or model folder")
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
            throw UsageError("attend inspect: \(target) does not exist")
        }
        let path = isDirectory.boolValue ? try Bert.weightsPath(in: target) : target
        let archive = try Safetensors.open(path)
        let infos = try archive.names.map { try archive.info($0) }
        if !arguments[\.summary] {
            let shardOf: (String) -> String? = { name in
                (archive as? ShardedSafetensors).flatMap { try? $0.shard(containing: name).path }
                    .map { URL(fileURLWithPath: $0).lastPathComponent }
            }
            let rows = infos.map { info in
                [
                    info.name, info.dtype.rawValue,
                    "[" + info.shape.map(String.init).joined(separator: ", ") + "]",
                    grouped(info.count),
                ] + (archive is ShardedSafetensors ? [shardOf(info.name) ?? "?"] : [])
            }
            let header =
                ["tensor", "dtype", "shape", "elements"]
                + (archive is ShardedSafetensors ? ["shard"] : [])
            print(TextTable(header: header, rows: rows).rendered)
            print("")
        }
        let floats = infos.filter { $0.dtype.isFloatingPoint }
        var byType: [String: Int] = [:]
        for info in infos { byType[info.dtype.rawValue, default: 0] += info.count }
        let bytes = infos.reduce(0) { $0 + $1.count * $1.dtype.byteSize }
        print("file: \(path)")
        print("tensors: \(infos.count) (\(floats.count) floating point)")
        print(
            "parameters: \(grouped(floats.reduce(0) { $0 + $1.count })) in floating-point tensors")
        print(
            "elements by dtype: "
                + byType.sorted { $0.key < $1.key }.map { "\($0.key) \(grouped($0.value))" }.joined(
                    separator: ", "))
        print("tensor bytes: \(grouped(bytes))")
        if let sharded = archive as? ShardedSafetensors { print("shards: \(sharded.shards.count)") }
        if archive.metadata.isEmpty {
            print("metadata: (none)")
        } else {
            print("metadata:")
            for (key, value) in archive.metadata.sorted(by: { $0.key < $1.key }) {
                print("  \(key): \(value)")
            }
        }
        if isDirectory.boolValue {
            let config = URL(fileURLWithPath: target).appendingPathComponent("config.json").path
            if let data = FileManager.default.contents(atPath: config),
                let text = String(data: data, encoding: .utf8)
            {
                print("config.json:")
                print(text.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
        }
    }

    /// 22713216 → "22,713,216".
    static func grouped(_ n: Int) -> String {
        let digits = String(n)
        var result = ""
        for (i, character) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { result.append(",") }
            result.append(character)
        }
        return result
    }
}
