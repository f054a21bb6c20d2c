// Token (or position) embedding table: row i is the vector of id i. The gradient is a scatter-add
// into the rows that were looked up.
import AttendCore

/// A lookup table of `count` vectors of width `dimension`.
public final class Embedding: Module {
    /// [count, dimension].
    public let weight: Parameter

    /// A table initialised with `initializer` (default N(0, 1), PyTorch's `nn.Embedding`).
    public init(
        count: Int, dimension: Int, initializer: Initializer = .normal(standardDeviation: 1),
        generator: inout RandomGenerator
    ) {
        weight = Parameter(initializer.make([count, dimension], generator: &generator))
    }

    /// Number of rows.
    public var count: Int { weight.shape[0] }
    /// Width of each row.
    public var dimension: Int { weight.shape[1] }

    /// The table, saved as `weight`.
    public var ownParameters: [(String, Parameter)] { [("weight", weight)] }

    /// Ids of any shape → [ids.shape…, dimension]. Ids outside the table trap with a message.
    public func callAsFunction(_ ids: Indices) -> Tensor {
        Tensor.embedding(weight.value, ids)
    }
}
