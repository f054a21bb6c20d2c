// `attend export`: a fine-tuned run as a Hugging Face folder, laid out as transformers'
// BertForSequenceClassification (or ViTForImageClassification) saves itself: config.json (the
// pretrained config with `architectures`, `id2label` and `label2id`), model.safetensors (F32;
// `bert.…` or `vit.…`, and `classifier.weight`/`classifier.bias`) and the tokenizer files kept with
// the run (a ViT: preprocessor_config.json with the normalisation training used). transformers'
// `AutoModelForSequenceClassification` (`AutoModelForImageClassification`), `attend train
// --init-from` (encoder and classifier) and `attend embed` (a BERT's encoder) load it.
import AttendCore
import AttendModels
import Foundation

/// Writing fine-tuned runs as Hugging Face model folders.
public enum HuggingFaceExport {
    /// Writes the finished run `run` into `directory` (created if needed); returns the file names.
    ///
    /// Only full attention is exported: transformers' BERT has no other mechanism, so a model
    /// fine-tuned with another would compute something else there.
    @discardableResult
    public static func write(run: RunDirectory, to directory: String) throws -> [String] {
        let configuration = try run.loadConfiguration()
        guard let pretrained = configuration.model.pretrained else {
            throw TrainingError.incompatible(
                "\(run.path) was trained from scratch; `attend export` writes runs fine-tuned "
                    + "with --init-from"
            )
        }
        guard configuration.model.mixer == "full" else {
            throw PretrainedModelError.unsupported(
                feature:
                    "exporting a model fine-tuned with '\(configuration.model.mixer)' attention to "
                    + "transformers' layout",
                supported: ["full"])
        }
        guard FileManager.default.fileExists(atPath: run.modelPath) else {
            throw TrainingError.run(
                "\(run.modelPath) is missing: the run has not finished (resume it with "
                    + "`attend train --resume --out \(run.path)`)")
        }
        let model = try FineTuning.classifier(configuration.model, pretrained)
        let config: Data
        var preprocessor: Data?
        switch pretrained.architecture {
        case .bert(let bert):
            config = try configJSON(bert, "BertForSequenceClassification", pretrained.labels)
        case .vit(let vit, let normalization):
            config = try configJSON(vit, "ViTForImageClassification", pretrained.labels)
            preprocessor = try ViTFineTuning.preprocessorJSON(vit, normalization)
        case .debertaV2(let deberta, let head):
            config = try configJSON(
                DebertaV2ClassifierConfiguration(encoder: deberta, head: head),
                "DebertaV2ForSequenceClassification", pretrained.labels)
        }
        try Checkpoint.loadModel(model, from: run.modelPath)
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.run("cannot create \(directory): \(error.localizedDescription)")
        }
        let folder = URL(fileURLWithPath: directory)
        var written = ["config.json"]
        try write(config, to: folder.appendingPathComponent("config.json").path)
        if let preprocessor {
            try write(
                preprocessor, to: folder.appendingPathComponent(ImageNormalization.fileName).path)
            written.append(ImageNormalization.fileName)
        }
        try Safetensors.write(
            model.namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
            metadata: ["format": "pt"],
            to: folder.appendingPathComponent("model.safetensors").path)
        written.append("model.safetensors")
        for name in FineTuning.tokenizerFiles {
            let source = run.tokenizerDirectory + "/" + name
            guard FileManager.default.fileExists(atPath: source) else { continue }
            let destination = folder.appendingPathComponent(name).path
            do {
                try? FileManager.default.removeItem(atPath: destination)
                try FileManager.default.copyItem(atPath: source, toPath: destination)
            } catch {
                throw TrainingError.run(
                    "cannot copy \(source) to \(destination): \(error.localizedDescription)")
            }
            written.append(name)
        }
        return written
    }

    /// Writes `data` to `path` atomically, or says which file could not be written.
    static func write(_ data: Data, to path: String) throws {
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw TrainingError.run("cannot write \(path): \(error.localizedDescription)")
        }
    }

    /// transformers' config.json of the classifier `architecture` over `labels`: the encoder's
    /// config plus the head's entries.
    static func configJSON(
        _ encoder: some Encodable, _ architecture: String, _ labels: [String]
    ) throws -> Data {
        let encoded = try JSONEncoder().encode(encoder)
        var object = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
        object["architectures"] = [architecture]
        object["id2label"] = Dictionary(
            uniqueKeysWithValues: labels.enumerated().map { ("\($0.offset)", $0.element) })
        object["label2id"] = Dictionary(labels.enumerated().map { ($0.element, $0.offset) }) {
            first, _ in first
        }
        object["problem_type"] = "single_label_classification"
        return try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }
}
