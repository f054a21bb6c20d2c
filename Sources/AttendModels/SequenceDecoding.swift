// Incremental decoding through a whole causal model: embeddings and positions, every block's
// prefill or step (Sources/AttendModels/BlockDecoding.swift), the final norm, and for `CausalLM`
// the vocabulary head. Prompts of different lengths are right-padded: sequence i's real tokens are
// its first `lengths[i]`, and each step appends one token to every sequence at its own next
// position, so every sequence decodes as it would alone (docs/decoding.md).
import AttendAttention
import AttendCore
import AttendNN

/// What a sequence model keeps between decoding steps.
public final class SequenceDecodingState: DecodingState {
    /// Tokens each sequence holds so far (prompt and generated).
    public internal(set) var lengths: [Int]
    /// One state per layer.
    public let layers: [BlockDecodingState]
    init(lengths: [Int], layers: [BlockDecodingState]) {
        self.lengths = lengths
        self.layers = layers
    }
    /// Bytes of every layer's state.
    public var byteCount: Int { layers.reduce(0) { $0 + $1.byteCount } }
}

extension SequenceEncoder {
    /// The causal forward of right-padded prompts [b, n] (sequence i has `lengths[i]` real tokens):
    /// hidden states [b, n, c] (rows past a prompt's end are padding) and the state `step`
    /// continues.
    public func prefill(
        _ tokens: Indices, lengths: [Int]
    ) throws -> (hidden: Tensor, state: SequenceDecodingState) {
        guard cls == nil else {
            throw MixerError.invalidConfiguration(
                mechanism: configuration.mixer,
                problem: "decoding needs a model without a [CLS] vector")
        }
        let (b, n) = try batchAndLength(of: tokens)
        try checkLengths(lengths, batch: b, length: n, mechanism: configuration.mixer)
        var x = tokenEmbedding(tokens)  // [b, n, c]
        if let rows = positionRows(Indices(shape: [1, n], values: Array(0..<n))) { x = x + rows }
        x = dropout(x)
        if !configuration.preNorm { x = norm(x) }
        let context = MixerContext(
            paddingMask: rightPaddingMask(lengths, length: n), isCausal: true)
        try mixerShared?.prepare(context)
        var states: [BlockDecodingState] = []
        for (layer, block) in blocks.enumerated() {
            context.layerIndex = layer
            let (output, state) = try namingRefusals(layer) {
                try block.prefill(x, lengths: lengths, context: context)
            }
            x = output
            states.append(state)
        }
        if configuration.preNorm { x = norm(x) }
        return (x, SequenceDecodingState(lengths: lengths, layers: states))
    }

    /// One token per sequence [b] at each sequence's next position → hidden states [b, 1, c].
    public func step(_ tokens: [Int], state: SequenceDecodingState) throws -> Tensor {
        let b = state.lengths.count
        guard tokens.count == b else {
            throw MixerError.shapeMismatch(
                mechanism: configuration.mixer, expected: "one token per sequence (\(b))",
                got: [tokens.count])
        }
        let longest = (state.lengths.max() ?? 0) + 1
        guard longest <= configuration.maximumLength else {
            throw MixerError.sequenceTooLong(
                mechanism: "encoder", length: longest, maximum: configuration.maximumLength)
        }
        var x = tokenEmbedding(Indices(shape: [b, 1], values: tokens))  // [b, 1, c]
        if let rows = positionRows(Indices(shape: [b, 1], values: state.lengths)) { x = x + rows }
        x = dropout(x)
        if !configuration.preNorm { x = norm(x) }
        let context = MixerContext(isCausal: true)
        try mixerShared?.prepare(context)
        for (layer, block) in blocks.enumerated() {
            context.layerIndex = layer
            x = try namingRefusals(layer) {
                try block.step(x, state: state.layers[layer], context: context)
            }
        }
        if configuration.preNorm { x = norm(x) }
        state.lengths = state.lengths.map { $0 + 1 }
        return x
    }

    /// Runs `body`, putting the registry name of layer `layer`'s mechanism into a refusal.
    func namingRefusals<R>(_ layer: Int, _ body: () throws -> R) throws -> R {
        do {
            return try body()
        } catch MixerError.decodingUnsupported(let mechanism, let reason)
            where mechanism != "switch"
        {
            throw MixerError.decodingUnsupported(
                mechanism: try configuration.mixerName(layer: layer), reason: reason)
        }
    }
}

extension CausalLM {
    /// Logits [b, n, vocabulary] of right-padded prompts (sequence i has `lengths[i]` real tokens)
    /// and the state to continue from; rows past a prompt's end are padding.
    public func prefill(
        _ tokens: Indices, lengths: [Int]
    ) throws -> (logits: Tensor, state: SequenceDecodingState) {
        let (hidden, state) = try encoder.prefill(tokens, lengths: lengths)
        return (head(hidden), state)
    }

    /// One token per sequence → next-token logits [b, vocabulary].
    public func step(_ tokens: [Int], state: SequenceDecodingState) throws -> Tensor {
        let hidden = try encoder.step(tokens, state: state)  // [b, 1, c]
        return head(hidden).reshaped([tokens.count, encoder.configuration.vocabularySize])
    }
}
