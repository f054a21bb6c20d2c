// A Hugging Face DeBERTa-v2 sequence classifier for fine-tuning, against transformers: a random
// tiny DebertaV2ForSequenceClassification saved by transformers 5.24
// (scripts/fixtures/models_deberta_classifier.py) loads encoder, ContextPooler and classifier by
// their names and reproduces transformers' logits on padded token ids within 1e-4. A DebertaV2Model
// folder gets a new pooler and head; a pooler wider than the model is refused by name.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct DebertaV2SequenceClassifierTests {
    /// The classifier of the fixture folder `name`, with the folder's weights loaded.
    func fixtureClassifier(_ name: String, classes: Int) throws -> (
        DebertaV2SequenceClassifier, PretrainedClassifierLoadReport
    ) {
        let folder = try fixtureFolder(name)
        let path = PretrainedFolder.configurationPath(in: folder)
        let model = try DebertaV2SequenceClassifier(
            try DebertaV2Configuration.load(path: path),
            head: try PretrainedFolder.configuration(DebertaV2ClassifierHead.self, at: path),
            classCount: classes)
        let report = try model.loadPretrained(
            from: try Safetensors.open(try PretrainedFolder.weightsPath(in: folder)))
        model.eval()
        return (model, report)
    }

    @Test func classifierFolderReproducesTransformersLogits() throws {
        let (model, report) = try fixtureClassifier("tiny-deberta-classifier", classes: 3)
        #expect(report.loadedClassifier && !report.newPooler)
        let reference = try openFixture("tiny-deberta-classifier-reference", in: .module)
        let logits = try withoutGradient {
            try model(try reference.indices("ids"), mask: try reference.tensor("mask")).logits
        }
        try assertClose(logits, try reference.tensor("logits"), .model, "classifier logits")
    }

    @Test func encoderFolderGetsANewPoolerAndHead() throws {
        let (_, report) = try fixtureClassifier("deberta_v2_shared", classes: 2)
        #expect(report.newPooler && !report.loadedClassifier)
    }

    @Test func poolerOfAnotherWidthIsRefused() throws {
        var head = DebertaV2ClassifierHead()
        head.poolerWidth = 7
        var configuration = DebertaV2Configuration()
        (configuration.vocabularySize, configuration.modelDimension) = (10, 8)
        (configuration.layerCount, configuration.headCount) = (1, 2)
        configuration.feedForwardDimension = 16
        let error = #expect(throws: PretrainedModelError.self) {
            try DebertaV2SequenceClassifier(configuration, head: head, classCount: 2)
        }
        #expect(error?.description.contains("pooler_hidden_size = 7") == true)
    }
}
