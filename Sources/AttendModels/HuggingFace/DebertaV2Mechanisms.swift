// Another attention mechanism in a pretrained DeBERTa-v2 (`attend train --init-from DEBERTA_DIR
// --mixer local`): the registry's core runs between the layer's own content projections
// (`query_proj`, `key_proj`, `value_proj`), as in a BERT. DeBERTa's relative-position terms
// (content-to-position, position-to-content) are part of its own attention and have no place in
// another mechanism, so they are dropped: the position projections and the relative table stay in
// the model (a checkpoint loads name for name) but are not used. The queries are scaled by
// 1/√(1 + number of position terms), so that with full attention the scores are exactly DeBERTa's
// content-to-content term (DeBERTa divides every term by √(d·(1 + terms)), a core by √d). A model
// whose config has `position_biased_input: false` (DeBERTa-v3) then sees positions only through
// what the mechanism itself encodes (a window, say).
import AttendAttention
import AttendCore
import AttendNN

extension DebertaV2Model {
    /// The name of DeBERTa's own disentangled attention as a model's `mechanism`.
    public static let ownMechanism = "deberta"

    /// Each layer's registry core for `mechanism` (shape fields from `configuration`, options
    /// from `mixerConfiguration`), or nils for DeBERTa's own attention.
    static func cores(
        _ configuration: DebertaV2Configuration, mechanism: String,
        mixerConfiguration: MixerConfiguration?, seed: UInt64
    ) throws -> [(any AttentionCore)?] {
        guard mechanism != ownMechanism else {
            return Array(repeating: nil, count: configuration.layerCount)
        }
        let headDimension =
            configuration.attentionHeadSize ?? configuration.modelDimension
            / configuration.headCount
        guard headDimension * configuration.headCount == configuration.modelDimension else {
            throw PretrainedModelError.unsupportedValue(
                field: "attention_head_size", value: "\(headDimension)",
                reason: "another mechanism than DeBERTa's own needs heads of hidden_size / "
                    + "num_attention_heads")
        }
        let mixer = MixerConfiguration.pretrained(
            mixerConfiguration, modelDimension: configuration.modelDimension,
            headCount: configuration.headCount, maximumLength: configuration.maximumPositions,
            attentionDropout: configuration.attentionDropout)
        return try (0..<configuration.layerCount).map { index in
            try Mechanisms.core(
                mechanism, configuration: mixer,
                seed: RandomGenerator.mix(seed ^ mixer.seed, UInt64(index)))
        }
    }

    /// The full names of the registry cores' parameters, which a checkpoint does not hold.
    var mechanismParameterNames: [String] {
        encoder.layers.enumerated().flatMap { index, layer in
            (layer.core?.namedParameters(prefix: "encoder.layer.\(index).attention.self.") ?? [])
                .map(\.0)
        }
    }
}

extension DisentangledSelfAttention {
    /// `core` between the content projections: queries from `queryStates` (default `hidden`),
    /// keys and values from `hidden` [b, n, c], padded keys (`mask` [b, n], 0) hidden
    /// → [b, n, h·d].
    func attend(
        _ hidden: Tensor, queryStates: Tensor?, core: any AttentionCore, mask: Tensor?
    ) throws -> Tensor {
        let (b, n, h, d) = (hidden.shape[0], hidden.shape[1], headCount, headDimension)
        let termCount = Float(1 + Set(options.positionTerms).count)
        var q = queryProjection(queryStates ?? hidden)
        if termCount > 1 { q = q * Tensor((1 / termCount).squareRoot()) }
        let k = keyProjection(hidden).reshaped([b, n, h, d])
        let v = valueProjection(hidden).reshaped([b, n, h, d])
        let keyMask = mask.flatMap { m in m.scalars.contains(0) ? m : nil }
        return try core.attend(
            query: q.reshaped([b, n, h, d]), key: k, value: v,
            context: MixerContext(paddingMask: keyMask)
        ).reshaped([b, n, h * d])
    }
}
