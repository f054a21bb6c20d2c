// The one place that decides how work is split across cores. Policy: one level of parallelism at a
// time. A parallel region switches OpenBLAS to one thread while it runs, and a region opened inside
// another runs serially, so BLAS threads and our own threads never multiply.
import COpenBLAS
import Dispatch
import Foundation
import Synchronization

/// A raw pointer that may cross into `concurrentPerform` closures.
///
/// Safe only because every parallel loop in Attend writes disjoint ranges per iteration; that is the
/// contract of each caller.
public struct SendablePointer<Element>: @unchecked Sendable {
    /// The wrapped address.
    public let base: UnsafeMutablePointer<Element>
    /// Wraps `base`.
    public init(_ base: UnsafeMutablePointer<Element>) { self.base = base }
    /// Wraps a read-only address (reads only, by contract).
    public init(_ base: UnsafePointer<Element>) { self.base = UnsafeMutablePointer(mutating: base) }
    /// Element access.
    @inlinable public subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }
    /// The address `offset` elements further on.
    @inlinable public func advanced(by offset: Int) -> UnsafeMutablePointer<Element> {
        base + offset
    }
}

/// Thread-count policy and parallel loops.
public enum Parallel {
    private static let configuredThreads = Atomic<Int>(0)
    private static let depth = Atomic<Int>(0)

    /// Threads used for parallel loops and BLAS. Defaults to the active core count.
    public static var threadCount: Int {
        let configured = configuredThreads.load(ordering: .relaxed)
        return configured > 0 ? configured : ProcessInfoCores.active
    }

    /// Sets the thread count for Attend's loops and for OpenBLAS (`--threads`).
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "thread count must be at least 1, got \(count)")
        configuredThreads.store(count, ordering: .relaxed)
        openblas_set_num_threads(Int32(count))
    }

    /// Set on a thread while it runs iterations of a parallel loop. Per thread, not per process: a
    /// region open on one thread (another test case, another model) must not change what ops do on
    /// the others (autograd stops recording inside regions).
    private static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed with \(status)")
        return key
    }()

    /// True on a thread that is running an iteration of a parallel loop (nested regions run serially).
    public static var isInsideRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// Runs `body(i)` with the current thread marked as inside a region, restoring the mark after.
    private static func markedAsInsideRegion(_ body: () -> Void) {
        let outer = pthread_getspecific(regionKey)
        pthread_setspecific(regionKey, UnsafeRawPointer(bitPattern: 1))
        body()
        pthread_setspecific(regionKey, outer)
    }

    /// Runs `body(i)` for `i` in `0..<count`, spread over `threadCount` threads. Iterations must write
    /// disjoint memory. BLAS calls inside `body` run single-threaded. Iterations count as inside a
    /// region even when they run serially, so behaviour does not depend on the thread count.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = threadCount
        if count <= 1 || threads <= 1 || isInsideRegion {
            markedAsInsideRegion { for i in 0..<count { body(i) } }
            return
        }
        // The BLAS thread count is process-wide: the first region to open sets it to one, the last to
        // close restores it.
        if depth.wrappingAdd(1, ordering: .relaxed).oldValue == 0 { openblas_set_num_threads(1) }
        defer {
            if depth.wrappingSubtract(1, ordering: .relaxed).newValue == 0 { openblas_set_num_threads(Int32(threads)) }
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { i in markedAsInsideRegion { box.value(i) } }
        }
    }

    /// Splits `0..<count` into contiguous chunks of at least `grain` items and runs them in
    /// parallel when the work is large enough to pay for the threads.
    public static func forEachChunk(
        _ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void
    ) {
        let chunks = min(threadCount * 4, count / max(grain, 1))
        if chunks <= 1 || isInsideRegion {
            if count > 0 { body(0..<count) }
            return
        }
        let size = (count + chunks - 1) / chunks
        forEach(chunks) { c in
            let start = c * size
            let end = min(count, start + size)
            if start < end { body(start..<end) }
        }
    }
}

/// Wraps a non-Sendable value for a closure that the caller knows is safe to share.
struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Active processor count, read once.
enum ProcessInfoCores {
    static let active = max(1, ProcessInfo.processInfo.activeProcessorCount)
}
