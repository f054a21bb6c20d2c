// The shared trunk of every sequence model: token embeddings, an optional learned [CLS] vector,
// position information, a stack of Transformer blocks with any registered mixer, and the final norm.
// Shapes: b batch, n tokens, c model width.
import AttendAttention
import AttendCore
import AttendNN
import Foundation

/// Hidden states and the mask that goes with them (the [CLS] position included when present).
public struct EncodedSequence {
    /// [b, n′, c] with n′ = n + 1 when a [CLS] vector was prepended.
    public let hidden: Tensor
    /// [b, n′], 1 for real positions.
    public let mask: Tensor
    /// The context the layers ran with (auxiliary losses, carried state).
    public let context: MixerContext
}

/// Embeddings + Transformer blocks + final norm.
public final class SequenceEncoder: Module {
    /// The hyper-parameters the encoder was built from.
    public let configuration: ModelConfiguration
    /// Token table [vocabulary, c].
    public let tokenEmbedding: Embedding
    /// Learned position table [maximum length (+1), c], when `positions` is `.learned`.
    public let positionEmbedding: Embedding?
    /// [maximum length (+1), c] fixed sinusoids, when `positions` is `.sinusoidal` or `.sinusoidal2D`.
    let sinusoids: Tensor?
    /// The learned [CLS] vector [c] prepended to every sequence, when `pooling` is `.cls`.
    public let cls: Parameter?
    /// The Transformer blocks, first to last.
    public let blocks: [TransformerBlock]
    /// State the mixer shares across all layers (DeBERTa's relative table), built once from the
    /// registry entry's `makeShared` and prepared before the first layer; nil for most mixers.
    public let mixerShared: (any LayerSharedState)?
    /// After the last block (pre-LN) or after the embeddings (post-LN).
    public let norm: LayerNorm
    /// Dropout on the embeddings.
    public let dropout: Dropout
    /// Activation checkpointing while recording gradients: every this many consecutive blocks run
    /// as one region whose activations are recomputed in the backward pass, keeping only each
    /// region's input (0: off; 1: every block). Gradients are those of a plain run.
    public var activationCheckpointBlocks = 0

    /// Builds the encoder described by `configuration`, with its mixer from the registry.
    public init(
        _ configuration: ModelConfiguration, causal: Bool = false, generator: inout RandomGenerator
    ) throws {
        self.configuration = configuration
        let spread = configuration.tokenEmbeddingScale
        guard spread.isFinite, spread >= 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "encoder",
                problem: "token_embedding_std must be a finite number ≥ 0, got \(spread)")
        }
        let c = configuration.modelDimension
        let positions = configuration.maximumLength + (configuration.pooling == .cls ? 1 : 0)
        // N(0, 1) unless configured (why: `ModelConfiguration.tokenEmbeddingScale`). At BERT's 0.02
        // beside the sinusoids every pooled vector would start out nearly the same whatever the input,
        // and a two-tower model then cannot learn.
        tokenEmbedding = Embedding(
            count: configuration.vocabularySize, dimension: c,
            initializer: .normal(standardDeviation: spread),
            generator: &generator)
        switch configuration.positions {
        case .learned:
            positionEmbedding = Embedding(
                count: positions, dimension: c, initializer: .normal(standardDeviation: 0.02),
                generator: &generator)
            sinusoids = nil
        case .sinusoidal:
            positionEmbedding = nil
            sinusoids = sinusoidalPositions(count: positions, dimension: c)
        case .sinusoidal2D:
            positionEmbedding = nil
            let table = try gridPositions(
                pixels: configuration.maximumLength, dimension: c, mechanism: configuration.mixer)
            sinusoids =
                configuration.pooling == .cls
                ? Tensor.concatenated([Tensor.zeros([1, c]), table], alongAxis: 0) : table
        case .none:
            positionEmbedding = nil
            sinusoids = nil
        }
        cls = configuration.pooling == .cls ? Parameter(.zeros([c])) : nil
        // State shared across layers (DeBERTa's relative table) comes from the one mechanism in the
        // stack that has any; two different sharing mechanisms cannot be combined.
        let names = try (0..<configuration.layerCount).map {
            try configuration.mixerName(layer: $0)
        }
        let sharing = try Set(names).sorted().map { try Mechanisms.named($0) }.filter {
            $0.makeShared != nil
        }
        guard sharing.count <= 1 else {
            throw MixerError.invalidConfiguration(
                mechanism: configuration.mixer,
                problem:
                    "\(sharing.map(\.name).joined(separator: " and ")) each share state across layers; use one of them"
            )
        }
        mixerShared = try sharing.first?.makeShared?(configuration.resolvedMixer, &generator)
        var blocks: [TransformerBlock] = []
        for layer in 0..<configuration.layerCount {
            let name = try configuration.mixerName(layer: layer)
            let mechanism = try Mechanisms.named(name)
            if causal && !mechanism.capabilities.supportsCausal {
                throw MixerError.causalUnsupported(
                    mechanism: name,
                    reason: "a causal language model needs a mixer with a causal form")
            }
            var mixerConfiguration = configuration.resolvedMixer
            mixerConfiguration.seed = RandomGenerator.mix(configuration.seed, UInt64(layer))
            let mixer = try mechanism.make(mixerConfiguration, &generator)
            let feedForward: (any FeedForwardLayer)?
            if mechanism.capabilities.replacesFeedForward {
                feedForward = nil
            } else if configuration.feedForward == .switch
                && configuration.switchFeedForward.isSwitchLayer(layer)
            {
                feedForward = try SwitchFeedForward(
                    dimension: c, hiddenDimension: configuration.feedForwardDimension,
                    options: configuration.switchFeedForward, dropout: configuration.dropout,
                    generator: &generator)
            } else {
                feedForward = FeedForward(
                    dimension: c, hiddenDimension: configuration.feedForwardDimension,
                    activation: configuration.activation, dropout: configuration.dropout,
                    initializer: .xavierUniform(), generator: &generator)
            }
            blocks.append(
                TransformerBlock(
                    mixer: mixer, feedForward: feedForward, dimension: c,
                    preNorm: configuration.preNorm,
                    dropout: configuration.dropout, layerNormEpsilon: configuration.layerNormEpsilon
                ))
        }
        self.blocks = blocks
        norm = LayerNorm(dimension: c, epsilon: configuration.layerNormEpsilon)
        dropout = Dropout(probability: configuration.dropout)
    }

    /// `cls`, when the encoder has one.
    public var ownParameters: [(String, Parameter)] { cls.map { [("cls", $0)] } ?? [] }
    /// Embeddings, the shared mixer state, `layers.<i>`, `norm` and `dropout`.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)] = [("token_embedding", tokenEmbedding)]
        if let positionEmbedding { list.append(("position_embedding", positionEmbedding)) }
        if let mixerShared { list.append(("mixer_shared", mixerShared)) }
        list += blocks.enumerated().map { ("layers.\($0.offset)", $0.element as any Module) }
        return list + [("norm", norm), ("dropout", dropout)]
    }

    /// Encodes token ids [b, n] with padding mask [b, n] (nil = no padding).
    public func callAsFunction(
        _ tokens: Indices, mask: Tensor?, causal: Bool = false, trainingStep: Int = 0
    ) throws
        -> EncodedSequence
    {
        let (b, n) = try batchAndLength(of: tokens)
        let c = configuration.modelDimension
        var x = tokenEmbedding(tokens)  // [b, n, c]
        var fullMask = mask ?? Tensor.ones([b, n])
        if let cls {
            let clsRows = cls.value.reshaped([1, 1, c]).broadcast(to: [b, 1, c])
            x = Tensor.concatenated([clsRows, x], alongAxis: 1)  // [b, n + 1, c]
            fullMask = Tensor.concatenated([Tensor.ones([b, 1]), fullMask], alongAxis: 1)
        }
        let length = x.shape[1]
        let positions = Indices(shape: [1, length], values: Array(0..<length))
        if let rows = positionRows(positions) { x = x + rows }
        x = dropout(x)
        if !configuration.preNorm { x = norm(x) }
        let context = MixerContext(paddingMask: mask == nil ? nil : fullMask, isCausal: causal)
        context.trainingStep = trainingStep
        try mixerShared?.prepare(context)
        var layer = 0
        while layer < blocks.count {
            if activationCheckpointBlocks > 0 && GradientMode.isRecording {
                let end = Swift.min(layer + activationCheckpointBlocks, blocks.count)
                x = try recomputedBlocks(layer..<end, x, context: context)
                layer = end
            } else {
                context.layerIndex = layer
                x = try blocks[layer](x, context: context)
                layer += 1
            }
        }
        if configuration.preNorm { x = norm(x) }
        return EncodedSequence(hidden: x, mask: fullMask, context: context)
    }
}

extension SequenceEncoder {
    /// The batch size and length of token ids [b, n], refused when they are not a matrix or are
    /// longer than the model's longest input (the forward pass and decoding's prefill).
    func batchAndLength(of tokens: Indices) throws -> (batch: Int, length: Int) {
        guard tokens.shape.count == 2 else {
            throw MixerError.shapeMismatch(
                mechanism: configuration.mixer, expected: "token ids [batch, length]",
                got: tokens.shape)
        }
        let (b, n) = (tokens.shape[0], tokens.shape[1])
        guard n <= configuration.maximumLength else {
            throw MixerError.sequenceTooLong(
                mechanism: "encoder", length: n, maximum: configuration.maximumLength)
        }
        return (b, n)
    }

    /// Position information for positions of any shape → [positions.shape…, c] (learned or
    /// sinusoidal), or nil when the model has none.
    func positionRows(_ positions: Indices) -> Tensor? {
        if let positionEmbedding { return positionEmbedding(positions) }
        guard let sinusoids else { return nil }
        let c = configuration.modelDimension
        let rows = sinusoids.indexSelect(alongAxis: 0, Indices(positions.values))
        return rows.reshaped(positions.shape + [c])
    }
}

/// The fixed position table of Vaswani et al.: PE[p, 2i] = sin(p/10000^(2i/c)), PE[p, 2i+1] = cos(…).
public func sinusoidalPositions(count: Int, dimension c: Int) -> Tensor {
    Tensor.filled(shape: [count, c]) { out in
        for p in 0..<count {
            for i in stride(from: 0, to: c, by: 2) {
                let angle = Double(p) / Foundation.pow(10_000, Double(i) / Double(c))
                out[p * c + i] = Float(Foundation.sin(angle))
                if i + 1 < c { out[p * c + i + 1] = Float(Foundation.cos(angle)) }
            }
        }
    }
}

/// Positions of the pixels of a square image read row by row, [side², c]: the sinusoids of the row
/// in channels 0..<c/2 and of the column in c/2..<c (the 2-D form of `sinusoidalPositions`).
func gridPositions(pixels: Int, dimension c: Int, mechanism: String) throws -> Tensor {
    let side = Int(Double(pixels).squareRoot().rounded())
    guard side * side == pixels, c % 4 == 0 else {
        throw MixerError.invalidConfiguration(
            mechanism: mechanism,
            problem: "positions sinusoidal_2d need a square image (maximum length = side², got "
                + "\(pixels)) and a width divisible by 4 (got \(c)); use sinusoidal or learned")
    }
    let half = c / 2
    let axis = sinusoidalPositions(count: side, dimension: half).scalars
    return Tensor.filled(shape: [pixels, c]) { out in
        for p in 0..<pixels {
            let (row, column) = p.quotientAndRemainder(dividingBy: side)
            for i in 0..<half {
                out[p * c + i] = axis[row * half + i]
                out[p * c + half + i] = axis[column * half + i]
            }
        }
    }
}

/// Pools hidden states [b, n, c] into [b, c]: the [CLS] position or the masked mean.
public func pooled(_ encoded: EncodedSequence, _ pooling: Pooling) -> Tensor {
    let (b, n, c) = (encoded.hidden.shape[0], encoded.hidden.shape[1], encoded.hidden.shape[2])
    switch pooling {
    case .cls:
        return encoded.hidden.sliced(alongAxis: 1, 0..<1).reshaped([b, c])
    case .mean:
        let weights = encoded.mask.reshaped([b, n, 1])
        let counts = encoded.mask.summed(alongAxes: [1], keepingDimensions: true)  // [b, 1]
        return (encoded.hidden * weights).summed(alongAxes: [1]) / Tensor.maximum(counts, Tensor(1))
    }
}
