// Finite-difference checks of every recorded gradient rule (candle's "every Op has a test" idea, made
// a test of its own): one table of cases, each naming the `Op` it covers. `everyOpHasACase` fails when
// an `Op` case has no entry or an entry never records its op, so a new rule cannot go unchecked.
// Inputs are kept away from kinks and ties (relu/abs at 0, equal maxima, clamp bounds) by at least
// 0.03, ten times the largest finite-difference step used (1e-3·(|x|+1) for |x| ≤ 2).
// Shapes include NumPy broadcasting ([3,1,4] with [2,4], [5] with [2,3,5], scalars) and inputs that
// went through `permuted`/`transposed` first (the "non-contiguous input" case of a strided library).
import AttendCore
import AttendTesting
import Testing

/// One finite-difference check: `f` at `inputs`, meant to exercise `op`.
struct GradientCase: Sendable, CustomTestStringConvertible {
    let op: Op
    let name: String
    let inputs: [Tensor]
    let f: @Sendable ([Tensor]) -> Tensor

    init(
        _ op: Op, _ name: String, _ inputs: [Tensor], _ f: @escaping @Sendable ([Tensor]) -> Tensor
    ) {
        self.op = op
        self.name = name
        self.inputs = inputs
        self.f = f
    }

    var testDescription: String { "\(op): \(name)" }
}

/// The table. Grouped like Ops/: arithmetic, unary math, activations, selection, reductions, softmax,
/// scan and matmul, movement, gathers.
enum GradientCases {
    static let all: [GradientCase] =
        arithmetic + unaryMath + activations + selection + reductions + softmax + scanAndMatmul
        + movement + gathers + fusedLayers

    /// The fused ops behind Linear, LayerNorm, RMSNorm and Dropout, with and without their optional
    /// inputs.
    static let fusedLayers: [GradientCase] = {
        let x = uniform([2, 3, 5], seed: 140)
        let weight = uniform([4, 5], seed: 141), bias = uniform([4], seed: 142)
        let gamma = uniform([5], seed: 143, in: 0.5...1.5), beta = uniform([5], seed: 144)
        return [
            GradientCase(.linear, "x·Wᵀ + b", [x, weight, bias]) {
                Tensor.linear($0[0], weight: $0[1], bias: $0[2])
            },
            GradientCase(.linear, "no bias, after permute", [x, weight]) {
                Tensor.linear($0[0].permuted([1, 0, 2]), weight: $0[1], bias: nil)
            },
            GradientCase(.layerNorm, "with γ and β", [x, gamma, beta]) {
                $0[0].layerNormalized(gamma: $0[1], beta: $0[2], epsilon: 1e-5)
            },
            GradientCase(.layerNorm, "no affine, after transpose", [x]) {
                $0[0].transposed(0, 1).layerNormalized(gamma: nil, beta: nil, epsilon: 1e-5)
            },
            GradientCase(.rmsNorm, "with γ", [x, gamma]) {
                $0[0].rmsNormalized(gamma: $0[1], epsilon: 1e-6)
            },
            GradientCase(.rmsNorm, "no γ", [x]) { $0[0].rmsNormalized(gamma: nil, epsilon: 1e-6) },
            // Every evaluation draws from a generator in the same state, so the mask is fixed.
            GradientCase(.dropout, "p = 0.4, one odd-sized mask", [x]) {
                var generator = RandomGenerator(seed: 145)
                return $0[0].droppedOut(probability: 0.4, generator: &generator)
            },
        ]
    }()

    /// Operand shape pairs for the broadcasting binary ops.
    static let binaryShapes: [([Int], [Int])] = [
        ([2, 3], [2, 3]), ([3, 1, 4], [2, 4]), ([5], [2, 3, 5]), ([], [2, 3]), ([2, 3], []),
        ([2, 1], [1, 3]),
    ]

    static let arithmetic: [GradientCase] = {
        var cases: [GradientCase] = []
        for (i, (sa, sb)) in binaryShapes.enumerated() {
            let seed = UInt64(10 + i)
            let a = uniform(sa, seed: seed)
            let b = uniform(sb, seed: seed + 100)
            let positive = uniform(sb, seed: seed + 200, in: 0.5...2)
            let tag = "\(sa) with \(sb)"
            cases += [
                GradientCase(.add, tag, [a, b]) { $0[0] + $0[1] },
                GradientCase(.subtract, tag, [a, b]) { $0[0] - $0[1] },
                GradientCase(.multiply, tag, [a, b]) { $0[0] * $0[1] },
                GradientCase(.divide, tag, [a, positive]) { $0[0] / $0[1] },
            ]
        }
        // Operands that went through a transpose, meeting a broadcast one.
        let at = uniform([3, 2], seed: 20)
        let bt = uniform([3, 2, 4], seed: 21)
        let row = awayFromZero([2], seed: 22)
        cases += [
            GradientCase(.add, "transposed + permuted", [at, bt]) {
                $0[0].transposed().expandingDimension(at: 2) + $0[1].permuted([1, 0, 2])
            },
            GradientCase(.multiply, "transposed * transposed", [at, at]) {
                $0[0].transposed() * $0[1].transposed()
            },
            GradientCase(.subtract, "permuted − row", [bt, row]) {
                $0[0].permuted([2, 1, 0]) - $0[1].reshaped([2, 1])
            },
            GradientCase(.divide, "permuted / row", [bt, row]) {
                $0[0].permuted([1, 0, 2]) / $0[1].reshaped([2, 1, 1])
            },
        ]
        let x = uniform([2, 3], seed: 23)
        let nonzero = awayFromZero([2, 3], seed: 24)
        cases += [
            GradientCase(.negate, "[2,3]", [x]) { -$0[0] },
            GradientCase(.negate, "after transpose", [x]) { -$0[0].transposed() },
            GradientCase(.addScalar, "x + 0.5", [x]) { $0[0] + 0.5 },
            GradientCase(.addScalar, "2 − x", [x]) { 2 - $0[0] },
            GradientCase(.multiplyScalar, "1.5·x", [x]) { 1.5 * $0[0] },
            GradientCase(.multiplyScalar, "x / 4 after transpose", [x]) { $0[0].transposed() / 4 },
            GradientCase(.reciprocalScalar, "2 / x", [nonzero]) { 2 / $0[0] },
            GradientCase(.reciprocalScalar, "−1 / x after transpose", [nonzero]) {
                -1 / $0[0].transposed()
            },
        ]
        return cases
    }()

    /// Elementwise unary cases: once on a [2,3,4] input, once after a permute of a [4,2,3] input.
    static func elementwise(
        _ op: Op, _ name: String, seed: UInt64, _ input: ([Int], UInt64) -> Tensor,
        _ f: @escaping @Sendable (Tensor) -> Tensor
    ) -> [GradientCase] {
        [
            GradientCase(op, name, [input([2, 3, 4], seed)]) { f($0[0]) },
            GradientCase(op, "\(name) after permute", [input([4, 2, 3], seed + 1)]) {
                f($0[0].permuted([1, 2, 0]))
            },
        ]
    }

    static func inRange(_ range: ClosedRange<Float>) -> ([Int], UInt64) -> Tensor {
        { shape, seed in uniform(shape, seed: seed, in: range) }
    }

    static func nonzero(_ shape: [Int], _ seed: UInt64) -> Tensor {
        awayFromZero(shape, seed: seed)
    }

    static let unaryMath: [GradientCase] =
        elementwise(.exp, "exp", seed: 30, inRange(-2...2)) { $0.exp() }
        + elementwise(.log, "log", seed: 32, inRange(0.3...3)) { $0.log() }
        + elementwise(.squareRoot, "sqrt", seed: 34, inRange(0.3...3)) { $0.squareRoot() }
        + elementwise(.reciprocalSquareRoot, "rsqrt", seed: 36, inRange(0.3...3)) {
            $0.reciprocalSquareRoot()
        }
        + elementwise(.square, "x²", seed: 38, inRange(-2...2)) { $0.squared() }
        + elementwise(.power, "x^1.5", seed: 40, inRange(0.3...3)) { $0.pow(1.5) }
        + elementwise(.power, "x^3", seed: 42, inRange(-2...2)) { $0.pow(3) }
        + elementwise(.power, "x^−0.7", seed: 44, inRange(0.3...3)) { $0.pow(-0.7) }
        + elementwise(.abs, "abs", seed: 46, nonzero) { $0.abs() }

    static let activations: [GradientCase] =
        elementwise(.tanh, "tanh", seed: 50, inRange(-3...3)) { $0.tanh() }
        + elementwise(.sigmoid, "sigmoid", seed: 52, inRange(-4...4)) { $0.sigmoid() }
        + elementwise(.relu, "relu", seed: 54, nonzero) { $0.relu() }
        + elementwise(.reluSquared, "relu²", seed: 56, nonzero) { $0.reluSquared() }
        + elementwise(.geluExact, "gelu", seed: 58, inRange(-4...4)) { $0.gelu() }
        + elementwise(.geluTanh, "gelu tanh", seed: 60, inRange(-4...4)) {
            $0.gelu(approximation: .tanh)
        }
        + elementwise(.silu, "silu", seed: 62, inRange(-4...4)) { $0.silu() }
        + elementwise(.softplus, "softplus", seed: 64, inRange(-5...5)) { $0.softplus() }
        + [
            // Above the threshold softplus is the identity; the two regions are checked apart because
            // the switch itself is a (2e-9) jump.
            GradientCase(
                .softplus, "softplus above threshold", [uniform([2, 3], seed: 66, in: 21...25)]
            ) {
                $0[0].softplus()
            },
            GradientCase(
                .softplus, "softplus, threshold 1, both sides",
                [awayFromZero([2, 3], seed: 67, margin: 0.2) + 1]
            ) {
                $0[0].softplus(threshold: 1)
            },
        ]

    static let selection: [GradientCase] = {
        let condition = tensor([2, 3], [1, 0, 0, 1, 1, 0])
        let rowCondition = tensor([3], [0, 1, 0])
        let a = uniform([2, 3], seed: 70)
        let b = uniform([2, 3], seed: 71)
        let column = uniform([2, 1], seed: 72)
        let x = uniform([2, 3, 4], seed: 73)
        let mask = tensor([1, 3, 1], [0, 1, 0])
        // Ladders offset by half a rung: every |a − b| ≥ 0.06 (see `distinct`).
        let ladderA = distinct([2, 3], seed: 74, spacing: 0.2)
        let ladderB = distinct([2, 3], seed: 75, spacing: 0.2) + 0.1
        let ladderRow = distinct([3], seed: 76, spacing: 0.2) + 0.1
        let ladder = distinct([2, 3, 4], seed: 77, spacing: 0.1)
        return [
            GradientCase(.where, "equal shapes", [a, b]) { Tensor.where(condition, $0[0], $0[1]) },
            GradientCase(.where, "broadcast condition and column", [a, column]) {
                Tensor.where(rowCondition, $0[0], $0[1])
            },
            GradientCase(.where, "one branch constant, transposed", [a]) {
                Tensor.where(condition.transposed(), $0[0].transposed(), Tensor(3))
            },
            GradientCase(.maskedFill, "mask [1,3,1] into [2,3,4]", [x]) {
                $0[0].maskedFill(where: mask, with: 5)
            },
            GradientCase(.maskedFill, "after permute", [x]) {
                $0[0].permuted([0, 2, 1]).maskedFill(
                    where: tensor([4, 1], [1, 0, 0, 1]), with: -2)
            },
            GradientCase(.maximum, "equal shapes", [ladderA, ladderB]) {
                Tensor.maximum($0[0], $0[1])
            },
            GradientCase(.maximum, "broadcast row", [ladderA, ladderRow]) {
                Tensor.maximum($0[0], $0[1])
            },
            GradientCase(.minimum, "equal shapes", [ladderA, ladderB]) {
                Tensor.minimum($0[0], $0[1])
            },
            GradientCase(.minimum, "broadcast row, transposed", [ladderA, ladderRow]) {
                Tensor.minimum($0[1].reshaped([3, 1]), $0[0].transposed())
            },
            // Ladder rungs sit at multiples of 0.1 plus ≤ 0.02 of jitter; the bounds fall between rungs.
            GradientCase(.clamp, "[−0.35, 0.55]", [ladder]) {
                $0[0].clamped(lower: -0.35, upper: 0.55)
            },
            GradientCase(.clamp, "lower only, after permute", [ladder]) {
                $0[0].permuted([2, 0, 1]).clamped(lower: 0.15)
            },
        ]
    }()

    static let reductions: [GradientCase] = {
        let x = uniform([2, 3, 4], seed: 80)
        let ladder = distinct([3, 4, 2], seed: 81, spacing: 0.1)
        return [
            GradientCase(.sum, "all", [x]) { $0[0].summed() },
            GradientCase(.sum, "axes [0, 2]", [x]) { $0[0].summed(alongAxes: [0, 2]) },
            GradientCase(.sum, "axis −1 kept", [x]) {
                $0[0].summed(alongAxis: -1, keepingDimensions: true)
            },
            GradientCase(.sum, "axis 0 after permute", [x]) {
                $0[0].permuted([2, 0, 1]).summed(alongAxis: 0)
            },
            GradientCase(.sum, "mean along 1", [x]) { $0[0].mean(alongAxis: 1) },
            GradientCase(.sum, "mean of all", [x]) { $0[0].mean() },
            GradientCase(.sum, "variance along 2, unbiased", [x]) {
                $0[0].variance(alongAxes: [2])
            },
            GradientCase(.sum, "variance along [0,1], population, kept", [x]) {
                $0[0].variance(alongAxes: [0, 1], correction: 0, keepingDimensions: true)
            },
            GradientCase(.max, "axis 1", [ladder]) { $0[0].max(alongAxis: 1) },
            GradientCase(.max, "axis 0 kept, after permute", [ladder]) {
                $0[0].permuted([2, 1, 0]).max(alongAxis: 0, keepingDimensions: true)
            },
            GradientCase(.min, "axis −1", [ladder]) { $0[0].min(alongAxis: -1) },
            GradientCase(.min, "axis 0", [ladder]) { $0[0].min(alongAxis: 0) },
            GradientCase(.logSumExp, "axis −1", [x]) { $0[0].logSumExp(alongAxis: -1) },
            GradientCase(.logSumExp, "axis 0 kept, after transpose", [x]) {
                $0[0].transposed(0, 2).logSumExp(alongAxis: 0, keepingDimensions: true)
            },
        ]
    }()

    static let softmax: [GradientCase] = {
        let x = uniform([3, 5], seed: 90, in: -2...2)
        let cube = uniform([2, 3, 4], seed: 91, in: -2...2)
        // Row 1 fully masked: its output is zeros and so is its gradient.
        let mask = tensor([3, 5], [0, 0, 1, 0, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1])
        return [
            GradientCase(.softmax, "last axis", [x]) { $0[0].softmax() },
            GradientCase(.softmax, "axis 0", [x]) { $0[0].softmax(alongAxis: 0) },
            GradientCase(.softmax, "axis 1 of a permuted cube", [cube]) {
                $0[0].permuted([2, 0, 1]).softmax(alongAxis: 1)
            },
            GradientCase(.softmax, "masked with −∞, one row fully", [x]) {
                $0[0].maskedFill(where: mask, with: -.infinity).softmax()
            },
            GradientCase(.logSoftmax, "last axis", [x]) { $0[0].logSoftmax() },
            GradientCase(.logSoftmax, "axis 1 of a cube", [cube]) {
                $0[0].logSoftmax(alongAxis: 1)
            },
            GradientCase(.logSoftmax, "after transpose", [x]) { $0[0].transposed().logSoftmax() },
        ]
    }()

    static let scanAndMatmul: [GradientCase] = {
        let x = uniform([3, 4, 2], seed: 100)
        var cases: [GradientCase] = []
        for axis in [0, 1, -1] {
            for reverse in [false, true] {
                for exclusive in [false, true] {
                    cases.append(
                        GradientCase(
                            .cumulativeSum,
                            "axis \(axis), reverse \(reverse), exclusive \(exclusive)", [x]
                        ) {
                            $0[0].cumulativeSum(
                                alongAxis: axis, reverse: reverse, exclusive: exclusive)
                        })
                }
            }
        }
        cases.append(
            GradientCase(.cumulativeSum, "after permute", [x]) {
                $0[0].permuted([2, 0, 1]).cumulativeSum(alongAxis: 2)
            })

        // op(a) is m×k = 3×4 and op(b) is k×n = 4×2, stored transposed where the flag says so.
        for transposeA in [false, true] {
            for transposeB in [false, true] {
                let sa = transposeA ? [4, 3] : [3, 4]
                let sb = transposeB ? [2, 4] : [4, 2]
                let tag = "A\(transposeA ? "ᵀ" : "")·B\(transposeB ? "ᵀ" : "")"
                let seed: UInt64 = 110 + (transposeA ? 2 : 0) + (transposeB ? 1 : 0)
                let flags = (transposeA, transposeB)
                cases += [
                    GradientCase(
                        .matmul, "\(tag) matrices",
                        [uniform(sa, seed: seed), uniform(sb, seed: seed + 10)]
                    ) {
                        Tensor.matmul($0[0], $0[1], transposeA: flags.0, transposeB: flags.1)
                    },
                    GradientCase(
                        .matmul, "\(tag) batched [2]",
                        [uniform([2] + sa, seed: seed + 20), uniform([2] + sb, seed: seed + 30)]
                    ) {
                        Tensor.matmul($0[0], $0[1], transposeA: flags.0, transposeB: flags.1)
                    },
                    GradientCase(
                        .matmul, "\(tag) shared A",
                        [uniform(sa, seed: seed + 40), uniform([2] + sb, seed: seed + 50)]
                    ) {
                        Tensor.matmul($0[0], $0[1], transposeA: flags.0, transposeB: flags.1)
                    },
                    GradientCase(
                        .matmul, "\(tag) shared B",
                        [uniform([2, 2] + sa, seed: seed + 60), uniform(sb, seed: seed + 70)]
                    ) {
                        Tensor.matmul($0[0], $0[1], transposeA: flags.0, transposeB: flags.1)
                    },
                ]
            }
        }
        cases += [
            GradientCase(
                .matmul, "batch [2,2] both sides",
                [uniform([2, 2, 3, 2], seed: 130), uniform([2, 2, 2, 3], seed: 131)]
            ) {
                Tensor.matmul($0[0], $0[1])
            },
            GradientCase(
                .matmul, "operands after permute",
                [uniform([4, 2, 3], seed: 132), uniform([4, 2, 2], seed: 133)]
            ) {
                Tensor.matmul($0[0].permuted([1, 2, 0]), $0[1].transposed(0, 1))
            },
            GradientCase(.matmul, "the same operand twice: x·xᵀ", [uniform([3, 4], seed: 134)]) {
                Tensor.matmul($0[0], $0[0], transposeB: true)
            },
        ]
        return cases
    }()

    static let movement: [GradientCase] = {
        let x = uniform([2, 3, 4], seed: 140)
        let y = uniform([2, 1, 4], seed: 141)
        let z = uniform([2, 2, 4], seed: 142)
        let weights = uniform([2, 3, 4], seed: 143)
        return [
            GradientCase(.reshape, "[6, 4]", [x]) {
                $0[0].reshaped([6, 4]) * weights.reshaped([6, 4])
            },
            GradientCase(.reshape, "−1 and expand/squeeze", [x]) {
                $0[0].reshaped([-1, 2]).expandingDimension(at: 1).squeezingDimension(at: 1).exp()
            },
            GradientCase(.permute, "[2, 0, 1]", [x]) { $0[0].permuted([2, 0, 1]) },
            GradientCase(.permute, "transposed(0, 2) twice", [x]) {
                ($0[0].transposed(0, 2) * 2).transposed(1, 2)
            },
            GradientCase(.slice, "axis 1, 1..<3", [x]) { $0[0].sliced(alongAxis: 1, 1..<3) },
            GradientCase(.slice, "axis −1 after permute", [x]) {
                $0[0].permuted([2, 1, 0]).sliced(alongAxis: -1, 0..<1)
            },
            GradientCase(.slice, "split into 1 + 2 + 1", [x]) {
                let parts = $0[0].split(alongAxis: 2, sizes: [1, 2, 1])
                return parts[0] * 2 + parts[1].summed(alongAxis: 2, keepingDimensions: true)
                    - parts[2].exp()
            },
            GradientCase(.concatenate, "three parts along 1", [x, y, z]) {
                Tensor.concatenated($0, alongAxis: 1)
            },
            GradientCase(.concatenate, "with a constant part, axis −1", [x]) {
                Tensor.concatenated([weights, $0[0].squared(), $0[0]], alongAxis: -1)
            },
            GradientCase(.concatenate, "stacked along 1", [x, weights]) {
                Tensor.stacked($0, alongAxis: 1)
            },
            GradientCase(.pad, "axis 1, before 2, after 1, value 3", [x]) {
                $0[0].padded(alongAxis: 1, before: 2, after: 1, value: 3)
            },
            GradientCase(.pad, "axis −1 after transpose", [x]) {
                $0[0].transposed().padded(alongAxis: -1, before: 0, after: 2)
            },
            GradientCase(.broadcast, "[3,1] to [2,3,4]", [uniform([3, 1], seed: 144)]) {
                $0[0].broadcast(to: [2, 3, 4])
            },
            GradientCase(.broadcast, "[4] to [2,3,4]", [uniform([4], seed: 145)]) {
                $0[0].broadcast(to: [2, 3, 4])
            },
            GradientCase(.broadcast, "scalar to [2,3]", [Tensor(0.7)]) {
                $0[0].broadcast(to: [2, 3])
            },
        ]
    }()

    static let gathers: [GradientCase] = {
        let x = uniform([4, 3], seed: 150)
        let cube = uniform([2, 4, 3], seed: 151)
        let ladder = distinct([3, 6], seed: 152, spacing: 0.1)
        return [
            GradientCase(.indexSelect, "axis 0, repeats", [x]) {
                $0[0].indexSelect(alongAxis: 0, Indices([2, 0, 2, 3, 2]))
            },
            GradientCase(.indexSelect, "axis 1, 2-D indices", [cube]) {
                $0[0].indexSelect(
                    alongAxis: 1, Indices(shape: [2, 3], values: [3, 1, 1, 0, 3, 2]))
            },
            GradientCase(.indexSelect, "axis −1 after permute", [cube]) {
                $0[0].permuted([1, 0, 2]).indexSelect(alongAxis: -1, Indices([2, 2, 0]))
            },
            GradientCase(.indexSelect, "embedding", [x]) {
                Tensor.embedding($0[0], Indices(shape: [2, 3], values: [1, 3, 1, 0, 0, 2]))
            },
            GradientCase(.gather, "axis 1, repeats", [x]) {
                $0[0].gathered(
                    alongAxis: 1, Indices(shape: [4, 2], values: [0, 0, 2, 1, 1, 1, 0, 2]))
            },
            GradientCase(.gather, "axis 0 of a cube", [cube]) {
                $0[0].gathered(
                    alongAxis: 0,
                    Indices(shape: [1, 4, 3], values: [1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1, 1]))
            },
            GradientCase(.gather, "top-3", [ladder]) { $0[0].topK(3).values },
        ]
    }()
}

@Suite struct GradientCheckTests {
    /// Every op with a gradient rule has at least one case, and each case records the op it names.
    @Test func everyOpHasACase() {
        let covered = Set(GradientCases.all.map(\.op))
        let missing = Op.allCases.filter { $0 != .leaf && $0 != .custom && !covered.contains($0) }
        #expect(
            missing.isEmpty, "ops without a finite-difference case in GradientCases: \(missing)")
        for c in GradientCases.all {
            let recorded = c.f(c.inputs.map { $0.requiringGradient() }).recordedOps
            #expect(
                recorded.contains(c.op),
                "case \(c.testDescription) records \(recorded), not \(c.op)")
        }
    }

    /// 20× tighter than `Tolerance.finiteDifference`. The forward passes run in float32 and the probe
    /// sums up to ~50 weighted outputs of magnitude ≤ 4, so with h ≈ 1e-3 the rounding noise of a
    /// difference quotient is ~ε·√50·4/(2h) ≈ 1e-4 (truncation, h²·f‴/6, is far smaller). Every case
    /// also passes at (5e-5, 3e-4); the worst seen is 1.4e-4 absolute on a gradient of 0.66.
    static let tolerance = Tolerance(absolute: 1e-4, relative: 1e-3)

    @Test(arguments: GradientCases.all)
    func matchesFiniteDifferences(_ c: GradientCase) throws {
        try GradientCheck.check(c.inputs, tolerance: Self.tolerance, label: c.testDescription) {
            c.f($0)
        }
    }
}
