// Helpers shared by the mechanism suites: building mixers with shared weights, padding masks,
// finite-difference checks of a mixer's parameters, and reading fixture files.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// A small configuration: width c, h heads, maximum length N, seed 3.
func tinyConfiguration(width c: Int = 8, heads h: Int = 2, maximumLength: Int = 64)
    -> MixerConfiguration
{
    var configuration = MixerConfiguration(
        modelDimension: c, headCount: h, maximumLength: maximumLength)
    configuration.seed = 3
    return configuration
}

/// Lengths that span several tiles of the online-softmax kernels whatever their sizes, so the tests
/// cross tile boundaries (running maximum raised by a later tile) and, with the last third of the keys
/// padded, leave a trailing key tile of padding alone (skipped).
enum TileSpanning {
    /// Two key tiles and 45 keys more.
    static let long = 2 * OnlineSoftmaxAttention.keyTile + 45
    /// One key tile and 70 keys more.
    static let short = OnlineSoftmaxAttention.keyTile + 70
}

/// Copies every parameter `source` has under the same name into `target` (shapes must agree).
func copyParameters(from source: any Module, to target: any Module) {
    let sources = Dictionary(uniqueKeysWithValues: source.namedParameters())
    for (name, parameter) in target.namedParameters() {
        guard let value = sources[name]?.value else { continue }
        precondition(
            value.shape == parameter.shape, "\(name): \(value.shape) vs \(parameter.shape)")
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
/// parameter against central finite differences (float32 forwards summed in Double, fixed random
/// weights w). Every trainable parameter must receive a gradient, except those named in `unused`
/// (not used in this mode), whose finite differences must then vanish.
func checkMixerGradients(
    _ mixer: any TokenMixer, input x: Tensor, paddingMask: Tensor? = nil, causal: Bool = false,
    unused: Set<String> = [], tolerance: Tolerance = .finiteDifference, label: String,
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    func run(_ input: Tensor) -> Tensor {
        // A failing forward is a test failure, not a value to check.
        // swiftlint:disable:next force_try
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
        let gradient: Tensor
        if let analytic = analytic[parameter] {
            gradient = analytic
        } else {
            try #require(
                unused.contains(name), "\(label): no gradient for \(name)",
                sourceLocation: sourceLocation)
            gradient = .zeros(parameter.shape)
        }
        try assertClose(
            gradient.scalars, numeric, tolerance,
            "\(label) gradient of \(name) vs finite differences", shape: parameter.shape)
    }
}

/// An op's value at some inputs and the gradients of Σ upstream ⊙ value with respect to them.
struct ValueAndGradients {
    let value: Tensor
    let gradients: [Tensor]
}

/// Runs `f` on (q, k, v) and returns its value and the gradients of Σ upstream ⊙ f.
func valueAndGradients(
    _ inputs: [Tensor], upstream: Tensor, _ f: ([Tensor]) throws -> Tensor
) rethrows -> ValueAndGradients {
    let value = try withoutGradient { try f(inputs) }
    let (_, gradients) = try valueAndGradient(at: inputs) { x in (try f(x) * upstream).summed() }
    return ValueAndGradients(value: value, gradients: gradients)
}

/// Compares an attention kernel's output and the gradients named in `gradientNames` (by default
/// dq, dk, dv) with the reference's.
func assertSameAttention(
    _ actual: ValueAndGradients, _ expected: ValueAndGradients, outputTolerance: Tolerance,
    gradientNames: [String] = ["dq", "dk", "dv"],
    gradientTolerance: Tolerance = Tolerance(absolute: 1e-5, relative: 1e-4)
) throws {
    try assertClose(actual.value, expected.value, outputTolerance, "output")
    for (name, (a, e)) in zip(gradientNames, zip(actual.gradients, expected.gradients)) {
        try assertClose(a, e, gradientTolerance, name)
    }
}

/// A committed fixture file from `Tests/AttendAttentionTests/Fixtures/` (made by scripts/fixtures/).
func fixture(_ name: String) throws -> SafetensorsFile { try openFixture(name, in: Bundle.module) }

/// Sets the parameter `name` of `module` to `value` (shapes must agree).
func setParameter(_ module: any Module, _ name: String, to value: Tensor) throws {
    let parameter = try #require(
        module.namedParameters().first { $0.0 == name }?.1, "no parameter \(name)")
    try #require(
        parameter.shape == value.shape, "\(name): \(parameter.shape) vs fixture \(value.shape)")
    parameter.value = value
}
