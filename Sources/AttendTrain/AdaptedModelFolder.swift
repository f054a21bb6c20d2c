// The folder `attend adapt` leaves: a Hugging Face BERT folder that `attend embed --model` loads as
// is. config.json is the pretrained one with the extended `max_position_embeddings` and the
// mechanism recorded (RecordedMechanism); model.safetensors holds the student's weights under
// transformers' names plus the mechanism's own (`encoder.layer.i.attention.self.proj_k`, …); the
// tokenizer and sentence-transformers files are copied, with sentence_bert_config.json's
// max_seq_length set to the adapted length. transformers still loads the folder, but runs full
// attention and ignores the mechanism's tensors, so it computes something else there.
import AttendAttention
import AttendCore
import AttendModels
import Foundation

extension Adaptation {
    /// Files of a sentence-transformers folder copied unchanged, when present.
    static let sentenceTransformersFiles = [
        "modules.json", "config_sentence_transformers.json", "1_Pooling/config.json",
    ]

    /// Writes the student as a model folder into `folder`.
    public func writeModelFolder(to folder: String) throws {
        let target = URL(fileURLWithPath: folder)
        let source = URL(fileURLWithPath: settings.model)
        var configuration =
            settings.mixerOptions
            ?? MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        configuration.modelDimension = student.configuration.modelDimension
        configuration.headCount = student.configuration.headCount
        configuration.maximumLength = student.configuration.maximumPositions
        // Bert seeds each layer's mechanism from (model seed ^ options seed); a folder loads with
        // model seed 0, so the run's seed goes into the options to rebuild the same structure.
        configuration.seed ^= settings.seed
        let record = RecordedMechanism(name: settings.mechanism, configuration: configuration)
        let base = try JSONSerialization.jsonObject(
            with: JSONEncoder().encode(student.configuration))
        let config = try record.adding(to: base as! [String: Any])
        try write(
            try JSONSerialization.data(
                withJSONObject: config, options: [.prettyPrinted, .sortedKeys]),
            to: target.appendingPathComponent("config.json"))
        try Safetensors.write(
            student.namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
            metadata: ["format": "pt"], to: target.appendingPathComponent("model.safetensors").path)
        for name in FineTuning.tokenizerFiles + Self.sentenceTransformersFiles {
            let from = source.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: from.path) else { continue }
            try write(try Data(contentsOf: from), to: target.appendingPathComponent(name))
        }
        let sentenceConfig = source.appendingPathComponent("sentence_bert_config.json")
        var object =
            FileManager.default.contents(atPath: sentenceConfig.path)
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } ?? [:]
        object["max_seq_length"] = settings.length
        try write(
            try JSONSerialization.data(
                withJSONObject: object, options: [.prettyPrinted, .sortedKeys]),
            to: target.appendingPathComponent("sentence_bert_config.json"))
    }

    /// One line on how the folder `folder` was adapted, from its adapt.json and
    /// adapt-result.json (what is missing is said so).
    public static func summary(ofFolder folder: String) -> String {
        func path(_ name: String) -> String {
            URL(fileURLWithPath: folder).appendingPathComponent(name).path
        }
        guard let settings = try? readJSON(AdaptationSettings.self, path(settingsFile)) else {
            return "no \(settingsFile): not written by attend adapt"
        }
        let what =
            "\(settings.mechanism) adapted from \(settings.model) at n = \(settings.length) "
            + "(--train \(settings.scope.rawValue))"
        guard let result = try? readJSON(AdaptationResult.self, path(resultFile)) else {
            return what + ", unfinished (no \(resultFile))"
        }
        return what
            + String(
                format:
                    ", %d steps in %.0f s: held-out cosine to full attention %.4f → %.4f "
                    + "(min %.4f → %.4f)",
                result.steps, result.seconds, result.cosineBefore, result.cosineAfter,
                result.minimumCosineBefore, result.minimumCosineAfter)
    }

    /// Writes `data` to `url` atomically, creating its folder; names the file when that fails.
    private func write(_ data: Data, to url: URL) throws {
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        } catch {
            throw TrainingError.run("cannot write \(url.path): \(error.localizedDescription)")
        }
    }
}
