// Finite-difference checks of AttendNN's kernel ops, each op's own `gradientExamples`, over the
// registry (`NNKernelOps.all`): a registered op without an example fails `everyKernelOpHasACase`.
import AttendNN
import AttendTesting
import Testing

@Suite struct KernelOpGradientTests {
    @Test(arguments: KernelOpCase.cases(of: NNKernelOps.all))
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(NNKernelOps.all)
    }
}
