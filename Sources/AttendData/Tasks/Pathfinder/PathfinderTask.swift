// The Pathfinder task: are the two markers joined by one dashed path? Image i of a split is drawn
// from its own generator stream (seed, split, i), so any image can be made alone and in any order.
// Images are drawn in blocks of `blockSize`, in parallel, the first time an image of the block is
// asked for, and kept (1 KB per 32 × 32 image) unless the split would exceed `cacheLimitBytes`;
// then images are drawn on demand. Pixels are token ids 0…255 in row-major order, as LRA feeds them.
import AttendCore
import Synchronization

/// Pathfinder / Path-X: binary classification of size × size images as pixel sequences.
public struct PathfinderTask: SequenceTask {
    /// The parameters images are drawn with.
    public let configuration: PathfinderConfiguration
    private let generator: PathfinderGenerator
    private let cache = SplitImageCache()

    /// Splits whose pixels exceed this many bytes are not kept in memory.
    public static let cacheLimitBytes = 512 << 20
    /// Images drawn (and cached) together.
    public static let blockSize = 64

    /// `pathfinder` (32 × 32), `pathx` (128 × 128) or `pathfinder<size>` for other sizes.
    public var name: String {
        switch configuration.size {
        case 32: "pathfinder"
        case 128: "pathx"
        default: "pathfinder\(configuration.size)"
        }
    }
    /// Classification.
    public var kind: TaskKind { .classification }
    /// Grey levels 0…255.
    public var vocabularySize: Int { 256 }
    /// Connected or not.
    public var classCount: Int { 2 }
    /// Label 0: the markers sit on different snakes; label 1: on one.
    public var classNames: [String] { ["disconnected", "connected"] }
    /// size² pixels.
    public var maxLength: Int { configuration.size * configuration.size }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }

    /// A task for `configuration`; throws if the parameters cannot make images.
    public init(_ configuration: PathfinderConfiguration) throws(DataError) {
        if let problem = configuration.problem() {
            throw DataError.invalidConfiguration(task: "pathfinder", reason: problem)
        }
        self.configuration = configuration
        generator = PathfinderGenerator(configuration)
    }

    /// Images in `split`.
    public func count(of split: Split) -> Int { configuration.count(of: split) }

    /// Image `index` of `split` with its drawing metadata (markers, target paddles).
    public func sample(_ index: Int, in split: Split) -> PathfinderSample {
        precondition(index >= 0 && index < count(of: split), "image \(index) outside \(split)")
        let base = RandomGenerator.mix(configuration.seed, Self.splitTag(split))
        var random = RandomGenerator(seed: base, stream: UInt64(index))
        return generator.sample(label: index % 2, using: &random)
    }

    /// Image `index` of `split` as a pixel sequence and its label.
    public func example(_ index: Int, in split: Split) -> Example {
        precondition(index >= 0 && index < count(of: split), "image \(index) outside \(split)")
        let block = index / Self.blockSize
        let pixels =
            count(of: split) * maxLength <= Self.cacheLimitBytes
            ? cache.pixels(
                split, block: block, offset: (index % Self.blockSize) * maxLength, length: maxLength
            ) {
                self.drawBlock(block, of: split)
            }
            : sample(index, in: split).pixels[...]
        return Example(tokens: pixels.map(Int.init), label: index % 2)
    }

    /// The images of block `block` of `split`, drawn in parallel, back to back.
    private func drawBlock(_ block: Int, of split: Split) -> [UInt8] {
        let first = block * Self.blockSize
        let n = min(Self.blockSize, count(of: split) - first)
        let length = maxLength
        var pixels = [UInt8](repeating: 0, count: n * length)
        pixels.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forEach(n) { i in
                let image = sample(first + i, in: split).pixels
                image.withUnsafeBufferPointer {
                    out.advanced(by: i * length).update(from: $0.baseAddress!, count: length)
                }
            }
        }
        return pixels
    }

    private static func splitTag(_ split: Split) -> UInt64 {
        switch split {
        case .train: 0x5452_4149_4E  // "TRAIN"
        case .validation: 0x5641_4C49_44  // "VALID"
        case .test: 0x5445_5354  // "TEST"
        }
    }
}

/// Drawn blocks of images, filled on first use. A class so that copies of a task share one cache.
final class SplitImageCache: Sendable {
    private struct Key: Hashable {
        let split: Split
        let block: Int
    }
    private let blocks = Mutex<[Key: [UInt8]]>([:])

    /// `length` pixels at `offset` in block `block` of `split`, drawing the block with `draw`
    /// if it is not cached yet.
    func pixels(
        _ split: Split, block: Int, offset: Int, length: Int, draw: () -> [UInt8]
    ) -> ArraySlice<UInt8> {
        blocks.withLock { cached in
            let key = Key(split: split, block: block)
            if cached[key] == nil { cached[key] = draw() }
            return cached[key]![offset..<(offset + length)]
        }
    }
}

extension PathfinderTask {
    /// The registry entry of Pathfinder 32 × 32 (LRA).
    static let entry = entry(
        "pathfinder", .pathfinder32,
        summary: "Pathfinder 32×32: are the two markers joined by one dashed path? (LRA)",
        isLongRangeArena: true)
    /// The registry entry of Path-X, Pathfinder at 128 × 128 (separate from LRA's five, as in LRA).
    static let pathXEntry = entry(
        "pathx", .pathX, summary: "Path-X: Pathfinder at 128×128, 16,384 tokens (LRA)",
        isLongRangeArena: false)
    /// The registry entry of Pathfinder at 64 × 64.
    static let pathfinder64Entry = entry(
        "pathfinder64", .pathfinder64, summary: "Pathfinder at 64×64, 4,096 tokens",
        isLongRangeArena: false)

    /// An entry drawing `base`'s images: LRA's split sizes at preset `lra`, fewer below (fewer
    /// still for the larger images, which take longer to draw).
    private static func entry(
        _ name: String, _ base: PathfinderConfiguration, summary: String, isLongRangeArena: Bool
    ) -> TaskEntry {
        TaskEntry(
            name: name, summary: summary, kind: .classification, isLongRangeArena: isLongRangeArena
        ) { preset, seed, _ throws(DataError) in
            let c =
                switch preset {
                case .tiny: base.counts(train: 256, validation: 64, test: 64)
                case .cpu:
                    base.size > 32
                        ? base.counts(train: 4_000, validation: 500, test: 500)
                        : base.counts(train: 20_000, validation: 2_000, test: 2_000)
                case .lra: base
                }
            return try PathfinderTask(c.seeded(seed))
        }
    }
}
