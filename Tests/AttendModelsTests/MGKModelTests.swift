// MGK's claim is softmax accuracy with fewer heads, so the model builder must build a 4-head MGK
// encoder next to an 8-head softmax one of the same width: the head dimension comes from the MGK
// options, not from width/heads.
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import Testing

@Suite struct MGKModelTests {
    @Test func fourHeadMGKBesideEightHeadSoftmax() throws {
        func configuration(mixer: String, heads: Int) -> ModelConfiguration {
            var c = ModelConfiguration(
                vocabularySize: 16, modelDimension: 32, layerCount: 2, headCount: heads,
                feedForwardDimension: 64,
                maximumLength: 12)
            c.mixer = mixer
            c.dropout = 0
            return c
        }
        let softmax = try EncoderClassifier(configuration(mixer: "full", heads: 8))
        var mgkConfiguration = configuration(mixer: "mgk", heads: 4)
        var options = MixerConfiguration(modelDimension: 32, headCount: 4, maximumLength: 12)
        options.mgk.headDimension = 4  // the softmax model's 32/8
        mgkConfiguration.mixerOptions = options
        let mgk = try EncoderClassifier(mgkConfiguration)
        #expect(mgk.parameterCount < softmax.parameterCount)
        let layer = try #require(mgk.encoder.blocks[0].mixer as? MixtureOfGaussianKeysAttention)
        #expect(layer.headCount == 4 && layer.headDimension == 4)
        let tokens = Indices(shape: [2, 12], values: (0..<24).map { $0 % 15 + 1 })
        let mask = Tensor.ones([2, 12])
        let (loss, gradients) = try valueAndGradient(of: mgk) {
            try $0(tokens, mask: mask).logits.summed()
        }
        #expect(loss.scalar.isFinite && gradients.count == mgk.parameters.count)
    }
}
