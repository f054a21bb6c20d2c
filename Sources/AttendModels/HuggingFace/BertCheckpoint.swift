// BERT checkpoints in Hugging Face's folder layout: config.json next to model.safetensors, or to
// model.safetensors.index.json and its shards, loaded by the one strict loader
// (PretrainedCheckpoint.swift). The module tree already carries transformers' names (Bert.swift),
// so the only key translations are the few below:
// - `embeddings.position_ids` (and `token_type_ids`): index buffers saved by older transformers,
//   not weights; skipped and reported;
// - a `bert.` prefix (checkpoints of BertForMaskedLM, BertForSequenceClassification…): stripped,
//   and the task heads outside it (`cls.…`, `classifier.…`) skipped and reported;
// - `LayerNorm.gamma`/`.beta` of TensorFlow conversions: read as `.weight`/`.bias`.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

extension Bert {
    /// Loads config.json and the weights of the Hugging Face model folder `directory`.
    ///
    /// - Parameters:
    ///   - directory: the folder with config.json and model.safetensors (or a sharded index).
    ///   - mechanism: the registry mechanism to run between the q/k/v projections (full attention
    ///     reproduces the checkpoint; others trade exactness for speed on long inputs).
    ///   - mixerConfiguration: that mechanism's options; shape fields are taken from config.json.
    ///   - seed: seeds what the checkpoint does not hold (a mechanism's own parameters).
    /// - Returns: the model in evaluation mode and what loading skipped or converted.
    public static func load(
        directory: String, mechanism: String = "full",
        mixerConfiguration: MixerConfiguration? = nil, seed: UInt64 = 0
    ) throws -> (model: Bert, report: BertLoadReport) {
        let configuration = try BertConfiguration(
            contentsOf: PretrainedFolder.configurationPath(in: directory))
        let weights = try PretrainedFolder.weights(in: directory, naming: naming)
        let model = try Bert(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: weights.hasPooler, seed: seed, initialization: .placeholder)
        return (model, try model.load(from: weights.archive))
    }

    /// The weights file of a model folder: model.safetensors, else the sharded index.
    public static func weightsPath(in directory: String) throws -> String {
        try PretrainedFolder.weightsPath(in: directory)
    }

    /// Copies the checkpoint's tensors into this model's parameters.
    ///
    /// Throws `PretrainedModelError.weightsMismatch` naming every missing, unexpected and
    /// mis-shaped tensor, before anything is assigned.
    ///
    /// - Parameters:
    ///   - archive: the checkpoint, in transformers' names.
    ///   - extra: further parameter names that may be absent and then keep their initial values
    ///     (a pooler that a sequence classifier creates when the checkpoint has none).
    @discardableResult
    public func load(from archive: any SafetensorsArchive, optional extra: Set<String> = []) throws
        -> BertLoadReport
    {
        let mechanismParameters = layers.enumerated().flatMap { index, layer in
            layer.attention.core.namedParameters(prefix: "encoder.layer.\(index).attention.self.")
                .map(\.0)
        }
        return try loadPretrained(
            from: archive, naming: Bert.naming, optional: extra.union(mechanismParameters))
    }

    /// Writes config.json and model.safetensors (F32, transformers' names) into `directory`,
    /// creating it if needed: a folder that `BertModel.from_pretrained` loads.
    ///
    /// Only models running full attention can be exported: transformers' BERT has no other
    /// mechanism, so it would compute something else with the same weights.
    public func save(to directory: String) throws {
        guard mechanism == "full" else {
            throw PretrainedModelError.unsupported(
                feature:
                    "exporting a BERT that runs '\(mechanism)' attention to transformers' layout",
                supported: ["full"])
        }
        try savePretrained(configuration: configuration, to: directory)
    }

    /// BERT's key translations: the `bert.` prefix, index buffers, TensorFlow's LayerNorm names.
    static let naming = CheckpointNaming(
        prefix: "bert.",
        isSkipped: { ["embeddings.position_ids", "embeddings.token_type_ids"].contains($0) },
        rename: { name in
            if name.hasSuffix("LayerNorm.gamma") {
                return String(name.dropLast("gamma".count)) + "weight"
            }
            if name.hasSuffix("LayerNorm.beta") {
                return String(name.dropLast("beta".count)) + "bias"
            }
            return name
        })
}
