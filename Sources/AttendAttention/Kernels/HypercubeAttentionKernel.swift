// Softmax attention restricted to the hypercube graph (Hypercube Transformer; mechanisms-a.md §3.4):
// query i in block ⌊i/B⌋ sees the keys of its block's ≤ k + 1 neighbour blocks, so a forward pass costs
// O(n·(k + 1)·B·d) = O(n log n) for fixed B. Each query row gathers its keys, takes a masked softmax and
// mixes the values; the probabilities ([b, h, n, (k + 1)·B]) are kept for the backward pass, which runs
// in two gathers rather than scatters: per query row dq_i and dS = P ⊙ (dP − D_i), then per key block
// dk_j and dv_j from the (query block, slot) pairs that saw it (the graph's reverse table), so every
// iteration writes only its own rows.
// Shapes: b batch, h heads, n tokens, B block size, d head dimension, K = slots·B keys per query.
import AttendCore

/// One hypercube attention problem.
public struct HypercubeProblem: @unchecked Sendable {
    /// q, k, v (n queries = n keys), key mask, causal flag and scale.
    public var attention: AttentionProblem
    /// Tokens per graph node.
    public var blockSize: Int
    /// Neighbour blocks per block (the graph's maximum degree).
    public var slots: Int
    /// [blocks, slots] neighbour blocks, −1 padded.
    public var neighbours: UnsafePointer<Int32>
    /// [blocks, slots] (query block·slots + slot) pairs that read each key block, −1 padded.
    public var reverse: UnsafePointer<Int32>

    /// A problem description; pointers must stay valid while the kernels run.
    public init(
        attention: AttentionProblem, blockSize: Int, slots: Int, neighbours: UnsafePointer<Int32>,
        reverse: UnsafePointer<Int32>
    ) {
        self.attention = attention
        self.blockSize = blockSize
        self.slots = slots
        self.neighbours = neighbours
        self.reverse = reverse
    }

    /// K: key entries per query row.
    public var keysPerQuery: Int { slots * blockSize }

    /// The key of query i's entry `e` (slot e / B, offset e % B), or −1 when hidden (no such slot,
    /// past the end, padded, or after i when causal).
    @inlinable func key(batch b: Int, query i: Int, entry e: Int) -> Int {
        let block = Int(neighbours[(i / blockSize) * slots + e / blockSize])
        if block < 0 { return -1 }
        let j = block * blockSize + e % blockSize
        if j >= attention.keys || (attention.causal && j > i) { return -1 }
        if let mask = attention.keyMask, mask[b * attention.keys + j] == 0 { return -1 }
        return j
    }
}

/// Forward and backward passes of hypercube attention.
public enum HypercubeAttentionKernel {
    /// o_i = Σ_e P_ie·v_{j(e)}; writes o and the probabilities [b, h, n, K] (0 for hidden entries; rows
    /// with no visible key are 0).
    public static func forward(
        _ p: HypercubeProblem, output: UnsafeMutablePointer<Float>, outputLayout: HeadLayout,
        probabilities: UnsafeMutablePointer<Float>
    ) {
        let a = p.attention
        let (n, d, e, K) = (a.queries, a.dimension, a.valueDimension, p.keysPerQuery)
        let out = SendablePointer(output), probs = SendablePointer(probabilities)
        Parallel.forEachChunk(a.batch * a.heads * n, grain: 256) { range in
            for item in range {
                let (bh, i) = item.quotientAndRemainder(dividingBy: n)
                let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
                let q = a.query + a.queryLayout.offset(batch: b, head: h, position: i)
                let row = probs.base + item * K
                var maximum = -Float.infinity
                for entry in 0..<K {
                    let j = p.key(batch: b, query: i, entry: entry)
                    if j < 0 {
                        row[entry] = -.infinity
                        continue
                    }
                    let k = a.key + a.keyLayout.offset(batch: b, head: h, position: j)
                    row[entry] = a.scale * Dot.product(q, k, count: d)
                    maximum = Swift.max(maximum, row[entry])
                }
                let o = out.base + outputLayout.offset(batch: b, head: h, position: i)
                o.update(repeating: 0, count: e)
                guard maximum > -.infinity else {
                    row.update(repeating: 0, count: K)
                    continue
                }
                let total = SoftmaxKernel.exponentiate(row, count: K, shift: maximum)
                let inverse = 1 / total
                for entry in 0..<K where row[entry] != 0 {
                    row[entry] *= inverse
                    let j = p.key(batch: b, query: i, entry: entry)
                    addScaled(
                        row[entry], a.value + a.valueLayout.offset(batch: b, head: h, position: j),
                        into: o, count: e)
                }
            }
        }
    }

    /// Gradients of `forward` from its probabilities: dq, dk, dv overwritten in the layouts of q, k, v.
    public static func backward(
        _ p: HypercubeProblem, output: UnsafePointer<Float>, outputLayout: HeadLayout,
        outputGradient: UnsafePointer<Float>, probabilities: UnsafePointer<Float>,
        queryGradient: UnsafeMutablePointer<Float>, keyGradient: UnsafeMutablePointer<Float>,
        valueGradient: UnsafeMutablePointer<Float>
    ) {
        let a = p.attention
        let (n, d, e, K, B) = (
            a.queries, a.dimension, a.valueDimension, p.keysPerQuery, p.blockSize
        )
        let os = SendablePointer(output), dos = SendablePointer(outputGradient),
            probs = SendablePointer(probabilities)
        let dqs = SendablePointer(queryGradient), dks = SendablePointer(keyGradient),
            dvs = SendablePointer(valueGradient)
        var scoreGradient = [Float](repeating: 0, count: a.batch * a.heads * n * K)
        scoreGradient.withUnsafeMutableBufferPointer { buffer in
            let dS = SendablePointer(buffer.baseAddress!)
            // Per query row: dS_ie = P_ie·(dO_i·v_j − dO_i·o_i), dq_i = scale·Σ_e dS_ie·k_j.
            Parallel.forEachChunk(a.batch * a.heads * n, grain: 256) { range in
                for item in range {
                    let (bh, i) = item.quotientAndRemainder(dividingBy: n)
                    let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
                    let dO = dos.base + outputLayout.offset(batch: b, head: h, position: i)
                    let o = os.base + outputLayout.offset(batch: b, head: h, position: i)
                    let dq = dqs.base + a.queryLayout.offset(batch: b, head: h, position: i)
                    dq.update(repeating: 0, count: d)
                    let correction = Dot.product(dO, o, count: e)
                    let row = probs.base + item * K, g = dS.base + item * K
                    for entry in 0..<K {
                        g[entry] = 0
                        guard row[entry] != 0 else { continue }
                        let j = p.key(batch: b, query: i, entry: entry)
                        let v = a.value + a.valueLayout.offset(batch: b, head: h, position: j)
                        g[entry] = row[entry] * (Dot.product(dO, v, count: e) - correction)
                        addScaled(
                            a.scale * g[entry],
                            a.key + a.keyLayout.offset(batch: b, head: h, position: j), into: dq,
                            count: d)
                    }
                }
            }
            // Per key block: dk_j = scale·Σ dS_ie·q_i, dv_j = Σ P_ie·dO_i over the entries that read j.
            let blocks = (n + B - 1) / B
            Parallel.forEachChunk(a.batch * a.heads * blocks, grain: Swift.max(1, 256 / B)) {
                range in
                for item in range {
                    let (bh, keyBlock) = item.quotientAndRemainder(dividingBy: blocks)
                    let (b, h) = bh.quotientAndRemainder(dividingBy: a.heads)
                    for t in 0..<B where keyBlock * B + t < n {
                        let j = keyBlock * B + t
                        (dks.base + a.keyLayout.offset(batch: b, head: h, position: j)).update(
                            repeating: 0, count: d)
                        (dvs.base + a.valueLayout.offset(batch: b, head: h, position: j)).update(
                            repeating: 0, count: e)
                    }
                    for r in 0..<p.slots {
                        let pair = Int(p.reverse[keyBlock * p.slots + r])
                        if pair < 0 { break }
                        let (queryBlock, slot) = pair.quotientAndRemainder(dividingBy: p.slots)
                        for u in 0..<B where queryBlock * B + u < n {
                            let i = queryBlock * B + u
                            let rowOffset = (bh * n + i) * K + slot * B
                            let q = a.query + a.queryLayout.offset(batch: b, head: h, position: i)
                            let dO = dos.base + outputLayout.offset(batch: b, head: h, position: i)
                            for t in 0..<B where keyBlock * B + t < n {
                                let probability = probs.base[rowOffset + t]
                                guard probability != 0 else { continue }
                                let j = keyBlock * B + t
                                addScaled(
                                    a.scale * dS.base[rowOffset + t], q,
                                    into: dks.base
                                        + a.keyLayout.offset(batch: b, head: h, position: j),
                                    count: d)
                                addScaled(
                                    probability, dO,
                                    into: dvs.base
                                        + a.valueLayout.offset(batch: b, head: h, position: j),
                                    count: e)
                            }
                        }
                    }
                }
            }
        }
    }
}
