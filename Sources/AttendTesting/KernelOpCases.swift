// Finite-difference cases of kernel ops (AttendCore's `KernelOp`), and the check that a module's
// registry of kernel ops has a case for every op it lists: the kernel-op counterpart of
// `GradientCheckTests`' table of core ops, shared by the test targets of every module with kernels.
// The cases are the ops' own `gradientExamples`, declared beside each op, so a registry is all a
// module's test needs.
import AttendCore
import Testing

/// One finite-difference check: one of kernel op `op`'s `gradientExamples`.
///
/// The example's function may capture modules (a mixer around the kernel); each case runs on its
/// own, so the closure is never called concurrently.
public struct KernelOpCase: @unchecked Sendable, CustomTestStringConvertible {
    /// The kernel op the case covers; the example's function must record it.
    public let op: Op
    /// The inputs and the function checked.
    public let example: KernelOpExample

    /// Example `example` of `op`.
    public init(_ op: Op, _ example: KernelOpExample) {
        (self.op, self.example) = (op, example)
    }

    /// Every example of every op in `registry`, in registry order.
    public static func cases(of registry: [any KernelOp.Type]) -> [KernelOpCase] {
        registry.flatMap { kernel in
            kernel.gradientExamples.map { KernelOpCase(kernel.op, $0) }
        }
    }

    /// "op: name", as test reports show the case.
    public var testDescription: String { "\(op): \(example.name)" }

    /// Compares the example's gradients with finite differences.
    public func check(file: StaticString = #filePath, line: UInt = #line) throws {
        try GradientCheck.check(
            example.inputs, label: testDescription, file: file, line: line, example.function)
    }

    /// The ops the example records at its inputs (each once).
    public func recordedOps() throws -> [Op] {
        try example.function(example.inputs.map { $0.requiringGradient() }).recordedOps
    }
}

/// Checks a registry of kernel ops against their examples.
public enum KernelOpCoverage {
    /// The ops of `registry` without a gradient example, in registry order.
    public static func uncovered(_ registry: [any KernelOp.Type]) -> [Op] {
        registry.filter { $0.gradientExamples.isEmpty }.map { $0.op }
    }

    /// The cases of `registry` whose function does not record the op they are declared for (or
    /// throws).
    public static func misrecorded(_ registry: [any KernelOp.Type]) -> [KernelOpCase] {
        KernelOpCase.cases(of: registry).filter { (try? $0.recordedOps().contains($0.op)) != true }
    }

    /// Records an issue for every registered op without an example and every example whose
    /// function does not record its op.
    public static func expectEveryOpCovered(
        _ registry: [any KernelOp.Type], sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let missing = uncovered(registry)
        #expect(
            missing.isEmpty, "kernel ops without a gradient example: \(missing)",
            sourceLocation: sourceLocation)
        for c in misrecorded(registry) {
            let recorded = (try? c.recordedOps()).map { "records \($0)" } ?? "throws"
            Issue.record(
                "case \(c.testDescription) \(recorded), not \(c.op)", sourceLocation: sourceLocation
            )
        }
    }
}
