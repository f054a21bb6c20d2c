// AdamW (Loshchilov & Hutter, 2019): Adam with weight decay decoupled from the gradient.
// Follows PyTorch's update order exactly so trajectories match its fixtures:
//   p ← p·(1 − lr·λ);  m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²
//   p ← p − (lr/(1−β₁ᵗ))·m / (√v/√(1−β₂ᵗ) + ε)
import AttendCore
import Foundation

/// The AdamW optimizer.
public final class AdamW: Optimizer {
    /// The trainable parameters under their dotted names (frozen ones are left out).
    public let parameters: [(String, Parameter)]
    /// Updates taken so far: t in the bias corrections 1 − βᵗ.
    public private(set) var stepCount = 0
    /// Moment decay rates.
    public let beta1: Float, beta2: Float
    /// Added to the denominator.
    public let epsilon: Float
    /// Decoupled weight decay λ.
    public let weightDecay: Float
    private let decayed: Set<String>
    /// Learning-rate multipliers of parameters with their own peak rate (their peak / the run's).
    private let learningRateScales: [String: Float]
    private var moments = StateBuffers()

    /// AdamW over `parameters`; `decays` picks which ones receive weight decay (default: rank ≥ 2 or
    /// the parameter's override). Given the run's `peakLearningRate`, a parameter with its own peak
    /// rate in its overrides steps at the scheduled rate × (its peak / the run's peak), as PyTorch
    /// parameter groups under one scheduler do; without it, every parameter follows the run's rate.
    public init(
        parameters: [(String, Parameter)], beta1: Float = 0.9, beta2: Float = 0.999,
        epsilon: Float = 1e-8, weightDecay: Float = 0.01,
        decays: (String, Parameter) -> Bool = isDecayedByDefault, peakLearningRate: Float? = nil
    ) {
        self.parameters = parameters.filter { $0.1.isTrainable }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        decayed = Set(self.parameters.filter { decays($0.0, $0.1) }.map(\.0))
        var scales: [String: Float] = [:]
        if let peak = peakLearningRate, peak > 0 {
            for (name, parameter) in self.parameters {
                if let own = parameter.optimizerOverrides.learningRate { scales[name] = own / peak }
            }
        }
        learningRateScales = scales
    }

    /// One AdamW update, in PyTorch's order (see the file header).
    public func step(_ gradients: Gradients, learningRate lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - Foundation.pow(beta1, t)
        let correction2Root = (1 - Foundation.pow(beta2, t)).squareRoot()
        for (name, parameter) in parameters {
            guard let g = gradients[parameter] else { continue }
            let rate = learningRateScales[name].map { lr * $0 } ?? lr
            let stepSize = rate / correction1
            var m = moments.buffer(name + ".exp_avg", shape: parameter.shape)
            var v = moments.buffer(name + ".exp_avg_sq", shape: parameter.shape)
            // keep the buffers uniquely referenced: no copy
            moments.buffers[name + ".exp_avg"] = nil
            moments.buffers[name + ".exp_avg_sq"] = nil
            let decay = decayed.contains(name) ? 1 - rate * weightDecay : 1
            let (b1, b2, eps) = (beta1, beta2, epsilon)
            g.withUnsafeBufferPointer { gp in
                m.withUnsafeMutableBufferPointer { mp in
                    v.withUnsafeMutableBufferPointer { vp in
                        parameter.update { pp in
                            for i in pp.indices {
                                let gi = gp[i]
                                mp[i] = b1 * mp[i] + (1 - b1) * gi
                                vp[i] = b2 * vp[i] + (1 - b2) * gi * gi
                                let denominator = vp[i].squareRoot() / correction2Root + eps
                                pp[i] = pp[i] * decay - stepSize * mp[i] / denominator
                            }
                        }
                    }
                }
            }
            moments.buffers[name + ".exp_avg"] = m
            moments.buffers[name + ".exp_avg_sq"] = v
        }
    }

    /// The step and both moments per parameter, under PyTorch's `exp_avg`/`exp_avg_sq` names.
    public func state() -> [(String, Tensor)] {
        [("step", Tensor(Float(stepCount)))]
            + moments.buffers.keys.sorted().map { ($0, moments.buffers[$0]!) }
    }

    /// Restores `state()` output; throws naming a moment whose shape differs from its parameter.
    public func load(state: [String: Tensor]) throws {
        stepCount = try restoredStepCount(state)
        moments = try StateBuffers.restore(
            from: state, parameters: parameters, suffixes: [".exp_avg", ".exp_avg_sq"])
    }
}
