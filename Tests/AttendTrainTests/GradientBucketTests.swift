// Gradient buckets: the flat layout covers every gradient element exactly once in buckets no larger
// than asked, each bucket is one all-reduce call, and averaging computes Σ w_r·g_r / Σ w_r, with
// parameters that no process reached left without a gradient.
import AttendCore
import AttendNN
import AttendTrain
import Testing

@Suite struct GradientBucketTests {
    /// Parameters of 5, 3, 10 and 1 elements: 19 in all.
    func parameters() -> [Parameter] {
        [[5], [3], [2, 5], [1]].enumerated().map { i, shape in
            Parameter(Tensor.randomNormal(shape, seed: UInt64(10 + i)))
        }
    }

    @Test func layoutCoversEveryElementOnceInBoundedBuckets() {
        let buckets = GradientBuckets(parameters: parameters(), bucketBytes: 6 * 4)
        #expect(buckets.capacity == 6 && buckets.totalCount == 19)
        #expect((0..<buckets.buckets.count).map(buckets.count(ofBucket:)) == [6, 6, 6, 1])
        var seen = [[Int]](repeating: [], count: 4)
        for pieces in buckets.buckets {
            var offset = 0
            for piece in pieces {
                #expect(piece.offset == offset, "pieces of a bucket are contiguous")
                offset += piece.elements.count
                seen[piece.parameter] += Array(piece.elements)
            }
        }
        for (i, p) in buckets.parameters.enumerated() {
            #expect(seen[i] == Array(0..<p.count), "parameter \(i): every element once, in order")
        }
    }

    @Test func aSmallModelIsOneBucketAndBucketsNeverExceedTheModel() {
        let buckets = GradientBuckets(parameters: parameters())
        #expect(buckets.buckets.count == 1 && buckets.capacity == 19)
        // below one float: one per bucket
        let tiny = GradientBuckets(parameters: parameters(), bucketBytes: 3)
        #expect(tiny.capacity == 1 && tiny.buckets.count == 19)
    }

    @Test func averagingReducesEachElementOnceWithTheWeights() throws {
        let params = parameters()
        let buckets = GradientBuckets(parameters: params, bucketBytes: 6 * 4)
        var gradients = Gradients()
        for (i, p) in params.enumerated() where i == 0 || i == 2 {  // 1 and 3 got no gradient here
            gradients[p] = Tensor.randomNormal(p.shape, seed: UInt64(20 + i))
        }
        let original = gradients
        // The other two processes of a group of 3 add 1 to every element they are sent.
        let group = ScriptedCommunicator(size: 3)
        group.onAllReduceSum = { values in
            for i in values.indices { values[i] += 1 }
        }
        try buckets.average(
            &gradients, weight: 2, totalWeight: 6, present: [true, true, true, false], over: group)
        #expect(group.calls.map(\.count) == [6, 6, 6, 1], "one call per bucket, sized as laid out")
        for (i, p) in params.enumerated() {
            switch i {
            case 3:
                #expect(gradients[p] == nil, "no process reached parameter 3: it gets no gradient")
            case 1:
                #expect(
                    gradients[p]?.scalars == [Float](repeating: 1.0 / 6, count: 3),
                    "absent here, present elsewhere")
            default:
                let expected = original[p]!.scalars.map { ($0 * 2 + 1) * (1 / Float(6)) }
                #expect(gradients[p]?.scalars == expected, "parameter \(i): (w·g + others) / W")
            }
        }
    }

    @Test func oneProcessLeavesGradientsUnchanged() throws {
        let params = parameters()
        var gradients = Gradients()
        for (i, p) in params.enumerated() {
            gradients[p] = Tensor.randomNormal(p.shape, seed: UInt64(30 + i))
        }
        let original = gradients
        try GradientBuckets(parameters: params, bucketBytes: 32).average(
            &gradients, weight: 1, totalWeight: 1, present: [true, true, true, true],
            over: SingleProcessCommunicator())
        for p in params { #expect(gradients[p]!.scalars == original[p]!.scalars) }
    }
}
