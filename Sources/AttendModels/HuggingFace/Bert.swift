// BERT (Devlin et al. 2019, arXiv:1810.04805) laid out as transformers' `BertModel`, so every
// parameter's dotted path in this module tree is its checkpoint key and loading is a name-for-name
// copy (BertCheckpoint.swift):
//   embeddings.{word,position,token_type}_embeddings, embeddings.LayerNorm
//   encoder.layer.i.attention.self.{query,key,value}     → the attention core of any q/k/v mechanism
//   encoder.layer.i.attention.output.{dense,LayerNorm}   post-LN: LN(x + dense(attention))
//   encoder.layer.i.intermediate.dense, .output.{dense,LayerNorm}   LN(x + dense(act(dense(x))))
//   pooler.dense                                          tanh(dense(h[CLS])), when the checkpoint has one
// The attention between the projections is taken from the registry (`Mechanisms.core`), so the same
// weights run with full attention (exact, the default) or with local, BigBird, Performer… for long
// inputs. Shapes: b batch, n tokens, c width, h heads, d head dimension, f feed-forward width.
import AttendAttention
import AttendCore
import AttendNN

/// A BERT encoder with transformers' parameter names.
///
/// ```swift
/// let bert = try Bert.load(directory: "all-MiniLM-L6-v2")          // config.json + model.safetensors
/// let hidden = try bert(batch.ids, mask: batch.attentionMask)      // [b, n, c]
/// let vectors = bert.sentenceEmbeddings(hidden, mask: batch.attentionMask, pooling: .mean, normalized: true)
/// ```
public final class Bert: Module {
    /// The hyper-parameters (config.json).
    public let configuration: BertConfiguration
    /// Registry name of the attention mechanism between the q/k/v projections.
    public let mechanism: String
    /// Word, position and token-type embeddings (`embeddings`).
    public let embeddings: BertEmbeddings
    /// The encoder layers, first to last (`encoder.layer.<i>`).
    public let layers: [BertLayer]
    /// tanh(dense(h[CLS])); nil for checkpoints saved without it.
    public let pooler: Linear?

    /// A randomly initialised BERT (weights N(0, initializer_range²), biases 0, norms 1 and 0, as
    /// transformers initialises it) running `mechanism` in every layer.
    ///
    /// - Parameters:
    ///   - configuration: the hyper-parameters (config.json).
    ///   - mechanism: the registry mechanism between the q/k/v projections.
    ///   - mixerConfiguration: the mechanism's options (window size, blocks, features…); its shape
    ///     fields are overwritten with this model's width, heads and maximum positions.
    ///   - hasPooler: whether to build `pooler.dense`.
    ///   - seed: seeds the initial weights and the mechanism's own parameters.
    public convenience init(
        _ configuration: BertConfiguration, mechanism: String = "full",
        mixerConfiguration: MixerConfiguration? = nil,
        hasPooler: Bool = true, seed: UInt64 = 0
    ) throws {
        try self.init(
            configuration, mechanism: mechanism, mixerConfiguration: mixerConfiguration,
            hasPooler: hasPooler,
            seed: seed, initialization: .random)
    }

    /// How a new model's weights are filled: drawn, or zeros that a checkpoint will overwrite.
    enum Initialization { case random, placeholder }

    init(
        _ configuration: BertConfiguration, mechanism: String,
        mixerConfiguration: MixerConfiguration?,
        hasPooler: Bool, seed: UInt64, initialization: Initialization
    ) throws {
        self.configuration = configuration
        self.mechanism = mechanism
        var generator = RandomGenerator(seed: seed)
        let weights: Initializer =
            initialization == .random
            ? .normal(standardDeviation: configuration.initializerRange) : .zeros
        embeddings = BertEmbeddings(configuration, weights: weights, generator: &generator)
        let mixer = MixerConfiguration.pretrained(
            mixerConfiguration, modelDimension: configuration.modelDimension,
            headCount: configuration.headCount, maximumLength: configuration.maximumPositions,
            attentionDropout: configuration.attentionDropout)
        var layers: [BertLayer] = []
        for index in 0..<configuration.layerCount {
            let core = try Mechanisms.core(
                mechanism, configuration: mixer,
                seed: RandomGenerator.mix(seed ^ mixer.seed, UInt64(index)))
            layers.append(
                BertLayer(configuration, core: core, weights: weights, generator: &generator))
        }
        self.layers = layers
        let c = configuration.modelDimension
        pooler = hasPooler ? Linear(c, c, weights, &generator) : nil
        eval()
    }

    /// `embeddings`, `encoder.layer.<i>`, then `pooler.dense` when present: transformers' names.
    public var children: [(String, any Module)] {
        [("embeddings", embeddings as any Module)]
            + layers.enumerated().map { ("encoder.layer.\($0.offset)", $0.element as any Module) }
            + (pooler.map { [("pooler.dense", $0 as any Module)] } ?? [])
    }

    /// The last hidden state [b, n, c] of token ids [b, n].
    ///
    /// - Parameters:
    ///   - ids: [b, n] token ids.
    ///   - mask: [b, n], 1 for real tokens and 0 for padding (padded keys are hidden from every
    ///     query); nil when nothing is padded.
    ///   - tokenTypes: [b, n] segment ids; nil means all 0 (one text per row).
    public func callAsFunction(_ ids: Indices, mask: Tensor? = nil, tokenTypes: Indices? = nil)
        throws -> Tensor
    {
        try checkInputs(ids, mask: mask, tokenTypes: tokenTypes)
        let keyMask = mask.flatMap { m in m.scalars.contains(0) ? m : nil }
        let context = MixerContext(paddingMask: keyMask)
        var x = embeddings(ids, tokenTypes: tokenTypes)  // [b, n, c]
        for (index, layer) in layers.enumerated() {
            context.layerIndex = index
            x = try layer(x, context: context)
        }
        return x
    }

    /// BertModel's `pooler_output`: tanh(dense(h[:, 0])) → [b, c]. Nil without a pooler.
    public func pooledOutput(_ hidden: Tensor) -> Tensor? {
        guard let pooler else { return nil }
        let (b, c) = (hidden.shape[0], hidden.shape[2])
        return pooler(hidden.sliced(alongAxis: 1, 0..<1).reshaped([b, c])).tanh()
    }

    /// Sentence vectors [b, c] from hidden states [b, n, c]: the mean over real tokens
    /// (sentence-transformers' default) or the [CLS] state, optionally scaled to unit length.
    public func sentenceEmbeddings(
        _ hidden: Tensor, mask: Tensor, pooling: Pooling, normalized: Bool
    ) -> Tensor {
        let vectors = pooled(
            // [b, c]
            EncodedSequence(hidden: hidden, mask: mask, context: MixerContext()), pooling)
        guard normalized else { return vectors }
        // x / max(‖x‖, 1e-12), torch.nn.functional.normalize's guard.
        // [b, 1]
        let norms = vectors.squared().summed(alongAxes: [1], keepingDimensions: true).squareRoot()
        return vectors / Tensor.maximum(norms, Tensor(1e-12))
    }

    /// Throws before any work for inputs the model cannot take.
    func checkInputs(_ ids: Indices, mask: Tensor?, tokenTypes: Indices?) throws {
        guard ids.shape.count == 2 else {
            throw PretrainedModelError.invalidInput(
                "token ids must be [batch, length], got \(ids.shape)")
        }
        let n = ids.shape[1]
        guard n <= configuration.maximumPositions else {
            throw PretrainedModelError.sequenceTooLong(
                length: n, maximum: configuration.maximumPositions)
        }
        if let bad = ids.values.first(where: { $0 < 0 || $0 >= configuration.vocabularySize }) {
            throw PretrainedModelError.invalidInput(
                "token id \(bad) is outside the vocabulary 0..<\(configuration.vocabularySize)")
        }
        if let mask, mask.shape != ids.shape {
            throw PretrainedModelError.invalidInput(
                "attention mask \(mask.shape) does not match token ids \(ids.shape)")
        }
        if let tokenTypes {
            guard tokenTypes.shape == ids.shape else {
                throw PretrainedModelError.invalidInput(
                    "token types \(tokenTypes.shape) do not match token ids \(ids.shape)")
            }
            if let bad = tokenTypes.values.first(where: {
                $0 < 0 || $0 >= configuration.typeVocabularySize
            }) {
                throw PretrainedModelError.invalidInput(
                    "token type \(bad) is outside 0..<\(configuration.typeVocabularySize)")
            }
        }
    }
}

/// Word + position + segment embeddings, then LayerNorm and dropout.
public final class BertEmbeddings: Module {
    /// Tables of vocabulary, position and token-type rows, each [rows, c].
    public let words: Embedding, positions: Embedding, tokenTypes: Embedding
    /// LayerNorm over the summed embeddings.
    public let norm: LayerNorm
    let dropout: Dropout

    init(
        _ configuration: BertConfiguration, weights initializer: Initializer,
        generator: inout RandomGenerator
    ) {
        let c = configuration.modelDimension
        func table(_ rows: Int) -> Embedding {
            Embedding(count: rows, dimension: c, initializer: initializer, generator: &generator)
        }
        words = table(configuration.vocabularySize)
        positions = table(configuration.maximumPositions)
        tokenTypes = table(configuration.typeVocabularySize)
        let pad = configuration.paddingTokenID
        if pad >= 0 && pad < configuration.vocabularySize {  // transformers zeroes the padding row
            words.weight.update { w in for j in 0..<c { w[pad * c + j] = 0 } }
        }
        norm = LayerNorm(dimension: c, epsilon: configuration.layerNormEpsilon)
        dropout = Dropout(probability: configuration.hiddenDropout)
    }

    /// The three tables, `LayerNorm` and `dropout`, under transformers' names.
    public var children: [(String, any Module)] {
        [
            ("word_embeddings", words), ("position_embeddings", positions),
            ("token_type_embeddings", tokenTypes),
            ("LayerNorm", norm), ("dropout", dropout),
        ]
    }

    /// ids [b, n] → [b, n, c].
    func callAsFunction(_ ids: Indices, tokenTypes types: Indices?) -> Tensor {
        let (n, c) = (ids.shape[1], words.dimension)
        var x = words(ids)  // [b, n, c]
        x = x + positions(Indices(Array(0..<n))).reshaped([1, n, c])
        if let types {
            x = x + tokenTypes(types)  // [b, n, c]
        } else {
            x = x + tokenTypes(Indices([0])).reshaped([1, 1, c])
        }
        return dropout(norm(x))
    }
}

/// `attention.self`: the query, key and value projections around a registry attention core.
public final class BertSelfAttention: Module {
    /// The c → c query, key and value projections, with biases.
    public let query: Linear, key: Linear, value: Linear
    /// The mechanism proper (full attention for pretrained weights as trained).
    public let core: any AttentionCore
    let headCount: Int

    init(
        _ configuration: BertConfiguration, core: any AttentionCore, weights: Initializer,
        generator: inout RandomGenerator
    ) {
        let c = configuration.modelDimension
        query = Linear(c, c, weights, &generator)
        key = Linear(c, c, weights, &generator)
        value = Linear(c, c, weights, &generator)
        self.core = core
        headCount = configuration.headCount
    }

    /// The core's own parameters, at this level, as transformers keeps them.
    public var ownParameters: [(String, Parameter)] { core.ownParameters }
    /// `query`, `key`, `value`, then the core's children.
    public var children: [(String, any Module)] {
        [("query", query), ("key", key), ("value", value)] + core.children
    }

    /// [b, n, c] → [b, n, c] (heads merged, before the output projection).
    func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let (b, n, c) = (x.shape[0], x.shape[1], x.shape[2])
        let heads = [b, n, headCount, c / headCount]
        let q = query(x).reshaped(heads)  // [b, n, h, d]
        let k = key(x).reshaped(heads)  // [b, n, h, d]
        let v = value(x).reshaped(heads)  // [b, n, h, d]
        return try core.attend(query: q, key: k, value: v, context: context).reshaped([b, n, c])
    }
}

/// One post-LN encoder layer.
public final class BertLayer: Module {
    /// Self-attention: projections and core (`attention.self`).
    public let attention: BertSelfAttention
    /// c → c projection after attention and the LayerNorm over its residual sum.
    public let attentionOutput: Linear, attentionNorm: LayerNorm
    /// Feed-forward c → f projection (`intermediate.dense`).
    public let intermediate: Linear
    /// Feed-forward f → c projection and the LayerNorm over its residual sum.
    public let output: Linear, outputNorm: LayerNorm
    let activation: Activation
    let attentionDropout: Dropout, outputDropout: Dropout

    init(
        _ configuration: BertConfiguration, core: any AttentionCore, weights: Initializer,
        generator: inout RandomGenerator
    ) {
        let (c, f) = (configuration.modelDimension, configuration.feedForwardDimension)
        attention = BertSelfAttention(
            configuration, core: core, weights: weights, generator: &generator)
        attentionOutput = Linear(c, c, weights, &generator)
        attentionNorm = LayerNorm(dimension: c, epsilon: configuration.layerNormEpsilon)
        intermediate = Linear(c, f, weights, &generator)
        output = Linear(f, c, weights, &generator)
        outputNorm = LayerNorm(dimension: c, epsilon: configuration.layerNormEpsilon)
        activation = configuration.activation
        attentionDropout = Dropout(probability: configuration.hiddenDropout)
        outputDropout = Dropout(probability: configuration.hiddenDropout)
    }

    /// transformers' `attention.*`, `intermediate.dense` and `output.*` names.
    public var children: [(String, any Module)] {
        [
            ("attention.self", attention), ("attention.output.dense", attentionOutput),
            ("attention.output.LayerNorm", attentionNorm),
            ("attention.output.dropout", attentionDropout),
            ("intermediate.dense", intermediate), ("output.dense", output),
            ("output.LayerNorm", outputNorm),
            ("output.dropout", outputDropout),
        ]
    }

    /// [b, n, c] → [b, n, c].
    func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        let attended = attentionOutput(try attention(x, context: context))  // [b, n, c]
        let h = attentionNorm(x + attentionDropout(attended))  // [b, n, c]
        let inner = activation(intermediate(h))  // [b, n, f]
        return outputNorm(h + outputDropout(output(inner)))  // [b, n, c]
    }
}

extension Linear {
    /// A BERT projection: weights from `weights` (transformers: N(0, initializer_range²)), zero bias.
    fileprivate convenience init(
        _ inputCount: Int, _ outputCount: Int, _ weights: Initializer,
        _ generator: inout RandomGenerator
    ) {
        self.init(
            inputCount: inputCount, outputCount: outputCount, weightInitializer: weights,
            biasInitializer: .zeros,
            generator: &generator)
    }
}
