// `attend train --init-from DEBERTA_DIR --data FILE`, as a user runs it: a tiny random DeBERTa-v2
// folder written by the test (config.json, model.safetensors, a WordPiece vocab.txt) fine-tuned on
// a JSON-lines file whose label is which half of the vocabulary its words come from; `predict` then
// returns the training labels, and `export` writes a DebertaV2ForSequenceClassification folder that
// `--init-from` loads back to the identical outputs; text pairs train as one sequence. `--mixer
// local` trains (saying once that DeBERTa's relative-position terms are dropped, and warning that
// this folder then has no positions but the window); `--mixer deberta` and a SentencePiece
// (Unigram) tokenizer.json without spm.model are one-line errors. A
// folder with an spm.model (the SentencePiece tokenizer fixture) fine-tunes, predicts, exports
// (keeping spm.model) and reloads the same way.
import AttendCore
import AttendData
import AttendModels
import AttendTesting
import AttendTrain
import Foundation
import Testing

/// A random DeBERTa-v2 (width 16, one layer, relative attention, 32 positions) saved as a Hugging
/// Face folder with the WordPiece vocabulary [PAD] [UNK] [CLS] [SEP] [MASK] w5 … w39, or with
/// `sentencePiece`, the 600-piece SentencePiece model of the tokenizer fixtures as spm.model.
func tinyDebertaFolder(sentencePiece: Bool = false) throws -> String {
    var configuration = DebertaV2Configuration()
    (configuration.vocabularySize, configuration.modelDimension) = (sentencePiece ? 600 : 40, 16)
    (configuration.layerCount, configuration.headCount) = (1, 2)
    (configuration.feedForwardDimension, configuration.maximumPositions) = (32, 32)
    (configuration.relativeAttention, configuration.positionBuckets) = (true, 8)
    (configuration.maxRelativePositions, configuration.positionAttentionTypes) = (
        32, ["p2c", "c2p"]
    )
    (configuration.positionBiasedInput, configuration.normalizeRelativeEmbeddings) = (
        false, ["layer_norm"]
    )
    (configuration.hiddenDropout, configuration.attentionDropout) = (0, 0)
    let folder = NSTemporaryDirectory() + "attend-tiny-deberta-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let model = try DebertaV2Model(configuration, seed: 4)
    try Safetensors.write(
        model.namedParameters().map { ($0.0, SafetensorsValue.float($0.1.value)) },
        metadata: ["format": "pt"], to: folder + "/model.safetensors")
    var config =
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
        as! [String: Any]
    config["model_type"] = "deberta-v2"
    try JSONSerialization.data(withJSONObject: config).write(
        to: URL(fileURLWithPath: folder + "/config.json"))
    if sentencePiece {
        let model = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(
                "AttendDataTests/Fixtures/sentencepiece/nfkc.model")
        try FileManager.default.copyItem(atPath: model.path, toPath: folder + "/spm.model")
        return folder
    }
    let vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + (5..<40).map { "w\($0)" }
    try (vocabulary.joined(separator: "\n") + "\n").write(
        toFile: folder + "/vocab.txt", atomically: true, encoding: .utf8)
    return folder
}

@Suite(.serialized, .optimizedBuildsOnly) struct DebertaV2FineTuningCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    @Test func fineTunePredictExportAndReload() throws {
        let folder = try tinyDebertaFolder()
        let out = NSTemporaryDirectory() + "attend-cli-deberta-\(UUID().uuidString)"
        let (file, exported) = (out + ".jsonl", out + "-hf")
        defer {
            for path in [folder, out, file, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let labels = (0..<12).map { $0 % 2 == 0 ? "low" : "high" }
        let lines = labels.enumerated().map { index, label -> String in
            let base = label == "low" ? 5 : 25
            let words = (0..<4).map { "W\(base + (index * 3 + $0 * 5) % 14)" }
            return #"{"text": "\#(words.joined(separator: " "))", "label": "\#(label)"}"#
        }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let refused = try run([
            "train", "--data", file, "--init-from", folder, "--mixer", "deberta", "--out", out,
        ])
        #expect(
            refused.status == 2 && refused.output.contains("runs its own disentangled attention"),
            "\(refused.output)")
        let local = try run([
            "train", "--data", file, "--init-from", folder, "--mixer", "local", "--steps", "2",
            "--batch", "6", "--out", out + "-local",
        ])
        defer { try? FileManager.default.removeItem(atPath: out + "-local") }
        #expect(
            local.status == 0
                && local.output.contains("relative-position terms (c2p/p2c) are dropped")
                && local.output.contains("position_biased_input is false"), "\(local.output)")
        let localPredict = try run(["predict", "--run", out + "-local", "--data", file])
        #expect(localPredict.status == 0, "\(localPredict.output)")
        let train = try run([
            "train", "--data", file, "--init-from", folder, "--steps", "40", "--batch", "6",
            "--lr", "0.003", "--validation-fraction", "0", "--out", out,
        ])
        #expect(
            train.status == 0 && train.output.contains("new classifier (2 classes)")
                && train.output.contains("new pooler"), "\(train.output)")
        let predict = try run(["predict", "--run", out, "--data", file])
        #expect(predict.status == 0, "\(predict.output)")
        let predicted = predict.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            $0.contains(#""label":"low""#) ? "low" : "high"
        }
        #expect(predicted == labels, "\(predict.output)")
        try expectExportReloads(run: out, exported: exported, file: file)
        let pairs = lines.map { $0.replacingOccurrences(of: #""text""#, with: #""text_a""#) }
            .map { $0.replacingOccurrences(of: #", "label""#, with: #", "text_b": "W7", "label""#) }
        try (pairs.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let paired = try run([
            "train", "--data", file, "--init-from", folder, "--steps", "2", "--batch", "6",
            "--out", out + "-pairs",
        ])
        defer { try? FileManager.default.removeItem(atPath: out + "-pairs") }
        #expect(paired.status == 0 && paired.output.contains("validation:"), "\(paired.output)")
        try FileManager.default.removeItem(atPath: folder + "/vocab.txt")
        try #"{"model": {"type": "Unigram", "vocab": []}}"#.write(
            toFile: folder + "/tokenizer.json", atomically: true, encoding: .utf8)
        let unigram = try run([
            "train", "--data", file, "--init-from", folder, "--out", out + "-unigram",
        ])
        defer { try? FileManager.default.removeItem(atPath: out + "-unigram") }
        #expect(
            unigram.status != 0
                && unigram.output.contains("model of type 'Unigram' is not supported"),
            "\(unigram.output)")
    }

    @Test func sentencePieceFolderFineTunesPredictsExportsAndReloads() throws {
        let folder = try tinyDebertaFolder(sentencePiece: true)
        let out = NSTemporaryDirectory() + "attend-cli-deberta-spm-\(UUID().uuidString)"
        let (file, exported) = (out + ".jsonl", out + "-hf")
        defer {
            for path in [folder, out, file, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let texts = [
            ("In the beginning God created the heaven", "genesis"),
            ("And the earth was without form, and void", "genesis"),
            ("The LORD is my shepherd; I shall not want", "psalms"),
            ("He maketh me to lie down in green pastures", "psalms"),
        ]
        let lines = texts.map { #"{"text": "\#($0.0)", "label": "\#($0.1)"}"# }
        try (lines.joined(separator: "\n") + "\n").write(
            toFile: file, atomically: true, encoding: .utf8)
        let train = try run([
            "train", "--data", file, "--init-from", folder, "--steps", "2", "--batch", "4",
            "--validation-fraction", "0", "--out", out,
        ])
        #expect(
            train.status == 0 && train.output.contains("new classifier (2 classes)"),
            "\(train.output)")
        let trained = try TrainedRun(RunDirectory(path: out))
        #expect(trained.data.tokenizer.kind == "sentencepiece")
        // The run's tokens are the folder's: [CLS] sentencepiece ids [SEP].
        let tokenizer = try SentencePieceTextTokenizer(directory: folder)
        let task = try UserData.make(trained.data, reading: file, labelled: true)
        let batch = try #require(
            Batches(task: task, split: .test, batchSize: 4).first { _ in true })
        let ids = tokenizer.encode(texts[0].0)
        #expect(Array(batch.tokens.values.prefix(ids.count)) == ids)
        let predict = try run(["predict", "--run", out, "--data", file])
        #expect(
            predict.status == 0
                && predict.output.split(separator: "\n").filter { $0.hasPrefix("{") }.count == 4,
            "\(predict.output)")
        try expectExportReloads(run: out, exported: exported, file: file, tokenizer: "spm.model")
        #expect(
            TokenizerConfiguration.pretrained(directory: exported)
                == .sentencePiece(directory: exported))
    }

    /// `export` writes a DebertaV2ForSequenceClassification folder (with the run's `tokenizer`
    /// file) that `--init-from` loads back to the run's own logits, bit for bit.
    func expectExportReloads(
        run out: String, exported: String, file: String, tokenizer: String = "vocab.txt"
    ) throws {
        let export = try run(["export", "--run", out, "--out", exported])
        #expect(export.status == 0 && export.output.contains(tokenizer), "\(export.output)")
        let config = try String(contentsOfFile: exported + "/config.json", encoding: .utf8)
        #expect(config.contains("DebertaV2ForSequenceClassification"))
        // transformers splits norm_rel_ebd as a string ("layer_norm"); a list breaks its loading.
        #expect(config.contains(#""norm_rel_ebd" : "layer_norm""#), "\(config)")
        let trained = try TrainedRun(RunDirectory(path: out))
        let task = try UserData.make(trained.data, reading: file, labelled: true)
        let initialization = try FineTuning.initialization(
            directory: exported, task: task, freezeEncoder: false)
        var configuration = trained.configuration.model
        configuration.pretrained = initialization
        let reloaded = try makeModel(for: .classification, configuration)
        let report = try FineTuning.loadPretrainedWeights(into: reloaded, from: initialization)
        #expect(report.loadedClassifier && !report.newPooler)
        reloaded.eval()
        let batch = try #require(
            Batches(task: task, split: .test, batchSize: 12).first { _ in true })
        let expected = try withoutGradient { try trained.model.output(for: batch, trainingStep: 0) }
        let actual = try withoutGradient { try reloaded.output(for: batch, trainingStep: 0) }
        #expect(actual.logits.scalars == expected.logits.scalars)
    }
}
