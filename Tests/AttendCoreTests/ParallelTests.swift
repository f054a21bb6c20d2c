// Results must not depend on the thread count: every parallel loop splits work over independent rows
// or elements and never splits one sum between threads, so one and two threads agree bit for bit.
// Sizes exceed `Elementwise.grain` (2¹⁶ elements) so the parallel paths are really taken.
// The thread count is process-wide: the suite runs serially and restores the count it found. Other
// suites running meanwhile are unaffected, since results are thread-count independent, which is the
// property checked here.
import AttendCore
import AttendTesting
import Testing

@Suite(.serialized) struct ParallelTests {
    /// 520 × 257 = 133 640 elements: just over two grains, so the work splits in two, with a row
    /// length that is not a multiple of 8.
    static let x = uniform([520, 257], seed: 21, in: -4...4)
    static let y = uniform([520, 257], seed: 22, in: -4...4)
    static let row = uniform([257], seed: 23, in: -4...4)

    /// `body`'s outputs with one thread, then with two; restores the thread count it found.
    func withOneThenTwoThreads(_ body: () -> [Tensor]) -> (serial: [Tensor], parallel: [Tensor]) {
        let saved = Parallel.threadCount
        defer { Parallel.setThreadCount(saved) }
        Parallel.setThreadCount(1)
        let serial = body()
        Parallel.setThreadCount(2)
        let parallel = body()
        return (serial, parallel)
    }

    /// Checks that every output is bitwise identical under one and two threads.
    func expectThreadCountIndependent(
        _ label: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () -> [Tensor]
    ) {
        let (serial, parallel) = withOneThenTwoThreads(body)
        for (i, (a, b)) in zip(serial, parallel).enumerated() {
            #expect(
                a.shape == b.shape, "\(label) output \(i): shapes differ",
                sourceLocation: sourceLocation)
            let (bitsA, bitsB) = (bits(a), bits(b))
            let differing = zip(bitsA, bitsB).filter { $0 != $1 }.count
            let first = bitsA.indices.first { bitsA[$0] != bitsB[$0] }
            #expect(
                differing == 0,
                """
                \(label) output \(i) \(a.shape): \(differing) elements differ between 1 and 2 threads\
                \(first.map { ", first at \($0): \(a.scalars[$0]) vs \(b.scalars[$0])" } ?? "")
                """, sourceLocation: sourceLocation)
        }
    }

    @Test func elementwise() {
        let (x, y, row) = (Self.x, Self.y, Self.row)
        #expect(x.count > 2 * Elementwise.grain)
        expectThreadCountIndependent("elementwise") {
            [
                // One op per kind of loop (map, zip, broadcast row, zip3, permute): the parallel split
                // is the same whatever the closure, and transcendental ones cost ~0.1 s in debug builds.
                x.exp(), x.relu(),
                x + y, x / (y.abs() + 1), x - row, x * row.reshaped([1, 257]),
                Tensor.where(y, x, row), Tensor.maximum(x, y), x.clamped(lower: -1, upper: 1),
                x.permuted([1, 0]),
            ]
        }
    }

    @Test func reductions() {
        let (x, cube) = (Self.x, Self.x.reshaped([20, 26, 257]))
        expectThreadCountIndependent("reductions") {
            [
                x.summed(alongAxis: -1), x.summed(alongAxis: 0), x.summed(),
                cube.summed(alongAxis: 1),
                x.mean(alongAxis: 1), x.variance(alongAxes: [1]), x.max(alongAxis: 1),
                x.min(alongAxis: 0),
                x.logSumExp(alongAxis: 1), x.cumulativeSum(alongAxis: 1),
                cube.cumulativeSum(alongAxis: 1, reverse: true),
            ]
        }
    }

    @Test func softmaxForwardAndBackward() {
        let (x, y) = (Self.x, Self.y)
        expectThreadCountIndependent("softmax") {
            // Both kernels forward and backward in one graph (exp passes are slow in debug builds).
            let leaf = x.requiringGradient()
            let (probabilities, logProbabilities) = (leaf.softmax(), leaf.logSoftmax())
            let loss = (probabilities * y).summed() + (logProbabilities * y).summed()
            let g = gradients(of: loss, withRespectTo: [leaf])[0]
            return [probabilities.detached(), logProbabilities.detached(), g]
        }
    }

    /// LayerNorm and RMSNorm backward sum dγ and dβ over rows in fixed parts (two here: 520 rows of
    /// 257 is over two grains): the same bits at any thread count, and the same values as the
    /// composite form built from primitive ops.
    @Test func normalizationBackward() throws {
        let (x, y) = (Self.x, Self.y)
        let gamma = uniform([257], seed: 30, in: 0.5...1.5), beta = uniform([257], seed: 31)
        let fused = { (x: Tensor, gamma: Tensor, beta: Tensor) -> [Tensor] in
            [
                x.layerNormalized(gamma: gamma, beta: beta, epsilon: 1e-5),
                x.rmsNormalized(gamma: gamma, epsilon: 1e-6),
            ]
        }
        let composite = { (x: Tensor, gamma: Tensor, beta: Tensor) -> [Tensor] in
            let centred = x - x.mean(alongAxis: 1, keepingDimensions: true)
            let variance = (centred * centred).mean(alongAxis: 1, keepingDimensions: true)
            let meanSquare = (x * x).mean(alongAxis: 1, keepingDimensions: true)
            return [
                centred * (variance + 1e-5).reciprocalSquareRoot() * gamma + beta,
                x * (meanSquare + 1e-6).reciprocalSquareRoot() * gamma,
            ]
        }
        let gradientsOf = { (form: (Tensor, Tensor, Tensor) -> [Tensor]) -> [Tensor] in
            let leaves = [x, gamma, beta].map { $0.requiringGradient() }
            let outputs = form(leaves[0], leaves[1], leaves[2])
            let loss = (outputs[0] * y).summed() + (outputs[1] * y * y).summed()
            return gradients(of: loss, withRespectTo: leaves)
        }
        expectThreadCountIndependent("normalisation backward") { gradientsOf(fused) }
        // dγ and dβ sum 520 rows of terms of magnitude ~4–16: float32 reordering error of that.
        for (name, (a, b)) in zip(
            ["dx", "dγ", "dβ"], zip(gradientsOf(fused), gradientsOf(composite)))
        {
            try assertClose(a, b, Tolerance(absolute: 2e-3, relative: 1e-4), name)
        }
    }

    @Test func batchedMatmul() {
        // Small matrices run in parallel over the batch, each on single-threaded BLAS: the same
        // kernel computes every element whatever the thread count.
        let a = Tensor.randomNormal([32, 24, 40], seed: 24)
        let b = Tensor.randomNormal([32, 40, 24], seed: 25)
        let shared = Tensor.randomNormal([24, 40], seed: 26)
        expectThreadCountIndependent("batched matmul") {
            [
                Tensor.matmul(a, b), Tensor.matmul(a, a, transposeB: true),
                Tensor.matmul(b, b, transposeA: true), Tensor.matmul(shared, b),
                Tensor.matmul(a, shared, transposeA: true),
            ]
        }
    }

    /// Large products are one multi-threaded OpenBLAS call, and OpenBLAS's sgemm is not bitwise
    /// reproducible across thread counts: the split of the output between threads changes which
    /// edge kernels (with their own summation order) compute some elements. Measured here: about 8%
    /// of a 256×256 product differs by an ulp or so. With a fixed thread count the result is
    /// reproducible, and across counts it agrees to float32 reordering error.
    @Test func largeMatmulIsReproducibleAtAFixedThreadCount() throws {
        let big = Tensor.randomNormal([256, 256], seed: 27)
        let a = Tensor.randomNormal([32, 24, 40], seed: 28)
        let shared = Tensor.randomNormal([40, 64], seed: 29)
        let products = {
            [
                Tensor.matmul(big, big),
                Tensor.matmul(big, big, transposeA: true, transposeB: true),
                Tensor.matmul(a, shared),  // one [768, 40]·[40, 64] GEMM
            ]
        }
        let (serial, parallel) = withOneThenTwoThreads(products)
        let (serialAgain, parallelAgain) = withOneThenTwoThreads(products)
        for i in serial.indices {
            #expect(bits(serial[i]) == bits(serialAgain[i]), "product \(i), 1 thread, run twice")
            #expect(
                bits(parallel[i]) == bits(parallelAgain[i]), "product \(i), 2 threads, run twice")
            // Entries are sums of 256 products of unit normals (magnitude ~16): relative 1e-5 of that.
            try assertClose(
                parallel[i], serial[i], Tolerance(absolute: 2e-4, relative: 1e-5),
                "product \(i), 1 vs 2 threads")
        }
    }

    @Test func parallelLoopsVisitEveryIndexOnce() {
        let saved = Parallel.threadCount
        defer { Parallel.setThreadCount(saved) }
        Parallel.setThreadCount(2)
        let count = 100_003
        var visits = [Int](repeating: 0, count: count)
        visits.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forEachChunk(count, grain: 1000) { range in
                for i in range { out[i] += 1 }
            }
        }
        #expect(visits.allSatisfy { $0 == 1 })
        var hits = [Int](repeating: 0, count: 37)
        hits.withUnsafeMutableBufferPointer { buffer in
            let out = SendablePointer(buffer.baseAddress!)
            Parallel.forEach(37) { i in out[i] += i }
        }
        #expect(hits == Array(0..<37))
    }
}
