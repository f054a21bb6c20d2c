// A batch of examples as the model consumes it: token ids padded into a rectangle, a mask telling
// real tokens from padding, and the targets. Built by `collate` from examples; masks always come
// from the examples' lengths, never from token values, so image tasks may use id 0 as a pixel.
// Shapes: B batch size, n padded length of the first sequence, m of the second (pair tasks).
import AttendCore

/// How sequences of different lengths are made rectangular.
public enum Padding: Sendable, Equatable {
    /// Pad to the longest sequence in the batch.
    case longest
    /// Pad to the longest sequence in the batch, truncating (keeping the start) any longer than
    /// this: the longest input a model takes.
    case longestUpTo(Int)
    /// Pad (or truncate, keeping the start, as LRA's loaders do) to exactly this length.
    case fixed(Int)

    /// The padded length of sequences whose longest has `longest` tokens.
    public func width(longest: Int) -> Int {
        switch self {
        case .longest: return longest
        case .longestUpTo(let limit):
            precondition(limit > 0, "padding limit must be positive, got \(limit)")
            return Swift.min(longest, limit)
        case .fixed(let n):
            precondition(n > 0, "fixed padding length must be positive, got \(n)")
            return n
        }
    }
}

/// Token ids, padding masks and targets for `B` examples.
public struct Batch: Sendable {
    /// Token ids, `[B, n]`; padded positions hold `padID`.
    public let tokens: Indices
    /// 1 for a real token, 0 for padding, `[B, n]`.
    public let mask: Tensor
    /// Class labels `[B]`, or next-token targets `[B, n]` for language modelling (0 where the
    /// mask is 0: weight the loss by the mask).
    public let labels: Indices
    /// The second sequence of a pair task, `[B, m]`; nil otherwise.
    public let pairTokens: Indices?
    /// Mask of the second sequence, `[B, m]`; nil otherwise.
    public let pairMask: Tensor?
    /// Real (unpadded, possibly truncated) length of each first sequence.
    public let lengths: [Int]
    /// Index of each row's example within its split.
    public let exampleIndices: [Int]

    /// Number of examples.
    public var size: Int { tokens.shape[0] }
    /// Padded length of the first sequence.
    public var length: Int { tokens.shape[1] }
    /// Real tokens in the batch, both sequences counted (for tokens/s).
    public var realTokenCount: Int {
        lengths.reduce(0, +) + (pairMask.map { Int($0.summed().scalar) } ?? 0)
    }

    /// Builds a batch from examples of one task (all of the same kind).
    public static func collate(
        _ examples: [Example], indices: [Int], padding: Padding = .longest, padID: Int = 0
    ) -> Batch {
        precondition(!examples.isEmpty, "a batch needs at least one example")
        precondition(indices.count == examples.count, "one split index per example")
        let first = pad(examples.map(\.tokens), padding: padding, padID: padID)
        let labels: Indices
        if examples[0].targets != nil {
            let targets = pad(examples.map { $0.targets ?? [] }, padding: padding, padID: 0)
            labels = targets.ids
        } else {
            labels = Indices(examples.map(\.label))
        }
        var pairTokens: Indices?
        var pairMask: Tensor?
        if examples[0].pairTokens != nil {
            let second = pad(examples.map { $0.pairTokens ?? [] }, padding: padding, padID: padID)
            pairTokens = second.ids
            pairMask = second.mask
        }
        return Batch(
            tokens: first.ids, mask: first.mask, labels: labels, pairTokens: pairTokens,
            pairMask: pairMask, lengths: first.lengths, exampleIndices: indices)
    }

    /// Pads (or truncates) `sequences` into `[B, n]` ids and a `[B, n]` mask.
    static func pad(_ sequences: [[Int]], padding: Padding, padID: Int)
        -> (ids: Indices, mask: Tensor, lengths: [Int])
    {
        let width = padding.width(longest: sequences.map(\.count).max() ?? 0)
        let rows = sequences.count
        var ids = [Int](repeating: padID, count: rows * width)
        var lengths = [Int](repeating: 0, count: rows)
        let mask = Tensor.filled(shape: [rows, width]) { m in
            for (r, sequence) in sequences.enumerated() {
                let length = min(sequence.count, width)
                lengths[r] = length
                for t in 0..<width { m[r * width + t] = t < length ? 1 : 0 }
                for t in 0..<length { ids[r * width + t] = sequence[t] }
            }
        }
        return (Indices(shape: [rows, width], values: ids), mask, lengths)
    }
}
