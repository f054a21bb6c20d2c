// Gradients keyed by parameter, the result of differentiating a loss with respect to a model, with
// the operations a training loop needs: accumulation over micro-batches, scaling and the global norm.
import AttendCore

/// Gradients of a scalar with respect to the parameters of a model.
public struct Gradients: @unchecked Sendable {
    private var storage: [ObjectIdentifier: Tensor] = [:]

    /// No gradients.
    public init() {}

    /// The gradient of `parameter`, nil when the loss did not depend on it.
    public subscript(parameter: Parameter) -> Tensor? {
        get { storage[ObjectIdentifier(parameter)] }
        set { storage[ObjectIdentifier(parameter)] = newValue }
    }

    /// Number of parameters with a gradient.
    public var count: Int { storage.count }

    /// Adds `other` into these gradients (gradient accumulation over several backward passes).
    public mutating func accumulate(_ other: Gradients) {
        for (key, g) in other.storage {
            // Taken out of the dictionary first, so the sum is written in place, not into a copy.
            if var existing = storage.removeValue(forKey: key) {
                existing.accumulate(g)
                storage[key] = existing
            } else {
                storage[key] = g
            }
        }
    }

    /// Multiplies every gradient by `factor` in place.
    public mutating func scale(by factor: Float) {
        for key in Array(storage.keys) {
            storage[key] = withoutGradient { storage[key]! * factor }
        }
    }

    /// √(Σ g²) over every gradient element.
    public var globalNorm: Float {
        var total: Double = 0
        for g in storage.values {
            g.withUnsafeBufferPointer { p in
                total += Double(Dot.product(p.baseAddress!, p.baseAddress!, count: p.count))
            }
        }
        return Float(total.squareRoot())
    }

    /// True when every gradient element is finite.
    public var isFinite: Bool {
        storage.values.allSatisfy { g in g.withUnsafeBufferPointer { $0.allSatisfy(\.isFinite) } }
    }
}

/// The value of `f(model)` and its gradients with respect to the model's trainable parameters.
public func valueAndGradient<M: Module>(
    of model: M, _ f: (M) throws -> Tensor
) rethrows -> (value: Tensor, gradients: Gradients) {
    let trainable = model.parameters.filter(\.isTrainable)
    let value = try f(model)
    let grads = reachedGradients(of: value, withRespectTo: trainable.map(\.value))
    var result = Gradients()
    for (parameter, g) in zip(trainable, grads) { result[parameter] = g }
    return (value.detached(), result)
}
