// The registry of AttendNN's kernel ops (see AttendCore's KernelOp.swift). A new one adds a line
// here and declares its gradient examples beside itself; `KernelOpGradientTests` checks them.
import AttendCore

/// Every kernel op AttendNN defines.
public enum NNKernelOps {
    /// The ops, each with its gradient examples.
    public static let all: [any KernelOp.Type] = [BinaryCrossEntropyOp.self]
}
