// FLASH/GAU (`flash-gau`): against FLASH-pytorch (fixtures from scripts/fixtures/mechanisms_flash.py),
// the tiled kernel against the materialised chunk reference, the identities of mechanisms-b.md §4
// (C = n without the linear term is GAU; causality; the exclusive chunk prefix sum; A ≥ 0; padding
// invariance) and finite-difference gradients of the whole unit.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// A FLASH-pytorch fixture case and the Attend options that correspond to it.
struct FlashFixtureCase: CustomTestStringConvertible, Sendable {
    let name: String, length: Int, mode: FlashGAU.Mode, causal: Bool
    var testDescription: String { name }
}

let flashFixtureCases: [FlashFixtureCase] = [
    .init(name: "gau", length: 11, mode: .quadratic, causal: false),
    .init(name: "gau_causal", length: 11, mode: .quadratic, causal: true),
    .init(name: "flash", length: 19, mode: .mixed, causal: false),
    .init(name: "flash_causal", length: 19, mode: .mixed, causal: true),
]

/// A flash-gau unit of width c with small s and R (and the given mode, chunk and path).
func makeFlash(
    width c: Int = 16, shared s: Int = 8, mode: FlashGAU.Mode, chunk: Int = 8, distance: Int = 5,
    path: FlashGAU.Path = .fused, relativeBias: Bool = true, seed: UInt64 = 3
) throws -> FlashGAU {
    var configuration = MixerConfiguration(modelDimension: c, headCount: 1, maximumLength: 4096)
    configuration.flash.mode = mode
    configuration.flash.sharedDimension = s
    configuration.flash.chunkSize = chunk
    configuration.flash.maximumRelativeDistance = distance
    configuration.flash.relativeBias = relativeBias
    configuration.flash.path = path
    var generator = RandomGenerator(seed: seed)
    return try FlashGAU(configuration: configuration, generator: &generator)
}

/// Weights with γ, β and the bias table large enough that every term matters (the paper's init
/// makes Q and K tiny).
func livelyWeights(_ unit: FlashGAU, seed: UInt64) -> FlashGAU.Weights {
    var w = unit.weights
    w.gamma = Tensor.randomNormal(w.gamma.shape, seed: seed)
    w.beta = Tensor.randomNormal(w.beta.shape, seed: seed + 1, standardDeviation: 0.5)
    w.relativeBias = w.relativeBias.map {
        Tensor.randomNormal($0.shape, seed: seed + 2, standardDeviation: 0.1)
    }
    w.hidden = Tensor.randomNormal(w.hidden.shape, seed: seed + 3, standardDeviation: 0.3)
    w.output = Tensor.randomNormal(w.output.shape, seed: seed + 4, standardDeviation: 0.3)
    return w
}

/// Loads the named tensors of a fixture case into the unit.
func load(_ unit: FlashGAU, from file: SafetensorsFile, case name: String) throws {
    let names = [
        "hidden.weight", "hidden.bias", "gamma", "beta", "relative_bias", "output.weight",
        "output.bias",
    ]
    var tensors: [String: Tensor] = [:]
    for key in names { tensors[key] = try file.tensor("\(name).\(key)") }
    try unit.load(tensors)
}

@Test(arguments: flashFixtureCases, [FlashGAU.Path.fused, .reference])
func flashMatchesFlashPytorch(_ c: FlashFixtureCase, path: FlashGAU.Path) throws {
    let file = try openFixture("flash", in: Bundle.module)
    let unit = try makeFlash(mode: c.mode, path: path)
    try load(unit, from: file, case: c.name)
    let x = try file.tensor("\(c.name).x")
    let upstream = try file.tensor("\(c.name).upstream")
    let parameters = unit.namedParameters()
    let leaves = [x.requiringGradient()]
    let y = try unit(leaves[0], context: MixerContext(isCausal: c.causal))
    // Float32 against float64 through two projections and sums over ≤ 19 keys of relu² weights.
    let tolerance = Tolerance(absolute: 2e-6, relative: 1e-4)
    try assertClose(y.detached(), try file.tensor("\(c.name).y"), tolerance, "\(c.name) output")
    let grads = gradients(
        of: (y * upstream).summed(), withRespectTo: leaves + parameters.map(\.1.value))
    try assertClose(grads[0], try file.tensor("\(c.name).grad.x"), tolerance, "\(c.name) dx")
    for (index, (name, _)) in parameters.enumerated() {
        try assertClose(
            grads[index + 1], try file.tensor("\(c.name).grad.\(name)"), tolerance,
            "\(c.name) d\(name)")
    }
}

/// Shapes for the kernel-vs-reference check: ragged chunks, several tiles per chunk (both backward
/// schedules), padding and causality.
struct ChunkCase: CustomTestStringConvertible, Sendable {
    let b: Int, n: Int, chunk: Int, causal: Bool, padded: Bool, bias: Bool
    var testDescription: String {
        "b\(b) n\(n) C\(chunk)\(causal ? " causal" : "")\(padded ? " padded" : "")\(bias ? "" : " no bias")"
    }
}

let chunkCases: [ChunkCase] = [
    .init(b: 2, n: 19, chunk: 8, causal: false, padded: true, bias: true),
    .init(b: 2, n: 19, chunk: 8, causal: true, padded: false, bias: true),
    .init(b: 1, n: 7, chunk: 16, causal: false, padded: false, bias: false),
    // 3 tiles, two-pass backward
    .init(b: 1, n: 530, chunk: 530, causal: true, padded: false, bias: true),
    // 2 tiles, two-pass backward
    .init(b: 2, n: 300, chunk: 300, causal: false, padded: true, bias: true),
    // 2 tiles, chunk-owned backward
    .init(b: 2, n: 1100, chunk: 270, causal: true, padded: true, bias: true),
]

@Test(arguments: chunkCases)
func chunkedKernelEqualsReference(_ c: ChunkCase) throws {
    let (s, e, distance) = (4, 6, 40)
    let q = Tensor.randomNormal([c.b, c.n, s], seed: 11)
    let k = Tensor.randomNormal([c.b, c.n, s], seed: 12)
    let v = Tensor.randomNormal([c.b, c.n, e], seed: 13)
    let table = Tensor.randomNormal([2 * distance + 1], seed: 14, standardDeviation: 0.3)
    let mask = c.padded ? paddingMask(b: c.b, m: c.n) : nil
    let scales = (0..<c.b).map { 1 / Float(c.chunk + $0) }
    let upstream = Tensor.randomNormal([c.b, c.n, e], seed: 15)
    func attend(_ t: [Tensor], fused: Bool) -> Tensor {
        let bias = c.bias ? t[3] : nil
        return fused
            ? Tensor.chunkedReluSquaredAttention(
                query: t[0], key: t[1], value: t[2], chunk: c.chunk, scales: scales, keyMask: mask,
                bias: bias,
                maximumDistance: distance, causal: c.causal)
            : FlashGAU.referenceReluSquaredAttention(
                query: t[0], key: t[1], value: t[2], chunk: c.chunk, scales: scales, keyMask: mask,
                bias: bias,
                maximumDistance: distance, causal: c.causal)
    }
    let inputs = [q, k, v] + (c.bias ? [table] : [])
    // Same float32 products summed in another order (BLAS tiles vs one GEMM) over up to 530 keys.
    try assertSameAttention(
        valueAndGradients(inputs, upstream: upstream) { attend($0, fused: true) },
        valueAndGradients(inputs, upstream: upstream) { attend($0, fused: false) },
        outputTolerance: Tolerance(absolute: 1e-5, relative: 1e-4),
        gradientNames: ["dq", "dk", "dv", "dbias"],
        gradientTolerance: Tolerance(absolute: 1e-4, relative: 1e-4))
}

/// Mixed chunk attention with C = n and the linear heads zeroed is GAU (quadratic mode).
@Test(arguments: [false, true])
func flashWithOneChunkAndNoLinearTermIsGAU(causal: Bool) throws {
    let n = 13
    let gau = try makeFlash(mode: .quadratic)
    let flash = try makeFlash(mode: .mixed, chunk: n)
    let quadratic = livelyWeights(gau, seed: 20)
    var mixed = quadratic
    mixed.gamma = Tensor.concatenated([quadratic.gamma, .zeros([2, 8])], alongAxis: 0)
    mixed.beta = Tensor.concatenated([quadratic.beta, .zeros([2, 8])], alongAxis: 0)
    let x = Tensor.randomNormal([2, n, 16], seed: 21)
    let context = MixerContext(isCausal: causal)
    let expected = try gau(x, weights: quadratic, context: context)
    try assertClose(
        try flash(x, weights: mixed, context: context), expected, .reordered, "FLASH(C = n) vs GAU")
    // And the linear term is really there when its heads are not zero (non-causal), so the check bites.
    if !causal {
        var withLinear = mixed
        withLinear.gamma = Tensor.concatenated([quadratic.gamma, .ones([2, 8])], alongAxis: 0)
        let different = try flash(x, weights: withLinear, context: context)
        #expect(throws: NumericMismatch.self) { try assertClose(different, expected, .reordered) }
    }
}

/// y_t does not change when inputs after t change (mixed and quadratic, across chunk boundaries).
@Test(arguments: [FlashGAU.Mode.mixed, .quadratic])
func causalFlashIgnoresTheFuture(mode: FlashGAU.Mode) throws {
    let unit = try makeFlash(mode: mode, chunk: 5)
    let w = livelyWeights(unit, seed: 30)
    let n = 17
    let x = Tensor.randomNormal([1, n, 16], seed: 31)
    let context = MixerContext(isCausal: true)
    let y = try unit(x, weights: w, context: context)
    for t in [3, 4, 5, 11] {
        let changed = Tensor.concatenated(
            [
                x.sliced(alongAxis: 1, 0..<(t + 1)),
                Tensor.randomNormal([1, n - t - 1, 16], seed: UInt64(t)),
            ],
            alongAxis: 1)
        let yChanged = try unit(changed, weights: w, context: context)
        // (GAU's 1/n uses the sequence length, which a change of later inputs leaves alone.)
        try assertClose(
            yChanged.sliced(alongAxis: 1, 0..<(t + 1)), y.sliced(alongAxis: 1, 0..<(t + 1)),
            .reordered, "prefix up to \(t)")
        #expect(
            yChanged.sliced(alongAxis: 1, (t + 1)..<n).scalars
                != y.sliced(alongAxis: 1, (t + 1)..<n).scalars)
    }
}

/// The causal linear term's exclusive prefix sum over chunks equals the naive double loop:
/// out_t = q_t·(Σ over earlier chunks' positions u of k_uᵀ v_u)/C.
@Test func causalLinearTermEqualsNaiveLoop() throws {
    let (b, n, s, e, chunk) = (2, 11, 3, 4, 4)
    let q = Tensor.randomNormal([b, n, s], seed: 40)
    let k = Tensor.randomNormal([b, n, s], seed: 41)
    let v = Tensor.randomNormal([b, n, e], seed: 42)
    let got = FlashGAU.linearAttention(
        query: q, key: k, value: v, lengths: [Float](repeating: Float(n), count: b), mask: nil,
        chunk: chunk,
        causal: true)
    let (qs, ks, vs) = (q.scalars, k.scalars, v.scalars)
    var expected = [Float](repeating: 0, count: b * n * e)
    for batch in 0..<b {
        for t in 0..<n {
            let chunkStart = (t / chunk) * chunk
            for u in 0..<chunkStart {  // every position of an earlier chunk
                var dot: Float = 0
                for i in 0..<s { dot += qs[(batch * n + t) * s + i] * ks[(batch * n + u) * s + i] }
                for j in 0..<e {
                    expected[(batch * n + t) * e + j] +=
                        dot * vs[(batch * n + u) * e + j] / Float(chunk)
                }
            }
        }
    }
    try assertClose(
        got, Tensor(shape: [b, n, e], scalars: expected), .reordered, "exclusive chunk prefix sum")
    // The first chunk sees nothing through the linear term.
    #expect(got.sliced(alongAxis: 1, 0..<chunk).scalars.allSatisfy { $0 == 0 })
}

/// With v = identity the kernel returns the weights themselves: A ≥ 0, 0 off the chunk (and above the
/// diagonal when causal), equal to relu(scale·q·k + bias)², and rows that do not sum to 1.
@Test(arguments: [false, true])
func attentionWeightsAreNonNegativeReluSquares(causal: Bool) throws {
    let (n, s, chunk, distance) = (10, 3, 4, 2)
    let q = Tensor.randomNormal([1, n, s], seed: 50)
    let k = Tensor.randomNormal([1, n, s], seed: 51)
    let table = Tensor.randomNormal([2 * distance + 1], seed: 52, standardDeviation: 0.5)
    let identity = Tensor.filled(shape: [1, n, n]) { out in
        for i in 0..<(n * n) { out[i] = i / n == i % n ? 1 : 0 }
    }
    let a = Tensor.chunkedReluSquaredAttention(
        query: q, key: k, value: identity, chunk: chunk, scales: [0.5], keyMask: nil, bias: table,
        maximumDistance: distance, causal: causal
    ).scalars
    let (qs, ks, bias) = (q.scalars, k.scalars, table.scalars)
    var rowSums: [Float] = []
    for i in 0..<n {
        for j in 0..<n {
            var expected: Float = 0
            if i / chunk == j / chunk && !(causal && j > i) {
                var dot: Float = 0
                for d in 0..<s { dot += qs[i * s + d] * ks[j * s + d] }
                let x = 0.5 * dot + bias[min(max(j - i, -distance), distance) + distance]
                expected = max(x, 0) * max(x, 0)
            }
            #expect(a[i * n + j] >= 0)
            #expect(abs(a[i * n + j] - expected) <= 1e-5 * (1 + expected), "A[\(i), \(j)]")
        }
        rowSums.append(a[(i * n)..<((i + 1) * n)].reduce(0, +))
    }
    #expect(rowSums.contains { abs($0 - 1) > 1e-2 })
}

/// Padding invariance: a padded batch gives the unpadded outputs at the real positions (n in the
/// scales is the real length, padded K_lin rows are zero, padded keys get weight 0).
@Test(arguments: [FlashGAU.Mode.mixed, .quadratic], [false, true])
func flashIsInvariantToPadding(mode: FlashGAU.Mode, causal: Bool) throws {
    let unit = try makeFlash(mode: mode, chunk: 4)
    let w = livelyWeights(unit, seed: 60)
    let (real, total) = (9, 14)
    let x = Tensor.randomNormal([1, total, 16], seed: 61)
    let mask = Tensor(shape: [1, total], scalars: (0..<total).map { $0 < real ? 1 : 0 })
    let padded = try unit(x, weights: w, context: MixerContext(paddingMask: mask, isCausal: causal))
    let short = try unit(
        x.sliced(alongAxis: 1, 0..<real), weights: w, context: MixerContext(isCausal: causal))
    try assertClose(padded.sliced(alongAxis: 1, 0..<real), short, .reordered, "real positions")
    #expect(padded.scalars.allSatisfy { $0.isFinite })
}

/// Finite differences through the whole unit: input and every parameter, both modes and paths.
@Test(arguments: [FlashGAU.Mode.mixed, .quadratic], [false, true])
func flashGradientsMatchFiniteDifferences(mode: FlashGAU.Mode, causal: Bool) throws {
    let unit = try makeFlash(width: 4, shared: 3, mode: mode, chunk: 3, distance: 2)
    var w = livelyWeights(unit, seed: 70)
    w.hiddenBias = Tensor.randomNormal([w.hidden.shape[0]], seed: 71, standardDeviation: 0.3)
    let x = Tensor.randomNormal([2, 7, 4], seed: 72)
    let mask = Tensor(shape: [2, 7], scalars: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    let context = MixerContext(paddingMask: mask, isCausal: causal)
    let inputs = [
        x, w.hidden, w.hiddenBias!, w.gamma, w.beta, w.relativeBias!, w.output, w.outputBias!,
    ]
    try GradientCheck.check(inputs, label: "flash-gau \(mode)") { t in
        let weights = FlashGAU.Weights(
            hidden: t[1], hiddenBias: t[2], gamma: t[3], beta: t[4], relativeBias: t[5],
            output: t[6], outputBias: t[7])
        return try! unit(t[0], weights: weights, context: context)
    }
}

@Test func flashIsRegisteredAsAWholeLayer() throws {
    let mechanism = try Mechanisms.named("flash-gau")
    #expect(mechanism.capabilities.replacesFeedForward)
    #expect(mechanism.capabilities.supportsCausal)
    var configuration = MixerConfiguration(modelDimension: 32, headCount: 4, maximumLength: 64)
    configuration.flash.sharedDimension = 16
    let mixer = try Mechanisms.make("flash-gau", configuration: configuration)
    let names = Set(mixer.namedParameters().map(\.0))
    #expect(
        names == [
            "gamma", "beta", "relative_bias", "hidden.weight", "hidden.bias", "output.weight",
            "output.bias",
        ])
    let y = try mixer(Tensor.randomNormal([2, 40, 32], seed: 1), context: MixerContext())
    #expect(y.shape == [2, 40, 32])
    #expect(throws: MixerError.self) {
        try mixer(Tensor.zeros([2, 40, 31]), context: MixerContext())
    }
    configuration.flash.chunkSize = 0
    #expect(throws: MixerError.self) {
        try Mechanisms.make("flash-gau", configuration: configuration)
    }
}

@Test func flashOptionsDecodeWithDefaults() throws {
    let json =
        #"{"model_dimension": 8, "head_count": 1, "maximum_length": 16, "flash": {"mode": "quadratic", "chunk_size": 64}}"#
    let configuration = try JSONDecoder().decode(MixerConfiguration.self, from: Data(json.utf8))
    #expect(configuration.flash.mode == .quadratic)
    #expect(configuration.flash.chunkSize == 64)
    #expect(configuration.flash.sharedDimension == 128)
    let roundTrip = try JSONDecoder().decode(
        MixerConfiguration.self, from: JSONEncoder().encode(configuration))
    #expect(roundTrip == configuration)
}
