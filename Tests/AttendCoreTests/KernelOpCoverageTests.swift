// The kernel-op coverage check itself (AttendTesting's `KernelOpCoverage`), on three registrations
// of one tiny kernel op, y = 2x: one whose example records it, one without an example and one whose
// example records a core op instead. The modules' `everyKernelOpHasACase` tests rely on this check
// failing for the last two.
import AttendCore
import AttendTesting
import Testing

/// y = 2x over buffers.
private protocol DoublingKernel: KernelOp where Saved == Void {
    var x: Tensor { get }
    init(x: Tensor)
}

extension DoublingKernel {
    var inputs: [Tensor?] { [x] }
    var outputShape: [Int] { x.shape }

    func forward(_ buffers: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        for i in 0..<x.count { output[i] = 2 * buffers.input(0)[i] }
    }

    func backward(_ buffers: KernelBuffers, _ gradients: KernelGradients, saved: Void) {
        for i in 0..<x.count { gradients.input(0)[i] += 2 * gradients.outputGradient[i] }
    }

    static var point: [Tensor] { [Tensor(shape: [3], scalars: [0.5, -1, 2])] }
}

private struct CheckedDoubling: DoublingKernel {
    static let op = Op("checkedDoubling")
    static var gradientExamples: [KernelOpExample] {
        [KernelOpExample("three values", point) { Tensor.fused(CheckedDoubling(x: $0[0])) }]
    }
    let x: Tensor
}

private struct UncheckedDoubling: DoublingKernel {
    static let op = Op("uncheckedDoubling")
    static var gradientExamples: [KernelOpExample] { [] }
    let x: Tensor
}

private struct MislabelledDoubling: DoublingKernel {
    static let op = Op("mislabelledDoubling")
    static var gradientExamples: [KernelOpExample] {
        [KernelOpExample("a core op instead", point) { $0[0] * 2 }]
    }
    let x: Tensor
}

@Suite struct KernelOpCoverageTests {
    @Test func anOpWhoseExampleRecordsItPasses() throws {
        #expect(KernelOpCoverage.uncovered([CheckedDoubling.self]).isEmpty)
        #expect(KernelOpCoverage.misrecorded([CheckedDoubling.self]).isEmpty)
        let cases = KernelOpCase.cases(of: [CheckedDoubling.self])
        #expect(cases.map(\.testDescription) == ["checkedDoubling: three values"])
        for c in cases { try c.check() }
        KernelOpCoverage.expectEveryOpCovered([CheckedDoubling.self])
    }

    @Test func anOpWithoutAnExampleFails() {
        let registry: [any KernelOp.Type] = [CheckedDoubling.self, UncheckedDoubling.self]
        #expect(KernelOpCoverage.uncovered(registry) == [UncheckedDoubling.op])
        withKnownIssue { KernelOpCoverage.expectEveryOpCovered(registry) }
    }

    @Test func anExampleThatDoesNotRecordItsOpFails() {
        let registry: [any KernelOp.Type] = [CheckedDoubling.self, MislabelledDoubling.self]
        #expect(KernelOpCoverage.misrecorded(registry).map(\.op) == [MislabelledDoubling.op])
        withKnownIssue { KernelOpCoverage.expectEveryOpCovered(registry) }
    }
}
