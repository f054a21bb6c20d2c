// Where tensor buffers come from: a caching allocator that keeps freed buffers in size classes and
// hands them out again, so a training step or an embedding batch that allocates and frees the same
// activations every iteration stops asking the kernel for fresh pages.
//
// Why not glibc alone: blocks above glibc's mmap threshold (dynamic, at most 32 MiB on 64-bit) are
// fresh mappings, unmapped again on free, and blocks freed on worker threads go back to secondary
// arenas that are trimmed too; every such block is zero-filled page by page on its next use
// (measured: 0.5–1.7 M page faults and bimodal throughput across identical embedding runs).
// `mallopt` cannot raise that threshold past 32 MiB, so the cache sits above malloc instead.
import Foundation
import Synchronization

/// The caching allocator behind every `TensorStorage`.
///
/// Freed buffers of at least `minimumCachedBytes` are kept, grouped by size class (eight classes
/// per doubling, so a buffer is at most 12.5 % larger than asked for), and reused by the next
/// allocation of the same class, or, when that class is empty, by one of a larger class up to twice
/// the size (batches whose lengths vary ask for a new class at nearly every step; a cached larger
/// buffer costs nothing, a fresh one is zero-filled page by page). Cached bytes are bounded by `cacheLimit` (default: half of the
/// machine's memory; `ATTEND_TENSOR_CACHE` overrides it, e.g. `ATTEND_TENSOR_CACHE=4GiB` or `0`
/// to disable caching); a buffer that would exceed it is returned to malloc. Buffers of 4 MiB
/// and more are aligned to 2 MiB and advised for transparent huge pages, which the kernel honours
/// in its `madvise` mode.
///
/// `MemoryAccounting` keeps counting the bytes tensors hold; the bytes held here for reuse are
/// reported separately by `statistics`.
public enum TensorAllocator {
    /// Counters since the process started (or since `resetCounters()`).
    public struct Statistics: Sendable, Equatable {
        /// Allocations served from the cache.
        public var hits: Int
        /// Cacheable allocations that had to ask malloc (each may fault fresh pages).
        public var misses: Int
        /// Bytes of freed buffers held for reuse now.
        public var cachedBytes: Int
        /// Buffers held for reuse now.
        public var cachedBuffers: Int
    }

    /// Buffers smaller than this go straight to malloc, which serves them from its own free lists.
    public static let minimumCachedBytes = 16 * 1024
    /// Buffers at least this large are aligned for, and advised to use, transparent huge pages.
    static let hugePageThreshold = 4 << 20
    static let hugePageSize = 2 << 20

    /// Cached buffers by size class, kept as addresses (plain integers are `Sendable`, so they can
    /// live behind the mutex).
    private struct State {
        var free: [Int: [UInt]] = [:]
        /// The class of each buffer handed out for a smaller request, so that it goes back to its own.
        var handedOutLarger: [UInt: Int] = [:]
        var limit: Int
        var statistics = Statistics(hits: 0, misses: 0, cachedBytes: 0, cachedBuffers: 0)
    }

    private static let state = Mutex(State(limit: defaultLimit()))

    /// Most bytes the cache may hold; lowering it releases what is above the new limit.
    public static var cacheLimit: Int {
        get { state.withLock { $0.limit } }
        set {
            precondition(newValue >= 0, "the tensor cache limit cannot be negative (\(newValue))")
            let released = state.withLock { state in
                state.limit = newValue
                return evict(from: &state, downTo: newValue)
            }
            released.forEach(release)
        }
    }

    /// The counters now.
    public static var statistics: Statistics { state.withLock { $0.statistics } }

    /// Zeroes the hit and miss counters (cached bytes stay as they are).
    public static func resetCounters() {
        state.withLock {
            $0.statistics.hits = 0
            $0.statistics.misses = 0
        }
    }

    /// Returns every cached buffer to malloc (and so, for large ones, to the kernel).
    public static func releaseCache() {
        let released = state.withLock { evict(from: &$0, downTo: 0) }
        released.forEach(release)
    }

    /// A buffer of at least `byteCount` bytes, 64-byte aligned, uninitialised.
    static func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        guard byteCount >= minimumCachedBytes else { return allocateFromMalloc(byteCount) }
        let size = classSize(for: byteCount)
        let reused: UInt? = state.withLock { state in
            guard let (address, cachedSize) = takeCached(atLeast: size, from: &state) else {
                state.statistics.misses += 1
                return nil
            }
            if cachedSize != size { state.handedOutLarger[address] = cachedSize }
            state.statistics.hits += 1
            state.statistics.cachedBytes -= cachedSize
            state.statistics.cachedBuffers -= 1
            return address
        }
        return reused.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? allocateFromMalloc(size)
    }

    /// Takes back a buffer `allocate(byteCount:)` returned for the same `byteCount`.
    static func deallocate(_ pointer: UnsafeMutableRawPointer, byteCount: Int) {
        guard byteCount >= minimumCachedBytes else { return free(pointer) }
        let address = UInt(bitPattern: pointer)
        let kept = state.withLock { state in
            let size =
                state.handedOutLarger.removeValue(forKey: address) ?? classSize(for: byteCount)
            guard state.statistics.cachedBytes + size <= state.limit else { return false }
            state.free[size, default: []].append(address)
            state.statistics.cachedBytes += size
            state.statistics.cachedBuffers += 1
            return true
        }
        if !kept { free(pointer) }
    }

    /// Removes and returns a cached buffer of class `size`, or else of the smallest larger class
    /// up to twice `size` (eight classes up), with the class it was cached under.
    private static func takeCached(atLeast size: Int, from state: inout State) -> (UInt, Int)? {
        var candidate = size
        for _ in 0...8 {
            if let address = state.free[candidate]?.popLast() { return (address, candidate) }
            candidate = classSize(for: candidate + 1)
        }
        return nil
    }

    /// Buffers of `byteCount`'s size class held for reuse now.
    static func cachedBufferCount(forByteCount byteCount: Int) -> Int {
        state.withLock { $0.free[classSize(for: byteCount)]?.count ?? 0 }
    }

    /// The size class of a request: `byteCount` rounded up to the next of eight steps per power
    /// of two (1, 1.125, …, 1.875 × 2ᵏ), then to whole cache lines.
    static func classSize(for byteCount: Int) -> Int {
        let exponent = Int.bitWidth - 1 - byteCount.leadingZeroBitCount  // 2^exponent ≤ byteCount
        let step = max(1 << max(exponent - 3, 0), 64)
        return (byteCount + step - 1) / step * step
    }

    private static func allocateFromMalloc(_ byteCount: Int) -> UnsafeMutableRawPointer {
        let huge = byteCount >= hugePageThreshold
        var pointer: UnsafeMutableRawPointer?
        let status = posix_memalign(&pointer, huge ? hugePageSize : 64, max(byteCount, 1))
        guard status == 0, let pointer else {
            fatalError("out of memory: could not allocate \(byteCount) bytes for a tensor")
        }
        if huge { _ = madvise(pointer, byteCount, MADV_HUGEPAGE) }
        return pointer
    }

    /// Removes buffers, largest classes first, until at most `limit` bytes stay cached; returns
    /// them so that the caller frees them outside the lock.
    private static func evict(from state: inout State, downTo limit: Int) -> [UInt] {
        var released: [UInt] = []
        for size in state.free.keys.sorted(by: >) where state.statistics.cachedBytes > limit {
            while state.statistics.cachedBytes > limit, let address = state.free[size]?.popLast() {
                released.append(address)
                state.statistics.cachedBytes -= size
                state.statistics.cachedBuffers -= 1
            }
        }
        return released
    }

    private static func release(_ address: UInt) {
        free(UnsafeMutableRawPointer(bitPattern: address))
    }

    /// `ATTEND_TENSOR_CACHE` when set, else half of physical memory.
    private static func defaultLimit() -> Int {
        if let text = ProcessInfo.processInfo.environment["ATTEND_TENSOR_CACHE"] {
            guard let bytes = ByteSize.parse(text) else {
                fatalError(
                    "ATTEND_TENSOR_CACHE=\(text) is not a size; write bytes or a number with KiB, MiB "
                        + "or GiB (e.g. 4GiB), or 0 to turn the tensor cache off")
            }
            return bytes
        }
        return Int(ProcessInfo.processInfo.physicalMemory / 2)
    }
}

/// Sizes written by people: `1048576`, `512KiB`, `64MiB`, `4GiB`, `1.5GB`.
public enum ByteSize {
    /// The number of bytes `text` names, or nil when it is not a size.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let units: [(suffix: String, scale: Double)] = [
            ("KiB", 0x1p10), ("MiB", 0x1p20), ("GiB", 0x1p30), ("TiB", 0x1p40),
            ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 0x1p10), ("M", 0x1p20),
            ("G", 0x1p30), ("B", 1),
        ]
        var number = trimmed, scale = 1.0
        for unit in units where trimmed.hasSuffix(unit.suffix) {
            number = String(trimmed.dropLast(unit.suffix.count)).trimmingCharacters(
                in: .whitespaces)
            scale = unit.scale
            break
        }
        guard let value = Double(number), value.isFinite, value >= 0, value * scale < 0x1p62 else {
            return nil
        }
        return Int(value * scale)
    }

    /// `bytes` in the largest binary unit that keeps at least one whole unit (`1.5 GiB`).
    public static func format(_ bytes: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes), unit = 0
        while abs(value) >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}
