// Loading Hugging Face BERT checkpoints: a random tiny BertModel saved by transformers 5.24
// (scripts/fixtures/models_bert.py) as one F32 file, as shards, and with F16 and BF16 weights must
// reproduce transformers' last hidden state and pooler output within 1e-4; checkpoints with the
// wrong tensors must be refused with every missing, unexpected and mis-shaped name listed at once;
// the key translations (bert. prefix, index buffers, task heads, LayerNorm gamma/beta) must work.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

/// The folder of a committed fixture model.
func fixtureFolder(_ name: String) throws -> String {
    guard let root = Bundle.module.resourcePath else {
        throw TestSetupError("the test bundle has no resources")
    }
    let path = root + "/Fixtures/" + name
    guard FileManager.default.fileExists(atPath: path + "/config.json") else {
        throw TestSetupError("fixture model \(name) missing: run scripts/fixtures/models_bert.py")
    }
    return path
}

/// The tiny model's inputs and transformers' outputs for weights stored as `tag` (f32, f16, bf16).
struct TinyReference {
    let ids: Indices, mask: Tensor, tokenTypes: Indices
    let file: SafetensorsFile

    init() throws {
        file = try openFixture("tiny-bert-reference", in: .module)
        ids = try file.indices("ids")
        mask = try file.tensor("mask")
        tokenTypes = try file.indices("token_types")
    }

    /// Runs `model` on the inputs and compares both outputs with the reference for `tag`.
    func check(_ model: Bert, _ tag: String, _ tolerance: Tolerance = .model) throws {
        let hidden = try withoutGradient { try model(ids, mask: mask, tokenTypes: tokenTypes) }
        try assertClose(
            hidden, try file.tensor("\(tag).last_hidden_state"), tolerance,
            "\(tag) last hidden state")
        let pooled = try #require(model.pooledOutput(hidden))
        try assertClose(
            pooled, try file.tensor("\(tag).pooler_output"), tolerance, "\(tag) pooler output")
    }
}

/// A scratch folder holding the tiny model's config.json and `tensors` as model.safetensors.
func scratchCheckpoint(_ tensors: [(String, SafetensorsValue)]) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
        "bert-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
        atPath: try fixtureFolder("tiny-bert") + "/config.json",
        toPath: folder.appendingPathComponent("config.json").path)
    try Safetensors.write(
        tensors, metadata: ["format": "pt"],
        to: folder.appendingPathComponent("model.safetensors").path)
    return folder.path
}

/// The tiny model's tensors by name.
func tinyTensors() throws -> [(String, Tensor)] {
    let file = try SafetensorsFile(path: try fixtureFolder("tiny-bert") + "/model.safetensors")
    return try file.names.map { ($0, try file.tensor($0)) }
}

@Suite struct BertCheckpointTests {
    @Test func tinyBertMatchesTransformers() throws {
        let (model, report) = try Bert.load(directory: try fixtureFolder("tiny-bert"))
        #expect(model.configuration.feedForwardDimension == 37 && model.pooler != nil)
        #expect(report.converted.isEmpty && report.skipped.isEmpty && report.keptInitial.isEmpty)
        try TinyReference().check(model, "f32")
    }

    @Test func shardedCheckpointLoadsTheSameModel() throws {
        let folder = try fixtureFolder("tiny-bert-sharded")
        #expect(try Bert.weightsPath(in: folder).hasSuffix("model.safetensors.index.json"))
        try TinyReference().check(try Bert.load(directory: folder).model, "f32")
    }

    @Test(arguments: [("tiny-bert-f16", "f16", "F16"), ("tiny-bert-bf16", "bf16", "BF16")])
    func halfPrecisionWeightsAreWidenedOnLoad(_ folder: String, _ tag: String, _ dtype: String)
        throws
    {
        let (model, report) = try Bert.load(directory: try fixtureFolder(folder))
        #expect(report.converted == [dtype: model.parameters.count])
        try TinyReference().check(model, tag)
    }

    @Test func mismatchedCheckpointNamesEveryProblem() throws {
        var tensors = try tinyTensors().filter { $0.0 != "encoder.layer.1.output.dense.weight" }
        tensors = tensors.map { name, t in
            name == "embeddings.word_embeddings.weight"
                ? (name, Tensor.zeros([98, 32])) : (name, t)
        }
        tensors.append(("encoder.layer.2.output.dense.weight", .zeros([32, 37])))
        let folder = try scratchCheckpoint(tensors.map { ($0.0, .float($0.1)) })
        defer { try? FileManager.default.removeItem(atPath: folder) }
        do {
            _ = try Bert.load(directory: folder)
            Issue.record("a mismatched checkpoint loaded")
        } catch PretrainedModelError.weightsMismatch(let file, let mismatch) {
            #expect(file.hasSuffix("model.safetensors"))
            #expect(mismatch.missing == ["encoder.layer.1.output.dense.weight"])
            #expect(mismatch.unexpected == ["encoder.layer.2.output.dense.weight"])
            #expect(mismatch.wrongShape.map(\.0) == ["embeddings.word_embeddings.weight"])
            #expect(
                mismatch.wrongShape.first?.1 == [99, 32]
                    && mismatch.wrongShape.first?.2 == [98, 32])
            let message = PretrainedModelError.weightsMismatch(file: file, mismatch: mismatch)
                .description
            for name in [
                "encoder.layer.1.output.dense.weight", "encoder.layer.2.output.dense.weight",
                "[98, 32]",
            ] {
                #expect(message.contains(name), "message names \(name): \(message)")
            }
        }
    }

    @Test func prefixedCheckpointsWithBuffersHeadsAndLegacyNormNamesLoad() throws {
        var tensors: [(String, SafetensorsValue)] = try tinyTensors().map { name, t in
            let legacy =
                name.hasSuffix("LayerNorm.weight")
                ? String(name.dropLast("weight".count)) + "gamma"
                : name.hasSuffix("LayerNorm.bias")
                    ? String(name.dropLast("bias".count)) + "beta" : name
            return ("bert." + legacy, .float(t))
        }
        tensors.append(
            (
                "bert.embeddings.position_ids",
                .int64(Indices(shape: [1, 40], values: Array(0..<40)))
            ))
        tensors.append(("cls.predictions.bias", .float(.zeros([99]))))
        let folder = try scratchCheckpoint(tensors)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (model, report) = try Bert.load(directory: folder)
        #expect(report.skipped == ["bert.embeddings.position_ids", "cls.predictions.bias"])
        try TinyReference().check(model, "f32")
    }

    @Test func integerWeightsAreRefused() throws {
        let tensors: [(String, SafetensorsValue)] = try tinyTensors().map { name, t in
            name == "pooler.dense.bias"
                ? (name, .int64(Indices(shape: [32], values: Array(repeating: 0, count: 32))))
                : (name, .float(t))
        }
        let folder = try scratchCheckpoint(tensors)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect {
            try Bert.load(directory: folder)
        } throws: { error in
            guard case PretrainedModelError.nonFloatingPointWeight(_, let tensor, let dtype) = error
            else { return false }
            return tensor == "pooler.dense.bias" && dtype == .int64
        }
    }

    @Test func unsupportedConfigurationsAreNamed() throws {
        let base = try String(
            contentsOfFile: try fixtureFolder("tiny-bert") + "/config.json", encoding: .utf8)
        for (from, to, expected) in [
            (#""hidden_act": "gelu""#, #""hidden_act": "swishy""#, "hidden_act \"swishy\""),
            (
                #""model_type": "bert""#,
                #""model_type": "bert", "position_embedding_type": "relative_key""#,
                "position_embedding_type \"relative_key\""
            ),
        ] {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent(
                "config-\(UUID().uuidString).json"
            ).path
            defer { try? FileManager.default.removeItem(atPath: path) }
            try base.replacingOccurrences(of: from, with: to).write(
                toFile: path, atomically: true, encoding: .utf8)
            #expect {
                try BertConfiguration(contentsOf: path)
            } throws: { error in
                "\(error)".contains(expected)
            }
        }
        #expect(throws: PretrainedModelError.self) {
            try Bert.load(directory: "/nonexistent-model")
        }
    }

    @Test func inputsTheModelCannotTakeAreRefused() throws {
        let model = try Bert.load(directory: try fixtureFolder("tiny-bert")).model
        #expect(throws: PretrainedModelError.self) {
            try model(Indices(shape: [1, 41], values: Array(repeating: 1, count: 41)))
        }
        #expect(throws: PretrainedModelError.self) {
            try model(Indices(shape: [1, 2], values: [1, 99]))
        }
        #expect(throws: PretrainedModelError.self) {
            try model(Indices(shape: [1, 2], values: [1, 2]), mask: .ones([1, 3]))
        }
    }

    /// Every registered q/k/v mechanism either runs the pretrained weights (right shape, finite
    /// values) or refuses with a `MixerError` that says why; none may crash or produce NaN.
    @Test func everyRegisteredQKVMechanismRunsThePretrainedWeightsOrRefusesClearly() throws {
        let reference = try TinyReference()
        for mechanism in Mechanisms.all where !mechanism.capabilities.replacesFeedForward {
            do {
                let model = try Bert.load(
                    directory: try fixtureFolder("tiny-bert"), mechanism: mechanism.name
                ).model
                let hidden = try withoutGradient {
                    try model(reference.ids, mask: reference.mask, tokenTypes: reference.tokenTypes)
                }
                #expect(hidden.shape == [3, 17, 32], "\(mechanism.name)")
                let finite = hidden.scalars.allSatisfy { $0.isFinite }
                #expect(finite, "\(mechanism.name) output is finite")
            } catch let refusal as MixerError {
                #expect(!refusal.description.isEmpty, "\(mechanism.name) refused: \(refusal)")
            }
        }
    }
}
