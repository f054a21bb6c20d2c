import Testing

// The caching allocator: size classes bound the waste, freed buffers are handed out again (to a
// request of their class or of a class up to half their size), the
// cache limit is honoured and the cache can be emptied. Other suites
// allocate concurrently, so the reuse checks use a size class no other test touches; the tests of
// this suite run one at a time, because one of them lowers the process-wide cache limit (a buffer
// freed meanwhile by another test here would not be kept).
@testable import AttendCore

@Suite(.serialized) struct TensorAllocatorTests {
    @Test func sizeClassesCoverTheRequestWithinAnEighth() {
        var previous = 0
        for bytes in stride(from: TensorAllocator.minimumCachedBytes, to: 1 << 28, by: 40_961) {
            let size = TensorAllocator.classSize(for: bytes)
            #expect(size >= bytes)
            #expect(Double(size) <= Double(bytes) * 1.125 + 64)
            #expect(size % 64 == 0)
            #expect(size >= previous, "classes grow with the request")
            previous = size
        }
        #expect(TensorAllocator.classSize(for: 1 << 20) == 1 << 20)
        #expect(TensorAllocator.classSize(for: (1 << 20) + 1) == (1 << 20) + (1 << 17))
    }

    @Test func aFreedBufferIsHandedOutAgain() {
        let bytes = 3_217_001  // an odd size, so no other test shares its class
        let first = TensorAllocator.allocate(byteCount: bytes)
        TensorAllocator.deallocate(first, byteCount: bytes)
        let before = TensorAllocator.statistics
        let second = TensorAllocator.allocate(byteCount: bytes)
        #expect(second == first)
        #expect(TensorAllocator.statistics.hits > before.hits)
        TensorAllocator.deallocate(second, byteCount: bytes)
    }

    @Test func tensorsOfTheSameShapeReuseStorage() {
        let shape = [613, 1_009]  // 2.47 MB, a class of its own
        var addresses: Set<UnsafeMutablePointer<Float>> = []
        for _ in 0..<5 {
            let t = Tensor.zeros(shape)
            t.storage.base.pointee = 1
            addresses.insert(t.storage.base)
        }
        #expect(addresses.count == 1, "each tensor reused the one its predecessor freed")
    }

    @Test func aLargerCachedBufferServesASmallerRequestAndGoesBackToItsClass() {
        // Sizes of classes no other test uses, never touched (so never paged in).
        let larger = 150_000_001, smaller = 100_000_001, tooSmall = 60_000_001
        let pointer = TensorAllocator.allocate(byteCount: larger)
        TensorAllocator.deallocate(pointer, byteCount: larger)
        let unrelated = TensorAllocator.allocate(byteCount: tooSmall)
        #expect(unrelated != pointer, "a buffer over twice the request is not handed out")
        TensorAllocator.deallocate(unrelated, byteCount: tooSmall)
        let reused = TensorAllocator.allocate(byteCount: smaller)
        #expect(reused == pointer, "the empty class was served by the cached larger buffer")
        TensorAllocator.deallocate(reused, byteCount: smaller)
        #expect(TensorAllocator.cachedBufferCount(forByteCount: larger) == 1)
        #expect(TensorAllocator.cachedBufferCount(forByteCount: smaller) == 0)
        TensorAllocator.releaseCache()
    }

    @Test func largeBuffersAreAlignedForHugePages() {
        let bytes = TensorAllocator.hugePageThreshold + 12_345
        let pointer = TensorAllocator.allocate(byteCount: bytes)
        #expect(Int(bitPattern: pointer) % TensorAllocator.hugePageSize == 0)
        TensorAllocator.deallocate(pointer, byteCount: bytes)
    }

    @Test func releasingTheCacheEmptiesIt() {
        // About 400 MB, never touched (so never paged in): no other test frees a buffer of this
        // size class while this one runs.
        let bytes = 402_653_185
        let pointer = TensorAllocator.allocate(byteCount: bytes)
        TensorAllocator.deallocate(pointer, byteCount: bytes)
        #expect(TensorAllocator.statistics.cachedBytes >= TensorAllocator.classSize(for: bytes))
        #expect(TensorAllocator.cachedBufferCount(forByteCount: bytes) == 1)
        TensorAllocator.releaseCache()
        #expect(TensorAllocator.cachedBufferCount(forByteCount: bytes) == 0)
    }

    @Test func aBufferBeyondTheLimitIsNotKept() {
        let saved = TensorAllocator.cacheLimit
        defer { TensorAllocator.cacheLimit = saved }
        let bytes = 7_770_001
        TensorAllocator.cacheLimit = TensorAllocator.classSize(for: bytes) - 1
        #expect(TensorAllocator.statistics.cachedBytes < TensorAllocator.classSize(for: bytes))
        let pointer = TensorAllocator.allocate(byteCount: bytes)
        let before = TensorAllocator.statistics.misses
        TensorAllocator.deallocate(pointer, byteCount: bytes)
        let next = TensorAllocator.allocate(byteCount: bytes)
        #expect(
            TensorAllocator.statistics.misses > before, "the freed buffer was too large to keep")
        TensorAllocator.deallocate(next, byteCount: bytes)
    }

    @Test func byteSizesParseAndFormat() {
        #expect(ByteSize.parse("4GiB") == 4 << 30)
        #expect(ByteSize.parse("512 KiB") == 512 << 10)
        #expect(ByteSize.parse("1.5GB") == 1_500_000_000)
        #expect(ByteSize.parse("0") == 0)
        #expect(ByteSize.parse("12M") == 12 << 20)
        #expect(ByteSize.parse("lots") == nil)
        #expect(ByteSize.parse("-1GiB") == nil)
        #expect(ByteSize.format(1536 << 20) == "1.5 GiB")
        #expect(ByteSize.format(100) == "100 B")
    }
}
