// The memory behind a tensor: one 64-byte-aligned float32 buffer, shared between tensor values
// until one of them writes (copy-on-write is decided by `Tensor`, which checks uniqueness). Every
// allocation is counted, so benchmarks can report the peak tensor memory of an operation. Buffers
// come from `TensorAllocator`, which reuses freed ones.
import Foundation
import Synchronization

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
        let raw = TensorAllocator.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        MemoryAccounting.allocated(count * MemoryLayout<Float>.stride)
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

    deinit {
        MemoryAccounting.released(count * MemoryLayout<Float>.stride)
        TensorAllocator.deallocate(
            UnsafeMutableRawPointer(base), byteCount: max(count, 1) * MemoryLayout<Float>.stride)
    }
}

/// Live and peak bytes held by tensor storage, process-wide (not counting the buffers
/// `TensorAllocator` keeps for reuse).
public enum MemoryAccounting {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    static func allocated(_ bytes: Int) {
        let now = live.wrappingAdd(bytes, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(
                expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }

    static func released(_ bytes: Int) { live.wrappingSubtract(bytes, ordering: .relaxed) }

    /// Bytes currently held by tensors.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// Highest `liveBytes` since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Starts a new peak measurement from the current live bytes.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }
}
