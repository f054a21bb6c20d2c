// Shape arithmetic shared by every op: element counts, row-major strides, axis normalisation and
// NumPy broadcasting rules.

/// Helpers over shapes written as `[Int]` (row-major, last axis fastest).
public enum Shape {
    /// Number of elements of `shape` (1 for a scalar shape `[]`).
    @inlinable public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// Row-major strides in elements: the last axis has stride 1.
    public static func strides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var step = 1
        for axis in shape.indices.reversed() {
            strides[axis] = step
            step *= shape[axis]
        }
        return strides
    }

    /// Turns a possibly negative axis into `0..<rank`, trapping with a message when out of range.
    public static func normalize(axis: Int, rank: Int, op: String = #function) -> Int {
        let normalized = axis < 0 ? axis + rank : axis
        precondition(
            normalized >= 0 && normalized < max(rank, 1),
            "\(op): axis \(axis) is out of range for a tensor of rank \(rank)")
        return normalized
    }

    /// The broadcast shape of `a` and `b` under NumPy rules, or nil when they are incompatible.
    public static func broadcast(_ a: [Int], _ b: [Int]) -> [Int]? {
        let rank = max(a.count, b.count)
        var result = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let x = i < rank - a.count ? 1 : a[i - (rank - a.count)]
            let y = i < rank - b.count ? 1 : b[i - (rank - b.count)]
            if x == y || y == 1 {
                result[i] = x
            } else if x == 1 {
                result[i] = y
            } else {
                return nil
            }
        }
        return result
    }

    /// Splits `shape` around `axis` into (outer, length, inner) element counts.
    public static func split(_ shape: [Int], at axis: Int) -> (outer: Int, length: Int, inner: Int)
    {
        (count(Array(shape[..<axis])), shape[axis], count(Array(shape[(axis + 1)...])))
    }
}
