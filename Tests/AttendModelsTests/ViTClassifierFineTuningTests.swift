// A Hugging Face ViT image classifier for fine-tuning, against transformers: a random tiny
// ViTForImageClassification saved by transformers 5.24 with its own image_mean/image_std
// (scripts/fixtures/models_vit_classifier.py) loads encoder and head by their names, prepares
// sample values 0…255 as its preprocessor does, and reproduces transformers' logits within 1e-4.
// Also: a ViTModel folder (with a pooler) loads into the classifier with the pooler skipped and a
// new head; grey images fed to a three-channel model equal their RGB repetition; a preprocessor
// whose mean has the wrong number of channels is an error naming its file.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct ViTClassifierFineTuningTests {
    /// The fixture classifier as fine-tuning builds it: config.json, preprocessor, weights.
    func fixtureClassifier(_ name: String, classes: Int) throws -> (
        ViTClassifier, PretrainedClassifierLoadReport
    ) {
        let folder = try fixtureFolder(name)
        let configuration = try ViTConfiguration(
            contentsOf: PretrainedFolder.configurationPath(in: folder))
        let classifier = try ViTClassifier(
            configuration, classCount: classes,
            normalization: try ImageNormalization(
                folder: folder, channels: configuration.channelCount))
        let archive = try Safetensors.open(try PretrainedFolder.weightsPath(in: folder))
        let report = try classifier.loadPretrained(from: archive)
        classifier.eval()
        return (classifier, report)
    }

    @Test func classifierFolderReproducesTransformersLogits() throws {
        let (classifier, report) = try fixtureClassifier("tiny-vit-classifier", classes: 3)
        #expect(report.loadedClassifier && report.encoder.keptInitial.isEmpty)
        let reference = try openFixture("tiny-vit-classifier-reference", in: .module)
        let samples = try reference.tensor("samples")
        let tokens = Indices(shape: [2, 192], values: samples.scalars.map { Int($0) })
        let pixels = try classifier.pixels(fromTokens: tokens)
        try assertClose(
            pixels, try reference.tensor("pixel_values"), .reference, "normalised pixels")
        let logits = try withoutGradient { try classifier(pixels).logits }
        try assertClose(logits, try reference.tensor("logits"), .model, "classifier logits")
    }

    @Test func modelFolderLoadsWithoutItsPoolerAndANewHead() throws {
        let (classifier, report) = try fixtureClassifier("tiny-vit", classes: 2)
        #expect(!report.loadedClassifier)
        #expect(report.encoder.skipped.sorted() == ["pooler.dense.bias", "pooler.dense.weight"])
        let (encoder, _) = try ViT.load(directory: try fixtureFolder("tiny-vit"))
        let pixels = try ViTTests.reference().tensor("pixel_values")
        let expected = try withoutGradient { try encoder(pixels) }
        let hidden = try withoutGradient { try classifier.vit(pixels) }
        #expect(hidden.scalars == expected.scalars, "the classifier's encoder is the folder's")
    }

    @Test func greyImagesAreRepeatedIntoEachChannel() throws {
        let (classifier, _) = try fixtureClassifier("tiny-vit-classifier", classes: 3)
        let grey = (0..<64).map { ($0 * 37) % 256 }
        let repeated = try classifier.pixels(
            fromTokens: Indices(shape: [1, 192], values: grey + grey + grey))
        let pixels = try classifier.pixels(fromTokens: Indices(shape: [1, 64], values: grey))
        #expect(pixels.scalars == repeated.scalars, "grey as RGB")
        #expect(throws: PretrainedModelError.self) {
            try classifier.pixels(fromTokens: Indices(shape: [1, 65], values: grey + [0]))
        }
    }

    @Test func preprocessorWithTheWrongChannelCountIsRefusedByName() throws {
        let folder = NSTemporaryDirectory() + "attend-vit-preprocessor-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try #"{"image_mean": [0.5, 0.5], "image_std": [0.5]}"#.write(
            toFile: folder + "/preprocessor_config.json", atomically: true, encoding: .utf8)
        let error = #expect(throws: PretrainedModelError.self) {
            try ImageNormalization(folder: folder, channels: 3)
        }
        #expect(
            error?.description.contains("preprocessor_config.json: image_mean has 2 values")
                == true,
            "\(String(describing: error))")
        let defaults = try ImageNormalization(folder: folder + "/absent", channels: 1)
        #expect(defaults == .vitDefault(channels: 1))
    }
}
