// Finite-difference cases of kernel ops (AttendCore's `KernelOp`), and the check that a module's
// registry of kernel ops has a case for every op it lists: the kernel-op counterpart of
// `GradientCheckTests`' table of core ops, shared by the test targets of every module with kernels.
import AttendCore
import Testing

/// One finite-difference check: `f` at `inputs`, meant to exercise the kernel op `op`.
///
/// `f` may capture modules (a mixer around the kernel); each case runs on its own, so the closure
/// is never called concurrently.
public struct KernelOpCase: @unchecked Sendable, CustomTestStringConvertible {
    /// The kernel op the case covers; `f` must record it.
    public let op: Op
    /// What the case varies (shapes, masks, causality).
    public let name: String
    /// The points at which gradients are compared.
    public let inputs: [Tensor]
    /// The function checked.
    public let f: ([Tensor]) -> Tensor

    /// A case of `op` named `name`.
    public init(_ op: Op, _ name: String, _ inputs: [Tensor], _ f: @escaping ([Tensor]) -> Tensor) {
        (self.op, self.name, self.inputs, self.f) = (op, name, inputs, f)
    }

    /// "op: name", as test reports show the case.
    public var testDescription: String { "\(op): \(name)" }

    /// Compares `f`'s gradients with finite differences.
    public func check(file: StaticString = #filePath, line: UInt = #line) throws {
        try GradientCheck.check(inputs, label: testDescription, file: file, line: line, f)
    }

    /// The ops `f` records at `inputs` (each once).
    public var recordedOps: [Op] { f(inputs.map { $0.requiringGradient() }).recordedOps }
}

/// Checks a registry of kernel ops against its table of cases.
public enum KernelOpCoverage {
    /// The ops of `registry` that no case covers, in registry order.
    public static func uncovered(_ registry: [Op], by cases: [KernelOpCase]) -> [Op] {
        let covered = Set(cases.map(\.op))
        return registry.filter { !covered.contains($0) }
    }

    /// Records an issue for every registered op without a case and every case whose function
    /// does not record its op.
    public static func expectEveryOpCovered(
        _ registry: [Op], by cases: [KernelOpCase],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let missing = uncovered(registry, by: cases)
        #expect(
            missing.isEmpty, "kernel ops without a finite-difference case: \(missing)",
            sourceLocation: sourceLocation)
        for c in cases {
            let recorded = c.recordedOps
            #expect(
                recorded.contains(c.op),
                "case \(c.testDescription) records \(recorded), not \(c.op)",
                sourceLocation: sourceLocation)
        }
    }
}
