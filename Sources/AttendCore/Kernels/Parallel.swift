// The one place that decides how work is split across cores. Policy: one level of parallelism at a
// time, and all of it ours. OpenBLAS always runs single-threaded (its thread count is process-wide
// state, which concurrent callers would race on, changing results); large matrix products are split
// into row or column blocks here instead, so every element is computed by the same single-threaded
// kernel whatever the thread count. A loop opened inside a parallel iteration runs serially.
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

    /// Threads used for parallel loops (including split matrix products). Defaults to the active
    /// core count.
    public static var threadCount: Int {
        let configured = configuredThreads.load(ordering: .relaxed)
        return configured > 0 ? configured : ProcessInfoCores.active
    }

    /// Sets the thread count for Attend's loops and matrix products (`--threads`).
    public static func setThreadCount(_ count: Int) {
        precondition(count >= 1, "thread count must be at least 1, got \(count)")
        configuredThreads.store(count, ordering: .relaxed)
    }

    /// Marks threads running a parallel iteration. Per thread, not per process: a region open on one
    /// thread (another test case, another model) must not change what ops do on the others.
    private static let regionKey: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed with \(status)")
        return key
    }()

    /// True on a thread that is running an iteration of a parallel loop (nested loops run serially,
    /// and autograd does not record there).
    public static var isInsideRegion: Bool { pthread_getspecific(regionKey) != nil }

    /// Runs `body` with the current thread marked as inside a region, restoring the mark after.
    private static func markedAsInsideRegion(_ body: () -> Void) {
        let outer = pthread_getspecific(regionKey)
        pthread_setspecific(regionKey, UnsafeRawPointer(bitPattern: 1))
        body()
        pthread_setspecific(regionKey, outer)
    }

    /// Runs `body(i)` for `i` in `0..<count`, spread over `threadCount` threads. Iterations must write
    /// disjoint memory. They count as inside a region even when they run serially, so behaviour does
    /// not depend on the thread count.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        BLAS.ensureSingleThreaded()
        if count <= 1 || threadCount <= 1 || isInsideRegion {
            markedAsInsideRegion { for i in 0..<count { body(i) } }
            return
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { i in
                markedAsInsideRegion { box.value(i) }
            }
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
