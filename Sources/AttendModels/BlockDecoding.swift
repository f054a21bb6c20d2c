// Incremental decoding through one Transformer layer: the block's own residual and norm wiring with
// the mixer's prefill/step in place of its forward, and the feed-forward sublayer's. A dense FFN is
// position-wise and keeps nothing; a Switch FFN keeps, per sequence, how many tokens each expert
// has taken, because capacity is filled in position order
// (Sources/AttendModels/SwitchFeedForward.swift).
import AttendAttention
import AttendCore
import AttendNN

extension FeedForwardLayer {
    /// A position-wise layer: the forward pass, no state.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: (any DecodingState)?)
    {
        (self(x, context: context), nil)
    }

    /// A position-wise layer: the forward pass.
    public func step(
        _ x: Tensor, state: (any DecodingState)?, context: MixerContext
    ) throws -> Tensor {
        self(x, context: context)
    }
}

/// Tokens each expert of a Switch layer has taken so far, per sequence.
public final class SwitchDecodingState: DecodingState {
    /// [sequence][expert].
    var taken: [[Int]]
    init(taken: [[Int]]) { self.taken = taken }
    /// Bytes of the counts.
    public var byteCount: Int { taken.reduce(0) { $0 + $1.count } * MemoryLayout<Int>.size }
}

extension SwitchFeedForward {
    /// The layer on the prompts and each expert's count of their tokens. Needs a fixed
    /// `expert_capacity`: a capacity from the factors depends on the whole sequence's length, which
    /// decoding does not know in advance.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: (any DecodingState)?)
    {
        guard options.expertCapacity != nil else {
            throw MixerError.decodingUnsupported(
                mechanism: "switch",
                reason:
                    "its expert capacity comes from capacity factors × the whole sequence's "
                    + "length, unknown while decoding; set a fixed capacity "
                    + "(\"expert_capacity\" in the model's "
                    + "switch options)")
        }
        let (output, routing) = routed(x, weights: weights, context: context, earlier: nil)
        return (output, SwitchDecodingState(taken: routing.taken))
    }

    /// The next position of each sequence, after the tokens its experts already took.
    public func step(
        _ x: Tensor, state: (any DecodingState)?, context: MixerContext
    ) throws -> Tensor {
        guard let counts = state as? SwitchDecodingState else {
            throw MixerError.invalidConfiguration(
                mechanism: "switch", problem: "step needs the state prefill returned")
        }
        let (output, routing) = routed(x, weights: weights, context: context, earlier: counts.taken)
        counts.taken = routing.taken
        return output
    }
}

/// What one layer keeps between decoding steps: its mixer's state and its feed-forward layer's.
public final class BlockDecodingState: DecodingState {
    /// The mixer's state.
    public let mixer: any DecodingState
    /// The feed-forward layer's state (nil when it is position-wise or absent).
    public let feedForward: (any DecodingState)?
    init(mixer: any DecodingState, feedForward: (any DecodingState)?) {
        self.mixer = mixer
        self.feedForward = feedForward
    }
    /// Bytes of both states.
    public var byteCount: Int { mixer.byteCount + (feedForward?.byteCount ?? 0) }
}

extension TransformerBlock {
    /// The layer on right-padded prompts (`lengths[i]` real tokens in sequence i) and its state.
    public func prefill(
        _ x: Tensor, lengths: [Int], context: MixerContext
    ) throws
        -> (output: Tensor, state: BlockDecodingState)
    {
        var mixerState: (any DecodingState)?
        var feedForwardState: (any DecodingState)?
        let y = try layer(
            x,
            mix: {
                let (output, state) = try mixer.prefill($0, lengths: lengths, context: context)
                mixerState = state
                return output
            },
            feed: {
                let (output, state) = try $0.prefill($1, lengths: lengths, context: context)
                feedForwardState = state
                return output
            })
        return (y, BlockDecodingState(mixer: mixerState!, feedForward: feedForwardState))
    }

    /// The layer on each sequence's next position [b, 1, c].
    public func step(_ x: Tensor, state: BlockDecodingState, context: MixerContext) throws -> Tensor
    {
        try layer(
            x, mix: { try mixer.step($0, state: state.mixer, context: context) },
            feed: { try $0.step($1, state: state.feedForward, context: context) })
    }
}
