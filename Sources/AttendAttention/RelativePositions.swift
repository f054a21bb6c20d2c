// DeBERTa's relative positions (He et al., 2020; v2/v3 log buckets): how a distance r = i − j becomes a
// row of the relative-position table, and the table itself, which DeBERTa-v2 keeps once per model (in
// the encoder) and LayerNorm-s before every forward pass (`norm_rel_ebd = layer_norm`).
// Reference: microsoft/DeBERTa `da_utils.py` (`make_log_bucket_position`, `build_relative_position`)
// and HF `modeling_deberta_v2.py`; the arithmetic below follows theirs in float32 so bucket edges agree.
import AttendCore
import AttendNN
import Foundation

/// The map from a relative distance to a row of the 2k-row relative-position table.
///
/// With buckets (v2/v3), distances up to `bucketSize/2` keep their value and longer ones are
/// compressed logarithmically up to `maxPosition`:
/// `bucket(r) = sign(r)·(mid + ⌈ln(|r|/mid) / ln((maxPosition − 1)/mid) · (mid − 1)⌉)` for |r| > mid,
/// mid = bucketSize/2. The row is `clamp(bucket(r) + k, 0, 2k − 1)` with span k = bucketSize (or
/// `maxPosition` without buckets, as DeBERTa v1).
public struct RelativePositionBuckets: Sendable, Equatable, Codable {
    /// `position_buckets` (≤ 0: no buckets, distances are only clipped to ±k).
    public var bucketSize: Int
    /// `max_relative_positions`: the distance the last bucket stands for (and k without buckets).
    public var maxPosition: Int

    /// Buckets of `bucketSize` over distances up to `maxPosition` (DeBERTa-v2/v3: 256 and 512).
    public init(bucketSize: Int = 256, maxPosition: Int = 512) {
        self.bucketSize = bucketSize
        self.maxPosition = maxPosition
    }

    /// Whether distances are bucketed (otherwise only clipped).
    public var isBucketed: Bool { bucketSize > 0 && maxPosition > 0 }

    /// k: the table has 2k rows, and row k stands for distance 0.
    public var span: Int { bucketSize > 0 ? bucketSize : maxPosition }

    /// The bucketed distance (odd: bucket(−r) = −bucket(r); the identity for |r| ≤ bucketSize/2).
    public func bucket(_ r: Int) -> Int {
        guard isBucketed else { return r }
        let mid = bucketSize / 2
        let magnitude = Swift.abs(r)
        if magnitude <= mid { return r }
        // Float32 throughout, as the reference computes it (a double here could move a bucket edge).
        let ratio = Float(magnitude) / Float(mid)
        let range = Float(Double(maxPosition - 1) / Double(mid))
        let scaled = Foundation.log(ratio) / Foundation.log(range) * Float(mid - 1)
        let logPosition = Int(scaled.rounded(.up)) + mid
        return r < 0 ? -logPosition : logPosition
    }

    /// The table row for distance r: clamp(bucket(r) + k, 0, 2k − 1).
    public func row(_ r: Int) -> Int {
        Swift.min(Swift.max(bucket(r) + span, 0), 2 * span - 1)
    }
}

/// The rows of the relative table that a (queries × keys) problem reads, and which distance reads which.
public struct RelativePositionIndex: Sendable {
    /// Query and key counts.
    public let queries: Int, keys: Int
    /// First table row used (rows are contiguous because `row` is monotone in r).
    public let firstRow: Int
    /// Number of rows used, R.
    public let rowCount: Int
    /// row(r) − firstRow for r = i − j, stored at r + keys − 1.
    public let rowOfDistance: [Int32]

    /// The index for `queries` × `keys` under `buckets`.
    public init(queries: Int, keys: Int, buckets: RelativePositionBuckets) {
        self.queries = queries
        self.keys = keys
        let rows = (-(keys - 1)..<queries).map { buckets.row($0) }
        let first = rows.first ?? 0
        firstRow = first
        rowCount = (rows.last ?? 0) - first + 1
        rowOfDistance = rows.map { Int32($0 - first) }
    }

    /// The used rows of a projected table [2k, …] (a slice, no copy of the rest).
    public func usedRows(of table: Tensor) -> Tensor {
        table.sliced(alongAxis: 0, firstRow..<(firstRow + rowCount))
    }

    /// Row index (into the used rows) for query i and key j.
    public func row(query i: Int, key j: Int) -> Int { Int(rowOfDistance[i - j + keys - 1]) }
}

/// DeBERTa-v2's relative-position table, built once per model and shared by every layer: an embedding
/// of 2k rows (`rel_embeddings`) and, with `norm_rel_ebd = layer_norm`, a LayerNorm (`LayerNorm`).
///
/// `prepare` leaves the (normalised) table in `context.carried[RelativePositionEmbeddings.carriedKey]`,
/// where every `DisentangledAttention` layer reads it; gradients flow back through the carried tensor.
public final class RelativePositionEmbeddings: LayerSharedState {
    /// The key the normalised table is carried under.
    public static let carriedKey = "deberta.relative_embeddings"

    /// [2k, c].
    public let table: Embedding
    /// Applied to the whole table before use, or nil (`norm_rel_ebd = none`).
    public let norm: LayerNorm?

    /// A table of `rows` × `dimension`, N(0, 0.02) like the reference's initialisation.
    public init(
        rows: Int, dimension: Int, normalized: Bool, epsilon: Float,
        generator: inout RandomGenerator
    ) {
        table = Embedding(
            count: rows, dimension: dimension, initializer: .normal(standardDeviation: 0.02),
            generator: &generator)
        norm = normalized ? LayerNorm(dimension: dimension, epsilon: epsilon) : nil
    }

    /// HF names: `rel_embeddings.weight`, `LayerNorm.{weight, bias}` (as in `DebertaV2Encoder`).
    public var children: [(String, any Module)] {
        [("rel_embeddings", table)] + (norm.map { [("LayerNorm", $0 as any Module)] } ?? [])
    }

    /// The table as the layers see it: [2k, c], normalised when configured.
    public func normalizedTable() -> Tensor {
        norm.map { $0(table.weight.value) } ?? table.weight.value
    }

    /// Leaves the (normalised) table in `context.carried` for every layer of this forward pass.
    public func prepare(_ context: MixerContext) throws {
        context.carried[Self.carriedKey] = normalizedTable()
    }
}
