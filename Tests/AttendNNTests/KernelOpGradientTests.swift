// Finite-difference cases of AttendNN's kernel ops, checked against the registry
// (`NNKernelOps.all`): a registered op without a case fails `everyKernelOpHasACase`.
import AttendCore
import AttendTesting
import Testing

@testable import AttendNN

enum NNKernelOpCases {
    static let all: [KernelOpCase] = [
        KernelOpCase(
            BinaryCrossEntropyOp.op, "logits and soft targets",
            [
                Tensor.randomNormal([2, 3], seed: 1),
                Tensor.randomUniform([2, 3], seed: 2, low: 0, high: 1),
            ]
        ) { binaryCrossEntropy(logits: $0[0], targets: $0[1], reduction: .none) }
    ]
}

@Suite struct KernelOpGradientTests {
    @Test(arguments: NNKernelOpCases.all)
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(NNKernelOps.all, by: NNKernelOpCases.all)
    }
}
