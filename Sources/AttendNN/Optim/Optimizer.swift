// What every optimizer shares: the parameters it updates (with names, for checkpoints), a step
// counter, and its state as named tensors so a run can be saved and resumed exactly.
import AttendCore

/// Updates parameters from their gradients.
public protocol Optimizer: AnyObject {
    /// Parameters under their dotted names, in a fixed order.
    var parameters: [(String, Parameter)] { get }
    /// Number of steps taken.
    var stepCount: Int { get }
    /// Applies one update with the given learning rate; parameters without a gradient are skipped.
    func step(_ gradients: Gradients, learningRate: Float)
    /// The optimizer's state (moments, step count) as named tensors.
    func state() -> [(String, Tensor)]
    /// Restores `state()` output; throws naming any missing or mis-shaped entry.
    func load(state: [String: Tensor]) throws
}

/// A problem restoring optimizer state.
public struct OptimizerStateError: Error, CustomStringConvertible {
    /// What is wrong and with which entry.
    public let description: String
}

/// Per-parameter state buffers keyed by parameter name, with save/load helpers.
struct StateBuffers {
    var buffers: [String: Tensor] = [:]

    /// The buffer for `name`, created as zeros of `shape` on first use.
    mutating func buffer(_ name: String, shape: [Int]) -> Tensor {
        if let existing = buffers[name] { return existing }
        let zeros = Tensor.zeros(shape)
        buffers[name] = zeros
        return zeros
    }

    /// Restores buffers named `prefix + suffix` for every parameter found in `state`.
    static func restore(
        from state: [String: Tensor], parameters: [(String, Parameter)], suffixes: [String]
    ) throws -> StateBuffers {
        var result = StateBuffers()
        for (name, parameter) in parameters {
            for suffix in suffixes {
                guard let t = state[name + suffix] else { continue }
                guard t.shape == parameter.shape else {
                    throw OptimizerStateError(
                        description:
                            "optimizer state \(name + suffix) has shape \(t.shape), parameter is \(parameter.shape)"
                    )
                }
                result.buffers[name + suffix] = t
            }
        }
        return result
    }
}

/// Reads the step counter saved as a one-element tensor.
func restoredStepCount(_ state: [String: Tensor]) throws -> Int {
    guard let t = state["step"], t.count == 1 else {
        throw OptimizerStateError(
            description: "optimizer state has no 'step' entry; was it saved by Attend?")
    }
    return Int(t.scalar)
}

/// AdamW and nanoGPT's rule: decay matrices (weights, embeddings), not vectors (biases, norm gains),
/// unless the parameter's overrides say otherwise.
public func isDecayedByDefault(_ name: String, _ parameter: Parameter) -> Bool {
    parameter.optimizerOverrides.weightDecay ?? (parameter.shape.count >= 2)
}
