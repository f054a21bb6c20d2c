// Forward values of the ops against hand-computed expectations: small literal cases whose answers can
// be checked on paper, plus the numerically delicate cases (masked and huge logits, −∞ rows, ties).
// Movement and gather ops are exact copies, so they are compared exactly; arithmetic uses the
// `.reference` tolerance (float32 against values written to 8 digits).
import AttendCore
import AttendTesting
import Foundation
import Testing

@Suite struct ShapeTests {
    @Test func broadcastShapes() {
        #expect(Shape.broadcast([3, 1, 4], [2, 4]) == [3, 2, 4])
        #expect(Shape.broadcast([5], [2, 3, 5]) == [2, 3, 5])
        #expect(Shape.broadcast([], [2, 3]) == [2, 3])
        #expect(Shape.broadcast([2, 3], []) == [2, 3])
        #expect(Shape.broadcast([2, 1], [1, 3]) == [2, 3])
        #expect(Shape.broadcast([0], [1]) == [0])
        #expect(Shape.broadcast([4, 1, 3], [4, 1, 3]) == [4, 1, 3])
    }

    @Test func incompatibleShapesDoNotBroadcast() {
        #expect(Shape.broadcast([2, 3], [3, 2]) == nil)
        #expect(Shape.broadcast([3], [4]) == nil)
        #expect(Shape.broadcast([0], [2]) == nil)
        #expect(Shape.broadcast([2, 3, 4], [3, 1, 4]) == nil)
    }

    @Test func countsStridesAndSplits() {
        #expect(
            Shape.count([]) == 1 && Shape.count([2, 0, 3]) == 0 && Shape.count([2, 3, 4]) == 24)
        #expect(Shape.strides([2, 3, 4]) == [12, 4, 1] && Shape.strides([]) == [])
        #expect(Shape.normalize(axis: -1, rank: 3) == 2 && Shape.normalize(axis: 0, rank: 3) == 0)
        #expect(Shape.split([2, 3, 4], at: 1) == (2, 3, 4))
        #expect(Shape.split([5], at: 0) == (1, 5, 1))
    }
}

@Suite struct TensorBasicsTests {
    @Test func creationAndAccess() {
        let t = tensor([2, 3], [1, 2, 3, 4, 5, 6])
        #expect(t.shape == [2, 3] && t.count == 6 && t.rank == 2 && t.strides == [3, 1])
        #expect(t[1, 2] == 6 && t[0, 1] == 2)
        #expect(Tensor(2.5).scalar == 2.5 && Tensor(2.5).shape == [])
        #expect(
            Tensor.zeros([2, 2]).scalars == [0, 0, 0, 0] && Tensor.ones([3]).scalars == [1, 1, 1])
        #expect(Tensor(repeating: 7, shape: [2]).scalars == [7, 7])
        let empty = Tensor(shape: [0, 3], scalars: [])
        #expect(empty.count == 0 && empty.summed(alongAxis: 0).scalars == [0, 0, 0])
        #expect(empty.summed().scalar == 0)
    }
}

@Suite struct ArithmeticTests {
    @Test func broadcastingArithmetic() throws {
        let column = tensor([2, 1], [1, 2])
        let row = tensor([3], [10, 20, 30])
        #expect((column + row).scalars == [11, 21, 31, 12, 22, 32])
        #expect((column - row).scalars == [-9, -19, -29, -8, -18, -28])
        #expect((column * row).scalars == [10, 20, 30, 20, 40, 60])
        #expect((row / column).scalars == [10, 20, 30, 5, 10, 15])
        // [3,1,4] with [2,4] → [3,2,4]: out[i, j, k] = a[i, 0, k] + b[j, k].
        let a = Tensor.filled(shape: [3, 1, 4]) { for i in $0.indices { $0[i] = Float(100 * i) } }
        let b = Tensor.filled(shape: [2, 4]) { for i in $0.indices { $0[i] = Float(i) } }
        let sum = a + b
        #expect(sum.shape == [3, 2, 4])
        #expect(sum[2, 1, 3] == 1100 + 7 && sum[1, 0, 2] == 600 + 2)
        #expect((Tensor(2) * row).scalars == [20, 40, 60])
    }

    /// The broadcast loops merge and drop axes; compare them with plain index arithmetic.
    @Test func broadcastingMatchesNaiveIndexing() {
        let pairs: [([Int], [Int])] = [
            ([2, 1, 3, 4], [1, 5, 3, 1]), ([4, 1], [4, 6]), ([1, 6], [4, 1]), ([3, 4, 5], [4, 1]),
            ([2, 3, 1, 5], [3, 7, 1]), ([1], [2, 3]), ([2, 1, 1, 3], [2, 1, 3]), ([6], [6]),
            ([2, 1, 3], [2, 4, 3]),
        ]
        for (i, (sa, sb)) in pairs.enumerated() {
            let a = uniform(sa, seed: UInt64(60 + i))
            let b = uniform(sb, seed: UInt64(80 + i))
            let shape = Shape.broadcast(sa, sb)!
            let expected = multiIndices(shape).map { index in
                a.scalars[broadcastOffset(index, in: sa)]
                    - b.scalars[broadcastOffset(index, in: sb)]
            }
            let difference = a - b
            #expect(difference.shape == shape)
            #expect(difference.scalars == expected, "\(sa) − \(sb)")
        }
    }

    @Test func scalarForms() throws {
        let x = tensor([3], [1, 2, 4])
        #expect((x + 1).scalars == [2, 3, 5] && (1 + x).scalars == [2, 3, 5])
        #expect((x - 1).scalars == [0, 1, 3] && (1 - x).scalars == [0, -1, -3])
        #expect((x * 3).scalars == [3, 6, 12] && (3 * x).scalars == [3, 6, 12])
        #expect((x / 2).scalars == [0.5, 1, 2] && (4 / x).scalars == [4, 2, 1])
        #expect((-x).scalars == [-1, -2, -4])
        var y = x
        y.accumulate(tensor([3], [1, 1, 1]), scale: 2)
        #expect(y.scalars == [3, 4, 6] && x.scalars == [1, 2, 4])
    }

    @Test func unaryMath() throws {
        let x = tensor([4], [0.25, 1, 4, 9])
        try assertClose(
            x.log(), tensor([4], [-1.386_294_4, 0, 1.386_294_4, 2.197_224_6]), .reference, "log")
        try assertClose(x.squareRoot(), tensor([4], [0.5, 1, 2, 3]), .reference, "sqrt")
        try assertClose(
            x.reciprocalSquareRoot(), tensor([4], [2, 1, 0.5, 0.333_333_34]), .reference, "rsqrt")
        try assertClose(x.pow(1.5), tensor([4], [0.125, 1, 8, 27]), .reference, "pow")
        try assertClose(x.pow(-1), tensor([4], [4, 1, 0.25, 0.111_111_11]), .reference, "pow −1")
        let s = tensor([4], [-3, -0.5, 0, 2])
        #expect(s.squared().scalars == [9, 0.25, 0, 4])
        #expect(s.pow(2).scalars == [9, 0.25, 0, 4])
        #expect(s.abs().scalars == [3, 0.5, 0, 2])
        try assertClose(
            s.exp(), tensor([4], [0.049_787_07, 0.606_530_66, 1, 7.389_056]), .reference, "exp")
    }
}

@Suite struct ActivationTests {
    let x = tensor([6], [-3, -1, -0.5, 0, 0.5, 2])

    @Test func rectifiers() {
        #expect(x.relu().scalars == [0, 0, 0, 0, 0.5, 2])
        #expect(x.reluSquared().scalars == [0, 0, 0, 0, 0.25, 4])
        #expect(x.clamped(lower: -1, upper: 0.5).scalars == [-1, -1, -0.5, 0, 0.5, 0.5])
        #expect(x.clamped(upper: 0).scalars == [-3, -1, -0.5, 0, 0, 0])
    }

    @Test func smoothActivations() throws {
        // Values from the Double formulas (Python math module).
        try assertClose(
            x.tanh(),
            tensor(
                [6], [-0.995_054_75, -0.761_594_16, -0.462_117_16, 0, 0.462_117_16, 0.964_027_58]),
            .reference, "tanh")
        try assertClose(
            x.sigmoid(),
            tensor(
                [6], [0.047_425_873, 0.268_941_42, 0.377_540_67, 0.5, 0.622_459_33, 0.880_797_08]),
            .reference, "sigmoid")
        try assertClose(
            x.silu(),
            tensor(
                [6], [-0.142_277_62, -0.268_941_42, -0.188_770_33, 0, 0.311_229_67, 1.761_594_2]),
            .reference, "silu")
        try assertClose(
            x.softplus(),
            tensor(
                [6],
                [0.048_587_352, 0.313_261_69, 0.474_076_98, 0.693_147_18, 0.974_076_98, 2.126_928]),
            .reference, "softplus")
        // Above the threshold softplus is the identity (PyTorch's threshold = 20).
        #expect(tensor([2], [25, 100]).softplus().scalars == [25, 100])
        try assertClose(
            x.gelu(),
            tensor(
                [6], [-0.004_049_694_1, -0.158_655_25, -0.154_268_77, 0, 0.345_731_23, 1.954_499_7]),
            .reference, "gelu exact")
        try assertClose(
            x.gelu(approximation: .tanh),
            tensor(
                [6], [-0.003_637_392_1, -0.158_808_01, -0.154_285_99, 0, 0.345_714_01, 1.954_597_7]),
            .reference, "gelu tanh")
    }

    @Test func selection() {
        let a = tensor([2, 2], [1, 2, 3, 4])
        let b = tensor([2], [10, 20])
        #expect(Tensor.where(tensor([2, 2], [1, 0, 0, 1]), a, b).scalars == [1, 20, 10, 4])
        #expect(Tensor.where(tensor([2], [0, 1]), a, Tensor(0)).scalars == [0, 2, 0, 4])
        #expect(
            a.maskedFill(where: tensor([2], [1, 0]), with: -.infinity).scalars == [
                -.infinity, 2, -.infinity, 4,
            ])
        #expect(Tensor.maximum(a, tensor([2], [2, 2])).scalars == [2, 2, 3, 4])
        #expect(Tensor.minimum(a, tensor([2, 1], [0, 3.5])).scalars == [0, 0, 3, 3.5])
    }
}

@Suite struct ReductionTests {
    // [[[0, 1, 2], [3, 4, 5]], [[6, 7, 8], [9, 10, 11]]]
    let x = Tensor.filled(shape: [2, 2, 3]) { for i in $0.indices { $0[i] = Float(i) } }

    @Test func sumsAndMeans() {
        #expect(x.summed().scalar == 66)
        #expect(x.summed(alongAxis: 0).scalars == [6, 8, 10, 12, 14, 16])
        #expect(x.summed(alongAxis: -1).scalars == [3, 12, 21, 30])
        #expect(x.summed(alongAxes: [0, 2]).scalars == [24, 42])
        #expect(x.summed(alongAxes: [0, 2], keepingDimensions: true).shape == [1, 2, 1])
        #expect(x.summed(alongAxes: [2, -1, 0]).scalars == [24, 42])
        #expect(x.mean().scalar == 5.5)
        #expect(x.mean(alongAxis: 1).scalars == [1.5, 2.5, 3.5, 7.5, 8.5, 9.5])
        #expect(x.mean(alongAxes: [1, 2], keepingDimensions: true).scalars == [2.5, 8.5])
        #expect(tensor([2, 3], [1, 2, 3, 4, 5, 6]).summed(toShape: [1, 3]).scalars == [5, 7, 9])
        #expect(tensor([2, 3], [1, 2, 3, 4, 5, 6]).summed(toShape: [2, 1]).scalars == [6, 15])
        #expect(tensor([2, 3], [1, 2, 3, 4, 5, 6]).summed(toShape: []).scalars == [21])
    }

    @Test func sumsMatchNaiveLoops() throws {
        let t = uniform([3, 4, 5, 2], seed: 71)
        for axes in [[0], [1], [2], [3], [0, 2], [1, 3], [0, 1, 2, 3], [1, 2, 3]] {
            let kept = t.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
            var expected = [Double](repeating: 0, count: Shape.count(kept))
            for index in multiIndices(t.shape) {
                let target = index.enumerated().map { axes.contains($0.offset) ? 0 : $0.element }
                expected[broadcastOffset(target, in: kept)] += Double(
                    t.scalars[broadcastOffset(index, in: t.shape)])
            }
            try assertClose(
                t.summed(alongAxes: axes, keepingDimensions: true),
                Tensor(shape: kept, scalars: expected.map { Float($0) }), .reordered,
                "sum over \(axes)")
        }
    }

    @Test func extremaAndArgmax() {
        let t = tensor([2, 4], [3, 7, 7, -1, 2, -5, 0, 9])
        #expect(t.max(alongAxis: 1).scalars == [7, 9])
        #expect(t.min(alongAxis: -1).scalars == [-1, -5])
        #expect(t.max(alongAxis: 0).scalars == [3, 7, 7, 9])
        #expect(t.max(alongAxis: 1, keepingDimensions: true).shape == [2, 1])
        // Ties report the first position, as PyTorch.
        #expect(t.argmax(alongAxis: 1) == [1, 3])
        #expect(t.argmax(alongAxis: 0) == [0, 0, 0, 1])
        #expect(t.maxValue() == 9)
        #expect(x.argmax() == [2, 2, 2, 2])
        // NaN wins, so it is never silently hidden.
        #expect(tensor([3], [1, .nan, 2]).max(alongAxis: 0).scalar.isNaN)
    }

    @Test func variance() throws {
        let t = tensor([2, 4], [1, 2, 3, 4, 2, 4, 6, 8])
        // Row means 2.5 and 5; squared deviations sum to 5 and 20.
        try assertClose(
            t.variance(alongAxes: [1]), tensor([2], [5.0 / 3, 20.0 / 3]), .reference, "unbiased")
        try assertClose(
            t.variance(alongAxes: [1], correction: 0), tensor([2], [1.25, 5]), .reference,
            "population")
        try assertClose(
            t.variance(alongAxes: [0, 1], correction: 0), Tensor(4.6875), .reference,
            "all axes, population")
    }

    @Test func logSumExp() throws {
        let t = tensor([2, 3], [0, 1, 2, 1000, 1000, -.infinity])
        try assertClose(
            t.logSumExp(alongAxis: 1), tensor([2], [2.407_606, 1000.693_15]), .reference,
            "logsumexp")
        // A row of −∞ (every entry masked) gives −∞, not NaN.
        let masked = tensor([2, 2], [-.infinity, -.infinity, 0, 0]).logSumExp(alongAxis: 1)
        #expect(masked.scalars[0] == -.infinity)
        try assertClose(masked.scalars[1...].map { $0 }, [0.693_147_2], .reference, "log 2")
        #expect(
            tensor([2, 2], [1, 2, 3, 4]).logSumExp(alongAxis: 0, keepingDimensions: true).shape == [
                1, 2,
            ])
    }
}

@Suite struct SoftmaxTests {
    @Test func rowsSumToOne() throws {
        let x = Tensor.randomNormal([7, 13], seed: 5, standardDeviation: 3)
        for axis in [-1, 0] {
            let sums = x.softmax(alongAxis: axis).summed(alongAxis: axis)
            try assertClose(
                sums, Tensor(repeating: 1, shape: sums.shape), .reordered,
                "softmax sums, axis \(axis)")
        }
        try assertClose(
            tensor([3], [1, 2, 3]).softmax(),
            tensor([3], [0.090_030_57, 0.244_728_48, 0.665_240_94]), .reference,
            "softmax [1, 2, 3]")
    }

    @Test func maskedRowsGiveZerosNotNaN() throws {
        let x = tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let mask = tensor([2, 3], [0, 1, 0, 1, 1, 1])
        let y = x.maskedFill(where: mask, with: -.infinity).softmax()
        try assertClose(
            y, tensor([2, 3], [0.119_202_92, 0, 0.880_797_1, 0, 0, 0]), .reference, "masked softmax"
        )
        let logY = x.maskedFill(where: mask, with: -.infinity).logSoftmax()
        try assertClose(
            logY,
            tensor(
                [2, 3], [-2.126_928, -.infinity, -0.126_928_01, -.infinity, -.infinity, -.infinity]),
            .reference, "masked log-softmax")
    }

    @Test func largeMagnitudesAreStable() throws {
        // e/(1+e) and 1/(1+e): naive exp(1000) overflows.
        let y = tensor([2], [1000, 1001]).softmax()
        try assertClose(
            y, tensor([2], [0.268_941_43, 0.731_058_6]), .reference, "softmax [1000, 1001]")
        try assertClose(
            tensor([2], [-1000, -1001]).softmax(), tensor([2], [0.731_058_6, 0.268_941_43]),
            .reference,
            "softmax [−1000, −1001]")
        try assertClose(
            tensor([2], [1000, 1001]).logSoftmax(), tensor([2], [-1.313_261_7, -0.313_261_7]),
            .reference,
            "log-softmax [1000, 1001]")
        // Shift invariance, and log-softmax = log(softmax) where both are finite.
        let x = Tensor.randomNormal([4, 9], seed: 8)
        try assertClose((x + 500).softmax(), x.softmax(), .reordered, "softmax(x + 500)")
        try assertClose(
            x.logSoftmax(), x.softmax().log(), .reordered, "log-softmax vs log(softmax)")
    }

    @Test func softmaxAlongAFirstAxisEqualsTransposedRows() throws {
        let x = Tensor.randomNormal([5, 3, 4], seed: 9)
        try assertClose(
            x.softmax(alongAxis: 0), x.permuted([2, 1, 0]).softmax().permuted([2, 1, 0]),
            .reordered, "axis 0")
        try assertClose(
            x.logSoftmax(alongAxis: 1), x.transposed(1, 2).logSoftmax().transposed(1, 2),
            .reordered, "axis 1")
    }
}

@Suite struct MovementTests {
    // [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]] in each of two blocks: x[b, r, c] = 12b + 4r + c.
    let x = Tensor.filled(shape: [2, 3, 4]) { for i in $0.indices { $0[i] = Float(i) } }

    @Test func reshapes() {
        #expect(x.reshaped([6, 4]).shape == [6, 4] && x.reshaped([6, 4]).scalars == x.scalars)
        #expect(x.reshaped([-1, 8]).shape == [3, 8])
        #expect(x.reshaped([2, -1]).shape == [2, 12])
        #expect(x.expandingDimension(at: 1).shape == [2, 1, 3, 4])
        #expect(x.expandingDimension(at: -1).shape == [2, 3, 4, 1])
        #expect(x.expandingDimension(at: 0).squeezingDimension(at: 0).shape == [2, 3, 4])
        #expect(x.reshaped([24]).sharesStorage(with: x))
    }

    @Test func permutes() {
        let p = x.permuted([2, 0, 1])
        #expect(p.shape == [4, 2, 3])
        // p[c, b, r] = x[b, r, c].
        #expect(p[3, 1, 2] == x[1, 2, 3] && p[1, 0, 2] == x[0, 2, 1])
        #expect(p.scalars.prefix(6) == [0, 4, 8, 12, 16, 20])
        let t = tensor([2, 3], [1, 2, 3, 4, 5, 6]).transposed()
        #expect(t.shape == [3, 2] && t.scalars == [1, 4, 2, 5, 3, 6])
        #expect(x.transposed(0, 2).shape == [4, 3, 2] && x.transposed(0, 2)[3, 1, 0] == x[0, 1, 3])
        #expect(x.permuted([2, 0, 1]).permuted([1, 2, 0]).scalars == x.scalars)
    }

    @Test func permutesMatchNaiveIndexing() {
        let x = uniform([2, 3, 4, 5], seed: 70)
        for order in [[0, 2, 3, 1], [3, 2, 1, 0], [1, 0, 3, 2], [2, 0, 1, 3], [0, 1, 3, 2]] {
            let p = x.permuted(order)
            #expect(p.shape == order.map { x.shape[$0] })
            let expected = multiIndices(p.shape).map { index in
                var source = [Int](repeating: 0, count: 4)
                for (i, axis) in order.enumerated() { source[axis] = index[i] }
                return x.scalars[broadcastOffset(source, in: x.shape)]
            }
            #expect(p.scalars == expected, "order \(order)")
        }
    }

    @Test func slicesConcatenatesSplitsStacks() {
        #expect(
            x.sliced(alongAxis: 1, 1..<3).scalars == [
                4, 5, 6, 7, 8, 9, 10, 11, 16, 17, 18, 19, 20, 21, 22, 23,
            ])
        #expect(x.sliced(alongAxis: -1, 2..<3).scalars == [2, 6, 10, 14, 18, 22])
        #expect(x.sliced(alongAxis: 0, 0..<0).shape == [0, 3, 4])
        let a = tensor([2, 2], [1, 2, 3, 4])
        let b = tensor([2, 1], [5, 6])
        #expect(Tensor.concatenated([a, b], alongAxis: 1).scalars == [1, 2, 5, 3, 4, 6])
        #expect(Tensor.concatenated([a, a], alongAxis: 0).scalars == [1, 2, 3, 4, 1, 2, 3, 4])
        #expect(Tensor.concatenated([a, b, a], alongAxis: -1).shape == [2, 5])
        let parts = x.split(alongAxis: 2, sizes: [1, 3])
        #expect(parts.map(\.shape) == [[2, 3, 1], [2, 3, 3]])
        #expect(Tensor.concatenated(parts, alongAxis: 2).scalars == x.scalars)
        #expect(Tensor.stacked([a, a * 10], alongAxis: 0).scalars == [1, 2, 3, 4, 10, 20, 30, 40])
        let s1 = Tensor.stacked([a, a * 10], alongAxis: 1)
        #expect(s1.shape == [2, 2, 2] && s1.scalars == [1, 2, 10, 20, 3, 4, 30, 40])
        #expect(
            Tensor.stacked([a, a * 10], alongAxis: -1).scalars == [1, 10, 2, 20, 3, 30, 4, 40])
    }

    @Test func padsAndBroadcasts() {
        let a = tensor([2, 2], [1, 2, 3, 4])
        #expect(
            a.padded(alongAxis: 1, before: 1, after: 2, value: 9).scalars == [
                9, 1, 2, 9, 9, 9, 3, 4, 9, 9,
            ])
        #expect(a.padded(alongAxis: 0, before: 0, after: 1).scalars == [1, 2, 3, 4, 0, 0])
        let b = tensor([2, 1], [5, 6]).broadcast(to: [2, 2, 3])
        #expect(b.shape == [2, 2, 3] && b.scalars == [5, 5, 5, 6, 6, 6, 5, 5, 5, 6, 6, 6])
        #expect(Tensor(3).broadcast(to: [2]).scalars == [3, 3])
    }
}

@Suite struct GatherTests {
    let table = tensor([4, 2], [0, 1, 10, 11, 20, 21, 30, 31])

    @Test func indexSelectAndEmbedding() {
        #expect(
            table.indexSelect(alongAxis: 0, Indices([3, 0, 3])).scalars == [30, 31, 0, 1, 30, 31])
        #expect(
            table.indexSelect(alongAxis: 1, Indices([1, 1, 0])).scalars == [
                1, 1, 0, 11, 11, 10, 21, 21, 20, 31, 31, 30,
            ])
        let e = Tensor.embedding(table, Indices(shape: [2, 2], values: [2, 1, 0, 2]))
        #expect(e.shape == [2, 2, 2] && e.scalars == [20, 21, 10, 11, 0, 1, 20, 21])
        let cube = table.reshaped([2, 2, 2])
        let picked = cube.indexSelect(alongAxis: 1, Indices(shape: [1, 3], values: [1, 0, 1]))
        #expect(
            picked.shape == [2, 1, 3, 2]
                && picked.scalars == [10, 11, 0, 1, 10, 11, 30, 31, 20, 21, 30, 31])
    }

    @Test func gatherAlongAxis() {
        // y[i, j] = table[i, idx[i, j]].
        let y = table.gathered(
            alongAxis: 1, Indices(shape: [4, 3], values: [1, 0, 1, 0, 0, 0, 1, 1, 0, 0, 1, 1]))
        #expect(y.scalars == [1, 0, 1, 10, 10, 10, 21, 21, 20, 30, 31, 31])
        // y[i, j] = table[idx[i, j], j].
        let z = table.gathered(alongAxis: 0, Indices(shape: [2, 2], values: [3, 0, 1, 2]))
        #expect(z.scalars == [30, 1, 10, 21])
    }

    @Test func topKSortsDescendingAndKeepsEarlierTies() {
        let x = tensor([2, 5], [3, 9, 1, 9, 4, -1, -2, 0, 5, 0])
        let (values, indices) = x.topK(3)
        #expect(values.shape == [2, 3] && values.scalars == [9, 9, 4, 5, 0, 0])
        #expect(indices.shape == [2, 3] && indices.values == [1, 3, 4, 3, 2, 4])
        #expect(x.topK(5).indices.values == [1, 3, 4, 0, 2, 3, 2, 4, 0, 1])
        #expect(tensor([4], [1, .nan, 3, 2]).topK(1).indices.values == [1])
    }

    @Test func oneHot() {
        let y = Tensor.oneHot(Indices(shape: [2, 2], values: [2, 0, 1, 2]), classes: 3)
        #expect(y.shape == [2, 2, 3] && y.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
    }
}

@Suite struct CumulativeSumTests {
    let x = tensor([2, 3], [1, 2, 3, 4, 5, 6])

    @Test func alongRows() {
        #expect(x.cumulativeSum(alongAxis: 1).scalars == [1, 3, 6, 4, 9, 15])
        #expect(x.cumulativeSum(alongAxis: 1, exclusive: true).scalars == [0, 1, 3, 0, 4, 9])
        #expect(x.cumulativeSum(alongAxis: 1, reverse: true).scalars == [6, 5, 3, 15, 11, 6])
        #expect(
            x.cumulativeSum(alongAxis: -1, reverse: true, exclusive: true).scalars == [
                5, 3, 0, 11, 6, 0,
            ])
    }

    @Test func alongColumns() {
        #expect(x.cumulativeSum(alongAxis: 0).scalars == [1, 2, 3, 5, 7, 9])
        #expect(x.cumulativeSum(alongAxis: 0, exclusive: true).scalars == [0, 0, 0, 1, 2, 3])
        #expect(x.cumulativeSum(alongAxis: 0, reverse: true).scalars == [5, 7, 9, 4, 5, 6])
        #expect(
            x.cumulativeSum(alongAxis: 0, reverse: true, exclusive: true).scalars == [
                4, 5, 6, 0, 0, 0,
            ])
    }
}

@Suite struct MatMulTests {
    @Test func literalProduct() {
        let a = tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let b = tensor([3, 2], [7, 8, 9, 10, 11, 12])
        #expect(Tensor.matmul(a, b).scalars == [58, 64, 139, 154])
        #expect(Tensor.matmul(a, a, transposeB: true).scalars == [14, 32, 32, 77])
        #expect(
            Tensor.matmul(a, a, transposeA: true).scalars == [17, 22, 27, 22, 29, 36, 27, 36, 45])
        #expect(
            Tensor.matmul(b, a, transposeA: true, transposeB: true).scalars == [58, 139, 64, 154])
    }

    /// Every transpose combination and batch layout against the naive loop.
    @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
    func matchesNaiveLoop(_ flags: (Bool, Bool)) throws {
        let (ta, tb) = flags
        let (m, n, k) = (5, 3, 7)
        let sa = ta ? [k, m] : [m, k]
        let sb = tb ? [n, k] : [k, n]
        // (batch shape of a, batch shape of b): both, shared b (one large GEMM when a is not
        // transposed), shared a.
        for (ba, bb) in [([3], [3]), ([2, 3], []), ([], [4]), ([2, 2], [2, 2])] as [([Int], [Int])]
        {
            let a = Tensor.randomNormal(ba + sa, seed: 1)
            let b = Tensor.randomNormal(bb + sb, seed: 2)
            let c = Tensor.matmul(a, b, transposeA: ta, transposeB: tb)
            let batch = ba.isEmpty ? bb : ba
            #expect(c.shape == batch + [m, n])
            var expected: [Float] = []
            for i in 0..<Shape.count(batch) {
                let ai = ba.isEmpty ? a.scalars : Array(a.scalars[(i * m * k)..<((i + 1) * m * k)])
                let bi = bb.isEmpty ? b.scalars : Array(b.scalars[(i * k * n)..<((i + 1) * k * n)])
                expected += naiveMatmul(ai, bi, m: m, n: n, k: k, transposeA: ta, transposeB: tb)
            }
            try assertClose(c.scalars, expected, .reference, "matmul \(flags) batches \(ba) \(bb)")
        }
    }

    @Test func emptyInnerDimensionGivesZeros() {
        let c = Tensor.matmul(Tensor.zeros([2, 0]), Tensor.zeros([0, 3]))
        #expect(c.shape == [2, 3] && c.scalars == [Float](repeating: 0, count: 6))
    }
}
