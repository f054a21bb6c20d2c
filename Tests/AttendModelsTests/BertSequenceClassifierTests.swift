// BertSequenceClassifier (transformers' BertForSequenceClassification): the encoder and pooler
// load from a BERT folder name for name, the pooled vector is transformers' pooler_output on the
// committed export (Fixtures/bert-export, checked by scripts/fixtures/models_bert.py), the logits
// are classifier(pooled), segment ids follow the first [SEP], a frozen encoder gets no gradient,
// and a classifier stored with the weights (an exported fine-tuned model) is loaded back.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct BertSequenceClassifierTests {
    static let tolerance = Tolerance(absolute: 1e-5, relative: 1e-5)

    @Test func pooledVectorIsTransformersPoolerOutputAndLogitsAreItsProjection() throws {
        let folder = try fixtureFolder("bert-export")
        let configuration = try BertConfiguration(contentsOf: folder + "/config.json")
        let model = try BertSequenceClassifier(configuration, classCount: 3, seed: 4)
        let report = try model.loadPretrained(
            from: try Safetensors.open(folder + "/model.safetensors"))
        #expect(!report.newPooler && !report.loadedClassifier)
        model.eval()
        let attend = try SafetensorsFile(path: folder + "/attend-outputs.safetensors")
        let transformers = try SafetensorsFile(path: folder + "/transformers-outputs.safetensors")
        let (ids, mask) = (try attend.indices("ids"), try attend.tensor("mask"))
        let pooled = try withoutGradient {
            try model.pooledOutput(ids, mask: mask, tokenTypes: nil)
        }
        try assertClose(
            pooled, try transformers.tensor("pooler_output"), Self.tolerance,
            "pooled vs transformers")
        let logits = try withoutGradient { try model(ids, mask: mask).logits }
        let expected =
            Tensor.matmul(pooled, model.classifier.weight.value, transposeB: true)
            + model.classifier.bias!.value
        try assertClose(logits, expected, Self.tolerance, "logits = pooled·Wᵀ + b")
        #expect(logits.shape == [2, 3])
    }

    @Test func segmentIDsStartAfterTheFirstSeparator() throws {
        let configuration = BertExportTests.configuration
        let model = try BertSequenceClassifier(
            configuration, classCount: 2, segmentSeparatorID: 3, seed: 1)
        model.eval()
        // [CLS]=2 a a [SEP]=3 b [SEP] pad | [CLS] a [SEP] b b b [SEP]
        let ids = Indices(shape: [2, 7], values: [2, 7, 8, 3, 9, 3, 0, 2, 7, 3, 9, 9, 9, 3])
        let mask = Tensor(shape: [2, 7], scalars: [1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1])
        let types = model.segmentIDs(ids, separator: 3)
        #expect(types.values == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1])
        let logits = try withoutGradient { try model(ids, mask: mask).logits }
        let direct = try withoutGradient {
            model.classifier(try model.pooledOutput(ids, mask: mask, tokenTypes: types))
        }
        #expect(logits.scalars == direct.scalars)
        let single = try withoutGradient {
            try model.pooledOutput(ids, mask: mask, tokenTypes: nil)
        }
        #expect(single.scalars != direct.scalars, "segment 1 embeddings change the pooled vector")
    }

    @Test func pairsAreJoinedAsOneSequenceAndCutLongestFirst() throws {
        var configuration = BertExportTests.configuration
        configuration.maximumPositions = 8
        let model = try BertSequenceClassifier(configuration, classCount: 2, segmentSeparatorID: 3)
        // Row 0: [CLS] 7 8 [SEP] + [CLS] 9 [SEP]; row 1: [CLS] 7 8 10 11 12 [SEP] + [CLS] 9 13 [SEP].
        let first = Indices(shape: [2, 7], values: [2, 7, 8, 3, 0, 0, 0, 2, 7, 8, 10, 11, 12, 3])
        let firstMask = Tensor(shape: [2, 7], scalars: [1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
        let second = Indices(shape: [2, 4], values: [2, 9, 3, 0, 2, 9, 13, 3])
        let secondMask = Tensor(shape: [2, 4], scalars: [1, 1, 1, 0, 1, 1, 1, 1])
        let joined = model.joinedPairs(
            first, mask: firstMask, second, mask: secondMask, paddingID: 0)
        // Row 1 has 7 + 3 tokens for 8 positions: the longer first text loses 12, then 11.
        #expect(joined.ids.values == [2, 7, 8, 3, 9, 3, 0, 0, 2, 7, 8, 10, 3, 9, 13, 3])
        #expect(joined.mask.scalars == [1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1])
        #expect(
            model.segmentIDs(joined.ids, separator: 3).values
                == [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 1, 1])
    }

    @Test func frozenEncoderGetsNoGradient() throws {
        let model = try BertSequenceClassifier(
            BertExportTests.configuration, classCount: 2, freezeEncoder: true, seed: 2)
        model.train()
        let (ids, mask) = BertExportTests.inputs()
        let (_, gradients) = try valueAndGradient(of: model) { model in
            crossEntropy(logits: try model(ids, mask: mask).logits, targets: [0, 1])
        }
        let trained = model.namedParameters().filter { gradients[$0.1] != nil }.map(\.0)
        #expect(trained.sorted() == ["classifier.bias", "classifier.weight"])
        let optimizer = AdamW(parameters: model.namedParameters())
        #expect(optimizer.parameters.map(\.0).sorted() == ["classifier.bias", "classifier.weight"])
    }

    @Test func folderWithoutPoolerGetsANewOneAndOtherMissingTensorsAreErrors() throws {
        let folder = try fixtureFolder("bert-export")
        let archive = try SafetensorsFile(path: folder + "/model.safetensors")
        let withoutPooler = try archive.names.filter { !$0.hasPrefix("pooler.") }.map {
            ($0, SafetensorsValue.float(try archive.tensor($0)))
        }
        let scratch = try scratchCheckpoint(withoutPooler)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let model = try BertSequenceClassifier(BertExportTests.configuration, classCount: 2)
        let report = try model.loadPretrained(
            from: try Safetensors.open(scratch + "/model.safetensors"))
        #expect(
            report.newPooler
                && report.encoder.keptInitial == ["pooler.dense.bias", "pooler.dense.weight"])
        let missing = withoutPooler.filter { $0.0 != "encoder.layer.1.output.dense.bias" }
        let broken = try scratchCheckpoint(missing)
        defer { try? FileManager.default.removeItem(atPath: broken) }
        #expect {
            try model.loadPretrained(from: try Safetensors.open(broken + "/model.safetensors"))
        } throws: { error in
            "\(error)".contains("encoder.layer.1.output.dense.bias")
        }
    }

    @Test func savedClassifierOfTheRightShapeIsLoadedBack() throws {
        let model = try BertSequenceClassifier(
            BertExportTests.configuration, classCount: 3, seed: 7)
        let scratch = try scratchCheckpoint(
            model.namedParameters().map { ($0.0, .float($0.1.value)) })
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let same = try BertSequenceClassifier(BertExportTests.configuration, classCount: 3, seed: 8)
        #expect(
            try same.loadPretrained(from: try Safetensors.open(scratch + "/model.safetensors"))
                .loadedClassifier)
        for ((name, a), (_, b)) in zip(model.namedParameters(), same.namedParameters()) {
            #expect(a.value.scalars == b.value.scalars, "\(name)")
        }
        let otherClasses = try BertSequenceClassifier(
            BertExportTests.configuration, classCount: 5, seed: 8)
        #expect(
            try !otherClasses.loadPretrained(
                from: try Safetensors.open(scratch + "/model.safetensors")
            ).loadedClassifier)
    }
}
