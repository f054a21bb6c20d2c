// One Transformer layer: a token mixer and a feed-forward sublayer, each wrapped in a residual
// connection with LayerNorm before (pre-LN, Xiong et al. 2020) or after (post-LN, the original and
// BERT). A mixer that replaces the whole layer (FLASH's GAU) gets one norm and one residual, no FFN.
import AttendAttention
import AttendCore
import AttendNN

/// A position-wise sublayer after the mixer: dense FFN or mixture of experts.
public protocol FeedForwardLayer: Module {
    /// [b, n, c] → [b, n, c]; may record auxiliary losses in the context.
    func callAsFunction(_ x: Tensor, context: MixerContext) -> Tensor

    /// Incremental decoding: the layer on right-padded prompts [b, n, c] with `lengths[i]` real
    /// tokens, and what `step` needs of them (nil for a position-wise layer).
    func prefill(_ x: Tensor, lengths: [Int], context: MixerContext) throws
        -> (output: Tensor, state: (any DecodingState)?)

    /// Incremental decoding: the layer on each sequence's next position [b, 1, c].
    func step(_ x: Tensor, state: (any DecodingState)?, context: MixerContext) throws -> Tensor
}

extension FeedForward: FeedForwardLayer {
    /// The dense FFN ignores the context: it records no auxiliary loss.
    public func callAsFunction(_ x: Tensor, context: MixerContext) -> Tensor { self(x) }
}

/// Mixer + FFN with residuals and norms.
public final class TransformerBlock: Module {
    /// The attention mechanism (or its replacement) that mixes positions.
    public let mixer: any TokenMixer
    /// The position-wise layer after the mixer; nil when the mixer replaces it (FLASH).
    public let feedForward: (any FeedForwardLayer)?
    /// The LayerNorm around the mixer (before it with `preNorm`, after the residual otherwise).
    public let mixerNorm: LayerNorm
    /// The LayerNorm around the feed-forward layer; nil when there is none.
    public let feedForwardNorm: LayerNorm?
    /// Applied to each sublayer's output before its residual addition.
    public let dropout: Dropout
    /// Pre-LN (norm before each sublayer) when true, post-LN (after each residual) when false.
    public let preNorm: Bool

    /// A block around `mixer`; `feedForward` nil when the mixer replaces the whole layer.
    public init(
        mixer: any TokenMixer, feedForward: (any FeedForwardLayer)?, dimension: Int,
        preNorm: Bool, dropout: Float, layerNormEpsilon: Float
    ) {
        self.mixer = mixer
        self.feedForward = feedForward
        mixerNorm = LayerNorm(dimension: dimension, epsilon: layerNormEpsilon)
        feedForwardNorm =
            feedForward == nil ? nil : LayerNorm(dimension: dimension, epsilon: layerNormEpsilon)
        self.dropout = Dropout(probability: dropout)
        self.preNorm = preNorm
    }

    /// `mixer`, `mixer_norm`, then `feed_forward` and `feed_forward_norm` when present, and
    /// `dropout`.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [("mixer", mixer), ("mixer_norm", mixerNorm)]
        if let feedForward, let feedForwardNorm {
            list += [("feed_forward", feedForward), ("feed_forward_norm", feedForwardNorm)]
        }
        return list + [("dropout", dropout)]
    }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        try layer(x, mix: { try mixer($0, context: context) }, feed: { $0($1, context: context) })
    }

    /// The residual and norm wiring around a mixer call and a feed-forward call, shared by the
    /// forward pass and incremental decoding.
    func layer(
        _ x: Tensor, mix: (Tensor) throws -> Tensor,
        feed: (any FeedForwardLayer, Tensor) throws -> Tensor
    ) throws -> Tensor {
        var h = x
        if preNorm {
            h = h + dropout(try mix(mixerNorm(h)))
            if let feedForward, let feedForwardNorm {
                h = h + dropout(try feed(feedForward, feedForwardNorm(h)))
            }
        } else {
            h = mixerNorm(h + dropout(try mix(h)))
            if let feedForward, let feedForwardNorm {
                h = feedForwardNorm(h + dropout(try feed(feedForward, h)))
            }
        }
        return h
    }
}
