// FLASH (Hua et al. 2022, "Transformer Quality in Linear Time"): the gated attention unit (GAU) and
// mixed chunk attention. One GAU replaces a whole Transformer layer (attention and FFN):
//
//     [U | V | Z] = SiLU(x·W + b)                 U, V [b, n, e] (e = 2c), Z [b, n, s] (s = 128)
//     Q = Z ⊙ γ_q + β_q,  K = Z ⊙ γ_k + β_k       one shared Z, a per-dimension scale and offset per head
//     A = relu²(Q·Kᵀ/n + b_rel)                   no softmax; A ≥ 0 and rows need not sum to 1
//     y = (U ⊙ A·V)·W_o + b_o
//
// Mixed chunk attention (FLASH) splits the sequence into chunks of C (256): relu² attention inside
// each chunk (scale 1/C) plus linear attention across chunks with its own two heads,
//     non-causal: Q_lin·(Σ_all K_linᵀV)/n,   causal: Q_lin[g]·(Σ_{h<g} K_lin[h]ᵀV[h])/C (exclusive),
// so the cost is O(n·C·(s+e) + n·s·e): linear in n. Padded keys get weight 0 and zero K_lin rows;
// n is each example's real length (Mega's choice; lucidrains divides by the padded length).
//
// Relative positions: one learned bias per offset j − i, clipped to ±R (Mega's simple table, added
// after the 1/n scaling as Mega does), where lucidrains uses T5's 32 log buckets (added before it)
// and partial rotary embeddings in FLASHTransformer. A table with R ≥ 127 can express every T5
// bucket assignment up to distance 128, which is where T5's buckets saturate; the fixture script
// checks Attend against FLASH-pytorch by giving it this table. Init follows Mega: N(0, 0.02) for
// both projections, γ and the bias table, zero offsets and projection biases. FLASH has no attention
// dropout here (the paper uses none); the block's residual dropout applies.
import AttendCore
import AttendNN

/// The gated attention unit, with quadratic (GAU, FLASH-Quad) or mixed chunk (FLASH) attention.
public final class FlashGAU: TokenMixer {
    /// Which attention the unit runs.
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// relu² attention over the whole sequence (GAU, FLASH-Quad): O(n²).
        case quadratic
        /// Quadratic inside chunks, linear across them (FLASH): O(n).
        case mixed
    }

    /// Which implementation of the relu² term runs.
    public enum Path: String, Codable, Sendable {
        /// Tiled kernel (`Kernels/ChunkedReluSquaredAttention.swift`), O(tile²) scratch per thread.
        case fused
        /// Materialised chunk scores from tensor ops (the oracle).
        case reference
    }

    /// Options of FLASH/GAU (the paper's defaults).
    public struct Options: Codable, Sendable, Equatable {
        /// Quadratic (GAU) or mixed chunk (FLASH) attention.
        public var mode: Mode = .mixed
        /// e = expansion·c, the width of U and V.
        public var expansion: Float = 2
        /// s, the width of the shared Z (and of Q and K).
        public var sharedDimension = 128
        /// C, the chunk length of mixed attention.
        public var chunkSize = 256
        /// Whether to learn a relative-position bias.
        public var relativeBias = true
        /// R: offsets beyond ±R share the edge entries of the bias table (2R + 1 entries).
        public var maximumRelativeDistance = 127
        /// Implementation of the relu² term.
        public var path: Path = .fused

        /// The paper's defaults: mixed attention, e = 2c, s = 128, C = 256.
        public init() {}

        enum CodingKeys: String, CodingKey {
            case mode, expansion, sharedDimension = "shared_dimension", chunkSize = "chunk_size"
            case relativeBias = "relative_bias", maximumRelativeDistance =
                "maximum_relative_distance", path
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&mode, .mode)
            try c.override(&expansion, .expansion)
            try c.override(&sharedDimension, .sharedDimension)
            try c.override(&chunkSize, .chunkSize)
            try c.override(&relativeBias, .relativeBias)
            try c.override(&maximumRelativeDistance, .maximumRelativeDistance)
            try c.override(&path, .path)
        }
    }

    /// Which attention runs (quadratic or mixed) and which implementation of the relu² term.
    public let mode: Mode, path: Path
    /// c, e, s, C and R.
    public let modelDimension: Int, expandedDimension: Int, sharedDimension: Int, chunkSize: Int
    /// R, the largest distinguished relative offset of `relativeBias`.
    public let maximumDistance: Int
    /// c → 2e + s, rows ordered [U | V | Z] ("hidden").
    public let hidden: Linear
    /// [heads, s] scales and offsets of Z: (q, k) for quadratic, (q_quad, k_quad, q_lin, k_lin) for mixed.
    public let gamma: Parameter, beta: Parameter
    /// [2R + 1], indexed by clip(j − i, ±R) + R ("relative_bias").
    public let relativeBias: Parameter?
    /// e → c ("output").
    public let output: Linear

    /// A unit sized by `configuration` (its head count is ignored: GAU has one head).
    public init(configuration: MixerConfiguration, generator: inout RandomGenerator) throws {
        let options = configuration.flash
        let c = configuration.modelDimension
        let e = Int((options.expansion * Float(c)).rounded())
        let s = options.sharedDimension
        func check(_ ok: Bool, _ problem: String) throws {
            if !ok {
                throw MixerError.invalidConfiguration(mechanism: "flash-gau", problem: problem)
            }
        }
        try check(
            c > 0 && e > 0, "expansion \(options.expansion) × width \(c) gives no expanded units")
        try check(s > 0, "shared dimension must be positive, got \(s)")
        try check(options.chunkSize > 0, "chunk size must be positive, got \(options.chunkSize)")
        try check(options.maximumRelativeDistance >= 0, "maximum relative distance must be ≥ 0")
        (mode, path, modelDimension, expandedDimension) = (options.mode, options.path, c, e)
        (sharedDimension, chunkSize, maximumDistance) = (
            s, options.chunkSize, options.maximumRelativeDistance
        )
        let normal = Initializer.normal(standardDeviation: 0.02)
        let bias = configuration.projectionBias
        hidden = Linear(
            inputCount: c, outputCount: 2 * e + s, bias: bias, weightInitializer: normal,
            biasInitializer: .zeros, generator: &generator)
        let heads = mode == .quadratic ? 2 : 4
        gamma = Parameter(normal.make([heads, s], generator: &generator))
        beta = Parameter(.zeros([heads, s]))
        relativeBias =
            options.relativeBias
            ? Parameter(normal.make([2 * maximumDistance + 1], generator: &generator)) : nil
        output = Linear(
            inputCount: e, outputCount: c, bias: bias, weightInitializer: normal,
            biasInitializer: .zeros,
            generator: &generator)
    }

    /// `gamma`, `beta`, and `relative_bias` when present.
    public var ownParameters: [(String, Parameter)] {
        [("gamma", gamma), ("beta", beta)] + (relativeBias.map { [("relative_bias", $0)] } ?? [])
    }
    /// `hidden` and `output`.
    public var children: [(String, any Module)] { [("hidden", hidden), ("output", output)] }

    /// The parameter values as plain tensors: the unit is a function of these (tests differentiate it).
    public struct Weights {
        /// [2e + s, c] and [2e + s].
        public var hidden: Tensor, hiddenBias: Tensor?
        /// [heads, s] each.
        public var gamma: Tensor, beta: Tensor
        /// [2R + 1].
        public var relativeBias: Tensor?
        /// [c, e] and [c].
        public var output: Tensor, outputBias: Tensor?

        /// Weights from tensors.
        public init(
            hidden: Tensor, hiddenBias: Tensor?, gamma: Tensor, beta: Tensor, relativeBias: Tensor?,
            output: Tensor, outputBias: Tensor?
        ) {
            (self.hidden, self.hiddenBias, self.gamma, self.beta) = (
                hidden, hiddenBias, gamma, beta
            )
            (self.relativeBias, self.output, self.outputBias) = (relativeBias, output, outputBias)
        }
    }

    /// The current parameter values.
    public var weights: Weights {
        Weights(
            hidden: hidden.weight.value, hiddenBias: hidden.bias?.value, gamma: gamma.value,
            beta: beta.value,
            relativeBias: relativeBias?.value, output: output.weight.value,
            outputBias: output.bias?.value)
    }

    /// [b, n, c] → [b, n, c] (no residual: the block adds it).
    public func callAsFunction(_ x: Tensor, context: MixerContext) throws -> Tensor {
        try callAsFunction(x, weights: weights, context: context)
    }

    /// The unit with the given parameter values (shapes as this unit's parameters).
    public func callAsFunction(_ x: Tensor, weights w: Weights, context: MixerContext) throws
        -> Tensor
    {
        guard x.rank == 3, x.shape[2] == modelDimension else {
            throw MixerError.shapeMismatch(
                mechanism: "flash-gau", expected: "[batch, length, \(modelDimension)]", got: x.shape
            )
        }
        let (b, n) = (x.shape[0], x.shape[1])
        let (u, v, heads) = projections(x, weights: w)
        let mask = context.paddingMask
        if let mask, mask.shape != [b, n] {
            throw MixerError.shapeMismatch(
                mechanism: "flash-gau", expected: "padding mask [\(b), \(n)]", got: mask.shape)
        }
        let lengths = realLengths(mask, batch: b, length: n)
        let attended: Tensor  // [b, n, e]
        switch mode {
        case .quadratic:
            attended = reluSquaredAttention(
                heads[0], heads[1], v, chunk: Swift.max(n, 1), scales: lengths.map { 1 / $0 },
                mask: mask,
                bias: w.relativeBias, causal: context.isCausal)
        case .mixed:
            let quadratic = reluSquaredAttention(
                heads[0], heads[1], v, chunk: chunkSize,
                scales: Array(repeating: 1 / Float(chunkSize), count: b),
                mask: mask, bias: w.relativeBias, causal: context.isCausal)
            let linear = FlashGAU.linearAttention(
                query: heads[2], key: heads[3], value: v, lengths: lengths, mask: mask,
                chunk: chunkSize,
                causal: context.isCausal)
            attended = quadratic + linear
        }
        return Tensor.linear(u * attended, weight: w.output, bias: w.outputBias)
    }

    /// U and V [b, n, e] and the per-head Q/K of the shared Z, each [b, n, s] (quadratic q, k, then
    /// in mixed mode linear q, k).
    func projections(_ x: Tensor, weights w: Weights) -> (u: Tensor, v: Tensor, heads: [Tensor]) {
        let (e, s) = (expandedDimension, sharedDimension)
        // [b, n, 2e + s]
        let projected = Tensor.linear(x, weight: w.hidden, bias: w.hiddenBias).silu()
        let u = projected.sliced(alongAxis: 2, 0..<e)  // [b, n, e]
        let v = projected.sliced(alongAxis: 2, e..<(2 * e))  // [b, n, e]
        let z = projected.sliced(alongAxis: 2, (2 * e)..<(2 * e + s))  // [b, n, s]
        let heads = (0..<w.gamma.shape[0]).map { h in  // each [b, n, s]
            z * w.gamma.sliced(alongAxis: 0, h..<(h + 1)) + w.beta.sliced(alongAxis: 0, h..<(h + 1))
        }
        return (u, v, heads)
    }

    /// Real tokens per example (at least 1, so a fully padded row divides by 1).
    func realLengths(_ mask: Tensor?, batch b: Int, length n: Int) -> [Float] {
        guard let mask else { return Array(repeating: Float(Swift.max(n, 1)), count: b) }
        let values = mask.scalars
        return (0..<b).map { i in
            Swift.max(1, values[(i * n)..<((i + 1) * n)].reduce(0) { $0 + ($1 != 0 ? 1 : 0) })
        }
    }

    /// The relu² term on the configured path.
    func reluSquaredAttention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, chunk: Int, scales: [Float], mask: Tensor?,
        bias: Tensor?,
        causal: Bool
    ) -> Tensor {
        switch path {
        case .fused:
            return Tensor.chunkedReluSquaredAttention(
                query: q, key: k, value: v, chunk: chunk, scales: scales, keyMask: mask,
                bias: bias, maximumDistance: maximumDistance, causal: causal)
        case .reference:
            return FlashGAU.referenceReluSquaredAttention(
                query: q, key: k, value: v, chunk: chunk, scales: scales, keyMask: mask,
                bias: bias, maximumDistance: maximumDistance, causal: causal)
        }
    }

    /// Linear attention across chunks. q, k [b, n, s], v [b, n, e] → [b, n, e].
    ///
    /// Non-causal: q·(Σ_t k_tᵀv_t)/length per example. Causal: q[g]·(Σ_{h<g} k[h]ᵀv[h])/C, the exclusive
    /// prefix sum over chunks (the sequence is zero-padded to a multiple of C, then cut back).
    public static func linearAttention(
        query: Tensor, key: Tensor, value: Tensor, lengths: [Float], mask: Tensor?, chunk: Int,
        causal: Bool
    ) -> Tensor {
        let (b, n, s, e) = (query.shape[0], query.shape[1], query.shape[2], value.shape[2])
        let k = mask.map { key * $0.reshaped([b, n, 1]) } ?? key  // padded keys contribute nothing
        guard causal else {
            let state = Tensor.matmul(k, value, transposeA: true)  // [b, s, e]
            let normalised = state / Tensor(shape: [b, 1, 1], scalars: lengths)
            return Tensor.matmul(query, normalised)  // [b, n, e]
        }
        let g = (n + chunk - 1) / chunk
        let padding = g * chunk - n
        func chunked(_ t: Tensor, _ width: Int) -> Tensor {
            t.padded(alongAxis: 1, before: 0, after: padding).reshaped([b * g, chunk, width])
        }
        let perChunk =
            // [bg, s, e]
            Tensor.matmul(chunked(k, s), chunked(value, e), transposeA: true) * (1 / Float(chunk))
        // Σ_{h<g}
        let before = perChunk.reshaped([b, g, s * e]).cumulativeSum(alongAxis: 1, exclusive: true)
        let out = Tensor.matmul(chunked(query, s), before.reshaped([b * g, s, e]))  // [bg, C, e]
        return out.reshaped([b, g * chunk, e]).sliced(alongAxis: 1, 0..<n)
    }

    /// The relu² term from tensor ops, materialising [b, G, L, L] chunk scores: the oracle for the
    /// fused kernel (same contract as `Tensor.chunkedReluSquaredAttention`).
    public static func referenceReluSquaredAttention(
        query: Tensor, key: Tensor, value: Tensor, chunk: Int, scales: [Float], keyMask: Tensor?,
        bias: Tensor?, maximumDistance: Int, causal: Bool
    ) -> Tensor {
        let (b, n, s, e) = (query.shape[0], query.shape[1], query.shape[2], value.shape[2])
        let g = (n + chunk - 1) / chunk
        let padding = g * chunk - n
        func chunked(_ t: Tensor, _ width: Int) -> Tensor {
            t.padded(alongAxis: 1, before: 0, after: padding).reshaped([b, g, chunk, width])
        }
        // [b, G, L, L]
        var scores = Tensor.matmul(chunked(query, s), chunked(key, s), transposeB: true)
        scores = scores * Tensor(shape: [b, 1, 1, 1], scalars: scales)
        if let bias {
            let offsets = (0..<(chunk * chunk)).map { index in
                let (i, j) = index.quotientAndRemainder(dividingBy: chunk)
                return Swift.min(Swift.max(j - i, -maximumDistance), maximumDistance)
                    + maximumDistance
            }
            scores =
                scores
                + bias.indexSelect(alongAxis: 0, Indices(shape: [chunk, chunk], values: offsets))
        }
        let keys = (keyMask ?? Tensor.ones([b, n])).padded(alongAxis: 1, before: 0, after: padding)
        var allowed = keys.reshaped([b, g, 1, chunk])  // padded positions are hidden keys
        if causal { allowed = allowed * (1 - causalMask(queries: chunk, keys: chunk)) }
        let weights = scores.reluSquared() * allowed  // [b, G, L, L]
        let out = Tensor.matmul(weights, chunked(value, e))  // [b, G, L, e]
        return out.reshaped([b, g * chunk, e]).sliced(alongAxis: 1, 0..<n)
    }

    /// Working memory: per token, the expanded projection [2e + s] and its SiLU, the slices u, v,
    /// z, the per-head z's, the attended values and the gated product with their gradients (18
    /// floats per unit of s + e: 15.5–16 measured from c = 16 to 512); the relu² maps the
    /// reference path materialises ([b, G, L, L], the last chunk padded); the causal linear
    /// term's chunk-padded copies and per-chunk [s, e] states; and the two projections' gradients.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.flash
        let c = Double(configuration.modelDimension)
        let e = (Double(options.expansion) * c).rounded(), s = Double(options.sharedDimension)
        let (b, n) = (Double(size.batch), Double(size.length))
        let chunk = options.mode == .quadratic ? n : Double(options.chunkSize)
        let chunks = (n / chunk).rounded(.up)
        let maps = options.path == .reference ? 7 * b * chunks * chunk * chunk : 0
        let causalLinear =
            size.causal && options.mode == .mixed
            ? 4 * (s + e) * b * chunks * chunk + 2 * s * e * b * chunks : 0
        return WorkingMemory.bytes(
            18 * (s + e) * size.tokens + maps + causalLinear + 2 * (2 * e + s) * c + 2 * e * c)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "flash-gau",
        summary:
            "gated attention unit with relu² mixed chunk attention; replaces attention + FFN (Hua et al. 2022)",
        capabilities: {
            var c = Capabilities(
                supportsCausal: true, complexity: "O(n·C·(s+e)) mixed, O(n²·(s+e)) quadratic")
            c.replacesFeedForward = true
            return c
        }(),
        options: FlashGAU.Options.self,
        kernelOps: [ChunkedReluSquaredAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            try FlashGAU(configuration: configuration, generator: &generator)
        })
}

extension Tensor {
    /// Chunked relu² attention through the tiled kernel, differentiable in query, key, value and bias.
    ///
    /// - Parameters:
    ///   - query, key: [b, n, s]; value: [b, n, e].
    ///   - chunk: L; position i sees the keys of its own chunk [⌊i/L⌋·L, …) only.
    ///   - scales: per example, multiplies q·k.
    ///   - keyMask: [b, n], 0 for padded keys.
    ///   - bias: [2R + 1] added at clip(j − i, ±R) + R.
    /// - Returns: [b, n, e], o_i = Σ_j relu(scale·q_i·k_j + bias)²·v_j over visible keys.
    public static func chunkedReluSquaredAttention(
        query: Tensor, key: Tensor, value: Tensor, chunk: Int, scales: [Float], keyMask: Tensor?,
        bias: Tensor?, maximumDistance: Int, causal: Bool
    ) -> Tensor {
        let (b, n, e) = (query.shape[0], query.shape[1], value.shape[2])
        precondition(
            key.shape == query.shape && value.shape == [b, n, e],
            "chunked attention: q \(query.shape), k \(key.shape), v \(value.shape)")
        if let keyMask {
            precondition(keyMask.shape == [b, n], "chunked attention: key mask \(keyMask.shape)")
        }
        if let bias {
            precondition(
                bias.shape == [2 * maximumDistance + 1], "chunked attention: bias \(bias.shape)")
        }
        return fused(
            ChunkedReluSquaredAttentionOp(
                query: query, key: key, value: value, bias: bias, keyMask: keyMask, chunk: chunk,
                scales: scales, maximumDistance: maximumDistance, causal: causal))
    }
}

/// `Tensor.chunkedReluSquaredAttention` as a kernel op: inputs q, k, v, the bias table (optional);
/// constant the key mask.
struct ChunkedReluSquaredAttentionOp: KernelOp {
    static let op = Op("chunkedReluSquaredAttention")
    let query: Tensor, key: Tensor, value: Tensor, bias: Tensor?, keyMask: Tensor?
    let chunk: Int, scales: [Float], maximumDistance: Int, causal: Bool

    var inputs: [Tensor?] { [query, key, value, bias] }
    var constants: [Tensor?] { [keyMask] }
    var outputShape: [Int] { value.shape }

    func problem(_ x: KernelBuffers) -> ChunkedReluSquaredProblem {
        ChunkedReluSquaredProblem(
            batch: query.shape[0], length: query.shape[1], chunk: chunk, dimension: query.shape[2],
            valueDimension: value.shape[2], causal: causal, scales: scales, keyMask: x.constant(0),
            bias: x.optionalInput(3), maximumDistance: maximumDistance, query: x.input(0),
            key: x.input(1),
            value: x.input(2))
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        ChunkedReluSquaredAttention.forward(problem(x), output: output)
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        ChunkedReluSquaredAttention.backward(
            problem(x), outputGradient: g.outputGradient, queryGradient: g.input(0),
            keyGradient: g.input(1),
            valueGradient: g.input(2), biasGradient: g.optionalInput(3))
    }
}

extension ChunkedReluSquaredAttentionOp {
    /// Chunks of 4 over 6 positions (the last padded) with a relative-position bias.
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 6], scalars: [1, 1, 1, 1, 1, 0])
        let inputs = [
            Tensor.randomNormal([1, 6, 3], seed: 16), Tensor.randomNormal([1, 6, 3], seed: 17),
            Tensor.randomNormal([1, 6, 2], seed: 18), Tensor.randomNormal([5], seed: 19),
        ]
        return [
            KernelOpExample("chunks of 4 with a bias", inputs) {
                Tensor.chunkedReluSquaredAttention(
                    query: $0[0], key: $0[1], value: $0[2], chunk: 4, scales: [0.5], keyMask: mask,
                    bias: $0[3], maximumDistance: 2, causal: false)
            }
        ]
    }
}

extension FlashGAU.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "flash"

    /// Expansion of the width, shared dimension s, chunk size C and the relative bias's reach.
    public static let limits: [OptionLimit<Self>] = [
        .number("expansion", \.expansion, .above(0, atMost: 64)),
        .whole("shared_dimension", \.sharedDimension, 1...65_536),
        .whole("chunk_size", \.chunkSize, 1...1_048_576),
        .whole("maximum_relative_distance", \.maximumRelativeDistance, 0...1_048_576),
    ]
}

extension MixerConfiguration {
    /// FLASH's gated attention unit (`mixer_options.flash`).
    public var flash: FlashGAU.Options {
        get { self[FlashGAU.Options.self] }
        set { self[FlashGAU.Options.self] = newValue }
    }
}
