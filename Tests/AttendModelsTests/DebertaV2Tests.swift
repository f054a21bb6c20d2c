// DeBERTa-v2 against Hugging Face transformers (fixtures from scripts/fixtures/models_deberta.py):
// whole random models loaded by HF names, one disentangled self-attention layer with its gradients,
// the enhanced mask decoder, the log-bucket table, and the loader's errors. Padded query positions are
// left out of every comparison: HF gives them uniform attention, the reference's XSoftmax (and Attend)
// zero attention; padded keys are masked the same way in both.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import AttendTesting
import Foundation
import Testing

/// The fixture directory `Fixtures/<name>` in the test bundle.
func fixtureDirectory(_ name: String) throws -> String {
    try #require(
        Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures"),
        "fixture folder \(name) is missing (see scripts/fixtures/README.md)")
}

/// Rows [b·n, c] of `x` [b, n, c] at the real (mask = 1) positions.
func realRows(_ x: Tensor, mask: Tensor) -> Tensor {
    let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
    let keep = mask.scalars.enumerated().filter { $0.element != 0 }.map(\.offset)
    return x.reshaped([b * n, c]).indexSelect(alongAxis: 0, Indices(keep))
}

@Suite struct DebertaV2Tests {
    let fixture: SafetensorsFile

    init() throws { fixture = try openFixture("models_deberta", in: .module) }

    @Test(arguments: ["shared", "separate"])
    func modelMatchesTransformers(_ name: String) throws {
        let model = try DebertaV2Model.load(directory: try fixtureDirectory("deberta_v2_\(name)"))
        let ids = try fixture.indices("\(name).input_ids")
        let mask = try fixture.tensor("\(name).attention_mask")
        let types =
            fixture.contains("\(name).token_type_ids")
            ? try fixture.indices("\(name).token_type_ids") : nil
        let output = try withoutGradient { try model(ids, attentionMask: mask, tokenTypes: types) }
        let expected = try fixture.tensor("\(name).last_hidden_state")
        try assertClose(
            realRows(output.lastHiddenState, mask: mask), realRows(expected, mask: mask), .model,
            "\(name) last hidden state")
    }

    @Test func configurationDecodesTheReferenceSpellings() throws {
        let json =
            #"{"pos_att_type": "p2c|c2p", "norm_rel_ebd": "layer_norm", "relative_attention": true,"#
            + #" "position_buckets": 256, "share_att_key": true, "hidden_size": 64, "num_attention_heads": 4}"#
        let config = try JSONDecoder().decode(DebertaV2Configuration.self, from: Data(json.utf8))
        let options = try config.attentionOptions()
        #expect(options.positionTerms == [.positionToContent, .contentToPosition])
        #expect(options.normalizeRelativeEmbeddings && options.shareAttentionKey)
        #expect(options.buckets == RelativePositionBuckets(bucketSize: 256, maxPosition: 512))
        #expect(config.relativeSpan == 256)
        let noBuckets = try JSONDecoder().decode(
            DebertaV2Configuration.self,
            from: Data(#"{"max_relative_positions": -1, "pos_att_type": null}"#.utf8))
        #expect(noBuckets.relativeSpan == 512 && noBuckets.positionAttentionTypes.isEmpty)
    }

    @Test func unsupportedConfigurationsAreNamed() throws {
        var config = DebertaV2Configuration()
        config.convolutionKernelSize = 3
        #expect(throws: PretrainedModelError.self) { try DebertaV2Model(config) }
        config = DebertaV2Configuration()
        config.relativeAttention = true
        config.positionAttentionTypes = ["c2c"]
        let error = #expect(throws: PretrainedModelError.self) { try config.validate() }
        #expect(
            error?.description
                == "config.json: pos_att_type = c2c is not supported: known terms are c2p and p2c")
    }

    @Test func withoutRelativeAttentionThereIsNoTable() throws {
        var config = DebertaV2Configuration()
        (config.vocabularySize, config.modelDimension, config.layerCount) = (10, 8, 1)
        (config.headCount, config.feedForwardDimension) = (2, 16)
        let model = try DebertaV2Model(config)
        #expect(!model.namedParameters().contains { $0.0.contains("rel_embeddings") })
        let output = try model(Indices(shape: [1, 5], values: [1, 2, 3, 4, 5]))
        #expect(output.lastHiddenState.shape == [1, 5, 8] && output.relativeEmbeddings == nil)
    }

    @Test func loaderReportsEveryMismatchAtOnce() throws {
        // The shared-key model's weights do not fit the separate-projection model: missing pos_*_proj,
        // unexpected LayerNorm on the table, wrongly shaped embeddings — reported together.
        let config = try DebertaV2Configuration.load(
            path: try fixtureDirectory("deberta_v2_separate") + "/config.json")
        let model = try DebertaV2Model(config)
        let weights = try SafetensorsFile(
            path: try fixtureDirectory("deberta_v2_shared") + "/model.safetensors")
        do {
            try model.load(checkpoint: weights)
            Issue.record("loading mismatched weights succeeded")
        } catch PretrainedModelError.weightsMismatch(_, let mismatch) {
            #expect(mismatch.missing.contains("encoder.layer.0.attention.self.pos_key_proj.weight"))
            #expect(mismatch.unexpected.contains("encoder.LayerNorm.weight"))
            #expect(mismatch.wrongShape.contains { $0.0 == "encoder.rel_embeddings.weight" })
        }
    }

    @Test func disentangledSelfAttentionMatchesTransformersWithGradients() throws {
        var options = DisentangledAttention.Options()
        options.positionTerms = [.positionToContent]
        options.shareAttentionKey = false
        options.buckets = RelativePositionBuckets(bucketSize: 16, maxPosition: 64)
        var generator = RandomGenerator(seed: 0)
        let layer = DisentangledSelfAttention(
            dimension: 16, headCount: 2, options: options, generator: &generator)
        let names = layer.namedParameters().map(\.0)
        try layer.load(
            Dictionary(
                uniqueKeysWithValues: try names.map { ($0, try fixture.tensor("attention.\($0)")) })
        )
        let hidden = try fixture.tensor("attention.hidden")
        let table = try fixture.tensor("attention.rel_embeddings")
        let mask = try fixture.tensor("attention.attention_mask")
        let upstream = try fixture.tensor("attention.upstream")
        // Gradients sum over b·n·n float32 products, against float64 HF rounded once.
        let gradient = Tolerance(absolute: 1e-5, relative: 1e-4)
        for path in [DisentangledAttention.Path.fused, .reference] {
            options.path = path
            let probe = DisentangledSelfAttention(
                dimension: 16, headCount: 2, options: options, generator: &generator)
            try probe.load(Dictionary(uniqueKeysWithValues: layer.stateDictionary()))
            let (h, t) = (hidden.requiringGradient(), table.requiringGradient())
            let y = try probe(h, relativeEmbeddings: t, paddingMask: mask)
            let grads = gradients(
                of: (y * upstream).summed(), withRespectTo: [h, t] + probe.parameters.map(\.value))
            try assertClose(
                realRows(y.detached(), mask: mask),
                realRows(try fixture.tensor("attention.output"), mask: mask),
                .reference, "\(path) output")
            try assertClose(
                grads[0], try fixture.tensor("attention.hidden_grad"), gradient,
                "\(path) hidden grad")
            try assertClose(
                grads[1], try fixture.tensor("attention.rel_embeddings_grad"), gradient,
                "\(path) table grad")
            for (name, grad) in zip(names, grads[2...]) {
                try assertClose(
                    grad, try fixture.tensor("attention.\(name)_grad"), gradient,
                    "\(path) \(name) grad")
            }
        }
    }

    @Test func enhancedMaskDecoderMatchesTheReferenceLoop() throws {
        let model = try DebertaV2Model.load(directory: try fixtureDirectory("deberta_v2_shared"))
        let decoder = DebertaV2EnhancedMaskDecoder(model.configuration)
        let names = decoder.namedParameters().map(\.0)
        try decoder.load(
            Dictionary(
                uniqueKeysWithValues: try names.map { ($0, try fixture.tensor("emd.\($0)")) }))
        let ids = try fixture.indices("shared.input_ids")
        let mask = try fixture.tensor("shared.attention_mask")
        let logits = try withoutGradient {
            try decoder(try model(ids, attentionMask: mask), model: model, attentionMask: mask)
        }
        let positions = try fixture.indices("emd.positions")
        let vocabulary = logits.shape[2]
        let picked = logits.reshaped([logits.count / vocabulary, vocabulary]).indexSelect(
            alongAxis: 0, positions)
        try assertClose(picked, try fixture.tensor("emd.logits"), .model, "EMD logits")
    }

    @Test(arguments: [(256, 512), (16, 64), (8, 32)])
    func bucketsMatchTransformers(_ size: Int, _ maximum: Int) throws {
        let relative = try fixture.indices("buckets.relative").values
        let expected = try fixture.indices("buckets.\(size)_\(maximum)").values
        let buckets = RelativePositionBuckets(bucketSize: size, maxPosition: maximum)
        let got = relative.map { buckets.bucket($0) }
        let wrong = zip(relative, zip(got, expected)).filter { $0.1.0 != $0.1.1 }
        #expect(wrong.isEmpty, "distance, Attend, HF: \(wrong.prefix(5))")
    }

    @Test func sequenceEncoderHostsDebertaWithOneSharedTable() throws {
        var config = ModelConfiguration(
            vocabularySize: 20, modelDimension: 16, layerCount: 2, headCount: 2,
            feedForwardDimension: 32, maximumLength: 12)
        config.mixer = "deberta"
        config.positions = .none
        config.dropout = 0
        var mixer = MixerConfiguration(modelDimension: 16, headCount: 2, maximumLength: 12)
        mixer.deberta.buckets = RelativePositionBuckets(bucketSize: 4, maxPosition: 8)
        config.mixerOptions = mixer
        let model = try EncoderClassifier(config)
        let names = model.namedParameters().map(\.0)
        #expect(
            names.filter { $0.hasSuffix("rel_embeddings.weight") } == [
                "encoder.mixer_shared.rel_embeddings.weight"
            ])
        #expect(names.contains("encoder.layers.1.mixer.self.query_proj.weight"))
        let table = model.encoder.mixerShared!.parameters[0]
        #expect(table.shape == [8, 16])
        let tokens = Indices(shape: [2, 10], values: (0..<20).map { $0 % 19 + 1 })
        let mask = Tensor(
            shape: [2, 10],
            scalars: [Float](repeating: 1, count: 10) + [Float](repeating: 1, count: 6) + [
                0, 0, 0, 0,
            ])
        let (_, grads) = try valueAndGradient(of: model) {
            try $0(tokens, mask: mask).logits.summed()
        }
        #expect(
            grads[table]!.scalars.contains { $0 != 0 },
            "the shared table receives gradients through the carried value")
    }
}
