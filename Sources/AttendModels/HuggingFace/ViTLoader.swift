// Reading and writing ViT checkpoints in Hugging Face's folder layout (config.json next to
// model.safetensors or a sharded index). The module tree carries transformers' names (ViT.swift),
// so loading is a name-for-name copy; the only translation strips the `vit.` prefix of
// ViTForImageClassification checkpoints and skips their `classifier` head (reported). Loading is
// strict: missing, unexpected and mis-shaped tensors are reported together before anything changes;
// parameters of the attention mechanism that no ViT checkpoint has are kept and reported.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// What loading a ViT did besides copying weights.
public struct ViTLoadReport: Sendable, Equatable {
    /// The checkpoint that was read.
    public let file: String
    /// Names in the checkpoint deliberately not loaded (a classification head).
    public let skipped: [String]
    /// Mechanism parameters no ViT checkpoint has, kept at their initial values.
    public let keptInitial: [String]
    /// Stored element types other than F32, with how many tensors of each were converted.
    public let converted: [String: Int]
}

extension ViT {
    /// Loads config.json and the weights of the Hugging Face ViT folder `directory`.
    ///
    /// - Parameters:
    ///   - mechanism: the registry mechanism between the q/k/v projections (full attention
    ///     reproduces the checkpoint).
    ///   - numerics: overrides config.json's GELU and ε (nil keeps them).
    /// - Returns: the model in evaluation mode and what loading skipped or converted.
    public static func load(
        directory: String, mechanism: String = "full", mixerConfiguration: MixerConfiguration? = nil,
        numerics: ViTConfiguration.Numerics? = nil, seed: UInt64 = 0
    ) throws -> (model: ViT, report: ViTLoadReport) {
        let folder = URL(fileURLWithPath: directory)
        var configuration = try ViTConfiguration(contentsOf: folder.appendingPathComponent("config.json").path)
        if let numerics { configuration.use(numerics) }
        let archive = try Safetensors.open(try Bert.weightsPath(in: directory))
        let keys = checkpointKeys(archive.names)
        let model = try ViT(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: keys.model["pooler.dense.weight"] != nil, seed: seed, initialization: .placeholder)
        let report = try model.load(from: archive)
        model.eval()
        return (model, report)
    }

    /// Copies the checkpoint's tensors into this model's parameters; throws
    /// `PretrainedModelError.weightsMismatch` naming every problem before anything is assigned.
    @discardableResult
    public func load(from archive: any SafetensorsArchive) throws -> ViTLoadReport {
        let keys = ViT.checkpointKeys(archive.names)
        let named = namedParameters()
        let own = Set(named.map(\.0))
        let optional = Set(layers.enumerated().flatMap { index, layer -> [String] in
            switch layer.attention {
            case .heads(let heads, _):
                return heads.core.namedParameters(prefix: "encoder.layer.\(index).attention.attention.").map(\.0)
            case .mixer(let mixer):
                return mixer.namedParameters(prefix: "encoder.layer.\(index).attention.mixer.").map(\.0)
            }
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
        return ViTLoadReport(
            file: archive.path, skipped: keys.skipped, keptInitial: optional.filter { infos[$0] == nil }.sorted(),
            converted: converted)
    }

    /// Writes config.json and model.safetensors (F32, transformers' names) into `directory`: a
    /// folder `ViTModel.from_pretrained` loads. Only models running full attention in every layer
    /// can be exported (transformers' ViT has no other mechanism).
    public func save(to directory: String) throws {
        guard layerMechanisms.allSatisfy({ $0 == "full" }) else {
            throw PretrainedModelError.unsupported(
                feature: "exporting a ViT that runs \(Set(layerMechanisms).sorted()) attention to transformers' layout",
                supported: ["full"])
        }
        let folder = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try (encoder.encode(configuration) + Data("\n".utf8)).write(to: folder.appendingPathComponent("config.json"), options: .atomic)
        } catch {
            throw SafetensorsError.writeFailed(file: directory, reason: "\(error)")
        }
        try Safetensors.write(
            namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) }, metadata: ["format": "pt"],
            to: folder.appendingPathComponent("model.safetensors").path)
    }

    /// Checkpoint keys sorted into model names (model name → key) and skipped keys.
    static func checkpointKeys(_ names: [String]) -> (model: [String: String], skipped: [String]) {
        let prefixed = names.contains { $0.hasPrefix("vit.") }
        var model: [String: String] = [:]
        var skipped: [String] = []
        for key in names {
            if prefixed {
                guard key.hasPrefix("vit.") else {
                    skipped.append(key)  // the classification head outside the encoder
                    continue
                }
                model[String(key.dropFirst("vit.".count))] = key
            } else {
                model[key] = key
            }
        }
        return (model, skipped)
    }
}
