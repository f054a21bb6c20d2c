// `attend export`: a fine-tuned run as a Hugging Face folder, laid out as transformers'
// BertForSequenceClassification saves itself: config.json (the pretrained config with
// `architectures`, `id2label` and `label2id`), model.safetensors (F32; `bert.…` and
// `classifier.weight`/`classifier.bias`) and the tokenizer files kept with the run. transformers'
// `AutoModelForSequenceClassification`, `attend train --init-from` (encoder and classifier) and
// `attend embed` (the encoder) load it.
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
        let model = try BertSequenceClassifier(configuration.model, pretrained: pretrained)
        try Checkpoint.loadModel(model, from: run.modelPath)
        do {
            try FileManager.default.createDirectory(
                atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TrainingError.run("cannot create \(directory): \(error.localizedDescription)")
        }
        let folder = URL(fileURLWithPath: directory)
        let configPath = folder.appendingPathComponent("config.json").path
        do {
            try configJSON(pretrained).write(to: URL(fileURLWithPath: configPath), options: .atomic)
        } catch {
            throw TrainingError.run("cannot write \(configPath): \(error.localizedDescription)")
        }
        try Safetensors.write(
            model.namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
            metadata: ["format": "pt"],
            to: folder.appendingPathComponent("model.safetensors").path)
        var written = ["config.json", "model.safetensors"]
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

    /// transformers' config.json of the classifier: the encoder's config plus the head's entries.
    static func configJSON(_ pretrained: PretrainedInitialization) throws -> Data {
        let encoded = try JSONEncoder().encode(pretrained.bert)
        var object = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
        object["architectures"] = ["BertForSequenceClassification"]
        object["id2label"] = Dictionary(
            uniqueKeysWithValues: pretrained.labels.enumerated().map {
                ("\($0.offset)", $0.element)
            })
        object["label2id"] = Dictionary(
            pretrained.labels.enumerated().map { ($0.element, $0.offset) }
        ) { first, _ in first }
        object["problem_type"] = "single_label_classification"
        return try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }
}
