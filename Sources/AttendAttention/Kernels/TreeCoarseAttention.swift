// Treeformer's coarse layer (TC-attention), forward and backward per (batch, head); the derivation
// is in TreeAttention.swift's header. Node aggregates are sums and counts over keys routed through
// each node (means are taken when read); causal use adds key t before query t reads, and the backward
// sweep runs in reverse, subtracting key t after its step so every query sees the state it saw.
// Path level l of a token with leaf ℓ is node TreeRouting.pathNode(ℓ, l); internal nodes come first
// in that numbering, so level m < ht of a path is also the index of its split.
import AttendCore
import Foundation

extension TreeAttention {
    /// Per-task aggregate state: counts, key sums [T, d], value sums [T, e] over T nodes.
    struct NodeSums {
        var counts: [Int], keys: [Float], values: [Float]
        let d: Int, e: Int

        init(nodes: Int, d: Int, e: Int) {
            counts = [Int](repeating: 0, count: nodes)
            keys = [Float](repeating: 0, count: nodes * d)
            values = [Float](repeating: 0, count: nodes * e)
            (self.d, self.e) = (d, e)
        }

        /// Adds (sign +1) or removes (−1) a key/value pair along the path of `leaf`.
        mutating func update(
            leaf: Int, height: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>,
            sign: Float
        ) {
            for level in 0...height {
                let u = TreeRouting.pathNode(leaf: leaf, level: level, height: height)
                counts[u] += sign > 0 ? 1 : -1
                for j in 0..<d { keys[u * d + j] += sign * key[j] }
                for j in 0..<e { values[u * e + j] += sign * value[j] }
            }
        }
    }

    /// TC forward: output [b, n, h, e] and the level weights α [b·h·n·(ht+1)] (both written).
    public static func coarseForward(
        _ p: TreeProblem, routes: TreeRoutes, output: UnsafeMutablePointer<Float>,
        weights alpha: UnsafeMutablePointer<Float>
    ) {
        let (out, alphas) = (SendablePointer(output), SendablePointer(alpha))
        let (n, d, e, ht) = (p.length, p.dimension, p.valueDimension, p.height)
        Parallel.forEach(p.batch * p.heads) { task in
            let (b, head) = (task / p.heads, task % p.heads)
            var sums = NodeSums(nodes: TreeRouting.allNodes(height: ht), d: d, e: e)
            let keyLeaves = routes.keyLeaves, queryLeaves = routes.queryLeaves
            func addKey(_ j: Int) {
                let leaf = Int(keyLeaves[task * n + j])
                if leaf >= 0 {
                    sums.update(
                        leaf: leaf, height: ht, key: p.key + p.row(b, j, head, width: d),
                        value: p.value + p.row(b, j, head, width: e), sign: 1)
                }
            }
            if !p.causal { for j in 0..<n { addKey(j) } }
            var logits = [Float](repeating: 0, count: ht + 1)
            for i in 0..<n {
                if p.causal { addKey(i) }
                let o = out.base + p.row(b, i, head, width: e),
                    a = alphas.base + (task * n + i) * (ht + 1)
                o.update(repeating: 0, count: e)
                a.update(repeating: 0, count: ht + 1)
                let leaf = Int(queryLeaves[task * n + i])
                guard leaf >= 0 else { continue }
                let q = p.query + p.row(b, i, head, width: d)
                var maximum = -Float.infinity
                for level in 0...ht {
                    let u = TreeRouting.pathNode(leaf: leaf, level: level, height: ht)
                    let c = sums.counts[u]
                    logits[level] =
                        c == 0
                        ? -.infinity
                        : sums.keys.withUnsafeBufferPointer {
                            p.scale * Dot.product(q, $0.baseAddress! + u * d, count: d)
                        } / Float(c)
                    maximum = max(maximum, logits[level])
                }
                guard maximum > -.infinity else { continue }
                var total: Float = 0
                for level in 0...ht {
                    let w =
                        logits[level] == -.infinity ? 0 : Foundation.exp(logits[level] - maximum)
                    a[level] = w
                    total += w
                }
                for level in 0...ht where a[level] > 0 {
                    a[level] /= total
                    let u = TreeRouting.pathNode(leaf: leaf, level: level, height: ht)
                    let weight = a[level] / Float(sums.counts[u])
                    sums.values.withUnsafeBufferPointer {
                        addScaled(weight, $0.baseAddress! + u * e, into: o, count: e)
                    }
                }
            }
        }
    }

    /// TC backward: dq, dk, dv [b, n, h, ·] (written) and the tree gradients dW [h, internal, d],
    /// db [h, internal] (written), through the straight-through estimator.
    public static func coarseBackward(
        _ p: TreeProblem, routes: TreeRoutes, weights alpha: UnsafePointer<Float>,
        outputGradient: UnsafePointer<Float>, queryGradient: UnsafeMutablePointer<Float>,
        keyGradient: UnsafeMutablePointer<Float>, valueGradient: UnsafeMutablePointer<Float>,
        treeWeightGradient: UnsafeMutablePointer<Float>,
        treeBiasGradient: UnsafeMutablePointer<Float>
    ) {
        let (n, d, e, ht, h) = (p.length, p.dimension, p.valueDimension, p.height, p.heads)
        let (nodes, splits) = (
            TreeRouting.allNodes(height: ht), TreeRouting.internalNodes(height: ht)
        )
        let (alphas, g) = (SendablePointer(alpha), SendablePointer(outputGradient))
        let (queryZ, keyZ) = (routes.queryZ, routes.keyZ)
        let (dq, dk, dv) = (
            SendablePointer(queryGradient), SendablePointer(keyGradient),
            SendablePointer(valueGradient)
        )
        var treeGradients = [Float](repeating: 0, count: p.batch * h * splits * (d + 1))
        treeGradients.withUnsafeMutableBufferPointer { tg in
            let tree = SendablePointer(tg.baseAddress!)
            Parallel.forEach(p.batch * h) { task in
                let (b, head) = (task / h, task % h)
                let keyLeaves = routes.keyLeaves, queryLeaves = routes.queryLeaves
                var sums = NodeSums(nodes: nodes, d: d, e: e)
                for j in 0..<n where keyLeaves[task * n + j] >= 0 {
                    sums.update(
                        leaf: Int(keyLeaves[task * n + j]), height: ht,
                        key: p.key + p.row(b, j, head, width: d),
                        value: p.value + p.row(b, j, head, width: e), sign: 1)
                }
                // R_K[u] = Σ ∂L/∂K̄_u / c_u, Q_K[u] = Σ ∂L/∂K̄_u·K̄_u / c_u (and the same for values).
                var rk = [Float](repeating: 0, count: nodes * d),
                    rv = [Float](repeating: 0, count: nodes * e)
                var qk = [Float](repeating: 0, count: nodes),
                    qv = [Float](repeating: 0, count: nodes)
                var membershipQ = [Float](repeating: 0, count: n * (ht + 1)),
                    membershipK = membershipQ
                var mean = [Float](repeating: 0, count: max(d, e))
                var dAlpha = [Float](repeating: 0, count: ht + 1)

                func queryStep(_ i: Int) {
                    let leaf = Int(queryLeaves[task * n + i])
                    let dqi = dq.base + p.row(b, i, head, width: d)
                    dqi.update(repeating: 0, count: d)
                    guard leaf >= 0 else { return }
                    let q = p.query + p.row(b, i, head, width: d),
                        gi = g.base + p.row(b, i, head, width: e)
                    let a = alphas.base + (task * n + i) * (ht + 1)
                    var centre: Float = 0
                    for level in 0...ht where a[level] > 0 {
                        let u = TreeRouting.pathNode(leaf: leaf, level: level, height: ht)
                        let c = Float(sums.counts[u])
                        for j in 0..<e { mean[j] = sums.values[u * e + j] / c }
                        dAlpha[level] = mean.withUnsafeBufferPointer {
                            Dot.product(gi, $0.baseAddress!, count: e)
                        }
                        centre += a[level] * dAlpha[level]
                    }
                    for level in 0...ht where a[level] > 0 {
                        let u = TreeRouting.pathNode(leaf: leaf, level: level, height: ht)
                        let c = Float(sums.counts[u])
                        // ∂L/∂s_l, also ∂L/∂I_{p_l}(q)
                        let ds = a[level] * (dAlpha[level] - centre)
                        membershipQ[i * (ht + 1) + level] = ds
                        for j in 0..<d { mean[j] = sums.keys[u * d + j] / c }
                        let scaled = ds * p.scale
                        mean.withUnsafeBufferPointer {
                            addScaled(scaled, $0.baseAddress!, into: dqi, count: d)
                        }
                        let qDotMean = mean.withUnsafeBufferPointer {
                            Dot.product(q, $0.baseAddress!, count: d)
                        }
                        for j in 0..<d { rk[u * d + j] += scaled / c * q[j] }
                        qk[u] += scaled * qDotMean / c
                        let weight = a[level] / c
                        for j in 0..<e { rv[u * e + j] += weight * gi[j] }
                        qv[u] += a[level] * dAlpha[level] / c
                    }
                }

                func keyStep(_ j: Int) {
                    let leaf = Int(keyLeaves[task * n + j])
                    let dkj = dk.base + p.row(b, j, head, width: d),
                        dvj = dv.base + p.row(b, j, head, width: e)
                    dkj.update(repeating: 0, count: d)
                    dvj.update(repeating: 0, count: e)
                    guard leaf >= 0 else { return }
                    let k = p.key + p.row(b, j, head, width: d),
                        v = p.value + p.row(b, j, head, width: e)
                    for level in 0...ht {
                        let u = TreeRouting.pathNode(leaf: leaf, level: level, height: ht)
                        var membership = -qk[u] - qv[u]
                        for x in 0..<d {
                            dkj[x] += rk[u * d + x]
                            membership += k[x] * rk[u * d + x]
                        }
                        for x in 0..<e {
                            dvj[x] += rv[u * e + x]
                            membership += v[x] * rv[u * e + x]
                        }
                        membershipK[j * (ht + 1) + level] = membership
                    }
                    if p.causal { sums.update(leaf: leaf, height: ht, key: k, value: v, sign: -1) }
                }

                if p.causal {
                    for t in stride(from: n - 1, through: 0, by: -1) {
                        queryStep(t)
                        keyStep(t)
                    }
                } else {
                    for i in 0..<n { queryStep(i) }
                    for j in 0..<n { keyStep(j) }
                }
                // Straight-through: ∂L/∂z_m = 2·1[|z_m| ≤ 1]·ã_m·Σ_{l>m} ∂L/∂I_l.
                let wTree = p.weights + head * splits * d,
                    taskTree = tree.base + task * splits * (d + 1)
                func straightThrough(
                    _ leaves: [Int32], _ zs: [Float], _ membership: [Float],
                    _ vectors: UnsafePointer<Float>, _ gradients: UnsafeMutablePointer<Float>,
                    token i: Int
                ) {
                    let leaf = Int(leaves[task * n + i])
                    guard leaf >= 0, ht > 0 else { return }
                    var tail: Float = 0
                    for m in stride(from: ht - 1, through: 0, by: -1) {
                        tail += membership[i * (ht + 1) + m + 1]
                        let z = zs[(task * n + i) * ht + m]
                        guard Swift.abs(z) <= 1, tail != 0 else { continue }
                        let dz = 2 * TreeRouting.decision(leaf: leaf, level: m, height: ht) * tail
                        let u = TreeRouting.pathNode(leaf: leaf, level: m, height: ht)
                        let x = vectors + p.row(b, i, head, width: d)
                        addScaled(dz, x, into: taskTree + u * d, count: d)
                        taskTree[splits * d + u] += dz
                        addScaled(
                            dz, wTree + u * d, into: gradients + p.row(b, i, head, width: d),
                            count: d)
                    }
                }
                for i in 0..<n {
                    straightThrough(queryLeaves, queryZ, membershipQ, p.query, dq.base, token: i)
                    straightThrough(keyLeaves, keyZ, membershipK, p.key, dk.base, token: i)
                }
            }
        }
        // Sum the per-task tree gradients over the batch.
        treeWeightGradient.update(repeating: 0, count: h * splits * d)
        treeBiasGradient.update(repeating: 0, count: h * splits)
        for task in 0..<p.batch * h {
            let head = task % h
            let base = task * splits * (d + 1)
            for x in 0..<splits * d {
                treeWeightGradient[head * splits * d + x] += treeGradients[base + x]
            }
            for u in 0..<splits {
                treeBiasGradient[head * splits + u] += treeGradients[base + splits * d + u]
            }
        }
    }
}
