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
}

extension FeedForward: FeedForwardLayer {
    public func callAsFunction(_ x: Tensor, context: MixerContext) -> Tensor { self(x) }
}

/// Mixer + FFN with residuals and norms.
public final class TransformerBlock: Module {
    public let mixer: any TokenMixer
    public let feedForward: (any FeedForwardLayer)?
    public let mixerNorm: LayerNorm
    public let feedForwardNorm: LayerNorm?
    public let dropout: Dropout
    public let preNorm: Bool

    /// A block around `mixer`; `feedForward` nil when the mixer replaces the whole layer.
    public init(mixer: any TokenMixer, feedForward: (any FeedForwardLayer)?, dimension: Int,
                preNorm: Bool, dropout: Float, layerNormEpsilon: Float) {
        self.mixer = mixer
        self.feedForward = feedForward
        mixerNorm = LayerNorm(dimension: dimension, epsilon: layerNormEpsilon)
        feedForwardNorm = feedForward == nil ? nil : LayerNorm(dimension: dimension, epsilon: layerNormEpsilon)
        self.dropout = Dropout(probability: dropout)
        self.preNorm = preNorm
    }

    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [("mixer", mixer), ("mixer_norm", mixerNorm)]
        if let feedForward, let feedForwardNorm {
            list += [("feed_forward", feedForward), ("feed_forward_norm", feedForwardNorm)]
        }
        return list + [("dropout", dropout)]
    }

    /// [b, n, c] → [b, n, c].
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        var h = x
        if preNorm {
            h = h + dropout(try mixer(mixerNorm(h), context: context))
            if let feedForward, let feedForwardNorm {
                h = h + dropout(feedForward(feedForwardNorm(h), context: context))
            }
        } else {
            h = mixerNorm(h + dropout(try mixer(h, context: context)))
            if let feedForward, let feedForwardNorm {
                h = feedForwardNorm(h + dropout(feedForward(h, context: context)))
            }
        }
        return h
    }
}
