// Finite-difference check of a whole token mixer: the input and every trainable parameter, through
// L = Σ w ⊙ mixer(x) with fixed random weights w (float32 forwards, sums in Double).
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Testing

/// Checks ∂L/∂x and ∂L/∂θ for every trainable parameter θ of `mixer` against central differences.
func finiteDifferenceCheck(
    mixer: any TokenMixer, input x: Tensor, paddingMask: Tensor? = nil, causal: Bool = false,
    tolerance: Tolerance = .finiteDifference, label: String, sourceLocation: SourceLocation = #_sourceLocation
) throws {
    func run(_ input: Tensor) -> Tensor {
        // A failing forward is a test failure, not a value to check.
        try! mixer(input, context: MixerContext(paddingMask: paddingMask, isCausal: causal))
    }
    try GradientCheck.check([x], tolerance: tolerance, label: "\(label) input") { xs in run(xs[0]) }
    let probe = withoutGradient { run(x) }
    let weights = Tensor.randomUniform(probe.shape, seed: 99, low: -1, high: 1)
    func loss() -> Double {
        let y = withoutGradient { run(x) }.scalars
        let w = weights.scalars
        return y.indices.reduce(0.0) { $0 + Double(y[$1]) * Double(w[$1]) }
    }
    let (_, analytic) = valueAndGradient(of: mixer) { _ in (run(x) * weights).summed() }
    for (name, parameter) in mixer.namedParameters() where parameter.isTrainable {
        var numeric = [Float](repeating: 0, count: parameter.count)
        for j in 0..<parameter.count {
            let value = parameter.value.scalars[j]
            let h = 1e-3 * (Swift.abs(value) + 1)
            parameter.update { $0[j] = value + h }
            let plus = loss()
            parameter.update { $0[j] = value - h }
            let minus = loss()
            parameter.update { $0[j] = value }
            numeric[j] = Float((plus - minus) / (Double(value + h) - Double(value - h)))
        }
        let gradient = analytic[parameter] ?? Tensor.zeros(parameter.shape)
        try assertClose(
            gradient.scalars, numeric, tolerance, "\(label) gradient of \(name) vs finite differences",
            shape: parameter.shape)
    }
}
