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

    /// True while any thread of the process runs a parallel region (process-wide).
    public static var isInsideRegion: Bool { depth.load(ordering: .relaxed) > 0 }

    /// True on a thread while it runs the body of a parallel loop. Bound per thread, not process-wide,
    /// so that work on other threads (concurrent tests, a second model) is unaffected: loops opened
    /// inside a body run serially, and autograd does not record there.
    @TaskLocal public static var isRunningIteration = false

    /// Runs `body(i)` for `i` in `0..<count`, spread over `threadCount` threads. Iterations must write
    /// disjoint memory. BLAS calls inside `body` run single-threaded.
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        let threads = threadCount
        if count <= 1 || threads <= 1 || isRunningIteration {
            $isRunningIteration.withValue(true) { for i in 0..<count { body(i) } }
            return
        }
        depth.wrappingAdd(1, ordering: .relaxed)
        openblas_set_num_threads(1)
        defer {
            openblas_set_num_threads(Int32(threads))
            depth.wrappingSubtract(1, ordering: .relaxed)
        }
        withoutActuallyEscaping(body) { body in
            let box = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { i in Parallel.$isRunningIteration.withValue(true) { box.value(i) } }
        }
    }

    /// Splits `0..<count` into contiguous chunks of at least `grain` items and runs them in
    /// parallel when the work is large enough to pay for the threads.
    public static func forEachChunk(
        _ count: Int, grain: Int = 1 << 15, _ body: (Range<Int>) -> Void
    ) {
        let chunks = min(threadCount * 4, count / max(grain, 1))
        if chunks <= 1 || isRunningIteration {
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
