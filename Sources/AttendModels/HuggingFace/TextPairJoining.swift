// Text pairs for a pretrained encoder that reads one sequence (BERT, DeBERTa-v2): the batches of
// the first and second texts, each tokenised as [CLS] text [SEP], joined row by row into
// [CLS] a [SEP] b [SEP] and cut to the model's positions as transformers' tokenizers cut them.
import AttendCore

/// Text pairs as one sequence per row: [CLS] a [SEP] b [SEP] from the batches of the first
/// texts ([CLS] a [SEP]) and of the second ([CLS] b [SEP], whose [CLS] is dropped), padded with
/// `paddingID` to the longest joined row. Rows longer than `limit` tokens lose tokens
/// from the end of the longer text first (transformers' `longest_first`), keeping each [SEP].
public func joinTextPairs(
    _ first: Indices, mask firstMask: Tensor, _ second: Indices, mask secondMask: Tensor,
    paddingID: Int, limit: Int
) -> (ids: Indices, mask: Tensor) {
    func rows(_ ids: Indices, _ mask: Tensor) -> [[Int]] {
        let n = ids.shape[1]
        let real = mask.scalars
        return (0..<ids.shape[0]).map { r in
            (0..<n).filter { real[r * n + $0] != 0 }.map { ids.values[r * n + $0] }
        }
    }
    let joined = zip(rows(first, firstMask), rows(second, secondMask)).map { a, b -> [Int] in
        var (a, b) = (a, Array(b.dropFirst()))
        while a.count + b.count > limit {  // drop the last word piece before a [SEP]
            if a.count >= b.count && a.count > 2 {
                a.remove(at: a.count - 2)
            } else if b.count > 1 {
                b.remove(at: b.count - 2)
            } else {
                break
            }
        }
        return a + b
    }
    let width = joined.map(\.count).max() ?? 0
    var ids = [Int](repeating: paddingID, count: joined.count * width)
    var mask = [Float](repeating: 0, count: joined.count * width)
    for (r, row) in joined.enumerated() {
        for (t, id) in row.enumerated() {
            ids[r * width + t] = id
            mask[r * width + t] = 1
        }
    }
    let shape = [joined.count, width]
    return (Indices(shape: shape, values: ids), Tensor(shape: shape, scalars: mask))
}
