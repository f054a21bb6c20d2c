// Transformer-LS: the global+local kernel against masked reference attention, the whole mixer against
// a slow dense implementation of the spec's equations (bidirectional and causal, with padding, lengths
// that divide neither w nor l), causality, padding invariance, finite differences, refusals, and the
// long-short-transformer 0.0.5 fixtures.
import AttendAttention
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

private func longShortMixer(
    width c: Int = 16, heads h: Int = 2, segment w: Int = 4, landmarks r: Int = 3, chunk l: Int = 5,
    rank: Int = 2,
    seed: UInt64 = 3
) throws -> LongShortAttention {
    var configuration = MixerConfiguration(modelDimension: c, headCount: h, maximumLength: 512)
    configuration.seed = seed
    configuration.longShort.segmentSize = w
    configuration.longShort.landmarkCount = r
    configuration.longShort.chunkSize = l
    configuration.longShort.chunkRank = rank
    let mixer = try #require(
        try Mechanisms.make("long-short", configuration: configuration) as? LongShortAttention)
    // Non-trivial LayerNorm gains and offsets, so DualLN's placement matters.
    var generator = RandomGenerator(seed: seed + 100)
    for norm in [mixer.localNorm, mixer.globalNorm] {
        norm.weight.value =
            1 + Tensor.randomNormal([c], standardDeviation: 0.2, generator: &generator)
        norm.bias!.value = Tensor.randomNormal([c], standardDeviation: 0.2, generator: &generator)
    }
    return mixer
}

/// [b, n] mask: entry 0 complete, entry 1 with its last `padded` positions padded.
private func tailMask(length n: Int, padded: Int) -> Tensor {
    Tensor.filled(shape: [2, n]) { out in
        for i in 0..<(2 * n) { out[i] = (i >= n && i % n >= n - padded) ? 0 : 1 }
    }
}

/// The spec's equations (mechanisms-a.md §6.2, §6.3) with every map materialised: landmarks through an
/// explicit [R, n] projection matrix, one softmax over [global ‖ all n keys] with explicit visibility.
private func denseLongShort(_ mixer: LongShortAttention, _ x: Tensor, mask: Tensor?, causal: Bool)
    -> Tensor
{
    let (b, n) = (x.shape[0], x.shape[1])
    let (h, d) = (mixer.headCount, mixer.headDimension)
    let c = h * d
    let o = mixer.options
    let real = mask ?? Tensor.ones([b, n])
    let isReal = real.scalars
    func heads(_ t: Tensor, _ length: Int) -> Tensor {
        t.reshaped([b, length, h, d]).permuted([0, 2, 1, 3])
    }  // [b, h, L, d]
    let q = heads(mixer.query(x), n) * (1 / Float(d).squareRoot())
    let rawKey = mixer.key(x), rawValue = mixer.value(x)
    let k = heads(mixer.localNorm(rawKey), n), v = heads(mixer.localNorm(rawValue), n)
    // Landmark weights [b, h, R, n], −∞ where a landmark may not draw from a position.
    let rank = causal ? o.chunkRank : o.landmarkCount
    let chunks = causal ? (n + o.chunkSize - 1) / o.chunkSize : 1
    let count = chunks * rank
    let logits = (causal ? mixer.chunkProjection(x) : mixer.dynamicProjection(x))
        .reshaped([b, n, h, rank]).permuted([0, 2, 3, 1])  // [b, h, rank, n]
    // [b, h, R, n]
    let tiled = Tensor.concatenated(Array(repeating: logits, count: chunks), alongAxis: 2)
    let drawable = Tensor.filled(shape: [b, 1, count, n]) { out in
        for bi in 0..<b {
            for row in 0..<count {
                for t in 0..<n {
                    let inChunk = !causal || t / o.chunkSize == row / rank
                    out[(bi * count + row) * n + t] = inChunk && isReal[bi * n + t] != 0 ? 0 : 1
                }
            }
        }
    }
    let weights = tiled.maskedFill(where: drawable, with: -.infinity).softmax(alongAxis: -1)
    func landmarks(_ source: Tensor) -> Tensor {  // [b, h, R, d], LN_global over the merged width
        let mixed = Tensor.matmul(weights, source).permuted([0, 2, 1, 3]).reshaped([b, count, c])
        return heads(mixer.globalNorm(mixed), count)
    }
    let keyBar = landmarks(causal ? heads(rawKey, n) : k),
        valueBar = landmarks(causal ? heads(rawValue, n) : v)
    // Visibility [b, 1, n, R + n].
    let e = mixer.extraKeys
    let hidden = Tensor.filled(shape: [b, 1, n, count + n]) { out in
        for bi in 0..<b {
            for t in 0..<n {
                let row = (bi * n + t) * (count + n)
                for g in 0..<count {
                    let chunk = g / rank
                    let chunkIsReal = (0..<n).contains {
                        $0 / o.chunkSize == chunk && isReal[bi * n + $0] != 0
                    }
                    let visible =
                        causal
                        ? chunk < t / o.chunkSize && chunkIsReal
                        : (0..<n).contains { isReal[bi * n + $0] != 0 }
                    out[row + g] = visible ? 0 : 1
                }
                for j in 0..<n {
                    let start = (t / o.segmentSize) * o.segmentSize
                    let inWindow =
                        causal
                        ? (j <= t && j > t - o.segmentSize)
                        : (j >= start - e && j < start + o.segmentSize + e)
                    out[row + count + j] = inWindow && isReal[bi * n + j] != 0 ? 0 : 1
                }
            }
        }
    }
    let scores = Tensor.concatenated(
        [Tensor.matmul(q, keyBar, transposeB: true), Tensor.matmul(q, k, transposeB: true)],
        alongAxis: 3)
    let probabilities =
        scores.maskedFill(where: hidden, with: -.infinity).softmax(alongAxis: -1)
        * real.reshaped([b, 1, n, 1])  // padded query rows → 0
    // [b, h, n, d]
    let mixed = Tensor.matmul(probabilities, Tensor.concatenated([valueBar, v], alongAxis: 2))
    return mixer.output(mixed.permuted([0, 2, 1, 3]).reshaped([b, n, c]))
}

struct LongShortCase: CustomTestStringConvertible, Sendable {
    let n: Int, causal: Bool, padded: Int
    var testDescription: String {
        "n\(n)\(causal ? " causal" : "")\(padded > 0 ? " padded \(padded)" : "")"
    }
}

@Test(arguments: [
    LongShortCase(n: 21, causal: false, padded: 0), LongShortCase(n: 70, causal: false, padded: 13),
    LongShortCase(n: 21, causal: true, padded: 0), LongShortCase(n: 70, causal: true, padded: 13),
    LongShortCase(n: 70, causal: true, padded: 70),
])
func longShortEqualsDenseReference(_ c: LongShortCase) throws {
    let mixer = try longShortMixer()
    let x = Tensor.randomNormal([2, c.n, 16], seed: 30)
    let mask = c.padded > 0 ? tailMask(length: c.n, padded: c.padded) : nil
    let upstream = Tensor.randomNormal([2, c.n, 16], seed: 31)
    let context = MixerContext(paddingMask: mask, isCausal: c.causal)
    try assertClose(
        try mixer(x, context: context), denseLongShort(mixer, x, mask: mask, causal: c.causal),
        .reordered, "output")
    let (_, fastInput) = valueAndGradient(at: [x]) { xs in
        (try! mixer(xs[0], context: context) * upstream).summed()
    }
    let (_, slowInput) = valueAndGradient(at: [x]) { xs in
        (denseLongShort(mixer, xs[0], mask: mask, causal: c.causal) * upstream).summed()
    }
    let gradientTolerance = Tolerance(absolute: 1e-5, relative: 1e-4)
    try assertClose(fastInput[0], slowInput[0], gradientTolerance, "dx")
    let (_, fast) = valueAndGradient(of: mixer) { m in
        (try! m(x, context: context) * upstream).summed()
    }
    let (_, slow) = valueAndGradient(of: mixer) { m in
        (denseLongShort(m, x, mask: mask, causal: c.causal) * upstream).summed()
    }
    for (name, parameter) in mixer.namedParameters() {
        let a = fast[parameter] ?? .zeros(parameter.shape),
            s = slow[parameter] ?? .zeros(parameter.shape)
        try assertClose(a, s, gradientTolerance, "d \(name)")
    }
}

struct WindowCase: CustomTestStringConvertible, Sendable {
    let window: LocalWindow, visibility: GlobalVisibility
    var testDescription: String { "\(window) \(visibility)" }
}

@Test(arguments: [
    WindowCase(window: .segments(size: 3, extra: 1), visibility: .all),
    // long-short-transformer's look-around
    WindowCase(window: .segments(size: 4, extra: 4), visibility: .all),
    WindowCase(window: .segments(size: 40, extra: 20), visibility: .all),
    WindowCase(window: .trailing(size: 5), visibility: .chunked(size: 6, rank: 2)),
    WindowCase(window: .trailing(size: 50), visibility: .chunked(size: 4, rank: 1)),
])
func globalLocalKernelEqualsMaskedReference(_ c: WindowCase) throws {
    // referenceAttention over [globals ‖ keys] with an explicit visibility map is the same softmax.
    let (b, n, h, d) = (2, 75, 2, 4)
    let r: Int
    if case .chunked(let l, let rank) = c.visibility { r = ((n + l - 1) / l) * rank } else { r = 6 }
    let q = Tensor.randomNormal([b, n, h, d], seed: 40),
        k = Tensor.randomNormal([b, n, h, d], seed: 41)
    let v = Tensor.randomNormal([b, n, h, d], seed: 42)
    let gk = Tensor.randomNormal([b, r, h, d], seed: 43),
        gv = Tensor.randomNormal([b, r, h, d], seed: 44)
    let mask = tailMask(length: n, padded: 30),
        globalMask = Tensor.filled(shape: [b, r]) { out in
            for i in 0..<(b * r) { out[i] = i == r + 1 ? 0 : 1 }
        }
    let keyMask = mask.scalars, valid = globalMask.scalars
    let allowed = Tensor.filled(shape: [b, 1, n, r + n]) { out in
        for bi in 0..<b {
            for t in 0..<n {
                let row = (bi * n + t) * (r + n)
                for g in 0..<r {
                    var visible = valid[bi * r + g] != 0
                    if case .chunked(let l, let rank) = c.visibility {
                        visible = visible && g < (t / l) * rank
                    }
                    out[row + g] = visible ? 1 : 0
                }
                for j in 0..<n {
                    let inWindow: Bool
                    switch c.window {
                    case .segments(let w, let e):
                        inWindow = j >= (t / w) * w - e && j < (t / w + 1) * w + e
                    case .trailing(let w): inWindow = j <= t && j > t - w
                    }
                    out[row + r + j] = inWindow && keyMask[bi * n + j] != 0 ? 1 : 0
                }
            }
        }
    }
    let scale: Float = 0.6
    let upstream = Tensor.randomNormal([b, n, h, d], seed: 45)
    func fast(_ x: [Tensor]) -> Tensor {
        Tensor.globalLocalAttention(
            query: x[0], key: x[1], value: x[2], globalKey: x[3], globalValue: x[4], scale: scale,
            window: c.window, visibility: c.visibility, keyMask: mask, globalMask: globalMask)
    }
    func slow(_ x: [Tensor]) -> Tensor {
        referenceAttention(
            query: x[0], key: Tensor.concatenated([x[3], x[1]], alongAxis: 1),
            value: Tensor.concatenated([x[4], x[2]], alongAxis: 1), scale: scale, allowed: allowed)
            * mask.reshaped([b, n, 1, 1])
    }
    let inputs = [q, k, v, gk, gv]
    try assertSameAttention(
        valueAndGradients(inputs, upstream: upstream, fast),
        valueAndGradients(inputs, upstream: upstream, slow),
        outputTolerance: .reordered, gradientNames: ["dq", "dk", "dv", "dk̄", "dv̄"],
        gradientTolerance: Tolerance(absolute: 1e-6, relative: 1e-4))
}

@Test func causalLongShortIgnoresTheFuture() throws {
    let mixer = try longShortMixer()
    let n = 37
    let x = Tensor.randomNormal([2, n, 16], seed: 50)
    let context = MixerContext(isCausal: true)
    let y = try mixer(x, context: context).scalars
    for split in [1, 4, 5, 6, 20, 36] {
        // Replace positions ≥ split with other values; outputs before split must not move at all.
        let changed = Tensor.concatenated(
            [
                x.sliced(alongAxis: 1, 0..<split),
                Tensor.randomNormal([2, n - split, 16], seed: UInt64(51 + split)),
            ], alongAxis: 1)
        let z = try mixer(changed, context: context).scalars
        for bi in 0..<2 {
            let range = (bi * n * 16)..<((bi * n + split) * 16)
            #expect(Array(y[range]) == Array(z[range]), "split \(split), batch \(bi)")
        }
    }
}

@Test(arguments: [false, true])
func appendedPaddingChangesNothing(causal: Bool) throws {
    let mixer = try longShortMixer()
    let (n, extra) = (23, 19)
    let x = Tensor.randomNormal([2, n, 16], seed: 60)
    let mask = tailMask(length: n, padded: 6)
    let longer = Tensor.concatenated(
        [x, Tensor.randomNormal([2, extra, 16], seed: 61) * 5], alongAxis: 1)
    let longerMask = Tensor.concatenated([mask, .zeros([2, extra])], alongAxis: 1)
    let y = try mixer(x, context: MixerContext(paddingMask: mask, isCausal: causal))
    let z = try mixer(longer, context: MixerContext(paddingMask: longerMask, isCausal: causal))
    try assertClose(z.sliced(alongAxis: 1, 0..<n), y, .reordered, "real positions")
    // Padded query rows are zero before the output projection, so they output its bias.
    let bias = mixer.output.bias!.value.scalars
    let padded = z.sliced(alongAxis: 1, n..<(n + extra)).scalars
    #expect(padded.indices.allSatisfy { padded[$0] == bias[$0 % 16] })
}

@Test(arguments: [false, true])
func longShortGradientsMatchFiniteDifferences(causal: Bool) throws {
    let mixer = try longShortMixer(width: 8, heads: 2, segment: 2, landmarks: 2, chunk: 3, rank: 1)
    let x = Tensor.randomNormal([2, 7, 8], seed: 70)
    // The causal form projects chunk landmarks, the bidirectional one dynamic landmarks.
    let unused = causal ? "dynamic_projection" : "chunk_projection"
    try checkMixerGradients(
        mixer, input: x, paddingMask: tailMask(length: 7, padded: 2), causal: causal,
        unused: ["\(unused).weight", "\(unused).bias"],
        label: "long-short \(causal ? "causal" : "bidirectional")")
}

@Test func longShortDefaultsAndWindowRule() throws {
    let json =
        #"{"model_dimension": 8, "head_count": 2, "maximum_length": 16, "long_short": {"segment_size": 1}}"#
    let configuration = try JSONDecoder().decode(MixerConfiguration.self, from: Data(json.utf8))
    #expect(configuration.longShort.segmentSize == 1 && configuration.longShort.landmarkCount == 32)
    #expect(configuration.longShort.chunkSize == 16 && configuration.longShort.chunkRank == 1)
    // e = max(⌊w/2⌋, 1): w = 1 sees 3 keys, even w sees 2w.
    #expect(try longShortMixer(segment: 1).extraKeys == 1)
    #expect(try longShortMixer(segment: 8).extraKeys == 4)
}

@Test func longShortRefusesWhatItCannotDo() throws {
    var configuration = MixerConfiguration(modelDimension: 8, headCount: 2, maximumLength: 16)
    configuration.longShort.segmentSize = 0
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "long-short", problem: "segment size must be at least 1, got 0")
    ) {
        try Mechanisms.make("long-short", configuration: configuration)
    }
    configuration.longShort.segmentSize = 2
    configuration.longShort.chunkRank = 0
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "long-short", problem: "chunk rank must be at least 1, got 0")
    ) {
        try Mechanisms.make("long-short", configuration: configuration)
    }
    #expect(
        throws: MixerError.invalidConfiguration(
            mechanism: "long-short", problem: "head count 3 does not divide model width 8")
    ) {
        try Mechanisms.make(
            "long-short",
            configuration: MixerConfiguration(modelDimension: 8, headCount: 3, maximumLength: 16))
    }
    let mixer = try longShortMixer()
    #expect(
        throws: MixerError.shapeMismatch(
            mechanism: "long-short", expected: "[batch, length, 16]", got: [2, 5])
    ) {
        try mixer(.zeros([2, 5]), context: MixerContext())
    }
}

@Test func longShortCoreMatchesLongShortTransformer() throws {
    // long-short-transformer 0.0.5, bidirectional, rotary off (scripts/fixtures/mechanisms_long_short.py):
    // its q and kv through Attend's landmark function and global+local kernel, composed the package's
    // way — per-head LayerNorms, landmarks from kv before the local norm, keys = values, window 4 with
    // e = 4 (look-around of one whole segment each side), 3 landmarks.
    let file = try openFixture("long_short", in: Bundle.module)
    func tensor(_ field: String) throws -> Tensor { try file.tensor("bidirectional.\(field)") }
    // [b, n, h, d] ×2, [b, n]
    let (q, kv, mask) = (try tensor("query"), try tensor("kv"), try tensor("mask"))
    let (b, n, h, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let projection = try tensor("dynamic_projection")  // [r, d]
    let (localGain, localBias) = (try tensor("local_norm_weight"), try tensor("local_norm_bias"))
    let (globalGain, globalBias) = (
        try tensor("global_norm_weight"), try tensor("global_norm_bias")
    )
    func run(_ q: Tensor, _ kv: Tensor) -> (output: Tensor, landmarks: Tensor) {
        let local = kv.layerNormalized(gamma: localGain, beta: localBias, epsilon: 1e-5)
        let logits = Tensor.matmul(kv, projection, transposeB: true)  // [b, n, h, r]
        let landmarks = LongShortAttention.landmarks(
            logits: logits, key: kv, value: kv, keyMask: mask
        ).key
        let global = landmarks.layerNormalized(gamma: globalGain, beta: globalBias, epsilon: 1e-5)
        let output = Tensor.globalLocalAttention(
            query: q, key: local, value: local, globalKey: global, globalValue: global,
            scale: 1 / Float(d).squareRoot(), window: .segments(size: 4, extra: 4),
            visibility: .all, keyMask: mask)
        return (output.reshaped([b, n, h * d]), landmarks)
    }
    let (output, landmarks) = withoutGradient { run(q, kv) }
    let bound = Tolerance(absolute: 1e-5, relative: 0)  // a tenth of the issue's 1e-4
    try assertClose(landmarks, try tensor("landmarks"), bound, "landmarks (global_norm input)")
    // The package leaves padded query rows unnormalised garbage; Attend zeroes them: compare real rows.
    let realRows = mask.reshaped([b, n, 1])
    try assertClose(
        output * realRows, try tensor("output") * realRows, bound, "attention output (to_out input)"
    )
    let upstream = try tensor("upstream")  // zero on padded query rows
    let (_, grads) = valueAndGradient(at: [q, kv]) { x in
        (run(x[0], x[1]).output * upstream).summed()
    }
    try assertClose(grads[0], try tensor("query_grad"), bound, "d query")
    try assertClose(grads[1], try tensor("kv_grad"), bound, "d kv")
    print(
        "long-short-transformer bidirectional: max |Δ| output \(maxAbsoluteDifference(output * realRows, try tensor("output") * realRows)), dq \(maxAbsoluteDifference(grads[0], try tensor("query_grad"))), dkv \(maxAbsoluteDifference(grads[1], try tensor("kv_grad")))"
    )
}

@Test func longShortChunkLandmarksMatchLongShortTransformer() throws {
    // The causal form's per-segment landmarks (segment 5, rank 1); segments with no real position are
    // left out (uniform in the package, hidden in Attend).
    let file = try openFixture("long_short", in: Bundle.module)
    func tensor(_ field: String) throws -> Tensor { try file.tensor("causal.\(field)") }
    let (kv, mask, projection) = (
        try tensor("kv"), try tensor("mask"), try tensor("dynamic_projection")
    )
    func run(_ kv: Tensor) -> (landmarks: Tensor, mask: Tensor) {
        let logits = Tensor.matmul(kv, projection, transposeB: true)  // [b, n, h, 1]
        let result = LongShortAttention.chunkLandmarks(
            logits: logits, key: kv, value: kv, keyMask: mask, chunkSize: 5)
        return (result.key, result.mask!)
    }
    let (landmarks, valid) = withoutGradient { run(kv) }
    let (b, r) = (valid.shape[0], valid.shape[1])
    let keep = valid.reshaped([b, r, 1, 1])
    let bound = Tolerance(absolute: 1e-5, relative: 0)
    #expect(valid.scalars == [1, 1, 1, 1, 1, 1, 1, 0], "entry 1's last segment is all padding")
    try assertClose(landmarks * keep, try tensor("landmarks") * keep, bound, "chunk landmarks")
    let upstream = try tensor("landmark_upstream")
    let (_, grads) = valueAndGradient(at: [kv]) { x in (run(x[0]).landmarks * upstream).summed() }
    try assertClose(grads[0], try tensor("kv_grad"), bound, "d kv through the chunk landmarks")
}
