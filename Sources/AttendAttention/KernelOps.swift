// The registry of AttendAttention's kernel ops (fused kernels recorded through `Tensor.fused`),
// derived from the mechanisms: each `Mechanism` entry lists the kernel ops its mixers record, each
// op declares its gradient examples beside itself, and `KernelOpGradientTests` checks every op
// listed here. A new mechanism with a fused kernel adds nothing to this file.
import AttendCore

/// Every kernel op AttendAttention defines.
public enum AttentionKernelOps {
    /// Kernel ops no mechanism records: the 3×3 map convolution on its own (evolving attention
    /// records it fused into `evolvingUpdate`).
    static let standalone: [any KernelOp.Type] = [MapConvolutionOp.self]

    /// The kernel ops of every registered mechanism (`Mechanism.kernelOps`) and the standalone
    /// ones, each once, in registry order.
    public static var all: [any KernelOp.Type] {
        var seen = Set<Op>()
        return (Mechanisms.all.flatMap(\.kernelOps) + standalone).filter {
            seen.insert($0.op).inserted
        }
    }
}
