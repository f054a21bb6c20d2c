// Finite-difference cases of AttendModels' kernel ops, checked against the registry
// (`ModelKernelOps.all`): a registered op without a case fails `everyKernelOpHasACase`.
import AttendCore
import AttendTesting
import Testing

@testable import AttendModels

enum ModelKernelOpCases {
    static let all: [KernelOpCase] = [
        // Two experts' parts scattered to rows 0, 2 and 3 of four (row 1 dropped), scaled by the
        // gate.
        KernelOpCase(
            SwitchCombineOp.op, "two parts, a dropped row",
            [
                Tensor.randomNormal([2, 3], seed: 1), Tensor.randomNormal([1, 3], seed: 2),
                Tensor.randomUniform([4, 1], seed: 3, low: 0.2, high: 1),
            ]
        ) { x in
            SwitchFeedForward.combine(
                [x[0], x[1]], rows: [[0, 2], [3]], gate: x[2], tokenCount: 4, width: 3)
        }
    ]
}

@Suite struct KernelOpGradientTests {
    @Test(arguments: ModelKernelOpCases.all)
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(ModelKernelOps.all, by: ModelKernelOpCases.all)
    }
}
