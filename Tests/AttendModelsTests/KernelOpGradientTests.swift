// Finite-difference checks of AttendModels' kernel ops, each op's own `gradientExamples`, over the
// registry (`ModelKernelOps.all`): a registered op without an example fails
// `everyKernelOpHasACase`.
import AttendModels
import AttendTesting
import Testing

@Suite struct KernelOpGradientTests {
    @Test(arguments: KernelOpCase.cases(of: ModelKernelOps.all))
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(ModelKernelOps.all)
    }
}
