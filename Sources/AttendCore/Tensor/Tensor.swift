// Tensor: an n-dimensional float32 array, row-major and always contiguous, with value semantics.
// Copies share storage until one side writes (copy-on-write). A tensor that takes part in automatic
// differentiation also carries the graph node that produced it (see Autograd/).

/// An n-dimensional array of float32 values in row-major order.
///
/// `Tensor` is a value: assigning it shares storage, and writing through
/// `withUnsafeMutableBufferPointer` copies first when the storage is shared.
public struct Tensor: @unchecked Sendable {
    /// Extent of each axis; `[]` is a scalar.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage
    /// The autograd node that produced this value, when gradients are being tracked.
    @usableFromInline var node: GradientNode?

    /// Wraps existing storage; `storage.count` must equal the product of `shape`.
    @usableFromInline init(shape: [Int], storage: TensorStorage, node: GradientNode? = nil) {
        precondition(
            Shape.count(shape) == storage.count,
            "shape \(shape) needs \(Shape.count(shape)) values, storage holds \(storage.count)")
        self.shape = shape
        self.storage = storage
        self.node = node
    }

    /// A tensor with the given values in row-major order.
    public init(shape: [Int], scalars: [Float]) {
        precondition(
            shape.allSatisfy { $0 >= 0 }, "shape \(shape) has a negative extent")
        precondition(
            Shape.count(shape) == scalars.count,
            "shape \(shape) needs \(Shape.count(shape)) values, got \(scalars.count)")
        let storage = TensorStorage(uninitializedCount: scalars.count)
        scalars.withUnsafeBufferPointer {
            storage.base.initialize(from: $0.baseAddress!, count: $0.count)
        }
        self.init(shape: shape, storage: storage)
    }

    /// A rank-0 tensor holding `value`.
    public init(_ value: Float) { self.init(shape: [], scalars: [value]) }

    /// A tensor of `shape` with every element equal to `value`.
    public init(repeating value: Float, shape: [Int]) {
        self.init(shape: shape, storage: TensorStorage(count: Shape.count(shape), repeating: value))
    }

    /// A tensor of zeros.
    public static func zeros(_ shape: [Int]) -> Tensor { Tensor(repeating: 0, shape: shape) }
    /// A tensor of ones.
    public static func ones(_ shape: [Int]) -> Tensor { Tensor(repeating: 1, shape: shape) }

    /// A tensor whose elements the caller writes through `body` (every element must be written).
    public static func filled(
        shape: [Int], _ body: (UnsafeMutableBufferPointer<Float>) throws -> Void
    ) rethrows -> Tensor {
        let storage = TensorStorage(uninitializedCount: Shape.count(shape))
        try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        return Tensor(shape: shape, storage: storage)
    }

    /// Number of elements.
    public var count: Int { storage.count }
    /// Number of axes.
    public var rank: Int { shape.count }
    /// Row-major strides in elements.
    public var strides: [Int] { Shape.strides(shape) }

    /// The elements in row-major order (a copy).
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: storage.base, count: count)) }

    /// The only element of a one-element tensor.
    public var scalar: Float {
        precondition(count == 1, "scalar of a tensor with shape \(shape)")
        return storage.base[0]
    }

    /// The element at a multi-dimensional index.
    public subscript(index: Int...) -> Float {
        precondition(index.count == rank, "index \(index) for a tensor of shape \(shape)")
        var offset = 0
        for (axis, i) in index.enumerated() {
            precondition(i >= 0 && i < shape[axis], "index \(index) out of bounds for \(shape)")
            offset = offset * shape[axis] + i
        }
        return storage.base[offset]
    }

    /// Reads the elements without copying.
    @inlinable public func withUnsafeBufferPointer<R>(
        _ body: (UnsafeBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    /// Writes the elements in place, copying first if the storage is shared with another value.
    ///
    /// Writing into a tensor that is part of a recorded graph would corrupt its gradients, so this
    /// is meant for freshly made tensors, optimizers and kernels.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            storage = TensorStorage(copying: storage)
        }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
    }

    /// True when both tensors use the same storage (a test and debugging aid).
    public func sharesStorage(with other: Tensor) -> Bool { storage === other.storage }
}

extension Tensor: CustomStringConvertible {
    /// Shape and the first few elements.
    public var description: String {
        let shown = scalars.prefix(8).map { String($0) }.joined(separator: ", ")
        return "Tensor(shape: \(shape), [\(shown)\(count > 8 ? ", …" : "")])"
    }
}
