// Helpers shared by the mechanism suites: building mixers with shared weights, padding masks,
// finite-difference checks of a mixer's parameters, and reading fixture files.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// A small configuration: width c, h heads, maximum length N, seed 3.
func tinyConfiguration(width c: Int = 8, heads h: Int = 2, maximumLength: Int = 64) -> MixerConfiguration {
    var configuration = MixerConfiguration(modelDimension: c, headCount: h, maximumLength: maximumLength)
    configuration.seed = 3
    return configuration
}

/// Copies every parameter `source` has under the same name into `target` (shapes must agree).
func copyParameters(from source: any Module, to target: any Module) {
    let sources = Dictionary(uniqueKeysWithValues: source.namedParameters())
    for (name, parameter) in target.namedParameters() {
        guard let value = sources[name]?.value else { continue }
        precondition(value.shape == parameter.shape, "\(name): \(value.shape) vs \(parameter.shape)")
        parameter.value = value
    }
}

/// [b, n] key mask with the last `padded[i]` positions of entry i set to 0.
func tailPaddingMask(length n: Int, padded: [Int]) -> Tensor {
    Tensor.filled(shape: [padded.count, n]) { out in
        for (i, count) in padded.enumerated() {
            for j in 0..<n { out[i * n + j] = j >= n - count ? 0 : 1 }
        }
    }
}

/// Checks the gradients of L = Σ w ⊙ mixer(x) with respect to the input x and every trainable
/// parameter against central finite differences (float32 forwards summed in Double).
func checkMixerGradients(
    _ mixer: any TokenMixer, input x: Tensor, paddingMask: Tensor? = nil, label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    func run(_ input: Tensor) -> Tensor {
        // swiftlint:disable:next force_try
        try! mixer(input, context: MixerContext(paddingMask: paddingMask))
    }
    try GradientCheck.check([x], label: "\(label) input") { xs in run(xs[0]) }
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
        let gradient = try #require(analytic[parameter], "\(label): no gradient for \(name)", sourceLocation: sourceLocation)
        try assertClose(gradient.scalars, numeric, .finiteDifference, "\(label) gradient of \(name) vs finite differences", shape: parameter.shape)
    }
}

/// A committed fixture file from `Tests/AttendAttentionTests/Fixtures/` (made by scripts/fixtures/).
func fixture(_ name: String) throws -> SafetensorsFile { try openFixture(name, in: Bundle.module) }

/// Sets the parameter `name` of `module` to `value` (shapes must agree).
func setParameter(_ module: any Module, _ name: String, to value: Tensor) throws {
    let parameter = try #require(module.namedParameters().first { $0.0 == name }?.1, "no parameter \(name)")
    try #require(parameter.shape == value.shape, "\(name): \(parameter.shape) vs fixture \(value.shape)")
    parameter.value = value
}
