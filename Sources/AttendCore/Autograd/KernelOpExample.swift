// A kernel op's own example for the gradient check. Each op declares beside itself one or more
// small calls (`KernelOp.gradientExamples`); its module's registry lists the op, and the module's
// `KernelOpGradientTests` compares every example's gradients with finite differences and fails for
// a registered op without one — so a new kernel needs no line in a shared test table.

/// A small call of a kernel op at which its gradients are compared with finite differences.
///
/// `function` may capture modules (a mixer around the kernel); the check calls it on one thread.
public struct KernelOpExample: @unchecked Sendable {
    /// What the example varies (shapes, masks, causality), as test reports show it.
    public let name: String
    /// The points at which gradients are compared (tiny: each element costs two forward passes).
    public let inputs: [Tensor]
    /// The function checked; it must record the op it is an example of.
    public let function: ([Tensor]) throws -> Tensor

    /// `function` at `inputs`, called `name`.
    public init(
        _ name: String, _ inputs: [Tensor], _ function: @escaping ([Tensor]) throws -> Tensor
    ) {
        (self.name, self.inputs, self.function) = (name, inputs, function)
    }
}
