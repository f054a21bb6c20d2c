// Linformer (Wang et al., 2020, arXiv:2006.04768): keys and values are projected along the
// sequence axis from n to k rows by learned matrices E and F, so attention costs O(n·k·d) time and
// O(n·k) memory instead of O(n²). References: lucidrains/linformer (`proj_k`, `proj_v`: [seq_len, k],
// U(±1/√k) initialisation, `share_kv`; inputs shorter than seq_len use the first n rows), fairseq
// `multihead_linear_attention.py` and LRA (one projection shared by keys, values and heads, k = 16).
// - Sharing: E = F (`shareKeyValue`), one E for every head (`shareHeads`, lucidrains' layout) or
//   one per head. Layerwise sharing is a model-level choice: pass one `Projections` to several
//   layers (each layer then lists the same parameters, so the model must hand them to its
//   optimizer once).
// - Padding: the references ignore it; here K and V are multiplied by the padding mask before the
//   projection, so padded rows contribute nothing (mechanisms-b.md §3).
// - No causal form: every projected key mixes all positions, future ones included.
// Shapes: b batch, n sequence (≤ N, the configured maximum), k projected length, h heads, d head
// dimension.
import AttendCore
import AttendNN

/// Attention over keys and values projected along the sequence to a fixed length k.
public final class LinformerAttention: AttentionCore {
    /// Options of the Linformer mechanism.
    public struct Options: Codable, Sendable, Equatable {
        /// Projected length k (lucidrains' default 256; LRA uses 16).
        public var projectedLength = 256
        /// Use one projection for keys and values (E = F; lucidrains `share_kv`).
        public var shareKeyValue = false
        /// Use one projection for every head (lucidrains' and LRA's layout); otherwise one per head.
        public var shareHeads = true

        /// Defaults: k = 256, separate E and F, shared by the heads (lucidrains).
        public init() {}

        /// The given fields, the defaults for the others.
        public init(
            projectedLength: Int = Options().projectedLength,
            shareKeyValue: Bool = Options().shareKeyValue, shareHeads: Bool = Options().shareHeads
        ) {
            self.projectedLength = projectedLength
            self.shareKeyValue = shareKeyValue
            self.shareHeads = shareHeads
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&projectedLength, .projectedLength)
            try c.override(&shareKeyValue, .shareKeyValue)
            try c.override(&shareHeads, .shareHeads)
        }

        enum CodingKeys: String, CodingKey {
            case projectedLength = "projected_length", shareKeyValue = "share_key_value",
                shareHeads = "share_heads"
        }
    }

    /// The sequence projections E (keys) and F (values), shareable between layers.
    public final class Projections: Module {
        /// E: [N, k] when shared by the heads, else [h, N, k].
        public let key: Parameter
        /// F, or nil when the keys' projection serves the values too.
        public let value: Parameter?
        /// Maximum length N and projected length k.
        public let maximumLength: Int, projectedLength: Int

        /// Projections for sequences up to `maximumLength`, initialised U(±1/√k) (lucidrains).
        public init(
            maximumLength: Int, projectedLength k: Int, heads: Int, options: Options,
            generator: inout RandomGenerator
        ) {
            let shape = options.shareHeads ? [maximumLength, k] : [heads, maximumLength, k]
            let initializer = Initializer.uniform(bound: 1 / Float(k).squareRoot())
            key = Parameter(initializer.make(shape, generator: &generator))
            value =
                options.shareKeyValue
                ? nil : Parameter(initializer.make(shape, generator: &generator))
            self.maximumLength = maximumLength
            projectedLength = k
        }

        /// lucidrains' names, so its state dicts map one to one.
        public var ownParameters: [(String, Parameter)] {
            [("proj_k", key)] + (value.map { [("proj_v", $0)] } ?? [])
        }
    }

    /// E and F (possibly shared with other layers).
    public let projections: Projections

    /// Linformer reading its projections from `projections`.
    public init(projections: Projections) { self.projections = projections }

    /// E and F, at this level under the names `projections` gives them.
    public var ownParameters: [(String, Parameter)] { projections.ownParameters }

    /// q [b, n, h, d], k [b, m, h, d], v [b, m, h, e] → [b, n, h, e] against keys and values
    /// projected to k rows; bidirectional only (causal contexts throw).
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        if context.isCausal {
            throw MixerError.causalUnsupported(
                mechanism: "linformer",
                reason:
                    "its projections mix every position, future ones included, into each projected key and value"
            )
        }
        // n counts keys: queries only read the k projected rows.
        let (batch, n, heads, d) = (key.shape[0], key.shape[1], key.shape[2], key.shape[3])
        guard n <= projections.maximumLength else {
            throw MixerError.sequenceTooLong(
                mechanism: "linformer", length: n, maximum: projections.maximumLength)
        }
        var k = key, v = value  // [b, n, h, d]
        if let mask = context.paddingMask {
            let rows = mask.reshaped([batch, n, 1, 1])
            k = k * rows
            v = v * rows
        }
        let e = projections.key.value
        let projectedKeys = project(k, with: e, n: n, heads: heads, d: d)  // [b, k, h, d]
        let projectedValues = project(
            v, with: projections.value?.value ?? e, n: n, heads: heads, d: d)  // [b, k, h, d]
        return Tensor.fusedAttention(
            query: query, key: projectedKeys, value: projectedValues,
            scale: 1 / Float(d).squareRoot())
    }

    /// Eᵀ·X along the sequence, with the first n rows of E: [b, n, h, d] → [b, k, h, d].
    func project(_ x: Tensor, with e: Tensor, n: Int, heads: Int, d: Int) -> Tensor {
        let batch = x.shape[0], k = projections.projectedLength
        if e.rank == 2 {
            let rows = e.sliced(alongAxis: 0, 0..<n)  // [n, k]
            // [b, k, h·d]
            return Tensor.matmul(rows, x.reshaped([batch, n, heads * d]), transposeA: true)
                .reshaped([batch, k, heads, d])
        }
        let rows = e.sliced(alongAxis: 1, 0..<n)  // [h, n, k]
        let perHead = x.permuted([2, 1, 0, 3]).reshaped([heads, n, batch * d])  // [h, n, b·d]
        return Tensor.matmul(rows, perHead, transposeA: true)  // [h, k, b·d]
            .reshaped([heads, k, batch, d]).permuted([2, 1, 0, 3])
    }

    /// Working memory: the multi-head frame, the projected keys and values [b, k, h, d] with their
    /// gradients, the gradient of the rows of E (and F) in use, made per batch entry ([b, n, k])
    /// before it is summed, and the gradients of E and F.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.linformer
        let k = Double(options.projectedLength)
        let c = Double(configuration.modelDimension)
        let projections = options.shareKeyValue ? 1.0 : 2
        let heads = options.shareHeads ? 1 : Double(configuration.headCount)
        let rows = heads * Double(configuration.maximumLength) * k
        let perBatchEntry = size.tokens * heads * k
        return WorkingMemory.frame(configuration, size)
            + WorkingMemory.bytes(
                1.2 * perBatchEntry + 6 * Double(size.batch) * k * c + 1.2 * projections * rows)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "linformer",
        summary:
            "keys and values projected along the sequence to k rows (Linformer, Wang et al. 2020)",
        capabilities: {
            var c = Capabilities(supportsCausal: false, complexity: "O(n·k·d) time, O(n·k) memory")
            c.hasLengthSizedParameters = true
            return c
        }(),
        options: LinformerAttention.Options.self,
        kernelOps: [FusedAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            let (h, _) = try configuration.validatedHeads(for: "linformer")
            let options = configuration.linformer
            guard options.projectedLength >= 1, configuration.maximumLength >= 1 else {
                throw MixerError.invalidConfiguration(
                    mechanism: "linformer",
                    problem:
                        "projected length and maximum length must be ≥ 1, got \(options.projectedLength) and \(configuration.maximumLength)"
                )
            }
            // E and F come from a stream forked off the generator without advancing it, so the
            // q/k/v/output weights equal those of any other mechanism built from the same seed.
            var fork = generator
            var projectionGenerator = RandomGenerator(seed: fork.next(), stream: 0x11F0)
            let projections = Projections(
                maximumLength: configuration.maximumLength,
                projectedLength: options.projectedLength, heads: h,
                options: options, generator: &projectionGenerator)
            return try MultiHeadAttention(
                mechanism: "linformer", configuration: configuration,
                core: LinformerAttention(projections: projections),
                generator: &generator)
        })
}

extension LinformerAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "linformer"

    /// The projected length k (each projection holds k × maximum length weights).
    public static let limits: [OptionLimit<Self>] = [
        .whole("projected_length", \.projectedLength, 1...65_536)
    ]
}

extension MixerConfiguration {
    /// Linformer's low-rank projections (`mixer_options.linformer`).
    public var linformer: LinformerAttention.Options {
        get { self[LinformerAttention.Options.self] }
        set { self[LinformerAttention.Options.self] = newValue }
    }
}
