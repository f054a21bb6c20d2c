// The mechanism proper, without the projections around it: for models whose checkpoints name their
// own query/key/value projections (BERT's `attention.self.query`…) and want any registered q/k/v
// mechanism between them. The core is taken from the registry's own mixer, so the attention math
// has one source: the mechanism's file.
import AttendCore

extension Mechanisms {
    /// The `AttentionCore` that mechanism `name` runs inside `MultiHeadAttention`, built from
    /// `configuration` (its own options, seed and shape) exactly as `make` builds it.
    ///
    /// Throws `MixerError.invalidConfiguration` for a mechanism that is not a q/k/v core in the
    /// shared multi-head frame (one that replaces the whole layer, for instance).
    public static func core(
        _ name: String, configuration: MixerConfiguration, causal: Bool = false, seed: UInt64? = nil
    ) throws -> any AttentionCore {
        let mixer = try make(name, configuration: configuration, causal: causal, seed: seed)
        guard let frame = mixer as? MultiHeadAttention else {
            throw MixerError.invalidConfiguration(
                mechanism: name,
                problem:
                    "it does not attend with query/key/value heads in the shared multi-head frame, "
                    + "so it cannot run between a pretrained model's query, key and value projections"
            )
        }
        return frame.core
    }
}
