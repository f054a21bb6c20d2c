// Per-position rows of each sequence in a batch, appended as decoding advances and read back as one
// right-padded tensor with its key mask: the cache of a mechanism that attends with an existing
// kernel from one new query to every cached key (Transformer-MGK's component keys, for instance).
import AttendCore

/// Rows of `width` floats per position, per sequence.
final class RowCache {
    /// Floats per position.
    let width: Int
    /// Per sequence, its rows back to back.
    private var rows: [[Float]]

    /// The first `lengths[i]` positions of `x` [b, n, …] (each position's trailing values one row).
    init(_ x: Tensor, lengths: [Int]) {
        let (b, n) = (x.shape[0], x.shape[1])
        let width = x.count / Swift.max(b * n, 1)
        let values = x.scalars
        self.width = width
        rows = (0..<b).map { i in Array(values[i * n * width..<(i * n + lengths[i]) * width]) }
    }

    /// Appends each sequence's row of `x` [b, 1, …].
    func append(_ x: Tensor) {
        let values = x.scalars
        for i in rows.indices { rows[i] += values[i * width..<(i + 1) * width] }
    }

    /// Positions held per sequence.
    var lengths: [Int] { rows.map { $0.count / width } }

    /// Bytes held.
    var byteCount: Int { rows.reduce(0) { $0 + $1.count } * MemoryLayout<Float>.size }

    /// [b, L, trailing…] right-padded with zeros (L the longest sequence) and the key mask [b, L].
    func padded(trailing: [Int]) -> (values: Tensor, mask: Tensor) {
        let lengths = lengths
        let longest = lengths.max() ?? 0
        let values = Tensor.filled(shape: [rows.count, longest] + trailing) { out in
            out.update(repeating: 0)
            for (i, row) in rows.enumerated() {
                row.withUnsafeBufferPointer { source in
                    (out.baseAddress! + i * longest * width).update(
                        from: source.baseAddress!, count: row.count)
                }
            }
        }
        return (values, rightPaddingMask(lengths, length: longest))
    }
}

/// [b, n] with 1 on each sequence's first `lengths[i]` positions.
public func rightPaddingMask(_ lengths: [Int], length n: Int) -> Tensor {
    Tensor.filled(shape: [lengths.count, n]) { out in
        for (i, length) in lengths.enumerated() {
            for p in 0..<n { out[i * n + p] = p < length ? 1 : 0 }
        }
    }
}
