// Linformer: with k = n and E = F = I it is full attention; per-head projections that are all equal
// give the shared result; padded rows do not change the real tokens' outputs; it refuses causal
// masks and inputs longer than its projections; finite differences through the whole mixer.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// The Linformer core of a mixer built by the registry.
func linformerCore(_ mixer: any TokenMixer) throws -> LinformerAttention {
    let frame = try #require(mixer as? MultiHeadAttention)
    return try #require(frame.core as? LinformerAttention)
}

/// [rows, cols] identity (rows ≤ cols or not).
func identity(_ rows: Int, _ cols: Int) -> Tensor {
    Tensor.filled(shape: [rows, cols]) { out in
        for i in 0..<rows {
            for j in 0..<cols { out[i * cols + j] = i == j ? 1 : 0 }
        }
    }
}

@Test(arguments: [(true, true), (false, false), (true, false)])
func linformerWithIdentityProjectionsEqualsFullAttention(_ shareHeads: Bool, _ shareKeyValue: Bool)
    throws
{
    let n = 13, heads = 2
    var configuration = tinyConfiguration(width: 8, heads: heads, maximumLength: n)
    configuration.linformer = .init(
        projectedLength: n, shareKeyValue: shareKeyValue, shareHeads: shareHeads)
    let linformer = try Mechanisms.make("linformer", configuration: configuration)
    let full = try Mechanisms.make("full", configuration: configuration)
    copyParameters(from: full, to: linformer)
    let core = try linformerCore(linformer)
    let eye = shareHeads ? identity(n, n) : Tensor.stacked([identity(n, n), identity(n, n)])
    core.projections.key.value = eye
    core.projections.value?.value = eye
    let x = Tensor.randomNormal([2, n, 8], seed: 1)
    try assertClose(
        try linformer(x, context: MixerContext()), try full(x, context: MixerContext()), .reference,
        "linformer (E = F = I) vs full")
}

@Test func linformerPerHeadProjectionsMatchTheSharedOnes() throws {
    var shared = tinyConfiguration(width: 12, heads: 3, maximumLength: 20)
    shared.linformer = .init(projectedLength: 5)
    var perHead = shared
    perHead.linformer.shareHeads = false
    let a = try Mechanisms.make("linformer", configuration: shared)
    let b = try Mechanisms.make("linformer", configuration: perHead)
    copyParameters(from: a, to: AnyModuleWithout(b, names: ["proj_k", "proj_v"]))
    let (coreA, coreB) = (try linformerCore(a), try linformerCore(b))
    #expect(coreB.projections.key.shape == [3, 20, 5])
    coreB.projections.key.value = Tensor.stacked(
        Array(repeating: coreA.projections.key.value, count: 3))
    coreB.projections.value?.value = Tensor.stacked(
        Array(repeating: coreA.projections.value!.value, count: 3))
    let x = Tensor.randomNormal([2, 17, 12], seed: 2)
    try assertClose(
        try b(x, context: MixerContext()), try a(x, context: MixerContext()), .reference,
        "per-head vs shared")
}

/// A view of a module that hides some parameter names (so `copyParameters` skips them).
final class AnyModuleWithout: Module {
    let base: any Module, hidden: Set<String>
    init(_ base: any Module, names: Set<String>) {
        self.base = base
        hidden = names
    }
    var ownParameters: [(String, Parameter)] {
        base.namedParameters().filter { !hidden.contains($0.0) }
    }
}

@Test func linformerPaddingLeavesRealTokensUnchanged() throws {
    var configuration = tinyConfiguration(width: 8, heads: 2, maximumLength: 24)
    configuration.linformer = .init(projectedLength: 6)
    let mixer = try Mechanisms.make("linformer", configuration: configuration)
    let real = Tensor.randomNormal([1, 15, 8], seed: 3)
    let reference = try mixer(real, context: MixerContext())
    for extra in [1, 6, 9] {
        let padding = Tensor.randomNormal([1, extra, 8], seed: UInt64(10 + extra))
        let x = Tensor.concatenated([real, padding], alongAxis: 1)
        let mask = tailPaddingMask(length: 15 + extra, padded: [extra])
        let y = try mixer(x, context: MixerContext(paddingMask: mask)).sliced(alongAxis: 1, 0..<15)
        try assertClose(y, reference, .reference, "real tokens with \(extra) padded")
    }
}

@Test func linformerRefusesWhatItCannotDo() throws {
    var configuration = tinyConfiguration(width: 8, heads: 2, maximumLength: 10)
    configuration.linformer = .init(projectedLength: 4)
    let mixer = try Mechanisms.make("linformer", configuration: configuration)
    do {
        _ = try mixer(
            Tensor.randomNormal([1, 6, 8], seed: 1), context: MixerContext(isCausal: true))
        Issue.record("linformer accepted a causal mask")
    } catch MixerError.causalUnsupported(let mechanism, let reason) {
        #expect(mechanism == "linformer")
        #expect(reason.contains("future"))
    }
    #expect(throws: MixerError.sequenceTooLong(mechanism: "linformer", length: 11, maximum: 10)) {
        try mixer(Tensor.randomNormal([1, 11, 8], seed: 1), context: MixerContext())
    }
    #expect(throws: MixerError.self) {
        try Mechanisms.make("linformer", configuration: configuration, causal: true)
    }
    var odd = configuration
    odd.headCount = 3
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "linformer", problem: "head count 3 does not divide model width 8")
    ) {
        try Mechanisms.make("linformer", configuration: odd)
    }
    var empty = configuration
    empty.linformer.projectedLength = 0
    #expect(throws: MixerError.self) { try Mechanisms.make("linformer", configuration: empty) }
}

@Test(arguments: [(true, false), (false, true)])
func linformerMixerGradientsMatchFiniteDifferences(_ shareHeads: Bool, _ shareKeyValue: Bool) throws
{
    var configuration = tinyConfiguration(width: 4, heads: 2, maximumLength: 9)
    configuration.linformer = .init(
        projectedLength: 3, shareKeyValue: shareKeyValue, shareHeads: shareHeads)
    let mixer = try Mechanisms.make("linformer", configuration: configuration)
    #expect(mixer.namedParameters().map(\.0).contains("proj_k"))
    #expect(mixer.namedParameters().map(\.0).contains("proj_v") == !shareKeyValue)
    let x = Tensor.randomNormal([2, 7, 4], seed: 4)
    try checkMixerGradients(
        mixer, input: x, paddingMask: tailPaddingMask(length: 7, padded: [0, 2]),
        label: "linformer shareHeads \(shareHeads) shareKeyValue \(shareKeyValue)")
}

@Test func linformerProjectionsStartUniformInOneOverRootK() throws {
    var configuration = tinyConfiguration(width: 8, heads: 2, maximumLength: 300)
    configuration.linformer = .init(projectedLength: 16)
    let core = try linformerCore(try Mechanisms.make("linformer", configuration: configuration))
    let values = core.projections.key.value.scalars
    #expect(values.allSatisfy { Swift.abs($0) <= 0.25 })
    #expect(values.max()! > 0.24 && values.min()! < -0.24)
    #expect(core.projections.key.shape == [300, 16])
}

@Test func linformerOptionsDecodeWithDefaults() throws {
    let json =
        #"{"model_dimension": 16, "head_count": 2, "maximum_length": 64, "linformer": {"projected_length": 16, "share_key_value": true}}"#
    let configuration = try JSONDecoder().decode(MixerConfiguration.self, from: Data(json.utf8))
    #expect(
        configuration.linformer == .init(projectedLength: 16, shareKeyValue: true, shareHeads: true)
    )
    let encoded = try JSONEncoder().encode(configuration)
    #expect(try JSONDecoder().decode(MixerConfiguration.self, from: encoded) == configuration)
}

/// Agreement with `linformer.LinformerSelfAttention` 0.2.3 run in float64
/// (scripts/fixtures/mechanisms_linformer.py): separate E and F on a shorter input (first n rows of
/// E and F), and E = F (`share_kv`) at the full length; outputs, input and projection gradients.
@Test(arguments: [("separate", 20, false), ("shared", 24, true)])
func linformerMatchesTheLinformerPackage(_ name: String, _ n: Int, _ shareKeyValue: Bool) throws {
    let file = try fixture("mechanisms_linformer")
    var configuration = MixerConfiguration(modelDimension: 16, headCount: 2, maximumLength: 24)
    configuration.linformer = .init(projectedLength: 6, shareKeyValue: shareKeyValue)
    let mixer = try Mechanisms.make("linformer", configuration: configuration)
    // The package's q/k/v projections have no bias; with share_kv its values reuse `to_k`.
    try setParameter(mixer, "query.weight", to: file.tensor("\(name).to_q.weight"))
    try setParameter(mixer, "key.weight", to: file.tensor("\(name).to_k.weight"))
    try setParameter(
        mixer, "value.weight", to: file.tensor("\(name).\(shareKeyValue ? "to_k" : "to_v").weight"))
    for projection in ["query", "key", "value"] {
        try setParameter(mixer, "\(projection).bias", to: Tensor.zeros([16]))
    }
    try setParameter(mixer, "output.weight", to: file.tensor("\(name).to_out.weight"))
    try setParameter(mixer, "output.bias", to: file.tensor("\(name).to_out.bias"))
    try setParameter(mixer, "proj_k", to: file.tensor("\(name).proj_k"))
    if !shareKeyValue { try setParameter(mixer, "proj_v", to: file.tensor("\(name).proj_v")) }
    let x = try file.tensor("\(name).input")
    #expect(x.shape == [2, n, 16])
    let upstream = try file.tensor("\(name).upstream")
    let y = try withoutGradient { try mixer(x, context: MixerContext()) }
    let (_, inputGradients) = try valueAndGradient(at: [x]) { xs in
        (try mixer(xs[0], context: MixerContext()) * upstream).summed()
    }
    let (_, parameterGradients) = try valueAndGradient(of: mixer) { m in
        (try m(x, context: MixerContext()) * upstream).summed()
    }
    // float32 vs the float64 reference; the issue's bound is 1e-4
    let tolerance = Tolerance(absolute: 1e-5, relative: 1e-4)
    try assertClose(y, try file.tensor("\(name).output"), tolerance, "\(name) output")
    try assertClose(
        inputGradients[0], try file.tensor("\(name).input_grad"), tolerance,
        "\(name) input gradient")
    for projection in shareKeyValue ? ["proj_k"] : ["proj_k", "proj_v"] {
        let parameter = try #require(mixer.namedParameters().first { $0.0 == projection }?.1)
        let gradient = try #require(parameterGradients[parameter])
        try assertClose(
            gradient, try file.tensor("\(name).\(projection)_grad"), tolerance,
            "\(name) \(projection) gradient")
    }
}
