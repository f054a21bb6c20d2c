// Treeformer's two attention layers over routed tokens (mechanisms-a §1.2–1.4), per (batch, head):
// - Fine (TF): each query attends, by softmax, to the keys of its own leaf only. Keys and queries are
//   bucketed by leaf (TreeRouting.bucket); each leaf is one small dense problem done with GEMMs on
//   query tiles of ≤ 64 rows. Cost Σ_leaf |Q_leaf|·|K_leaf|·d ≈ n²·d/2^ht for balanced leaves, plus
//   O(n·ht·d) routing. A query whose leaf has no (visible) key outputs 0. Causal: within a leaf the
//   keys are in position order, so a query at position p sees the prefix of keys at positions ≤ p.
//   Backward recomputes the leaf's probabilities (no n×n storage).
// - Coarse (TC): every node v keeps the mean key K̄_v and mean value V̄_v of the keys routed through
//   it; query i attends by softmax over the ht + 1 nodes on its own path (empty nodes skipped):
//   TC_i = Σ_l α_il·V̄_{p_l(i)}, α_i = softmax_l(q_i·K̄_{p_l(i)}·scale). Linear in n. Causal use keeps
//   prefix aggregates: query t reads the nodes' means over keys ≤ t.
//   Gradients reach the tree through DGT's straight-through construction (§1.4): membership
//   I_v(x) = ReLU(Σ_ancestors σ·ã − (l − 1)) with ã = sign(z) forward and ∂ã/∂z = 2·1[|z| ≤ 1]; on the
//   active path ∂I_v/∂ã_u = ã_u, so ∂L/∂z_m = 2·1[|z_m| ≤ 1]·ã_m·Σ_{l>m} ∂L/∂I_{p_l}(x), with
//     keys:    ∂L/∂I_v(k_j) = (∂L/∂K̄_v·(k_j − K̄_v) + ∂L/∂V̄_v·(v_j − V̄_v)) / c_v,
//     queries: ∂L/∂I_v(q_i) = α_iv·∂L/∂α_iv-centred = ∂L/∂s_iv (the logit's own gradient),
//   and ∂z/∂w = x, ∂z/∂b = 1, ∂z/∂x = w. The backward is one sweep with per-node accumulators
//   R_v = Σ_queries ∂L/∂K̄_v / c_v (and the scalar Σ ∂L/∂K̄_v·K̄_v / c_v), in reverse for causal use,
//   where the state is rewound by subtracting each key after its step.
// Layout: q, k [b, n, h, d], v [b, n, h, e], trees [h, 2^ht − 1, d] and [h, 2^ht − 1]; routes are
// per (b, h). Each task writes only its own head's rows; tree gradients go to per-task buffers.
import AttendCore

/// Routes of every query and key of a batch through its head's tree.
public final class TreeRoutes: @unchecked Sendable {
    /// b, n, h and the tree height ht.
    public let batch: Int, length: Int, heads: Int, height: Int
    /// Leaf of each (b, h, token), [b·h·n]; −1 for padded tokens.
    public var queryLeaves: [Int32], keyLeaves: [Int32]
    /// z at each level, [b·h·n·ht].
    public var queryZ: [Float], keyZ: [Float]

    init(batch: Int, length: Int, heads: Int, height: Int) {
        (self.batch, self.length, self.heads, self.height) = (batch, length, heads, height)
        queryLeaves = [Int32](repeating: -1, count: batch * heads * length)
        keyLeaves = queryLeaves
        queryZ = [Float](repeating: 0, count: batch * heads * length * height)
        keyZ = queryZ
    }

    /// Number of leaves 2^ht.
    public var leafCount: Int { 1 << height }

    /// Keys per leaf for each head, summed over the batch.
    public func keysPerLeaf() -> [[Int]] {
        (0..<heads).map { head in
            var counts = [Int](repeating: 0, count: leafCount)
            for b in 0..<batch {
                let base = (b * heads + head) * length
                for i in 0..<length where keyLeaves[base + i] >= 0 {
                    counts[Int(keyLeaves[base + i])] += 1
                }
            }
            return counts
        }
    }
}

/// Shapes and operands of a tree-attention problem (pointers valid for the duration of a call).
public struct TreeProblem {
    /// b, n, h, d, e and the tree height ht.
    public let batch: Int, length: Int, heads: Int, dimension: Int, valueDimension: Int, height: Int
    /// Score scale and whether query i sees only keys j ≤ i.
    public let scale: Float, causal: Bool
    /// [b, n, h, d], [b, n, h, d] and [b, n, h, e].
    public let query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>
    /// [h, internal, d] and [h, internal].
    public let weights: UnsafePointer<Float>, biases: UnsafePointer<Float>

    /// A problem over these operands.
    public init(
        batch: Int, length: Int, heads: Int, dimension: Int, valueDimension: Int, height: Int,
        scale: Float, causal: Bool,
        query: UnsafePointer<Float>, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
        weights: UnsafePointer<Float>, biases: UnsafePointer<Float>
    ) {
        (self.batch, self.length, self.heads, self.dimension, self.valueDimension) = (
            batch, length, heads, dimension, valueDimension
        )
        (self.height, self.scale, self.causal) = (height, scale, causal)
        (self.query, self.key, self.value, self.weights, self.biases) = (
            query, key, value, weights, biases
        )
    }

    @inline(__always) func row(_ b: Int, _ i: Int, _ head: Int, width: Int) -> Int {
        ((b * length + i) * heads + head) * width
    }
    var internalNodes: Int { TreeRouting.internalNodes(height: height) }
}

/// Fine (TF) and coarse (TC) tree attention kernels.
public enum TreeAttention {
    /// Routes every unpadded query and key (`mask` [b, n], nil = none padded).
    public static func route(_ p: TreeProblem, mask: UnsafePointer<Float>?) -> TreeRoutes {
        let routes = TreeRoutes(batch: p.batch, length: p.length, heads: p.heads, height: p.height)
        let (n, h, d, ht) = (p.length, p.heads, p.dimension, p.height)
        routes.queryLeaves.withUnsafeMutableBufferPointer { ql in
            routes.keyLeaves.withUnsafeMutableBufferPointer { kl in
                routes.queryZ.withUnsafeMutableBufferPointer { qz in
                    routes.keyZ.withUnsafeMutableBufferPointer { kz in
                        let (qls, kls, qzs, kzs) = (
                            SendablePointer(ql.baseAddress!), SendablePointer(kl.baseAddress!),
                            SendablePointer(qz.baseAddress!), SendablePointer(kz.baseAddress!)
                        )
                        Parallel.forEach(p.batch * h) { task in
                            let (b, head) = (task / h, task % h)
                            let w = p.weights + head * p.internalNodes * d,
                                bias = p.biases + head * p.internalNodes
                            for i in 0..<n where mask.map({ $0[b * n + i] != 0 }) ?? true {
                                let slot = task * n + i
                                qls[slot] = Int32(
                                    TreeRouting.route(
                                        p.query + p.row(b, i, head, width: d), weights: w,
                                        biases: bias, dimension: d, height: ht,
                                        z: qzs.base + slot * ht))
                                kls[slot] = Int32(
                                    TreeRouting.route(
                                        p.key + p.row(b, i, head, width: d), weights: w,
                                        biases: bias, dimension: d, height: ht,
                                        z: kzs.base + slot * ht))
                            }
                        }
                    }
                }
            }
        }
        return routes
    }

    static let tile = 64

    /// TF forward: output [b, n, h, e] (written; rows of queries without visible keys are 0).
    public static func fineForward(
        _ p: TreeProblem, routes: TreeRoutes, output: UnsafeMutablePointer<Float>
    ) {
        let out = SendablePointer(output)
        Parallel.forEach(p.batch * p.heads) { task in
            let (b, head) = (task / p.heads, task % p.heads)
            for i in 0..<p.length {
                (out.base + p.row(b, i, head, width: p.valueDimension)).update(
                    repeating: 0, count: p.valueDimension)
            }
            forEachLeafTile(p, routes: routes, task: task) { leaf in
                leaf.computeProbabilities()
                // O = P·V
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: leaf.rows, n: p.valueDimension,
                    k: leaf.keys,
                    a: leaf.probabilities, lda: leaf.keys, b: leaf.values, ldb: p.valueDimension,
                    c: leaf.scratchOut, ldc: p.valueDimension)
                for r in 0..<leaf.rows {
                    (out.base + p.row(b, leaf.queryPosition(r), head, width: p.valueDimension))
                        .update(
                            from: leaf.scratchOut + r * p.valueDimension, count: p.valueDimension)
                }
            }
        }
    }

    /// TF backward: dq, dk, dv (each [b, n, h, ·], written).
    public static func fineBackward(
        _ p: TreeProblem, routes: TreeRoutes, outputGradient: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        let (g, dq, dk, dv) = (
            SendablePointer(outputGradient), SendablePointer(queryGradient),
            SendablePointer(keyGradient), SendablePointer(valueGradient)
        )
        let (d, e) = (p.dimension, p.valueDimension)
        Parallel.forEach(p.batch * p.heads) { task in
            let (b, head) = (task / p.heads, task % p.heads)
            for i in 0..<p.length {
                (dq.base + p.row(b, i, head, width: d)).update(repeating: 0, count: d)
                (dk.base + p.row(b, i, head, width: d)).update(repeating: 0, count: d)
                (dv.base + p.row(b, i, head, width: e)).update(repeating: 0, count: e)
            }
            forEachLeafTile(p, routes: routes, task: task, keyGradients: true) { leaf in
                leaf.computeProbabilities()
                let (rows, keys) = (leaf.rows, leaf.keys)
                // dO tile → scratchOut [rows, e]
                for r in 0..<rows {
                    leaf.scratchOut.advanced(by: r * e).update(
                        from: g.base + p.row(b, leaf.queryPosition(r), head, width: e), count: e)
                }
                // dV_leaf += Pᵀ·dO
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: keys, n: e, k: rows,
                    a: leaf.probabilities, lda: keys,
                    b: leaf.scratchOut, ldb: e, beta: 1, c: leaf.valueGradients, ldc: e)
                // dP = dO·Vᵀ → scores buffer; dS = P ⊙ (dP − Σ dP·P)·scale
                BLAS.gemm(
                    transposeA: false, transposeB: true, m: rows, n: keys, k: e, a: leaf.scratchOut,
                    lda: e,
                    b: leaf.values, ldb: e, c: leaf.scores, ldc: keys)
                for r in 0..<rows {
                    let pr = leaf.probabilities + r * keys, sr = leaf.scores + r * keys
                    let dot = Dot.product(pr, sr, count: keys)
                    for c in 0..<keys { sr[c] = pr[c] * (sr[c] - dot) * p.scale }
                }
                // dQ = dS·K (rows scattered), dK_leaf += dSᵀ·Q
                BLAS.gemm(
                    transposeA: false, transposeB: false, m: rows, n: d, k: keys, a: leaf.scores,
                    lda: keys,
                    b: leaf.keysBuffer, ldb: d, c: leaf.scratchQuery, ldc: d)
                for r in 0..<rows {
                    (dq.base + p.row(b, leaf.queryPosition(r), head, width: d)).update(
                        from: leaf.scratchQuery + r * d, count: d)
                }
                BLAS.gemm(
                    transposeA: true, transposeB: false, m: keys, n: d, k: rows, a: leaf.scores,
                    lda: keys,
                    b: leaf.queries, ldb: d, beta: 1, c: leaf.keyGradients, ldc: d)
            } finishLeaf: { leaf in
                for c in 0..<leaf.keys {
                    let j = leaf.keyPosition(c)
                    (dk.base + p.row(b, j, head, width: d)).update(
                        from: leaf.keyGradients + c * d, count: d)
                    (dv.base + p.row(b, j, head, width: e)).update(
                        from: leaf.valueGradients + c * e, count: e)
                }
            }
        }
    }

    /// One leaf's gathered operands and one query tile's working buffers.
    final class LeafTile {
        let p: TreeProblem
        var rows = 0, keys = 0
        /// Token positions bucketed by leaf, and where the current leaf's keys and tile's queries start.
        var keyOrder: [Int32] = [], queryOrder: [Int32] = []
        var keyStart = 0, queryStart = 0
        /// Visible keys per row (causal prefix length).
        var visible: [Int]
        let queries: UnsafeMutablePointer<Float>, keysBuffer: UnsafeMutablePointer<Float>,
            values: UnsafeMutablePointer<Float>
        let scores: UnsafeMutablePointer<Float>, probabilities: UnsafeMutablePointer<Float>
        let scratchOut: UnsafeMutablePointer<Float>, scratchQuery: UnsafeMutablePointer<Float>
        let keyGradients: UnsafeMutablePointer<Float>, valueGradients: UnsafeMutablePointer<Float>

        init(_ p: TreeProblem, maxKeys: Int, keyGradients: Bool) {
            self.p = p
            let (t, d, e, m) = (TreeAttention.tile, p.dimension, p.valueDimension, max(maxKeys, 1))
            visible = [Int](repeating: 0, count: t)
            queries = .allocate(capacity: t * d)
            keysBuffer = .allocate(capacity: m * d)
            values = .allocate(capacity: m * e)
            scores = .allocate(capacity: t * m)
            probabilities = .allocate(capacity: t * m)
            scratchOut = .allocate(capacity: t * e)
            scratchQuery = .allocate(capacity: t * d)
            self.keyGradients = .allocate(capacity: keyGradients ? m * d : 1)
            valueGradients = .allocate(capacity: keyGradients ? m * e : 1)
        }

        deinit {
            for buffer in [
                queries, keysBuffer, values, scores, probabilities, scratchOut, scratchQuery,
                keyGradients, valueGradients,
            ] {
                buffer.deallocate()
            }
        }

        @inline(__always) func queryPosition(_ r: Int) -> Int { Int(queryOrder[queryStart + r]) }
        @inline(__always) func keyPosition(_ c: Int) -> Int { Int(keyOrder[keyStart + c]) }

        /// Keys of the current leaf at positions ≤ `position` (they are in ascending order).
        func visibleKeys(upTo position: Int) -> Int {
            var (low, high) = (0, keys)
            while low < high {
                let mid = (low + high) / 2
                if keyPosition(mid) <= position { low = mid + 1 } else { high = mid }
            }
            return low
        }

        /// P [rows, keys] = softmax over each row's visible keys of scale·Q·Kᵀ (zeros elsewhere).
        func computeProbabilities() {
            BLAS.gemm(
                transposeA: false, transposeB: true, m: rows, n: keys, k: p.dimension,
                alpha: p.scale,
                a: queries, lda: p.dimension, b: keysBuffer, ldb: p.dimension, c: scores, ldc: keys)
            for r in 0..<rows {
                let (sr, pr, count) = (scores + r * keys, probabilities + r * keys, visible[r])
                if count > 0 { SoftmaxKernel.row(sr, pr, count) }
                if count < keys { (pr + count).update(repeating: 0, count: keys - count) }
            }
        }
    }

    /// Buckets the task's tokens, then for every leaf with keys and queries gathers its keys and
    /// values and calls `body` on each query tile (≤ 64 queries, with `queries` and `visible`
    /// filled); `finishLeaf` runs after a leaf's last tile.
    static func forEachLeafTile(
        _ p: TreeProblem, routes: TreeRoutes, task: Int, keyGradients: Bool = false,
        _ body: (LeafTile) -> Void, finishLeaf: ((LeafTile) -> Void)? = nil
    ) {
        let (b, head) = (task / p.heads, task % p.heads)
        let (n, d, e, leaves) = (p.length, p.dimension, p.valueDimension, routes.leafCount)
        var keyOffsets: [Int] = [], keyOrder: [Int32] = [], queryOffsets: [Int] = [],
            queryOrder: [Int32] = []
        routes.keyLeaves.withUnsafeBufferPointer {
            TreeRouting.bucket(
                leaves: $0.baseAddress! + task * n, count: n, leafCount: leaves,
                offsets: &keyOffsets, order: &keyOrder)
        }
        routes.queryLeaves.withUnsafeBufferPointer {
            TreeRouting.bucket(
                leaves: $0.baseAddress! + task * n, count: n, leafCount: leaves,
                offsets: &queryOffsets, order: &queryOrder)
        }
        let maxKeys = (0..<leaves).map { keyOffsets[$0 + 1] - keyOffsets[$0] }.max() ?? 0
        guard maxKeys > 0 else { return }
        let tile = LeafTile(p, maxKeys: maxKeys, keyGradients: keyGradients)
        tile.keyOrder = keyOrder
        tile.queryOrder = queryOrder
        for leaf in 0..<leaves {
            let keyRange = keyOffsets[leaf]..<keyOffsets[leaf + 1]
            let queryRange = queryOffsets[leaf]..<queryOffsets[leaf + 1]
            guard !keyRange.isEmpty, !queryRange.isEmpty else { continue }
            tile.keys = keyRange.count
            tile.keyStart = keyRange.lowerBound
            for c in 0..<tile.keys {
                let j = tile.keyPosition(c)
                (tile.keysBuffer + c * d).update(
                    from: p.key + p.row(b, j, head, width: d), count: d)
                (tile.values + c * e).update(from: p.value + p.row(b, j, head, width: e), count: e)
            }
            if keyGradients {
                tile.keyGradients.update(repeating: 0, count: tile.keys * d)
                tile.valueGradients.update(repeating: 0, count: tile.keys * e)
            }
            var start = queryRange.lowerBound
            while start < queryRange.upperBound {
                tile.rows = min(TreeAttention.tile, queryRange.upperBound - start)
                tile.queryStart = start
                for r in 0..<tile.rows {
                    let i = tile.queryPosition(r)
                    (tile.queries + r * d).update(
                        from: p.query + p.row(b, i, head, width: d), count: d)
                    tile.visible[r] = p.causal ? tile.visibleKeys(upTo: i) : tile.keys
                }
                body(tile)
                start += tile.rows
            }
            finishLeaf?(tile)
        }
    }
}
