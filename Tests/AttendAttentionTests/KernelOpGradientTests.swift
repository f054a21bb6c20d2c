import AttendAttention
import AttendCore
import AttendTesting
import Testing

// Finite-difference checks of AttendAttention's kernel ops: every example each op declares beside
// itself (`gradientExamples`), over the registry derived from the mechanisms
// (`AttentionKernelOps.all`). A registered op without an example fails `everyKernelOpHasACase`, as
// a core op without a case fails GradientCheckTests. Shapes are tiny; the mechanisms' own suites
// test the same kernels against their references at larger sizes.
@Suite struct KernelOpGradientTests {
    @Test(arguments: KernelOpCase.cases(of: AttentionKernelOps.all))
    func gradientMatchesFiniteDifferences(_ c: KernelOpCase) throws {
        try c.check()
    }

    @Test func everyKernelOpHasACase() {
        KernelOpCoverage.expectEveryOpCovered(AttentionKernelOps.all)
    }
}
