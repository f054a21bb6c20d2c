// BigBird's ITC block layout (Zaheer et al., 2020, arXiv:2007.14062), exactly as the reference code
// arranges it (google-research/bigbird `bigbird_block_sparse_attention`; Hugging Face
// `BigBirdBlockSparseAttention`). With nb = n/b blocks of b positions:
// - query blocks 0 and nb−1 are global rows: they read all nb key blocks;
// - query block 1 reads key blocks {0, 1, 2, nb−1} + its r random blocks;
// - query block nb−2 reads {0, nb−3, nb−2, nb−1} + its r random blocks;
// - query blocks 2…nb−3 read {0, i−1, i, i+1, nb−1} + their r random blocks;
// so key blocks 0 and nb−1 are global columns. Only the random blocks vary; they are kept here as
// the reference's `rand_attn` array [heads, nb−2, r] (row i−1 for query block i). Drawing follows
// the spec's rule (mechanisms-b.md §1): r distinct blocks uniformly from {1…nb−2} minus the row's
// window, so no key is read twice. The reference's evaluation mode (all random blocks = block 0,
// which then counts block 0 several times in the softmax) is available for comparison, and any
// exported reference layout can be loaded as is.
import AttendCore

/// The random blocks of a BigBird layout, per head and per non-global query block.
public struct BigBirdLayout: Sendable, Equatable {
    /// Heads h, blocks nb and random blocks per row r.
    public let heads: Int, blockCount: Int, randomCount: Int
    /// [h, nb − 2, r] flattened: entry [head, i − 1, t] is the t-th random key block of query
    /// block i (the reference's `rand_attn`).
    public let randomBlocks: [Int]

    /// A layout from explicit random blocks (e.g. exported from the reference).
    public init(heads: Int, blockCount: Int, randomCount: Int, randomBlocks: [Int]) throws {
        guard blockCount >= 4, heads >= 1, randomCount >= 0 else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "a layout needs at least 4 blocks and 1 head, got \(blockCount) blocks, \(heads) heads"
            )
        }
        guard randomBlocks.count == heads * (blockCount - 2) * randomCount,
            randomBlocks.allSatisfy({ (0..<blockCount).contains($0) })
        else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "random blocks must be \(heads)×\(blockCount - 2)×\(randomCount) indices in 0..<\(blockCount)"
            )
        }
        self.heads = heads
        self.blockCount = blockCount
        self.randomCount = randomCount
        self.randomBlocks = randomBlocks
    }

    /// Random blocks drawn with the spec's rule: for each head and query block i in 1…nb−2, r
    /// distinct blocks uniformly from {1…nb−2} \ {i−1, i, i+1}, listed in increasing order.
    public static func drawn(
        heads: Int, blockCount nb: Int, randomCount r: Int, generator: inout RandomGenerator
    ) throws -> BigBirdLayout {
        guard nb >= r + 5 else {
            throw MixerError.invalidConfiguration(
                mechanism: "bigbird",
                problem:
                    "\(nb) blocks leave fewer than \(r) random blocks outside the window and global blocks; need at least \(r + 5) blocks"
            )
        }
        var blocks: [Int] = []
        blocks.reserveCapacity(heads * (nb - 2) * r)
        for _ in 0..<heads {
            for i in 1...(nb - 2) {
                var pool = (1...(nb - 2)).filter { abs($0 - i) > 1 }
                // Partial Fisher–Yates: the first r entries become a uniform r-subset.
                for t in 0..<r {
                    let pick = t + generator.nextInt(below: pool.count - t)
                    pool.swapAt(t, pick)
                }
                blocks += pool[0..<r].sorted()
            }
        }
        return try BigBirdLayout(heads: heads, blockCount: nb, randomCount: r, randomBlocks: blocks)
    }

    /// The reference's evaluation-mode layout: every random block is block 0 (Hugging Face returns
    /// all-zero `rand_attn` outside training), so block 0 is counted 1 + r times in those rows.
    public static func firstBlock(heads: Int, blockCount: Int, randomCount: Int) throws
        -> BigBirdLayout
    {
        try BigBirdLayout(
            heads: heads, blockCount: blockCount, randomCount: randomCount,
            randomBlocks: [Int](repeating: 0, count: heads * (blockCount - 2) * randomCount))
    }

    /// The random key blocks of query block i (1…nb−2) in `head`.
    public func random(head: Int, queryBlock i: Int) -> ArraySlice<Int> {
        let start = (head * (blockCount - 2) + i - 1) * randomCount
        return randomBlocks[start..<(start + randomCount)]
    }

    /// Every key block query block i of `head` reads, in the reference's order, repeats included.
    public func keyBlocks(head: Int, queryBlock i: Int) -> [Int] {
        let last = blockCount - 1
        switch i {
        case 0, last: return Array(0...last)
        case 1: return [0, 1, 2, last] + random(head: head, queryBlock: i)
        case last - 1: return [0, last - 2, last - 1, last] + random(head: head, queryBlock: i)
        default: return [0, i - 1, i, i + 1] + random(head: head, queryBlock: i) + [last]
        }
    }

    /// The layout as key segments for `KeySegmentAttention`: one tile per query block, adjacent
    /// blocks merged into one segment.
    public func pattern(blockSize b: Int) -> KeySegmentPattern {
        var segments: [[Range<Int>]] = []
        segments.reserveCapacity(heads * blockCount)
        for head in 0..<heads {
            for i in 0..<blockCount {
                var list: [Range<Int>] = []
                for block in keyBlocks(head: head, queryBlock: i) {
                    let range = (block * b)..<((block + 1) * b)
                    if let previous = list.last, previous.upperBound == range.lowerBound {
                        list[list.count - 1] = previous.lowerBound..<range.upperBound
                    } else {
                        list.append(range)
                    }
                }
                segments.append(list)
            }
        }
        return KeySegmentPattern(
            queryTile: b, tileCount: blockCount, sharedAcrossHeads: false, segments: segments,
            window: nil)
    }

    /// [h, n, n] with n = nb·b: how many times query i reads key j (0 where hidden). The dense
    /// oracle of the block-sparse kernel is softmax over the allowed keys with log(count) added to
    /// the scores (a key read c times weighs c times).
    public func keyCounts(blockSize b: Int) -> Tensor {
        let n = blockCount * b
        return Tensor.filled(shape: [heads, n, n]) { out in
            out.initialize(repeating: 0)
            for head in 0..<heads {
                for i in 0..<blockCount {
                    for block in keyBlocks(head: head, queryBlock: i) {
                        for row in (i * b)..<((i + 1) * b) {
                            let base = (head * n + row) * n + block * b
                            for j in 0..<b { out[base + j] += 1 }
                        }
                    }
                }
            }
        }
    }
}
