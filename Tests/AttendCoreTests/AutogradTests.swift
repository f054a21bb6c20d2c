// The tape's behaviour rather than any one rule: accumulation where a value is used more than once,
// shared subexpressions, detach and no-grad regions, unreachable leaves, gradients summed over several
// backward passes, tie-breaking conventions, and copy-on-write storage.
import AttendCore
import AttendTesting
import Foundation
import Synchronization
import Testing

@Suite struct AutogradTests {
    @Test func valueUsedTwiceAccumulates() throws {
        let x = tensor([3], [1, -2, 3])
        // d/dx Σ x·x = 2x: both operands of the product feed the same leaf.
        let (value, gradients) = valueAndGradient(at: [x]) { xs in (xs[0] * xs[0]).summed() }
        #expect(value.scalar == 14)
        #expect(gradients[0].scalars == [2, -4, 6])
        // x used three times through different ops: d/dx Σ (x² + 3x + x) = 2x + 4.
        let (_, g) = valueAndGradient(at: [x]) { xs in
            (xs[0].squared() + xs[0] * 3 + xs[0]).summed()
        }
        #expect(g[0].scalars == [6, 0, 10])
    }

    @Test func sharedSubexpression() throws {
        let x = tensor([2], [0.5, -1])
        let w = tensor([2], [2, 3])
        // s = x·w feeds both s² and exp(s): dL/dx = (2s + e^s)·w, dL/dw = (2s + e^s)·x.
        let (_, g) = valueAndGradient(at: [x, w]) { xs in
            let s = xs[0] * xs[1]
            return (s.squared() + s.exp()).summed()
        }
        let s = [Float(1), -3]
        let factor = s.map { 2 * $0 + Foundation.exp($0) }
        try assertClose(g[0].scalars, [factor[0] * 2, factor[1] * 3], .reference, "dL/dx")
        try assertClose(g[1].scalars, [factor[0] * 0.5, factor[1] * -1], .reference, "dL/dw")
    }

    @Test func diamondGraphThroughManyPaths() throws {
        // y = a + b with a = 2x, b = 3x, then z = y·a: dz/dx = d(5x·2x)/dx = 20x.
        let x = tensor([2], [1, -0.5])
        let (_, g) = valueAndGradient(at: [x]) { xs in
            let a = xs[0] * 2
            let b = xs[0] * 3
            return ((a + b) * a).summed()
        }
        try assertClose(g[0].scalars, [20, -10], .reference, "diamond")
    }

    @Test func detachStopsGradients() throws {
        let x = tensor([2], [1, 2])
        // y = x · stop(x): only the first factor carries gradient, so dy/dx = x (not 2x).
        let (_, g) = valueAndGradient(at: [x]) { xs in (xs[0] * xs[0].detached()).summed() }
        #expect(g[0].scalars == [1, 2])
        let tracked = x.requiringGradient()
        #expect(tracked.requiresGradient && !tracked.detached().requiresGradient)
        #expect(tracked.detached().sharesStorage(with: tracked))
    }

    @Test func withoutGradientRecordsNothing() {
        let x = tensor([2], [1, 2]).requiringGradient()
        let y = withoutGradient { (x * x + 1).exp().summed() }
        #expect(!y.requiresGradient && y.recordedOps.isEmpty)
        #expect((x * x).requiresGradient)
        // Nested: the inner region ends, the outer one still holds.
        let z = withoutGradient { () -> Tensor in
            let inner = withoutGradient { x + 1 }
            return inner + x
        }
        #expect(!z.requiresGradient)
        #expect(GradientMode.isRecording)
        // A value computed without recording is a constant: d/dx Σ c·x with c = 5x is c, not 10x.
        let (_, g) = valueAndGradient(at: [tensor([2], [1, 2])]) { xs in
            (withoutGradient { xs[0] * 5 } * xs[0]).summed()
        }
        #expect(g[0].scalars == [5, 10])
    }

    @Test func unreachedLeavesGetZeros() {
        let x = tensor([2, 2], [1, 2, 3, 4])
        let unused = tensor([3], [1, 1, 1])
        let (_, g) = valueAndGradient(at: [x, unused]) { xs in xs[0].summed() }
        #expect(g[1].shape == [3] && g[1].scalars == [0, 0, 0])
        // Also for a leaf that never required gradients.
        let leaf = x.requiringGradient()
        let grads = gradients(of: (leaf * 2).summed(), withRespectTo: [leaf, unused])
        #expect(grads[0].scalars == [2, 2, 2, 2] && grads[1].scalars == [0, 0, 0])
    }

    @Test func gradientsOfSeveralPassesAdd() throws {
        let x = Tensor.randomNormal([3, 4], seed: 11).requiringGradient()
        let f = (x * x).summed()
        let g = (x.exp() * 2).summed()
        let separate =
            gradients(of: f, withRespectTo: [x])[0] + gradients(of: g, withRespectTo: [x])[0]
        let together = gradients(of: f + g, withRespectTo: [x])[0]
        try assertClose(separate, together, .reordered, "sum of two passes vs pass of the sum")
        // The graph survives a backward pass: running it again gives the same gradient.
        #expect(
            bits(gradients(of: f, withRespectTo: [x])[0])
                == bits(gradients(of: f, withRespectTo: [x])[0]))
        // Accumulating into a buffer, as an optimizer does over micro-batches.
        var accumulated = Tensor.zeros([3, 4])
        accumulated.accumulate(gradients(of: f, withRespectTo: [x])[0])
        accumulated.accumulate(gradients(of: g, withRespectTo: [x])[0])
        try assertClose(accumulated, together, .reordered, "accumulate()")
    }

    @Test func seedWeightsANonScalarOutput() {
        let x = tensor([3], [1, 2, 3]).requiringGradient()
        let y = x * x
        let g = gradients(of: y, withRespectTo: [x], seed: tensor([3], [1, 0, -1]))[0]
        #expect(g.scalars == [2, 0, -6])
        // The output itself as the leaf: its gradient is the seed.
        #expect(
            gradients(of: x, withRespectTo: [x], seed: tensor([3], [4, 5, 6]))[0].scalars == [
                4, 5, 6,
            ])
    }

    @Test func tiesAndKinksFollowPyTorch() {
        // max(alongAxis:) sends the gradient to the first maximum; maximum/minimum split ties evenly;
        // relu, abs and clamp pass 0, 0 and 1 at their kinks.
        let x = tensor([4], [1, 3, 3, 0])
        let (_, gMax) = valueAndGradient(at: [x]) { xs in xs[0].max(alongAxis: 0) }
        #expect(gMax[0].scalars == [0, 1, 0, 0])
        let (_, gPair) = valueAndGradient(at: [x, tensor([4], [1, 2, 4, 0])]) { xs in
            Tensor.maximum(xs[0], xs[1]).summed()
        }
        #expect(gPair[0].scalars == [0.5, 1, 0, 0.5] && gPair[1].scalars == [0.5, 0, 1, 0.5])
        let zero = tensor([3], [0, -1, 2])
        #expect(
            valueAndGradient(at: [zero]) { $0[0].relu().summed() }.gradients[0].scalars == [
                0, 0, 1,
            ])
        #expect(
            valueAndGradient(at: [zero]) { $0[0].abs().summed() }.gradients[0].scalars == [
                0, -1, 1,
            ])
        let (_, gClamp) = valueAndGradient(at: [zero]) {
            $0[0].clamped(lower: -1, upper: 1).summed()
        }
        #expect(gClamp[0].scalars == [1, 1, 0])
    }

    @Test func logSumExpAndSoftmaxGradientsOnMaskedRows() throws {
        // A fully masked row contributes zeros to the gradient, never NaN.
        let x = tensor([2, 3], [-.infinity, -.infinity, -.infinity, 1, 2, 3])
        let (value, g) = valueAndGradient(at: [x]) { $0[0].logSumExp(alongAxis: 1).summed() }
        #expect(value.scalar == -.infinity)
        #expect(g[0].scalars.prefix(3) == [0, 0, 0])
        try assertClose(
            Array(g[0].scalars[3...]), tensor([3], [1, 2, 3]).softmax().scalars, .reordered,
            "softmax row")
        // Gradient of logsumexp at large logits equals softmax there (no rounding at 1000's scale).
        let big = tensor([1, 2], [1000, 1001])
        let gBig = valueAndGradient(at: [big]) { $0[0].logSumExp(alongAxis: 1).summed() }.gradients[
            0]
        try assertClose(
            gBig, tensor([1, 2], [0.268_941_43, 0.731_058_6]), .reference, "logsumexp at 1000")
    }

    @Test func customOpsUseTheirOwnRule() throws {
        // A fused op defined outside the library: y = a·x³ + b, with its rule written by hand.
        func cubic(_ x: Tensor, _ a: Tensor, _ b: Tensor) -> Tensor {
            let y = withoutGradient { a * x * x * x + b }
            return y.recorded(.custom, from: [x, a, b]) { dy in
                [
                    dy * a * x.squared() * 3, (dy * x * x * x).summed(toShape: a.shape),
                    dy.summed(toShape: b.shape),
                ]
            }
        }
        let inputs = [uniform([2, 3], seed: 40), uniform([3], seed: 41), Tensor(0.5)]
        try GradientCheck.check(inputs, tolerance: GradientCheckTests.tolerance) {
            cubic($0[0], $0[1], $0[2])
        }
        let leaves = inputs.map { $0.requiringGradient() }
        #expect(cubic(leaves[0], leaves[1], leaves[2]).recordedOps == [.leaf, .custom])
        // Without any tracked input nothing is recorded.
        #expect(!cubic(inputs[0], inputs[1], inputs[2]).requiresGradient)
    }

    @Test func recordingIsIndependentOfTheLeafOrder() throws {
        // Leaves made after the ops that use them still come out right (ids only order the graph).
        let a = tensor([2], [1, 2]).requiringGradient()
        let product = a * 3
        let b = tensor([2], [5, 7]).requiringGradient()
        let g = gradients(of: (product * b).summed(), withRespectTo: [b, a])
        #expect(g[0].scalars == [3, 6] && g[1].scalars == [15, 21])
    }
}

@Suite struct CopyOnWriteTests {
    @Test func mutatingACopyLeavesTheOriginal() {
        let original = tensor([3], [1, 2, 3])
        var copy = original
        #expect(copy.sharesStorage(with: original))
        copy.withUnsafeMutableBufferPointer { $0[0] = 100 }
        #expect(!copy.sharesStorage(with: original))
        #expect(original.scalars == [1, 2, 3] && copy.scalars == [100, 2, 3])
    }

    @Test func uniqueStorageIsWrittenInPlace() {
        var t = Tensor.zeros([4])
        let before = t.withUnsafeBufferPointer { $0.baseAddress }
        t.withUnsafeMutableBufferPointer { $0[1] = 5 }
        #expect(t.withUnsafeBufferPointer { $0.baseAddress } == before)
        #expect(t.scalars == [0, 5, 0, 0])
    }

    @Test func viewsShareUntilWritten() {
        let x = tensor([2, 2], [1, 2, 3, 4])
        var reshaped = x.reshaped([4])
        #expect(reshaped.sharesStorage(with: x))
        reshaped.withUnsafeMutableBufferPointer { $0[3] = -1 }
        #expect(x.scalars == [1, 2, 3, 4] && reshaped.scalars == [1, 2, 3, -1])
        // A tensor recorded on the tape keeps its values when a copy is written.
        let leaf = x.requiringGradient()
        var twice = leaf * 2
        let keep = twice
        twice.withUnsafeMutableBufferPointer { $0[0] = 0 }
        #expect(keep.scalars == [2, 4, 6, 8] && twice.scalars == [0, 4, 6, 8])
        #expect(gradients(of: keep.summed(), withRespectTo: [leaf])[0].scalars == [2, 2, 2, 2])
    }

    @Test func scalarsIsACopy() {
        let x = tensor([2], [1, 2])
        var values = x.scalars
        values[0] = 9
        #expect(x.scalars == [1, 2])
    }
}

@Test func gradientsReachIntermediateValues() throws {
    let x = Tensor(shape: [3], scalars: [1, 2, 3]).requiringGradient()
    let hidden = x * 2  // an intermediate value of the graph
    let y = (hidden * hidden).summed()
    let g = gradients(of: y, withRespectTo: [hidden, x])
    #expect(g[0].scalars == [4, 8, 12])  // d(Σh²)/dh = 2h
    #expect(g[1].scalars == [8, 16, 24])
}

@Test func opsInsideParallelRegionsAreNotRecorded() {
    let x = Tensor.ones([4]).requiringGradient()
    let recorded = Mutex<[Bool]>([])
    Parallel.forEach(2) { _ in
        let y = x * 2
        recorded.withLock { $0.append(y.requiresGradient) }
    }
    #expect(recorded.withLock { $0 }.allSatisfy { !$0 })
}

@Test func aRegionOpenOnAnotherThreadDoesNotStopRecording() {
    // Regions are per thread: concurrent test cases (or models) must keep recording while another
    // thread runs a parallel loop.
    let x = Tensor.ones([4]).requiringGradient()
    let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
    let worker = Thread {
        Parallel.forEach(2) { i in
            if i == 0 {
                entered.signal()
                release.wait()
            }
        }
    }
    worker.start()
    entered.wait()
    let y = x * 2
    release.signal()
    #expect(Parallel.isInsideRegion == false)
    #expect(y.requiresGradient)
}
