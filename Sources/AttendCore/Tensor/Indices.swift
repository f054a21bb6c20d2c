// Integer index arrays for gathers, embeddings, labels and top-k results.

/// A row-major array of integer indices with a shape.
public struct Indices: Sendable, Equatable, Codable {
    /// Extent of each axis.
    public let shape: [Int]
    /// The indices in row-major order.
    public let values: [Int]

    /// Indices with an explicit shape.
    public init(shape: [Int], values: [Int]) {
        precondition(
            Shape.count(shape) == values.count,
            "indices of shape \(shape) need \(Shape.count(shape)) values, got \(values.count)")
        self.shape = shape
        self.values = values
    }

    /// A one-dimensional index array.
    public init(_ values: [Int]) { self.init(shape: [values.count], values: values) }

    /// Number of indices.
    public var count: Int { values.count }
}
