// The memory behind a tensor: one 64-byte-aligned float32 buffer, shared between tensor values
// until one of them writes (copy-on-write is decided by `Tensor`, which checks uniqueness).

/// A heap buffer of `count` float32 values, aligned for AVX-512 loads.
public final class TensorStorage: @unchecked Sendable {
    /// Number of float32 values.
    public let count: Int
    /// Start of the buffer; valid for `count` values while the storage lives.
    public let base: UnsafeMutablePointer<Float>

    /// Allocates `count` values without initialising them: callers write every element.
    public init(uninitializedCount count: Int) {
        precondition(count >= 0, "negative element count \(count)")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates `count` values set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(uninitializedCount: count)
        base.initialize(repeating: value, count: count)
    }

    /// A fresh copy of `other`.
    public convenience init(copying other: TensorStorage) {
        self.init(uninitializedCount: other.count)
        base.update(from: other.base, count: other.count)
    }

    deinit { base.deallocate() }
}
