// ViT against transformers: random tiny ViTModels saved by transformers 5.24
// (scripts/fixtures/models_vit.py) load by their own key names and reproduce the last hidden state
// and pooler output within 1e-4, with Hugging Face's numerics (exact GELU, ε 1e-12, patch 4) and the
// JAX code's (tanh GELU, ε 1e-6, patch 8, no pooler). Also: the patch embedding equals the
// convolution it stands for, permuting patches together with their positions leaves the [CLS]
// state unchanged (mechanisms-b §7 (c)), a classification checkpoint loads with its head skipped,
// other mechanisms run between the same projections, an export reloads, and a ViT trains on images.
import AttendAttention
import AttendCore
import AttendData
import AttendNN
import AttendTesting
import Foundation
import Testing

@testable import AttendModels

@Suite struct ViTTests {
    static func reference() throws -> SafetensorsFile {
        try openFixture("tiny-vit-reference", in: .module)
    }

    @Test func huggingFaceCheckpointMatchesTransformers() throws {
        let (vit, report) = try ViT.load(directory: try fixtureFolder("tiny-vit"))
        #expect(report.skipped.isEmpty && report.keptInitial.isEmpty && report.converted.isEmpty)
        #expect(
            vit.configuration.activation == .gelu && vit.configuration.layerNormEpsilon == 1e-12)
        let file = try Self.reference()
        let hidden = try withoutGradient { try vit(try file.tensor("pixel_values")) }
        try assertClose(
            hidden, try file.tensor("hf.last_hidden_state"), .model, "last hidden state")
        let pooled = try #require(vit.pooledOutput(hidden))
        try assertClose(pooled, try file.tensor("hf.pooler_output"), .model, "pooler output")
    }

    @Test func jaxNumericsCheckpointMatchesTransformers() throws {
        let (vit, _) = try ViT.load(directory: try fixtureFolder("tiny-vit-jax"))
        #expect(
            vit.configuration.activation == .geluTanh && vit.configuration.layerNormEpsilon == 1e-6)
        #expect(vit.pooler == nil)
        let file = try Self.reference()
        let hidden = try withoutGradient { try vit(try file.tensor("pixel_values")) }
        try assertClose(
            hidden, try file.tensor("jax.last_hidden_state"), .model,
            "last hidden state (JAX numerics)")
        // The other convention's GELU and ε change the result measurably.
        let (swapped, _) = try ViT.load(
            directory: try fixtureFolder("tiny-vit-jax"), numerics: .huggingFace)
        let other = try withoutGradient { try swapped(try file.tensor("pixel_values")) }
        #expect(throws: NumericMismatch.self) { try assertClose(other, hidden, .model) }
    }

    @Test func namesAreTransformersKeys() throws {
        let vit = try ViT(
            ViTConfiguration(
                modelDimension: 8, layerCount: 1, headCount: 2, feedForwardDimension: 16,
                imageSize: 8, patchSize: 4))
        let names = Set(vit.namedParameters().map(\.0))
        for key in [
            "embeddings.cls_token", "embeddings.position_embeddings",
            "embeddings.patch_embeddings.projection.weight",
            "encoder.layer.0.attention.attention.query.weight",
            "encoder.layer.0.attention.attention.value.bias",
            "encoder.layer.0.attention.output.dense.weight",
            "encoder.layer.0.layernorm_before.weight",
            "encoder.layer.0.layernorm_after.bias", "encoder.layer.0.intermediate.dense.weight",
            "encoder.layer.0.output.dense.bias", "layernorm.weight", "pooler.dense.weight",
        ] {
            #expect(names.contains(key), "missing \(key)")
        }
        #expect(vit.embeddings.patches.weight.shape == [8, 3, 4, 4])
    }

    @Test func patchEmbeddingEqualsTheConvolution() throws {
        let vit = try ViT(
            ViTConfiguration(
                modelDimension: 6, layerCount: 1, headCount: 2, feedForwardDimension: 8,
                imageSize: 12, patchSize: 4))
        let projection = vit.embeddings.patches
        projection.bias.value = Tensor.randomNormal([6], seed: 2)
        let pixels = Tensor.randomNormal([2, 3, 12, 12], seed: 3)
        let (w, bias, x) = (
            projection.weight.value.scalars, projection.bias.value.scalars, pixels.scalars
        )
        let expected = Tensor.filled(shape: [2, 9, 6]) { out in
            for b in 0..<2 {
                for py in 0..<3 {
                    for px in 0..<3 {
                        for o in 0..<6 {
                            var total = Double(bias[o])
                            for c in 0..<3 {
                                for ky in 0..<4 {
                                    for kx in 0..<4 {
                                        total +=
                                            Double(w[((o * 3 + c) * 4 + ky) * 4 + kx])
                                            * Double(
                                                x[
                                                    ((b * 3 + c) * 12 + py * 4 + ky) * 12 + px * 4
                                                        + kx])
                                    }
                                }
                            }
                            out[(b * 9 + py * 3 + px) * 6 + o] = Float(total)
                        }
                    }
                }
            }
        }
        try assertClose(projection(pixels), expected, .reference, "stride-4 convolution")
    }

    @Test func permutingPatchesWithTheirPositionsKeepsTheClassToken() throws {
        // patch 8: 4 × 4 patches
        let (vit, _) = try ViT.load(directory: try fixtureFolder("tiny-vit-jax"))
        let pixels = try Self.reference().tensor("pixel_values")
        // Swap patches (0, 0) and (2, 3) in the image and their rows in the position table.
        var swapped = pixels
        swapped.withUnsafeMutableBufferPointer { p in
            for b in 0..<2 {
                for c in 0..<3 {
                    for y in 0..<8 {
                        for x in 0..<8 {
                            let a = ((b * 3 + c) * 32 + y) * 32 + x,
                                other = ((b * 3 + c) * 32 + 16 + y) * 32 + 24 + x
                            p.swapAt(a, other)
                        }
                    }
                }
            }
        }
        let original = try withoutGradient { try vit(pixels) }
        var table = vit.embeddings.positions.value
        table.withUnsafeMutableBufferPointer { p in
            for j in 0..<32 { p.swapAt(1 * 32 + j, (1 + 2 * 4 + 3) * 32 + j) }
        }
        vit.embeddings.positions.value = table
        let permuted = try withoutGradient { try vit(swapped) }
        try assertClose(
            permuted.sliced(alongAxis: 1, 0..<1), original.sliced(alongAxis: 1, 0..<1), .reference,
            "[CLS] state")
    }

    @Test func classificationCheckpointLoadsWithItsHeadSkipped() throws {
        let file = try SafetensorsFile(path: try fixtureFolder("tiny-vit") + "/model.safetensors")
        var tensors: [(String, SafetensorsValue)] = try file.names.filter {
            !$0.hasPrefix("pooler.")
        }.map { ("vit." + $0, .float(try file.tensor($0))) }
        tensors += [
            ("classifier.weight", .float(.zeros([10, 32]))),
            ("classifier.bias", .float(.zeros([10]))),
        ]
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vit-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: try fixtureFolder("tiny-vit") + "/config.json",
            toPath: folder.appendingPathComponent("config.json").path)
        try Safetensors.write(
            tensors, metadata: ["format": "pt"],
            to: folder.appendingPathComponent("model.safetensors").path)
        let (vit, report) = try ViT.load(directory: folder.path)
        #expect(report.skipped == ["classifier.bias", "classifier.weight"])
        #expect(vit.pooler == nil)
        let hidden = try withoutGradient { try vit(try Self.reference().tensor("pixel_values")) }
        try assertClose(
            hidden, try Self.reference().tensor("hf.last_hidden_state"), .model, "last hidden state"
        )
    }

    @Test func otherMechanismsRunBetweenTheSameProjections() throws {
        var options = MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        // one leaf: exactly full attention (padded queries aside: none here)
        options.treeformer.height = 0
        let (tree, report) = try ViT.load(
            directory: try fixtureFolder("tiny-vit"), mechanism: "treeformer",
            mixerConfiguration: options)
        #expect(report.keptInitial.contains("encoder.layer.0.attention.attention.tree.weight"))
        let pixels = try Self.reference().tensor("pixel_values")
        let hidden = try withoutGradient { try tree(pixels) }
        try assertClose(
            hidden, try Self.reference().tensor("hf.last_hidden_state"), .model,
            "treeformer with one leaf")
        let (evolving, _) = try ViT.load(
            directory: try fixtureFolder("tiny-vit"), mechanism: "evolving")
        #expect(try withoutGradient { try evolving(pixels) }.scalars.allSatisfy(\.isFinite))
    }

    @Test func exportReloads() throws {
        let (vit, _) = try ViT.load(directory: try fixtureFolder("tiny-vit"))
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "vit-export-\(UUID().uuidString)"
        ).path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try vit.save(to: folder)
        let (again, _) = try ViT.load(directory: folder)
        let pixels = try Self.reference().tensor("pixel_values")
        #expect(
            try withoutGradient { try again(pixels) }.scalars
                == (try withoutGradient { try vit(pixels) }).scalars)
    }

    @Test func buildsFromATrainingConfiguration() throws {
        var model = ModelConfiguration(
            vocabularySize: 256, modelDimension: 16, layerCount: 2, headCount: 2,
            feedForwardDimension: 32, maximumLength: 784)
        model.architecture = .vit
        model.patchSize = 7
        model.classCount = 10
        let classifier = try ViTClassifier(model)
        #expect(
            classifier.vit.configuration.imageSize == 28
                && classifier.vit.configuration.sequenceLength == 17)
        let tokens = Indices(shape: [2, 784], values: (0..<1568).map { $0 % 256 })
        let output = try classifier(try classifier.pixels(fromTokens: tokens))
        #expect(output.logits.shape == [2, 10])
        model.patchSize = 5
        #expect(throws: PretrainedModelError.self) { try ViTClassifier(model) }
        model.maximumLength = 700
        #expect(throws: PretrainedModelError.self) { try ViTClassifier(model) }
    }

    @Test(.optimizedBuildsOnly) func trainsOnImages() throws {
        // Two classes of 16 × 16 images: a bright bar in the top or in the bottom half, on noise. The
        // class is in the bar's position only, so the position table has to be learned (the loss
        // stays at log 2 for ~40 steps, then falls to ~0.07 by step 100).
        var model = ModelConfiguration(
            vocabularySize: 256, modelDimension: 32, layerCount: 2, headCount: 2,
            feedForwardDimension: 64, maximumLength: 256)
        model.architecture = .vit
        model.dropout = 0
        model.classCount = 2
        let classifier = try ViTClassifier(model)
        let optimizer = AdamW(parameters: classifier.namedParameters(), weightDecay: 0)
        var generator = RandomGenerator(seed: 5)
        func batch() -> (Tensor, [Int]) {
            var values: [Int] = [], labels: [Int] = []
            for _ in 0..<16 {
                let label = generator.nextInt(below: 2)
                labels.append(label)
                let row = 2 + generator.nextInt(below: 5) + (label == 0 ? 0 : 8)
                for y in 0..<16 {
                    for _ in 0..<16 {
                        values.append(y == row ? 250 : generator.nextInt(below: 120))
                    }
                }
            }
            return (
                try! classifier.pixels(fromTokens: Indices(shape: [16, 256], values: values)),
                labels
            )
        }
        var losses: [Float] = []
        for _ in 0..<100 {
            let (pixels, labels) = batch()
            let (loss, gradients) = try valueAndGradient(of: classifier) { model in
                crossEntropy(logits: try model(pixels).logits, targets: labels)
            }
            optimizer.step(gradients, learningRate: 3e-3)
            losses.append(loss.scalar)
        }
        let (first, last) = (
            losses.prefix(10).reduce(0, +) / 10, losses.suffix(10).reduce(0, +) / 10
        )
        #expect(last < 0.5 * first, "loss \(first) → \(last)")
    }
}
