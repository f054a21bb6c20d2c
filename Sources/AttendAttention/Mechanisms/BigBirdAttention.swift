// BigBird ITC block-sparse attention (Zaheer et al., 2020, arXiv:2007.14062), as the reference
// code computes it (google-research/bigbird `core/attention.py`; Hugging Face
// `BigBirdBlockSparseAttention`): global first/last blocks, a sliding window of 3 blocks and r
// random blocks per head and query block (layout in BigBirdLayout.swift). Each query block gathers
// its (5 + r) key blocks (all nb for the global rows) and runs an exact softmax over them in the
// segment kernel (Kernels/KeySegmentAttention.swift): O(n·(5+r)·b·d) time, O(n·(5+r)·b) memory.
//
// Reference behaviour kept on purpose:
// - Inputs of n ≤ (5 + 2r)·b tokens use full attention (Hugging Face's switch to "original_full");
//   the result then equals `FullAttention` exactly.
// - n need not be a multiple of b: q, k, v are padded to one with masked positions and the output
//   is cut back (the reference pads the tokens before the model does the same).
// - Padding follows the reference: (1 − mask)·(−10000) is added to the scores of padded keys (so a
//   row whose keys are all padded averages them, it does not return 0), and the output is
//   multiplied by the query mask, so padded queries return 0.
// - No causal form: the global and random blocks read future positions (the LRA code falls back to
//   full attention; Attend refuses instead of silently changing mechanism).
// Shapes: b batch, n sequence, h heads, d head dimension, nb blocks, r random blocks per row.
import AttendCore
import AttendNN

/// Block-sparse attention with global, sliding-window and random key blocks.
public final class BigBirdAttention: AttentionCore {
    /// Where random blocks come from.
    public enum RandomLayout: String, Codable, Sendable {
        /// Drawn per layer from the configuration seed (fixed until `redraw()`).
        case drawn
        /// The reference's evaluation mode: every random block is block 0.
        case firstBlock = "first_block"
    }

    /// Options of the BigBird mechanism (the reference's defaults).
    public struct Options: Codable, Sendable, Equatable {
        /// Block size b (Hugging Face `block_size`).
        public var blockSize = 64
        /// Random blocks per query block r (Hugging Face `num_random_blocks`).
        public var randomBlockCount = 3
        /// Random layout source.
        public var randomLayout = RandomLayout.drawn

        /// Defaults: b = 64, r = 3, drawn random blocks.
        public init() {}

        /// The given fields, the defaults for the others.
        public init(
            blockSize: Int = Options().blockSize,
            randomBlockCount: Int = Options().randomBlockCount,
            randomLayout: RandomLayout = Options().randomLayout
        ) {
            self.blockSize = blockSize
            self.randomBlockCount = randomBlockCount
            self.randomLayout = randomLayout
        }

        /// Decodes the options, keeping each absent key's default.
        public init(from decoder: any Decoder) throws {
            self.init()
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try c.override(&blockSize, .blockSize)
            try c.override(&randomBlockCount, .randomBlockCount)
            try c.override(&randomLayout, .randomLayout)
        }

        enum CodingKeys: String, CodingKey {
            case blockSize = "block_size", randomBlockCount = "random_block_count", randomLayout =
                "random_layout"
        }
    }

    /// Block size b and random blocks per row r.
    public let blockSize: Int, randomBlockCount: Int
    /// Where random blocks come from.
    public let randomLayout: RandomLayout
    /// Seed of the random layouts (with the layer index and the redraw count).
    public let seed: UInt64
    /// Layouts in use, by (layer, block count).
    private var layouts: [LayoutKey: BigBirdLayout] = [:]
    /// Layouts set explicitly, by block count (used for every layer until `redraw()`).
    private var pinned: [Int: BigBirdLayout] = [:]
    /// How many times the layouts were redrawn.
    public private(set) var drawCount: UInt64 = 0

    private struct LayoutKey: Hashable { let layer: Int, blocks: Int }

    /// BigBird with block size `blockSize` and `randomBlockCount` random blocks per row.
    public init(
        blockSize: Int, randomBlockCount: Int, randomLayout: RandomLayout = .drawn, seed: UInt64
    ) throws {
        guard blockSize >= 1, randomBlockCount >= 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "block size must be ≥ 1 and random blocks ≥ 0, got \(blockSize) and \(randomBlockCount)"
            )
        }
        self.blockSize = blockSize
        self.randomBlockCount = randomBlockCount
        self.randomLayout = randomLayout
        self.seed = seed
    }

    /// Longest input that uses full attention: (5 + 2r)·b, the reference's threshold.
    public var fullAttentionThreshold: Int { (5 + 2 * randomBlockCount) * blockSize }

    /// Forgets every layout (drawn or set) so the next forward draws new random blocks.
    public func redraw() {
        drawCount += 1
        layouts.removeAll()
        pinned.removeAll()
    }

    /// Uses `layout` for inputs of `layout.blockCount` blocks, in every layer, until `redraw()`
    /// (to reproduce a layout exported from the reference).
    public func setLayout(_ layout: BigBirdLayout) throws {
        guard layout.randomCount == randomBlockCount else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "layout has \(layout.randomCount) random blocks per row, mechanism \(randomBlockCount)"
            )
        }
        pinned[layout.blockCount] = layout
    }

    /// The layout used for `blockCount` blocks and `heads` heads in layer `layer`: drawn from
    /// (seed, layer, redraw count) on first use and kept.
    public func layout(blockCount: Int, heads: Int, layer: Int) throws -> BigBirdLayout {
        if let layout = pinned[blockCount] {
            guard layout.heads == heads else {
                throw MixerError.invalidConfiguration(
                    mechanism: "bigbird",
                    problem: "layout has \(layout.heads) heads, input \(heads)")
            }
            return layout
        }
        let key = LayoutKey(layer: layer, blocks: blockCount)
        if let layout = layouts[key], layout.heads == heads { return layout }
        let layout: BigBirdLayout
        switch randomLayout {
        case .firstBlock:
            layout = try .firstBlock(
                heads: heads, blockCount: blockCount, randomCount: randomBlockCount)
        case .drawn:
            var generator = RandomGenerator(
                seed: seed, stream: RandomGenerator.mix(UInt64(layer), drawCount))
            layout = try .drawn(
                heads: heads, blockCount: blockCount, randomCount: randomBlockCount,
                generator: &generator)
        }
        layouts[key] = layout
        return layout
    }

    /// q, k [b, n, h, d], v [b, n, h, e] → [b, n, h, e] over global, window and random blocks;
    /// bidirectional only (causal contexts throw).
    public func attend(query: Tensor, key: Tensor, value: Tensor, context: MixerContext) throws
        -> Tensor
    {
        if context.isCausal {
            throw MixerError.causalUnsupported(
                mechanism: "bigbird",
                reason:
                    "its global rows and random blocks read future positions (the reference's LRA code falls back to full attention)"
            )
        }
        let (batch, n, heads, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        guard key.shape[1] == n else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "block-sparse self-attention needs as many keys as queries, got \(n) and \(key.shape[1])"
            )
        }
        let scale = 1 / Float(d).squareRoot()
        if n <= fullAttentionThreshold {
            return Tensor.fusedAttention(
                query: query, key: key, value: value, scale: scale, keyMask: context.paddingMask)
        }
        let b = blockSize
        let padding = (b - n % b) % b
        let blocks = (n + padding) / b
        func padded(_ t: Tensor) -> Tensor { t.padded(alongAxis: 1, before: 0, after: padding) }
        let mask: Tensor? =
            // [b, n + padding]
            padding > 0 ? padded(context.keyMask(batch: batch, length: n)) : context.paddingMask
        let layout = try layout(blockCount: blocks, heads: heads, layer: context.layerIndex)
        var y = Tensor.segmentedAttention(
            query: padded(query), key: padded(key), value: padded(value), scale: scale,
            pattern: layout.pattern(blockSize: b), keyMask: mask,
            maskRule: .additive(penalty: -10000))
        // padded queries return 0
        if let mask { y = y * mask.reshaped([batch, n + padding, 1, 1]) }
        return padding > 0 ? y.sliced(alongAxis: 1, 0..<n) : y
    }

    /// Working memory: the multi-head frame (the segment kernel keeps O(n) statistics); above the
    /// full-attention threshold with a length that is no multiple of the block, q, k, v and the
    /// output padded to whole blocks, the query mask's product and their gradients.
    static func workingMemory(_ configuration: MixerConfiguration, _ size: PassSize) -> Double {
        let options = configuration.bigbird
        let sparse = size.length > (5 + 2 * options.randomBlockCount) * options.blockSize
        let padded = sparse && size.length % options.blockSize != 0
        return WorkingMemory.frame(configuration, size, coreActivations: padded ? 4 : 0)
    }

    /// Registry entry.
    public static let entry = Mechanism(
        name: "bigbird",
        summary:
            "block-sparse global + window + random blocks, ITC layout (BigBird, Zaheer et al. 2020)",
        capabilities: {
            var c = Capabilities(
                supportsCausal: false, complexity: "O(n·(5+r)·b·d) time, O(n·(5+r)·b) memory")
            c.canSeeEveryKey = true
            c.isRandomized = true
            return c
        }(),
        options: BigBirdAttention.Options.self,
        kernelOps: [FusedAttentionOp.self, SegmentedAttentionOp.self],
        workingMemory: workingMemory,
        make: { configuration, generator in
            let options = configuration.bigbird
            let core = try BigBirdAttention(
                blockSize: options.blockSize, randomBlockCount: options.randomBlockCount,
                randomLayout: options.randomLayout,
                seed: RandomGenerator.mix(configuration.seed, 0xB16B_12D))
            return try MultiHeadAttention(
                mechanism: "bigbird", configuration: configuration, core: core,
                generator: &generator)
        })
}

extension BigBirdAttention.Options: MechanismOptions {
    /// Its section of `mixer_options`.
    public static let section = "bigbird"

    /// Block size and random blocks per query block.
    public static let limits: [OptionLimit<Self>] = [
        .whole("block_size", \.blockSize, 1...65_536),
        .whole("random_block_count", \.randomBlockCount, 0...1_024),
    ]
}

extension MixerConfiguration {
    /// BigBird block-sparse attention's options (`mixer_options.bigbird`).
    public var bigbird: BigBirdAttention.Options {
        get { self[BigBirdAttention.Options.self] }
        set { self[BigBirdAttention.Options.self] = newValue }
    }
}
