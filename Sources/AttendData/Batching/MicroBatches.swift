// Micro-batches for gradient accumulation: contiguous rows of a collated batch, each keeping the
// whole batch's padded width, so length-dependent mechanisms see the input they would have seen in
// the whole batch and the micro-batches' gradients add up to the whole batch's.
import AttendCore

extension Batch {
    /// Rows `range` of this batch, at the same padded length(s).
    public func rows(_ range: Range<Int>) -> Batch {
        precondition(
            range.lowerBound >= 0 && range.upperBound <= size && !range.isEmpty,
            "rows \(range) outside a batch of \(size)")
        func slice(_ ids: Indices) -> Indices {
            let width = ids.count / size
            return Indices(
                shape: [range.count] + ids.shape.dropFirst(),
                values: Array(ids.values[range.lowerBound * width..<range.upperBound * width]))
        }
        func slice(_ mask: Tensor) -> Tensor {
            withoutGradient { mask.sliced(alongAxis: 0, range) }
        }
        return Batch(
            tokens: slice(tokens), mask: slice(mask), labels: slice(labels),
            pairTokens: pairTokens.map(slice), pairMask: pairMask.map(slice),
            lengths: Array(lengths[range]), exampleIndices: Array(exampleIndices[range]))
    }

    /// The batch cut into `parts` micro-batches of equal size, in row order; `parts` must divide
    /// the batch size.
    public func split(into parts: Int) -> [Batch] {
        precondition(
            parts > 0 && size % parts == 0,
            "\(parts) micro-batches do not divide a batch of \(size)")
        guard parts > 1 else { return [self] }
        let rowsEach = size / parts
        return (0..<parts).map { rows($0 * rowsEach..<($0 + 1) * rowsEach) }
    }
}
