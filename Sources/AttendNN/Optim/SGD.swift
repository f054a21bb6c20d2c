// Stochastic gradient descent with momentum, PyTorch's formulation:
//   g ← g + λp;  b ← μb + (1 − dampening)g (b = g on the first step);  p ← p − lr·(nesterov ? g + μb : b)
import AttendCore

/// SGD with optional momentum, dampening, Nesterov and (coupled) weight decay.
public final class SGD: Optimizer {
    /// The trainable parameters under their dotted names (frozen ones are left out).
    public let parameters: [(String, Parameter)]
    /// Updates taken so far.
    public private(set) var stepCount = 0
    /// Momentum μ (0 = plain SGD).
    public let momentum: Float
    /// Dampening of the momentum update.
    public let dampening: Float
    /// L2 penalty added to the gradient.
    public let weightDecay: Float
    /// Nesterov momentum.
    public let nesterov: Bool
    private var velocity = StateBuffers()

    /// SGD over `parameters`.
    public init(
        parameters: [(String, Parameter)], momentum: Float = 0, dampening: Float = 0,
        weightDecay: Float = 0, nesterov: Bool = false
    ) {
        self.parameters = parameters.filter { $0.1.isTrainable }
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    /// One SGD update, in PyTorch's order (see the file header).
    public func step(_ gradients: Gradients, learningRate lr: Float) {
        stepCount += 1
        for (name, parameter) in parameters {
            guard let g = gradients[parameter] else { continue }
            let key = name + ".momentum_buffer"
            let firstStep = velocity.buffers[key] == nil
            var b = velocity.buffer(key, shape: parameter.shape)
            velocity.buffers[key] = nil
            let (mu, damp, wd, nest) = (momentum, dampening, weightDecay, nesterov)
            g.withUnsafeBufferPointer { gp in
                b.withUnsafeMutableBufferPointer { bp in
                    parameter.update { pp in
                        for i in pp.indices {
                            var gi = gp[i] + wd * pp[i]
                            if mu != 0 {
                                bp[i] = firstStep ? gi : mu * bp[i] + (1 - damp) * gi
                                gi = nest ? gi + mu * bp[i] : bp[i]
                            }
                            pp[i] -= lr * gi
                        }
                    }
                }
            }
            if momentum != 0 { velocity.buffers[key] = b }
        }
    }

    /// The step and each parameter's `momentum_buffer` (PyTorch's name), when momentum is on.
    public func state() -> [(String, Tensor)] {
        [("step", Tensor(Float(stepCount)))]
            + velocity.buffers.keys.sorted().map { ($0, velocity.buffers[$0]!) }
    }

    /// Restores `state()` output; throws naming a buffer whose shape differs from its parameter.
    public func load(state: [String: Tensor]) throws {
        stepCount = try restoredStepCount(state)
        velocity = try StateBuffers.restore(
            from: state, parameters: parameters, suffixes: [".momentum_buffer"])
    }
}
