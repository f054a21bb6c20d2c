// The pieces of the tiled online softmax (Milakov & Gimelshein, 2018; FlashAttention, Dao et al.,
// 2022) that the tiled softmax-attention kernels share (`OnlineSoftmaxAttention`,
// `DisentangledAttentionKernel`, `MixtureOfGaussianKeysKernel`): the running per-row state of the
// forward pass (maximum m, denominator l, unnormalised output rescaled by e^(m_old − m_new) whenever
// a tile raises the maximum) and its final normalisation, the walks over key tiles (skipping tiles of
// padding only) and over the query tiles that can see a key tile under the causal rule, and the
// backward pass's pieces: probabilities rebuilt from the saved log-sum-exp and D_i = dO_i·O_i.
// Shapes: n queries, m keys, e value dimension.
import AttendCore
import Foundation

/// The forward state of one query tile: a running maximum and denominator per row, and the output
/// rows they scale.
struct OnlineSoftmaxRows {
    private var runningMax: [Float]
    private var denominator: [Float]
    private let output: UnsafeMutablePointer<Float>
    private let outputStride: Int
    private let width: Int

    /// `rows` output rows of `width` values, `outputStride` apart, which are set to zero.
    init(rows: Int, output: UnsafeMutablePointer<Float>, outputStride: Int, width: Int) {
        runningMax = [Float](repeating: -.infinity, count: rows)
        denominator = [Float](repeating: 0, count: rows)
        (self.output, self.outputStride, self.width) = (output, outputStride, width)
        for r in 0..<rows { (output + r * outputStride).update(repeating: 0, count: width) }
    }

    /// Folds one tile row of masked scores into row `r`: the scores become the weights
    /// e^(s − m_new) that the caller's P·V GEMM adds to the output (zeros while the row has seen no
    /// visible key).
    @inline(__always)
    mutating func absorb(row r: Int, scores: UnsafeMutablePointer<Float>, count: Int) {
        absorb(row: r, scores: scores, count: count, maximum: Reduce.max(scores, count: count)) {
            shift in
            SoftmaxKernel.exponentiate(scores, count: count, shift: shift)
        }
    }

    /// `absorb` for scores whose weights are not plain exponentials (MGK's mixture over components):
    /// `maximum` is the tile row's largest score and `exponentiate(shift)` writes the row's weights,
    /// scaled by e^(−shift), into `scores` and returns their sum.
    @inline(__always)
    mutating func absorb(
        row r: Int, scores: UnsafeMutablePointer<Float>, count: Int, maximum: Float,
        exponentiate: (_ shift: Float) -> Float
    ) {
        let newMax = Swift.max(runningMax[r], maximum)
        if newMax == -.infinity {
            scores.update(repeating: 0, count: count)
            return
        }
        let rescale = VectorMath.exp(runningMax[r] - newMax)
        let rowSum = exponentiate(newMax)
        denominator[r] = denominator[r] * rescale + rowSum
        runningMax[r] = newMax
        if rescale != 1 {
            let row = output + r * outputStride
            for c in 0..<width { row[c] *= rescale }
        }
    }

    /// Divides every output row by its denominator and writes its log-sum-exp m + log l to
    /// `logSumExp[r]`; rows that saw no key get output 0 and log-sum-exp −∞.
    func finish(logSumExp: UnsafeMutablePointer<Float>) {
        for r in denominator.indices {
            let row = output + r * outputStride
            if denominator[r] == 0 {
                row.update(repeating: 0, count: width)
                logSumExp[r] = -.infinity
            } else {
                let inverse = 1 / denominator[r]
                for c in 0..<width { row[c] *= inverse }
                logSumExp[r] = runningMax[r] + Foundation.log(denominator[r])
            }
        }
    }

    /// Backward: P = e^(s − lse) in place for one row of recomputed, masked scores (zeros when
    /// lse = −∞, a row that saw no key).
    @inline(__always)
    static func recompute(_ row: UnsafeMutablePointer<Float>, count: Int, logSumExp: Float) {
        if logSumExp == -.infinity {
            row.update(repeating: 0, count: count)
        } else {
            _ = SoftmaxKernel.exponentiate(row, count: count, shift: logSumExp)
        }
    }

    /// Backward: D_i = Σ_c dO[i, c]·O[i, c] for `rows` rows `stride` apart, the softmax-Jacobian
    /// correction of each row (`SoftmaxKernel.backwardRow`'s `dot`).
    static func correctionTerms(
        output o: UnsafePointer<Float>, outputGradient dO: UnsafePointer<Float>, stride: Int,
        rows: Int, width: Int
    ) -> [Float] {
        (0..<rows).map { i in Dot.product(dO + i * stride, o + i * stride, count: width) }
    }
}

/// Which key tiles of each batch entry hold a real key: tiles of padding alone are skipped.
struct RealKeyTiles {
    private let holdsRealKey: [Bool]
    private let tilesPerEntry: Int

    /// The key tiles of `p` (`OnlineSoftmaxAttention.keyTile` keys each) under its key mask.
    init(_ p: AttentionProblem) {
        let keyTile = OnlineSoftmaxAttention.keyTile
        tilesPerEntry = Swift.max((p.keys + keyTile - 1) / keyTile, 1)
        guard let mask = p.keyMask else {
            holdsRealKey = [Bool](repeating: true, count: p.batch * tilesPerEntry)
            return
        }
        var flags = [Bool](repeating: false, count: p.batch * tilesPerEntry)
        for b in 0..<p.batch {
            for j in 0..<p.keys where mask[b * p.keys + j] != 0 {
                flags[b * tilesPerEntry + j / keyTile] = true
            }
        }
        holdsRealKey = flags
    }

    /// Calls `body(keyStart, count)` for each key tile of batch entry `b` that starts below `end` and
    /// holds a real key; `count` stops at `end`.
    @inline(__always)
    func forEach(batch b: Int, below end: Int, _ body: (_ keyStart: Int, _ count: Int) -> Void) {
        let keyTile = OnlineSoftmaxAttention.keyTile
        var keyStart = 0
        while keyStart < end {
            if holdsRealKey[b * tilesPerEntry + keyStart / keyTile] {
                body(keyStart, Swift.min(keyTile, end - keyStart))
            }
            keyStart += keyTile
        }
    }
}

extension AttentionProblem {
    /// Calls `body(rowStart, rows)` for each tile of `OnlineSoftmaxAttention.queryTile` queries that
    /// may see a key at or after `keyStart` (every tile, unless causal).
    @inline(__always)
    func forEachQueryTile(
        seeingKeysFrom keyStart: Int, _ body: (_ rowStart: Int, _ rows: Int) -> Void
    ) {
        let queryTile = OnlineSoftmaxAttention.queryTile
        // First query that can see key `keyStart` under the causal rule.
        let firstQuery = causal ? Swift.max(0, keyStart - (keys - queries)) : 0
        var rowStart = (firstQuery / queryTile) * queryTile
        while rowStart < queries {
            body(rowStart, Swift.min(queryTile, queries - rowStart))
            rowStart += queryTile
        }
    }
}
