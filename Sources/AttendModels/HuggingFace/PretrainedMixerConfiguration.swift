// The attention configuration of a pretrained encoder's layers: the user's mechanism options (or
// the defaults) with the shape the checkpoint fixes — width, heads, longest input, projection
// bias and attention dropout. BERT, ViT and DeBERTa-v2 build their registry cores from it.
import AttendAttention

extension MixerConfiguration {
    /// `options` (the defaults when nil) with a pretrained encoder's attention shape.
    static func pretrained(
        _ options: MixerConfiguration?, modelDimension: Int, headCount: Int, maximumLength: Int,
        projectionBias: Bool = true, attentionDropout: Float
    ) -> MixerConfiguration {
        var mixer = options ?? MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        mixer.modelDimension = modelDimension
        mixer.headCount = headCount
        mixer.maximumLength = maximumLength
        mixer.projectionBias = projectionBias
        mixer.attentionDropout = attentionDropout
        return mixer
    }
}
