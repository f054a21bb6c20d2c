// Decision-tree navigation for Treeformer (mechanisms-a §1.1): one complete binary tree of height
// ht per head, internal nodes 0..<2^ht − 1 in breadth-first order (children of u: 2u+1 left,
// 2u+2 right), an oblique split z_u(x) = w_u·x + b_u at each, "left when z ≥ 0" (DGT's convention,
// also on ties). A vector touches ht nodes: O(ht·d). The leaf's bits, most significant first, are the
// decisions (0 = left), so the node at level l of a leaf's path is ((leaf + 2^ht) >> (ht − l)) − 1 in
// the breadth-first numbering of all 2^(ht+1) − 1 nodes.
// Also here: the counting sort that buckets tokens by leaf (stable, so each bucket keeps positions in
// order, which causal attention relies on), and the data-driven split initialisation the spec
// recommends (§1.5): each node's w is the top principal direction of the vectors routed to it and
// b puts the split at their median, so every node halves its own set (no empty-leaf collapse).
// w is scaled by the median absolute deviation of the projections, so |z| ≤ 1 (the straight-through
// estimator's window, §1.4) holds for about half the vectors at every node.
import AttendCore
import Foundation

/// Routing of vectors through per-head decision trees.
public enum TreeRouting {
    /// Internal nodes of a tree of height `height`.
    @inlinable public static func internalNodes(height: Int) -> Int { (1 << height) - 1 }
    /// All nodes (internal and leaves).
    @inlinable public static func allNodes(height: Int) -> Int { (2 << height) - 1 }

    /// Breadth-first index (among all nodes) of the level-`level` node on the path to `leaf`.
    @inlinable @inline(__always)
    public static func pathNode(leaf: Int, level: Int, height: Int) -> Int {
        ((leaf + (1 << height)) >> (height - level)) - 1
    }

    /// The decision at `level` on the path to `leaf`: +1 for left (z ≥ 0), −1 for right.
    @inlinable @inline(__always)
    public static func decision(leaf: Int, level: Int, height: Int) -> Float {
        (leaf >> (height - 1 - level)) & 1 == 0 ? 1 : -1
    }

    /// The leaf of `x` (d floats), writing each level's z into `z` (ht floats).
    ///
    /// - Parameters: weights [internal, d] and biases [internal] of one tree.
    @inline(__always)
    public static func route(
        _ x: UnsafePointer<Float>, weights: UnsafePointer<Float>, biases: UnsafePointer<Float>,
        dimension d: Int,
        height: Int, z: UnsafeMutablePointer<Float>
    ) -> Int {
        var u = 0
        for level in 0..<height {
            let value = Dot.product(weights + u * d, x, count: d) + biases[u]
            z[level] = value
            u = value >= 0 ? 2 * u + 1 : 2 * u + 2
        }
        return u - internalNodes(height: height)
    }

    /// Stable counting sort of tokens by leaf: `order` lists token indices leaf by leaf (ascending
    /// positions within a leaf), `offsets[ℓ]..<offsets[ℓ + 1]` is leaf ℓ's range. Tokens with leaf
    /// −1 (padding) are left out.
    public static func bucket(
        leaves: UnsafePointer<Int32>, count: Int, leafCount: Int, offsets: inout [Int],
        order: inout [Int32]
    ) {
        offsets = [Int](repeating: 0, count: leafCount + 1)
        for i in 0..<count where leaves[i] >= 0 { offsets[Int(leaves[i]) + 1] += 1 }
        for l in 0..<leafCount { offsets[l + 1] += offsets[l] }
        order = [Int32](repeating: 0, count: offsets[leafCount])
        var next = offsets
        for i in 0..<count where leaves[i] >= 0 {
            let l = Int(leaves[i])
            order[next[l]] = Int32(i)
            next[l] += 1
        }
    }

    /// Fits one tree's splits to queries and keys top-down (principal direction, median split).
    ///
    /// - Parameters:
    ///   - vectors: [count, d] points of one head.
    ///   - isQuery: which points are queries (the others are keys).
    ///   - d: the width of each point.
    ///   - height: the tree's height, 2^height leaves (0: nothing to fit).
    ///   - weights: the tree's split directions [internal, d]; nodes that receive fewer than two
    ///     points keep their values.
    ///   - biases: the tree's split offsets [internal], kept the same way.
    ///   - generator: start vectors of the power iterations.
    public static func fitSplits(
        _ vectors: [Float], isQuery: [Bool], dimension d: Int, height: Int,
        weights: UnsafeMutablePointer<Float>,
        biases: UnsafeMutablePointer<Float>, generator: inout RandomGenerator
    ) {
        guard height > 0 else { return }
        var members: [[Int]] = [Array(isQuery.indices)]
        members += Array(repeating: [], count: internalNodes(height: height) - 1)
        for u in 0..<internalNodes(height: height) {
            let set = members[u]
            if set.count >= 2 {
                let (direction, median, spread) = principalSplit(
                    vectors, set, isQuery: isQuery, dimension: d, generator: &generator)
                for j in 0..<d { weights[u * d + j] = direction[j] / spread }
                biases[u] = -median / spread
            }
            let left = 2 * u + 1
            guard left < internalNodes(height: height) else { continue }
            for i in set {
                let z =
                    vectors.withUnsafeBufferPointer {
                        Dot.product(weights + u * d, $0.baseAddress! + i * d, count: d)
                    } + biases[u]
                members[z >= 0 ? left : left + 1].append(i)
            }
        }
    }

    /// The split of the points `set`: direction v, the median of v·x and the median absolute
    /// deviation of v·x about it (1 when degenerate).
    ///
    /// v is the top principal direction of the points, each centred on the mean of its own kind
    /// (queries or keys), and orthogonal to the difference of the two means. Queries and keys come
    /// from different projections, so their means usually differ; the direction of that difference
    /// would otherwise dominate and send every query one way and every key the other (empty leaves
    /// for every query, and no TC gradient). Along v both kinds have the same mean, so the median
    /// splits each of them roughly in half.
    static func principalSplit(
        _ vectors: [Float], _ set: [Int], isQuery: [Bool], dimension d: Int,
        generator: inout RandomGenerator
    ) -> (direction: [Float], median: Float, spread: Float) {
        var means = [[Double]](repeating: [Double](repeating: 0, count: d), count: 2)
        var counts = [0, 0]
        for i in set {
            let kind = isQuery[i] ? 0 : 1
            counts[kind] += 1
            for j in 0..<d { means[kind][j] += Double(vectors[i * d + j]) }
        }
        for kind in 0..<2 where counts[kind] > 0 {
            for j in 0..<d { means[kind][j] /= Double(counts[kind]) }
        }
        // The unit direction between the two means, projected out of every iterate.
        var gap = (0..<d).map { means[0][$0] - means[1][$0] }
        let gapNorm = gap.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let separate = counts[0] > 0 && counts[1] > 0 && gapNorm > 1e-12
        gap = separate ? gap.map { $0 / gapNorm } : [Double](repeating: 0, count: d)
        func orthogonalised(_ v: [Double]) -> [Double] {
            let along = zip(v, gap).reduce(0) { $0 + $1.0 * $1.1 }
            return zip(v, gap).map { $0 - along * $1 }
        }
        // Centres: each kind's own mean, or the mean of all points when one kind is missing.
        let overall = (0..<d).map {
            (means[0][$0] * Double(counts[0]) + means[1][$0] * Double(counts[1]))
                / Double(set.count)
        }
        let centres = separate ? means : [overall, overall]
        var v = orthogonalised((0..<d).map { _ in Double(generator.nextNormal()) })
        for _ in 0..<30 {
            var next = [Double](repeating: 0, count: d)
            for i in set {
                let centre = centres[isQuery[i] ? 0 : 1]
                var projection = 0.0
                for j in 0..<d { projection += (Double(vectors[i * d + j]) - centre[j]) * v[j] }
                for j in 0..<d { next[j] += projection * (Double(vectors[i * d + j]) - centre[j]) }
            }
            next = orthogonalised(next)
            let norm = next.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm < 1e-30 { break }
            v = next.map { $0 / norm }
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let direction = v.map { Float($0 / max(norm, 1e-30)) }
        var projections = set.map { i in
            direction.withUnsafeBufferPointer { w in
                vectors.withUnsafeBufferPointer {
                    Dot.product(w.baseAddress!, $0.baseAddress! + i * d, count: d)
                }
            }
        }
        projections.sort()
        let median = projections[projections.count / 2]
        var deviations = projections.map { Swift.abs($0 - median) }
        deviations.sort()
        let spread = deviations[deviations.count / 2]
        return (direction, median, spread > 1e-6 ? spread : 1)
    }
}
