// `attend train --init-from VIT_DIR --data IMAGES`, as a user runs it: a tiny random three-channel
// ViT folder written by the test fine-tuned on a folder of grey 4×4 PGM images per class (repeated
// into the three channels); `predict` then returns the training labels of the overfitted set,
// `eval --data` scores them, `--freeze-encoder` leaves the encoder's weights as the folder's, and
// `export` writes a folder that `--init-from` loads back to the identical outputs. Images of
// another size, text data for a ViT, `--seq-len` and a folder of an unsupported family are one-line
// errors naming the problem.
import AttendCore
import AttendData
import AttendModels
import AttendTesting
import AttendTrain
import Foundation
import Testing

/// A random ViT (width 16, one layer, 4×4 RGB images, patch 2) saved as a Hugging Face folder.
func tinyViTFolder() throws -> String {
    let configuration = ViTConfiguration(
        modelDimension: 16, layerCount: 1, headCount: 2, feedForwardDimension: 24, imageSize: 4,
        patchSize: 2, channelCount: 3)
    let folder = NSTemporaryDirectory() + "attend-tiny-vit-\(UUID().uuidString)"
    try ViT(configuration, seed: 3).save(to: folder)
    return folder
}

/// A folder of two classes, `dark` and `bright`, of four grey `side`×`side` PGM images each.
func greyImageFolder(side: Int) throws -> String {
    let folder = NSTemporaryDirectory() + "attend-grey-images-\(UUID().uuidString)"
    for (label, base) in [("bright", 190), ("dark", 10)] {
        try FileManager.default.createDirectory(
            atPath: folder + "/" + label, withIntermediateDirectories: true)
        for image in 0..<4 {
            let pixels = (0..<(side * side)).map { UInt8(base + (($0 * 7 + image * 5) % 50)) }
            try PGM.write(pixels, width: side, height: side, to: folder + "/\(label)/\(image).pgm")
        }
    }
    return folder
}

@Suite(.serialized, .optimizedBuildsOnly) struct ViTFineTuningCommandLineTests {
    let attend: String?
    init() { attend = builtAttendExecutable() }

    func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try runAttend(attend, arguments, limit: 120)
    }

    @Test func fineTunePredictEvaluateExportAndReload() throws {
        let (folder, images) = (try tinyViTFolder(), try greyImageFolder(side: 4))
        let out = NSTemporaryDirectory() + "attend-cli-vit-\(UUID().uuidString)"
        let exported = out + "-hf"
        defer {
            for path in [folder, images, out, exported] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let train = try run([
            "train", "--data", images, "--init-from", folder, "--mixer", "full", "--steps", "40",
            "--batch", "8", "--lr", "0.01", "--validation-fraction", "0", "--out", out,
        ])
        #expect(
            train.status == 0 && train.output.contains("new classifier (2 classes)"),
            "\(train.output)")
        let predict = try run(["predict", "--run", out, "--data", images])
        #expect(predict.status == 0, "\(predict.output)")
        let labels = predict.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map {
            $0.contains(#""label":"bright""#) ? "bright" : "dark"
        }
        #expect(labels == Array(repeating: "bright", count: 4) + Array(repeating: "dark", count: 4))
        let eval = try run(["eval", "--run", out, "--data", images])
        #expect(eval.status == 0 && eval.output.contains("accuracy 1.0000"), "\(eval.output)")
        let export = try run(["export", "--run", out, "--out", exported])
        #expect(
            export.status == 0 && export.output.contains("preprocessor_config.json"),
            "\(export.output)")
        let config = try String(contentsOfFile: exported + "/config.json", encoding: .utf8)
        #expect(config.contains("ViTForImageClassification") && config.contains(#""bright""#))
        try expectReloadedExportIsIdentical(run: out, exported: exported, images: images)
    }

    /// The export loaded as `--init-from` loads it gives the run's own logits, bit for bit.
    func expectReloadedExportIsIdentical(run: String, exported: String, images: String) throws {
        let trained = try TrainedRun(RunDirectory(path: run))
        let task = try UserData.make(trained.data, reading: images, labelled: true)
        let initialization = try FineTuning.initialization(
            directory: exported, task: task, freezeEncoder: false)
        var configuration = trained.configuration.model
        configuration.pretrained = initialization
        let reloaded = try makeModel(for: .classification, configuration)
        let report = try FineTuning.loadPretrainedWeights(into: reloaded, from: initialization)
        #expect(report.loadedClassifier)
        reloaded.eval()
        let batch = try #require(
            Batches(task: task, split: .test, batchSize: 8).first { _ in true })
        let expected = try withoutGradient { try trained.model.output(for: batch, trainingStep: 0) }
        let actual = try withoutGradient { try reloaded.output(for: batch, trainingStep: 0) }
        #expect(actual.logits.scalars == expected.logits.scalars)
    }

    @Test func frozenEncoderKeepsTheFoldersWeights() throws {
        let (folder, images) = (try tinyViTFolder(), try greyImageFolder(side: 4))
        let out = NSTemporaryDirectory() + "attend-cli-vit-frozen-\(UUID().uuidString)"
        defer {
            for path in [folder, images, out] { try? FileManager.default.removeItem(atPath: path) }
        }
        let length = try run([
            "train", "--data", images, "--init-from", folder, "--seq-len", "8", "--out", out,
        ])
        #expect(
            length.status == 2 && length.output.contains("--seq-len cannot change the input"),
            "\(length.output)")
        let train = try run([
            "train", "--data", images, "--init-from", folder, "--freeze-encoder", "--steps", "3",
            "--batch", "4", "--lr", "0.01", "--out", out,
        ])
        #expect(train.status == 0 && train.output.contains("encoder frozen"), "\(train.output)")
        let pretrained = try Safetensors.open(folder + "/model.safetensors")
        let trained = try Safetensors.open(out + "/model.safetensors")
        for name in ["embeddings.cls_token", "encoder.layer.0.attention.attention.query.weight"] {
            #expect(
                try trained.tensor("vit." + name).scalars == pretrained.tensor(name).scalars,
                "\(name)")
        }
    }

    @Test func mismatchesAreOneLineErrors() throws {
        let (folder, images) = (try tinyViTFolder(), try greyImageFolder(side: 5))
        let other = NSTemporaryDirectory() + "attend-gpt2-\(UUID().uuidString)"
        let text = other + ".jsonl"
        defer {
            for path in [folder, images, other, text] {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        let size = try run([
            "train", "--data", images, "--init-from", folder, "--out", "/tmp/never",
        ])
        #expect(
            size.status != 0
                && size.output.contains("are 5×5 pixels; the ViT at \(folder) takes 4×4")
                && size.output.contains("resize them to 4×4"),
            "\(size.output)")
        try #"{"text": "a b", "label": "x"}"#.write(toFile: text, atomically: true, encoding: .utf8)
        let words = try run(["train", "--data", text, "--init-from", folder, "--out", "/tmp/never"])
        #expect(
            words.status != 0 && words.output.contains("is a ViT, which classifies images"),
            "\(words.output)")
        try FileManager.default.createDirectory(atPath: other, withIntermediateDirectories: true)
        try #"{"model_type": "gpt2"}"#.write(
            toFile: other + "/config.json", atomically: true, encoding: .utf8)
        let family = try run(["train", "--data", text, "--init-from", other, "--out", "/tmp/never"])
        #expect(
            family.status != 0 && family.output.contains("a gpt2 folder")
                && family.output.contains("supported: bert, vit"),
            "\(family.output)")
        for result in [size, words, family] {
            let errors = result.output.split(separator: "\n").filter { $0.contains("error") }
            #expect(errors.count == 1, "\(result.output)")
        }
    }
}
