// Vision Transformer (Dosovitskiy et al., 2021, arXiv:2010.11929; mechanisms-b §7) laid out as
// transformers' `ViTModel`, so every parameter's dotted path is its checkpoint key:
//   embeddings.cls_token [1, 1, D], embeddings.position_embeddings [1, N + 1, D]
//   embeddings.patch_embeddings.projection.{weight [D, C, P, P], bias}   a stride-P convolution,
//       computed as patches reshaped to [b, N, C·P·P] times the weight reshaped to [D, C·P·P]
//   encoder.layer.i.layernorm_before, .attention.attention.{query,key,value}, .attention.output.dense
//   encoder.layer.i.layernorm_after, .intermediate.dense, .output.dense        (pre-LN blocks)
//   layernorm, pooler.dense (tanh, optional)
// Pre-LN: z′ = z + Attn(LN(z)); z = z′ + W₂·act(W₁·LN(z′)); final LN. The attention between the
// projections is any registry q/k/v mechanism (`Mechanisms`); a mechanism that is not one (SPADE)
// runs as a whole mixer under `attention.mixer` (trainable, not a transformers layout). Layers ≥ 1
// run the mechanism's declared upper-layer mixer unless another is named, as SequenceEncoder does.
// `ViTClassifier` adds transformers' `ViTForImageClassification` head (`vit.…`, `classifier`).
// Shapes: b batch, C channels, H = W image side, P patch side, N = (H/P)² patches, D width.
import AttendAttention
import AttendCore
import AttendNN

/// A Vision Transformer encoder with transformers' parameter names.
public final class ViT: Module {
    /// The hyper-parameters (config.json).
    public let configuration: ViTConfiguration
    /// Registry name of the mechanism in layer 0 (and above, unless `layerMechanisms` differ).
    public let mechanism: String
    /// The mechanism each layer runs.
    public let layerMechanisms: [String]
    /// `embeddings`: [CLS], positions, patch projection.
    public let embeddings: ViTEmbeddings
    /// `encoder.layer.i`.
    public let layers: [ViTLayer]
    /// The final `layernorm`.
    public let layerNorm: LayerNorm
    /// tanh(dense(h[CLS])); nil without a pooler.
    public let pooler: Linear?

    /// How a new model's weights are filled: transformers' initialisation, or zeros a checkpoint
    /// will overwrite.
    public enum Initialization: Sendable { case random, placeholder }

    /// A ViT running `mechanism` (layers ≥ 1: `upperMechanism`, else the mechanism's declared
    /// upper-layer mixer, else `mechanism`).
    ///
    /// - Parameters:
    ///   - configuration: the shape and dropout rates (config.json).
    ///   - mechanism: the registry name of layer 0's mixer.
    ///   - upperMechanism: the mixer of the layers above layer 0, when it differs.
    ///   - mixerConfiguration: the mechanisms' options; shape fields come from `configuration`.
    ///   - hasPooler: whether to build `pooler.dense` (checkpoints of ViTModel have one, image
    ///     classifiers do not).
    ///   - seed: the seed of the initial weights and of the mechanisms' random draws.
    ///   - initialization: `.random` draws transformers' init (truncated normal, σ =
    ///     `initializer_range`, zero biases, unit norms).
    public init(
        _ configuration: ViTConfiguration, mechanism: String = "full",
        upperMechanism: String? = nil,
        mixerConfiguration: MixerConfiguration? = nil, hasPooler: Bool = true, seed: UInt64 = 0,
        initialization: Initialization = .random
    ) throws {
        if let problem = configuration.problem {
            throw PretrainedModelError.invalidConfiguration(
                path: "ViT configuration", problem: problem)
        }
        self.configuration = configuration
        self.mechanism = mechanism
        var generator = RandomGenerator(seed: seed)
        let weights: Initializer =
            initialization == .random
            ? .truncatedNormal(standardDeviation: configuration.initializerRange) : .zeros
        embeddings = ViTEmbeddings(configuration, weights: weights, generator: &generator)
        let mixer = MixerConfiguration.pretrained(
            mixerConfiguration, modelDimension: configuration.modelDimension,
            headCount: configuration.headCount, maximumLength: configuration.sequenceLength,
            projectionBias: configuration.qkvBias, attentionDropout: configuration.attentionDropout)
        let upper =
            try upperMechanism ?? Mechanisms.named(mechanism).capabilities.upperLayerMixer
            ?? mechanism
        layerMechanisms = (0..<configuration.layerCount).map { $0 == 0 ? mechanism : upper }
        var layers: [ViTLayer] = []
        for (index, name) in layerMechanisms.enumerated() {
            let built = try Mechanisms.make(
                name, configuration: mixer,
                seed: RandomGenerator.mix(seed ^ mixer.seed, UInt64(index)))
            layers.append(
                ViTLayer(configuration, mixer: built, weights: weights, generator: &generator))
        }
        self.layers = layers
        let d = configuration.modelDimension
        layerNorm = LayerNorm(dimension: d, epsilon: configuration.layerNormEpsilon)
        pooler =
            hasPooler
            ? Linear(
                inputCount: d, outputCount: d, weightInitializer: weights, biasInitializer: .zeros,
                generator: &generator)
            : nil
    }

    /// transformers' ViTModel names: `embeddings`, `encoder.layer.i`, `layernorm`, and
    /// `pooler.dense` when the model has a pooler.
    public var children: [(String, any Module)] {
        [("embeddings", embeddings as any Module)]
            + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element as any Module) }
            + [("layernorm", layerNorm)]
            + (pooler.map { [("pooler.dense", $0 as any Module)] } ?? [])
    }

    /// Hidden states [b, N + 1, D] of images [b, C, H, W], with the context the layers ran in.
    public func encode(_ pixels: Tensor, trainingStep: Int = 0) throws -> EncodedSequence {
        let (c, side) = (configuration.channelCount, configuration.imageSize)
        guard pixels.rank == 4, pixels.shape[1] == c, pixels.shape[2] == side,
            pixels.shape[3] == side
        else {
            throw PretrainedModelError.invalidInput(
                "pixel values must be [batch, \(c), \(side), \(side)], got \(pixels.shape)")
        }
        let context = MixerContext()
        context.trainingStep = trainingStep
        var x = embeddings(pixels)  // [b, N + 1, D]
        for (index, layer) in layers.enumerated() {
            context.layerIndex = index
            x = try layer(x, context: context)
        }
        let hidden = layerNorm(x)
        return EncodedSequence(
            hidden: hidden, mask: Tensor.ones([hidden.shape[0], hidden.shape[1]]), context: context)
    }

    /// The last hidden state [b, N + 1, D] (transformers' `last_hidden_state`).
    public func callAsFunction(_ pixels: Tensor, trainingStep: Int = 0) throws -> Tensor {
        try encode(pixels, trainingStep: trainingStep).hidden
    }

    /// transformers' `pooler_output`: tanh(dense(h[:, 0])) → [b, D]; nil without a pooler.
    public func pooledOutput(_ hidden: Tensor) -> Tensor? {
        guard let pooler else { return nil }
        let (b, d) = (hidden.shape[0], hidden.shape[2])
        return pooler(hidden.sliced(alongAxis: 1, 0..<1).reshaped([b, d])).tanh()
    }
}

/// [CLS] token, learned positions and the patch projection.
public final class ViTEmbeddings: Module {
    /// [1, 1, D].
    public let classToken: Parameter
    /// [1, N + 1, D].
    public let positions: Parameter
    /// `patch_embeddings.projection`.
    public let patches: ViTPatchProjection
    let dropout: Dropout

    init(_ configuration: ViTConfiguration, weights: Initializer, generator: inout RandomGenerator)
    {
        let d = configuration.modelDimension
        classToken = Parameter(weights.make([1, 1, d], generator: &generator))
        positions = Parameter(
            weights.make([1, configuration.sequenceLength, d], generator: &generator))
        patches = ViTPatchProjection(configuration, weights: weights, generator: &generator)
        dropout = Dropout(probability: configuration.hiddenDropout)
    }

    /// `cls_token` and `position_embeddings`, transformers' names.
    public var ownParameters: [(String, Parameter)] {
        [("cls_token", classToken), ("position_embeddings", positions)]
    }
    /// The patch convolution under transformers' `patch_embeddings.projection`, and the dropout.
    public var children: [(String, any Module)] {
        [("patch_embeddings.projection", patches), ("dropout", dropout)]
    }

    /// [b, C, H, W] → [b, N + 1, D].
    func callAsFunction(_ pixels: Tensor) -> Tensor {
        let x = patches(pixels)  // [b, N, D]
        let (b, d) = (x.shape[0], x.shape[2])
        let cls = classToken.value.broadcast(to: [b, 1, d])
        // [b, N + 1, D]
        return dropout(Tensor.concatenated([cls, x], alongAxis: 1) + positions.value)
    }
}

/// The stride-P convolution that embeds patches, stored as transformers' Conv2d weight.
public final class ViTPatchProjection: Module {
    /// [D, C, P, P].
    public let weight: Parameter
    /// [D].
    public let bias: Parameter
    let patchSize: Int

    init(_ configuration: ViTConfiguration, weights: Initializer, generator: inout RandomGenerator)
    {
        let (d, c, p) = (
            configuration.modelDimension, configuration.channelCount, configuration.patchSize
        )
        weight = Parameter(weights.make([d, c, p, p], generator: &generator))
        bias = Parameter(.zeros([d]))
        patchSize = p
    }

    /// `weight` and `bias`, in Conv2d's layout.
    public var ownParameters: [(String, Parameter)] { [("weight", weight), ("bias", bias)] }

    /// [b, C, H, W] → [b, N, D], patches in row-major order (conv output flattened as transformers does).
    func callAsFunction(_ pixels: Tensor) -> Tensor {
        let (b, c, side, p) = (pixels.shape[0], pixels.shape[1], pixels.shape[2], patchSize)
        let g = side / p
        let d = weight.shape[0]
        let patches = pixels.reshaped([b, c, g, p, g, p]).permuted([0, 2, 4, 1, 3, 5]).reshaped([
            b, g * g, c * p * p,
        ])
        return Tensor.linear(
            patches, weight: weight.value.reshaped([d, c * p * p]), bias: bias.value)  // [b, N, D]
    }
}

/// One pre-LN encoder layer.
public final class ViTLayer: Module {
    /// What mixes the tokens: q/k/v projections around a registry core (transformers' names), or
    /// a whole registry mixer.
    public enum Attention {
        case heads(ViTSelfAttention, output: Linear)
        case mixer(any TokenMixer)
    }

    /// The token mixer.
    public let attention: Attention
    /// `layernorm_before` and `layernorm_after`.
    public let normBefore: LayerNorm, normAfter: LayerNorm
    /// `intermediate.dense` and `output.dense`.
    public let intermediate: Linear, output: Linear
    let activation: Activation
    let dropout: Dropout

    init(
        _ configuration: ViTConfiguration, mixer: any TokenMixer, weights: Initializer,
        generator: inout RandomGenerator
    ) {
        let (d, f) = (configuration.modelDimension, configuration.feedForwardDimension)
        func linear(_ input: Int, _ output: Int, _ generator: inout RandomGenerator) -> Linear {
            Linear(
                inputCount: input, outputCount: output, weightInitializer: weights,
                biasInitializer: .zeros, generator: &generator)
        }
        if let frame = mixer as? MultiHeadAttention {
            let heads = ViTSelfAttention(
                configuration, core: frame.core, weights: weights, generator: &generator)
            attention = .heads(heads, output: linear(d, d, &generator))
        } else {
            attention = .mixer(mixer)
        }
        normBefore = LayerNorm(dimension: d, epsilon: configuration.layerNormEpsilon)
        normAfter = LayerNorm(dimension: d, epsilon: configuration.layerNormEpsilon)
        intermediate = linear(d, f, &generator)
        output = linear(f, d, &generator)
        activation = configuration.activation
        dropout = Dropout(probability: configuration.hiddenDropout)
    }

    /// transformers' ViTLayer names: `attention.*`, `intermediate.dense`, `output.dense`,
    /// `layernorm_before`, `layernorm_after`.
    public var children: [(String, any Module)] {
        var list: [(String, any Module)]
        switch attention {
        case .heads(let heads, let output):
            list = [("attention.attention", heads), ("attention.output.dense", output)]
        case .mixer(let mixer): list = [("attention.mixer", mixer)]
        }
        return list + [
            ("layernorm_before", normBefore), ("layernorm_after", normAfter),
            ("intermediate.dense", intermediate),
            ("output.dense", output), ("dropout", dropout),
        ]
    }

    /// [b, n, D] → [b, n, D].
    func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let normed = normBefore(x)
        let attended: Tensor
        switch attention {
        case .heads(let heads, let projection):
            attended = projection(try heads(normed, context: context))
        case .mixer(let mixer): attended = try mixer(normed, context: context)
        }
        let h = x + dropout(attended)  // [b, n, D]
        return h + dropout(output(activation(intermediate(normAfter(h)))))
    }
}

/// `attention.attention`: query, key and value projections around a registry attention core.
public final class ViTSelfAttention: Module {
    /// The projections, [D, D] each.
    public let query: Linear, key: Linear, value: Linear
    /// The registry mechanism between them.
    public let core: any AttentionCore
    let headCount: Int

    init(
        _ configuration: ViTConfiguration, core: any AttentionCore, weights: Initializer,
        generator: inout RandomGenerator
    ) {
        let d = configuration.modelDimension
        func projection(_ generator: inout RandomGenerator) -> Linear {
            Linear(
                inputCount: d, outputCount: d, bias: configuration.qkvBias,
                weightInitializer: weights,
                biasInitializer: .zeros, generator: &generator)
        }
        query = projection(&generator)
        key = projection(&generator)
        value = projection(&generator)
        self.core = core
        headCount = configuration.headCount
    }

    /// The core's own parameters, at this level, as `MultiHeadAttention` keeps them.
    public var ownParameters: [(String, Parameter)] { core.ownParameters }
    /// `query`, `key`, `value`, then the core's children.
    public var children: [(String, any Module)] {
        [("query", query), ("key", key), ("value", value)] + core.children
    }

    /// [b, n, D] → [b, n, D] (heads merged, before the output projection).
    func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let (b, n, d) = (x.shape[0], x.shape[1], x.shape[2])
        let heads = [b, n, headCount, d / headCount]
        let mixed = try core.attend(
            query: query(x).reshaped(heads), key: key(x).reshaped(heads),
            value: value(x).reshaped(heads), context: context)
        return mixed.reshaped([b, n, d])
    }
}

/// Image classification: ViT encoder (`vit.…`, no pooler) and a linear head on the final [CLS]
/// state (`classifier`), transformers' `ViTForImageClassification`. A frozen encoder (fine-tuning
/// the head alone) runs without recording gradients.
public final class ViTClassifier: Module {
    /// The encoder (`vit.…`), without a pooler.
    public let vit: ViT
    /// `classifier`: D → classes.
    public let classifier: Linear
    /// How sample values become pixel values: a pretrained folder's preprocessor; nil: v/127.5 − 1
    /// (ViT's default normalisation, as models trained from scratch have always used).
    public let normalization: ImageNormalization?
    /// Whether the encoder's parameters are frozen (only the classifier trains).
    public let isEncoderFrozen: Bool

    /// A classifier with `classCount` outputs.
    public init(
        _ configuration: ViTConfiguration, classCount: Int, mechanism: String = "full",
        upperMechanism: String? = nil,
        mixerConfiguration: MixerConfiguration? = nil, normalization: ImageNormalization? = nil,
        freezeEncoder: Bool = false, seed: UInt64 = 0
    ) throws {
        vit = try ViT(
            configuration, mechanism: mechanism, upperMechanism: upperMechanism,
            mixerConfiguration: mixerConfiguration,
            hasPooler: false, seed: seed)
        var generator = RandomGenerator(seed: seed, stream: 1)
        classifier = Linear(
            inputCount: configuration.modelDimension, outputCount: classCount,
            weightInitializer: .truncatedNormal(standardDeviation: configuration.initializerRange),
            biasInitializer: .zeros,
            generator: &generator)
        self.normalization = normalization
        isEncoderFrozen = freezeEncoder
        if freezeEncoder {
            for (_, parameter) in vit.namedParameters() { parameter.isTrainable = false }
        }
    }

    /// The classifier a training configuration with `architecture = vit` describes: square images
    /// of `image_channels` channels whose side follows from the maximum length.
    public convenience init(_ model: ModelConfiguration) throws {
        let configuration = try ViTConfiguration(model)
        try self.init(
            configuration, classCount: model.classCount, mechanism: model.mixer,
            upperMechanism: model.upperMixer,
            mixerConfiguration: model.mixerOptions, seed: model.seed)
    }

    /// `vit` and `classifier`, as in `ViTForImageClassification`.
    public var children: [(String, any Module)] { [("vit", vit), ("classifier", classifier)] }

    /// Images [b, C, H, W] → logits [b, classes].
    public func callAsFunction(_ pixels: Tensor, trainingStep: Int = 0) throws -> ModelOutput {
        let encoded: EncodedSequence
        if isEncoderFrozen {
            encoded = try withoutGradient { try vit.encode(pixels, trainingStep: trainingStep) }
        } else {
            encoded = try vit.encode(pixels, trainingStep: trainingStep)
        }
        let (b, d) = (encoded.hidden.shape[0], encoded.hidden.shape[2])
        return ModelOutput(
            logits: classifier(encoded.hidden.sliced(alongAxis: 1, 0..<1).reshaped([b, d])),
            context: encoded.context)
    }

    /// Grey levels 0…255 as token ids [b, C·H·W] (channel-major, rows in order) → pixel values
    /// [b, C, H, W] normalised as transformers' ViT image processor does: by `normalization`, else
    /// (v/255 − 0.5)/0.5. Grey images [b, H·W] given to a model of three channels are repeated
    /// into each channel (what converting them to RGB does).
    public func pixels(fromTokens tokens: Indices) throws -> Tensor {
        let (c, side) = (vit.configuration.channelCount, vit.configuration.imageSize)
        let plane = side * side
        guard tokens.shape.count == 2,
            tokens.shape[1] == c * plane || (c == 3 && tokens.shape[1] == plane)
        else {
            throw PretrainedModelError.invalidInput(
                "expected \(c)·\(side)·\(side) grey levels per image, got token ids \(tokens.shape)"
            )
        }
        let b = tokens.shape[0]
        var samples = tokens.values
        if tokens.shape[1] == plane && c == 3 {
            samples = (0..<b).flatMap { image -> [Int] in
                let grey = samples[(image * plane)..<((image + 1) * plane)]
                return Array(grey) + Array(grey) + Array(grey)
            }
        }
        return Tensor(
            shape: [b, c, side, side],
            scalars: normalization.map { $0(samples, plane: plane) }
                ?? samples.map { Float($0) / 127.5 - 1 })
    }
}

extension ViTConfiguration {
    /// The ViT a model configuration with `architecture = vit` describes: width, depth, heads, FFN,
    /// activation, ε and dropout from the model; square images of `imageChannels` channels whose
    /// side is √(maximum length / channels); patches of `patchSize`.
    public init(_ model: ModelConfiguration) throws {
        let channels = max(model.imageChannels, 1)
        let side = Int(Double(model.maximumLength / channels).squareRoot().rounded())
        guard side * side * channels == model.maximumLength else {
            throw PretrainedModelError.invalidConfiguration(
                path: "model configuration",
                problem:
                    "a ViT needs square images: maximum length \(model.maximumLength) is not \(channels)·side²"
            )
        }
        self.init(
            modelDimension: model.modelDimension, layerCount: model.layerCount,
            headCount: model.headCount,
            feedForwardDimension: model.feedForwardDimension, imageSize: side,
            patchSize: model.patchSize,
            channelCount: channels)
        activation = model.activation
        layerNormEpsilon = model.layerNormEpsilon
        hiddenDropout = model.dropout
        if let problem {
            throw PretrainedModelError.invalidConfiguration(
                path: "model configuration", problem: problem)
        }
    }
}
