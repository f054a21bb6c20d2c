// SPADE in a model: the state-space layer sits in layer 0 only, the layers above run the mixer the
// mechanism declares (local) or the one the configuration names, for classifiers and causal LMs.
import AttendAttention
import AttendCore
import AttendNN
import Foundation
import Testing

@testable import AttendModels

@Suite struct SpadeEncoderTests {
    static func configuration(upper: String?) -> ModelConfiguration {
        var model = ModelConfiguration(
            vocabularySize: 20, modelDimension: 8, layerCount: 3, headCount: 2,
            feedForwardDimension: 16, maximumLength: 24)
        model.mixer = "spade"
        model.upperMixer = upper
        var options = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 24)
        options.spade.attention = "full"
        options.spade.s4.stateSize = 8
        model.mixerOptions = options
        model.dropout = 0
        return model
    }

    @Test func stateSpaceLayerOnlyAtTheBottom() throws {
        let model = Self.configuration(upper: "full")
        #expect(try model.mixerName(layer: 0) == "spade")
        #expect(try (1..<3).map { try model.mixerName(layer: $0) } == ["full", "full"])
        #expect(try Self.configuration(upper: nil).mixerName(layer: 2) == "local")
        let classifier = try EncoderClassifier(model)
        #expect(classifier.encoder.blocks[0].mixer is SpadeMixer)
        #expect(classifier.encoder.blocks[1...].allSatisfy { $0.mixer is MultiHeadAttention })
        let names = classifier.namedParameters().map(\.0)
        #expect(
            names.filter { $0.contains(".s4.") }.allSatisfy { $0.hasPrefix("encoder.layers.0.") })
        let tokens = Indices(shape: [2, 24], values: (0..<48).map { $0 % 20 })
        #expect(try classifier(tokens, mask: nil).logits.shape == [2, 2])
        let lm = try CausalLM(model)
        #expect(try lm(tokens).logits.shape == [2, 24, 20])
        let declared = try EncoderClassifier(Self.configuration(upper: nil))
        #expect(
            declared.encoder.blocks[1...].allSatisfy {
                ($0.mixer as? MultiHeadAttention)?.core is LocalAttention
            })
    }

    @Test func configurationRoundTripsThroughJSON() throws {
        let model = Self.configuration(upper: "full")
        let decoded = try JSONDecoder().decode(
            ModelConfiguration.self, from: JSONEncoder().encode(model))
        #expect(decoded == model)
    }
}
