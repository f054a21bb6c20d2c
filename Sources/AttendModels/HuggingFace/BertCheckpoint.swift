// Reading and writing BERT checkpoints in Hugging Face's folder layout: config.json next to
// model.safetensors, or to model.safetensors.index.json and its shards. The module tree already
// carries transformers' names (Bert.swift), so the only key translations are the few below:
// - `embeddings.position_ids` (and `token_type_ids`): index buffers saved by older transformers,
//   not weights; skipped and reported;
// - a `bert.` prefix (checkpoints of BertForMaskedLM, BertForSequenceClassification…): stripped,
//   and the task heads outside it (`cls.…`, `classifier.…`) skipped and reported;
// - `LayerNorm.gamma`/`.beta` of TensorFlow conversions: read as `.weight`/`.bias`.
// Loading is strict otherwise: missing, unexpected and mis-shaped tensors are reported together,
// by name, before any weight changes. F16, BF16 (and F64) weights are widened to float32.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// What loading did besides copying weights.
public struct BertLoadReport: Sendable, Equatable {
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

extension Bert {
    /// Loads config.json and the weights of the Hugging Face model folder `directory`.
    ///
    /// - Parameters:
    ///   - mechanism: the registry mechanism to run between the q/k/v projections (full attention
    ///     reproduces the checkpoint; others trade exactness for speed on long inputs).
    ///   - mixerConfiguration: that mechanism's options; shape fields are taken from config.json.
    /// - Returns: the model in evaluation mode and what loading skipped or converted.
    public static func load(
        directory: String, mechanism: String = "full", mixerConfiguration: MixerConfiguration? = nil, seed: UInt64 = 0
    ) throws -> (model: Bert, report: BertLoadReport) {
        let folder = URL(fileURLWithPath: directory)
        let configuration = try BertConfiguration(contentsOf: folder.appendingPathComponent("config.json").path)
        let archive = try Safetensors.open(try weightsPath(in: directory))
        let keys = checkpointKeys(archive.names)
        let model = try Bert(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: keys.model["pooler.dense.weight"] != nil, seed: seed, initialization: .placeholder)
        let report = try model.load(from: archive)
        return (model, report)
    }

    /// The weights file of a model folder: model.safetensors, else the sharded index.
    public static func weightsPath(in directory: String) throws -> String {
        let folder = URL(fileURLWithPath: directory)
        for name in ["model.safetensors", "model.safetensors.index.json"] {
            let path = folder.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        let hasPickle = FileManager.default.fileExists(atPath: folder.appendingPathComponent("pytorch_model.bin").path)
        throw PretrainedModelError.missingFile(
            path: folder.appendingPathComponent("model.safetensors").path,
            hint: hasPickle
                ? "the folder has only pytorch_model.bin (a pickle); convert it to safetensors with transformers' save_pretrained"
                : "expected model.safetensors or model.safetensors.index.json")
    }

    /// Copies the checkpoint's tensors into this model's parameters.
    ///
    /// Throws `PretrainedModelError.weightsMismatch` naming every missing, unexpected and
    /// mis-shaped tensor, before anything is assigned.
    ///
    /// - Parameter optional: further parameter names that may be absent and then keep their
    ///   initial values (a pooler that a sequence classifier creates when the checkpoint has none).
    @discardableResult
    public func load(from archive: any SafetensorsArchive, optional extra: Set<String> = []) throws -> BertLoadReport {
        let keys = Bert.checkpointKeys(archive.names)
        let named = namedParameters()
        let own = Set(named.map(\.0))
        let optional = extra.union(layers.enumerated().flatMap { index, layer in
            layer.attention.core.namedParameters(prefix: "encoder.layer.\(index).attention.self.").map(\.0)
        })
        var infos: [String: SafetensorsTensorInfo] = [:]
        for (name, key) in keys.model where own.contains(name) { infos[name] = try archive.info(key) }
        let missing = named.map(\.0).filter { infos[$0] == nil && !optional.contains($0) }
        let unexpected = keys.model.keys.filter { !own.contains($0) }.map { keys.model[$0]! }.sorted()
        let wrongShape = named.compactMap { name, parameter -> (String, [Int], [Int])? in
            guard let info = infos[name], info.shape != parameter.shape else { return nil }
            return (keys.model[name]!, parameter.shape, info.shape)
        }
        guard missing.isEmpty && unexpected.isEmpty && wrongShape.isEmpty else {
            throw PretrainedModelError.weightsMismatch(
                file: archive.path,
                mismatch: StateDictionaryMismatch(missing: missing, unexpected: unexpected, wrongShape: wrongShape))
        }
        for (name, info) in infos where !info.dtype.isFloatingPoint {
            throw PretrainedModelError.nonFloatingPointWeight(file: archive.path, tensor: keys.model[name]!, dtype: info.dtype)
        }
        var converted: [String: Int] = [:]
        for (name, parameter) in named {
            guard let info = infos[name] else { continue }
            parameter.value = try archive.tensor(keys.model[name]!)
            if info.dtype != .float32 { converted[info.dtype.rawValue, default: 0] += 1 }
        }
        return BertLoadReport(
            file: archive.path, skipped: keys.skipped, keptInitial: optional.filter { infos[$0] == nil }.sorted(),
            converted: converted)
    }

    /// Writes config.json and model.safetensors (F32, transformers' names) into `directory`,
    /// creating it if needed: a folder that `BertModel.from_pretrained` loads.
    ///
    /// Only models running full attention can be exported: transformers' BERT has no other
    /// mechanism, so it would compute something else with the same weights.
    public func save(to directory: String) throws {
        guard mechanism == "full" else {
            throw PretrainedModelError.unsupported(
                feature: "exporting a BERT that runs '\(mechanism)' attention to transformers' layout", supported: ["full"])
        }
        let folder = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw SafetensorsError.writeFailed(file: directory, reason: "\(error)")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let config = folder.appendingPathComponent("config.json").path
        do {
            try (encoder.encode(configuration) + Data("\n".utf8)).write(to: URL(fileURLWithPath: config), options: .atomic)
        } catch {
            throw SafetensorsError.writeFailed(file: config, reason: "\(error)")
        }
        try Safetensors.write(
            namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
            metadata: ["format": "pt"], to: folder.appendingPathComponent("model.safetensors").path)
    }

    /// Checkpoint keys sorted into model names (model name → key) and skipped keys.
    static func checkpointKeys(_ names: [String]) -> (model: [String: String], skipped: [String]) {
        let prefixed = names.contains { $0.hasPrefix("bert.") }
        var model: [String: String] = [:]
        var skipped: [String] = []
        for key in names {
            var name = key
            if prefixed {
                guard key.hasPrefix("bert.") else {
                    skipped.append(key)  // a task head outside the encoder
                    continue
                }
                name = String(key.dropFirst("bert.".count))
            }
            if ["embeddings.position_ids", "embeddings.token_type_ids"].contains(name) {
                skipped.append(key)
                continue
            }
            if name.hasSuffix("LayerNorm.gamma") { name = String(name.dropLast("gamma".count)) + "weight" }
            if name.hasSuffix("LayerNorm.beta") { name = String(name.dropLast("beta".count)) + "bias" }
            model[name] = key
        }
        return (model, skipped)
    }
}
