// Local (sliding-window) attention: the banded kernel must equal the materialised reference with
// the dense window mask (values and gradients, odd sizes, padding, causal), reduce to full attention
// once the window covers the sequence, and pass finite-difference checks through the whole mixer.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// [1, 1, n, n] with 1 where query i may see key j under window w.
func localWindowMask(length n: Int, windowSize w: Int, causal: Bool) -> Tensor {
    let window = LocalAttention.window(windowSize: w, causal: causal)
    return Tensor.filled(shape: [1, 1, n, n]) { out in
        for i in 0..<n {
            for j in 0..<n {
                out[i * n + j] = (j >= i - window.before && j <= i + window.after) ? 1 : 0
            }
        }
    }
}

struct LocalCase: CustomTestStringConvertible, Sendable {
    let b: Int, n: Int, h: Int, d: Int, w: Int, causal: Bool, padded: Bool
    var testDescription: String {
        "b\(b) n\(n) h\(h) d\(d) w\(w)\(causal ? " causal" : "")\(padded ? " padded" : "")"
    }
}

let localCases: [LocalCase] = [
    .init(b: 1, n: 7, h: 1, d: 4, w: 2, causal: false, padded: false),
    .init(b: 2, n: 70, h: 2, d: 8, w: 9, causal: false, padded: true),
    .init(b: 2, n: 70, h: 2, d: 8, w: 9, causal: true, padded: true),
    .init(b: 1, n: 131, h: 3, d: 8, w: 40, causal: false, padded: false),
    .init(b: 2, n: 131, h: 2, d: 16, w: 33, causal: true, padded: false),
    .init(b: 2, n: 200, h: 2, d: 8, w: 128, causal: false, padded: true),
    .init(b: 1, n: 50, h: 2, d: 8, w: 1, causal: true, padded: false),
]

@Test(arguments: localCases)
func localAttentionEqualsMaskedReference(_ c: LocalCase) throws {
    let q = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 1)
    let k = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 2)
    let v = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 3)
    let upstream = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 4)
    let mask =
        c.padded
        ? tailPaddingMask(length: c.n, padded: (0..<c.b).map { $0 % 2 == 1 ? c.n / 3 : 0 }) : nil
    let core = try LocalAttention(windowSize: c.w)
    let context = MixerContext(paddingMask: mask, isCausal: c.causal)
    let local = try valueAndGradients([q, k, v], upstream: upstream) { x in
        try core.attend(query: x[0], key: x[1], value: x[2], context: context)
    }
    let allowed = localWindowMask(length: c.n, windowSize: c.w, causal: c.causal)
    let reference = valueAndGradients([q, k, v], upstream: upstream) { x in
        referenceAttention(
            query: x[0], key: x[1], value: x[2], scale: 1 / Float(c.d).squareRoot(), keyMask: mask,
            allowed: allowed)
    }
    try assertSameAttention(local, reference, outputTolerance: .reference)
}

@Test(arguments: [false, true])
func localWithWindowCoveringTheSequenceEqualsFullAttention(_ causal: Bool) throws {
    let n = 37
    var configuration = tinyConfiguration(width: 16, heads: 2)
    // Bidirectional windows reach ⌊w/2⌋ keys on each side; causal windows hold w keys.
    configuration.local.windowSize = causal ? n : 2 * (n - 1)
    let local = try Mechanisms.make("local", configuration: configuration)
    let full = try Mechanisms.make("full", configuration: configuration)
    copyParameters(from: full, to: local)
    let x = Tensor.randomNormal([2, n, 16], seed: 5)
    let mask = tailPaddingMask(length: n, padded: [0, 9])
    let context = MixerContext(paddingMask: mask, isCausal: causal)
    try assertClose(
        try local(x, context: context), try full(x, context: context), .reference,
        "local (w covers n) vs full")

    // The core against the materialised oracle directly.
    let q = Tensor.randomNormal([2, n, 2, 8], seed: 6),
        k = Tensor.randomNormal([2, n, 2, 8], seed: 7)
    let v = Tensor.randomNormal([2, n, 2, 8], seed: 8)
    let y = try LocalAttention(windowSize: configuration.local.windowSize).attend(
        query: q, key: k, value: v, context: context)
    let expected = referenceAttention(
        query: q, key: k, value: v, scale: 1 / Float(8).squareRoot(), causal: causal, keyMask: mask)
    try assertClose(y, expected, .reference, "local core vs reference, causal: \(causal)")
}

@Test func localRowsWithoutRealKeysGiveZeros() throws {
    // Keys 0..<6 padded: with w = 4 (±2), queries 0...3 see only padded keys.
    let q = Tensor.randomNormal([1, 12, 1, 4], seed: 9),
        k = Tensor.randomNormal([1, 12, 1, 4], seed: 10)
    let mask = Tensor(shape: [1, 12], scalars: [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1])
    let y = try LocalAttention(windowSize: 4).attend(
        query: q, key: k, value: k, context: MixerContext(paddingMask: mask))
    let rows = y.scalars
    #expect(rows[0..<16].allSatisfy { $0 == 0 })
    #expect(rows.allSatisfy { $0.isFinite })
    #expect(rows[16..<20].contains { $0 != 0 })
}

@Test(arguments: [false, true])
func localMixerGradientsMatchFiniteDifferences(_ causal: Bool) throws {
    var configuration = tinyConfiguration(width: 8, heads: 2)
    configuration.local.windowSize = 4
    let mixer = try Mechanisms.make("local", configuration: configuration)
    let x = Tensor.randomNormal([2, 11, 8], seed: 11)
    if causal {
        try GradientCheck.check([x], label: "local causal input") { xs in
            // swiftlint:disable:this force_try
            try! mixer(xs[0], context: MixerContext(isCausal: true))
        }
    } else {
        try checkMixerGradients(
            mixer, input: x, paddingMask: tailPaddingMask(length: 11, padded: [0, 3]),
            label: "local")
    }
}

@Test func localRefusesAnEmptyWindow() throws {
    var configuration = tinyConfiguration()
    configuration.local.windowSize = 0
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "local", problem: "window size must be at least 1, got 0")
    ) {
        try Mechanisms.make("local", configuration: configuration)
    }
}

@Test func localOptionsDecodeWithDefaults() throws {
    let json =
        #"{"model_dimension": 16, "head_count": 2, "maximum_length": 64, "local": {"window_size": 24}}"#
    let configuration = try JSONDecoder().decode(MixerConfiguration.self, from: Data(json.utf8))
    #expect(configuration.local.windowSize == 24)
    let bare = try JSONDecoder().decode(
        MixerConfiguration.self,
        from: Data(
            #"{"model_dimension": 16, "head_count": 2, "maximum_length": 64, "local": {}}"#.utf8))
    #expect(bare.local == LocalAttention.Options())
    let encoded = try JSONEncoder().encode(configuration)
    #expect(try JSONDecoder().decode(MixerConfiguration.self, from: encoded) == configuration)
}
