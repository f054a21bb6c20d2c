// The registry of AttendModels' kernel ops (see AttendCore's KernelOp.swift). A new one adds a line
// here and declares its gradient examples beside itself; `KernelOpGradientTests` checks them.
import AttendCore

/// Every kernel op AttendModels defines.
public enum ModelKernelOps {
    /// The ops, each with its gradient examples.
    public static let all: [any KernelOp.Type] = [SwitchCombineOp.self]
}
