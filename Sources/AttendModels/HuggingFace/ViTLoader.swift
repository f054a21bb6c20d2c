// ViT checkpoints in Hugging Face's folder layout (config.json next to model.safetensors or a
// sharded index), loaded by the one strict loader (PretrainedCheckpoint.swift). The module tree
// carries transformers' names (ViT.swift), so the only translation strips the `vit.` prefix of
// ViTForImageClassification checkpoints and skips their `classifier` head (reported); parameters
// of the attention mechanism that no ViT checkpoint has are kept and reported.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

extension ViT {
    /// Loads config.json and the weights of the Hugging Face ViT folder `directory`.
    ///
    /// - Parameters:
    ///   - directory: the folder with config.json and model.safetensors (or a sharded index).
    ///   - mechanism: the registry mechanism between the q/k/v projections (full attention
    ///     reproduces the checkpoint).
    ///   - mixerConfiguration: that mechanism's options; shape fields are taken from config.json.
    ///   - numerics: overrides config.json's GELU and ε (nil keeps them).
    ///   - seed: seeds what the checkpoint does not hold (a mechanism's own parameters).
    /// - Returns: the model in evaluation mode and what loading skipped or converted.
    public static func load(
        directory: String, mechanism: String = "full",
        mixerConfiguration: MixerConfiguration? = nil,
        numerics: ViTConfiguration.Numerics? = nil, seed: UInt64 = 0
    ) throws -> (model: ViT, report: ViTLoadReport) {
        var configuration = try ViTConfiguration(
            contentsOf: PretrainedFolder.configurationPath(in: directory))
        if let numerics { configuration.use(numerics) }
        let weights = try PretrainedFolder.weights(in: directory, naming: naming)
        let model = try ViT(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: weights.hasPooler, seed: seed, initialization: .placeholder)
        let report = try model.load(from: weights.archive)
        model.eval()
        return (model, report)
    }

    /// Copies the checkpoint's tensors into this model's parameters; throws
    /// `PretrainedModelError.weightsMismatch` naming every problem before anything is assigned.
    @discardableResult
    public func load(from archive: any SafetensorsArchive) throws -> ViTLoadReport {
        try load(from: archive, naming: ViT.naming)
    }

    /// `load(from:)` with the key translation `naming`.
    func load(
        from archive: any SafetensorsArchive, naming: CheckpointNaming
    ) throws -> ViTLoadReport {
        let mechanismParameters = Set(
            layers.enumerated().flatMap { index, layer -> [String] in
                switch layer.attention {
                case .heads(let heads, _):
                    return heads.core.namedParameters(
                        prefix: "encoder.layer.\(index).attention.attention."
                    ).map(\.0)
                case .mixer(let mixer):
                    return mixer.namedParameters(prefix: "encoder.layer.\(index).attention.mixer.")
                        .map(\.0)
                }
            })
        return try loadPretrained(from: archive, naming: naming, optional: mechanismParameters)
    }

    /// Writes config.json and model.safetensors (F32, transformers' names) into `directory`: a
    /// folder `ViTModel.from_pretrained` loads. Only models running full attention in every layer
    /// can be exported (transformers' ViT has no other mechanism).
    public func save(to directory: String) throws {
        guard layerMechanisms.allSatisfy({ $0 == "full" }) else {
            throw PretrainedModelError.unsupported(
                feature:
                    "exporting a ViT that runs \(Set(layerMechanisms).sorted()) attention to transformers' layout",
                supported: ["full"])
        }
        try savePretrained(configuration: configuration, to: directory)
    }

    /// ViT's key translation: the `vit.` prefix of image classifiers.
    static let naming = CheckpointNaming(prefix: "vit.")
}
