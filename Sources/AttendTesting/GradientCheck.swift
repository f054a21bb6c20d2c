// Finite-difference gradient checks. The scalar probed is L = Σ w ⊙ f(x) with fixed random weights w
// (so every output element matters and errors cannot cancel), accumulated in Double. Central
// differences with a step scaled to each input: |x|·h + h.
import AttendCore

/// Compares the autograd gradients of `f` with central finite differences.
public enum GradientCheck {
    /// Checks every input's gradient; throws `NumericMismatch` naming the input and the worst element.
    ///
    /// - Parameters:
    ///   - inputs: points at which to differentiate (kept small: each element costs two forwards).
    ///   - step: relative finite-difference step.
    ///   - checked: indices of inputs to check (default all).
    ///   - f: the function; it may return any shape.
    public static func check(
        _ inputs: [Tensor], step: Float = 1e-3, tolerance: Tolerance = .finiteDifference,
        checked: [Int]? = nil, label: String = "", seed: UInt64 = 99,
        file: StaticString = #filePath, line: UInt = #line,
        _ f: ([Tensor]) throws -> Tensor
    ) throws {
        let probe = try withoutGradient { try f(inputs) }
        let weights = Tensor.randomUniform(probe.shape, seed: seed, low: -1, high: 1).scalars
        func loss(_ xs: [Tensor]) throws -> Double {
            let y = try withoutGradient { try f(xs) }.scalars
            var total = 0.0
            for i in y.indices { total += Double(y[i]) * Double(weights[i]) }
            return total
        }
        let (_, analytic) = try valueAndGradient(at: inputs) { xs in
            (try f(xs) * Tensor(shape: probe.shape, scalars: weights)).summed()
        }
        for index in checked ?? Array(inputs.indices) {
            let x = inputs[index]
            var numeric = [Float](repeating: 0, count: x.count)
            for j in 0..<x.count {
                let value = x.scalars[j]
                let h = step * (Swift.abs(value) + 1)
                var plus = inputs, minus = inputs
                plus[index] = x.replacingElement(j, with: value + h)
                minus[index] = x.replacingElement(j, with: value - h)
                let hUsed = Double(value + h) - Double(value - h)
                numeric[j] = Float((try loss(plus) - loss(minus)) / hUsed)
            }
            try assertClose(
                analytic[index].scalars, numeric, tolerance,
                "\(label) gradient of input \(index) vs finite differences", shape: x.shape,
                file: file, line: line)
        }
    }
}

extension Tensor {
    /// A copy with one element changed (test helper).
    func replacingElement(_ index: Int, with value: Float) -> Tensor {
        var copy = Tensor(shape: shape, scalars: scalars)
        copy.withUnsafeMutableBufferPointer { $0[index] = value }
        return copy
    }
}
