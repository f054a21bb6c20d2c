// The registry of AttendNN's kernel ops (see AttendCore's KernelOp.swift). A new one adds a line
// here; `KernelOpGradientTests` fails until it has a finite-difference case.
import AttendCore

/// Every kernel op AttendNN defines.
public enum NNKernelOps {
    /// Their names, as recorded-op lists show them.
    public static let all: [Op] = [BinaryCrossEntropyOp.op]
}
