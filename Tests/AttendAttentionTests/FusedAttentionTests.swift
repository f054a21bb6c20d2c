// The fused online-softmax kernel must equal the materialised reference in values and gradients,
// for odd sizes (tiles that do not divide n), padding masks, causal masking and fully padded rows.
import AttendAttention
import AttendCore
import AttendTesting
import Testing

struct AttentionCase: CustomTestStringConvertible, Sendable {
    let b: Int, n: Int, m: Int, h: Int, d: Int, causal: Bool, padded: Bool
    var testDescription: String {
        "b\(b) n\(n) m\(m) h\(h) d\(d)\(causal ? " causal" : "")\(padded ? " padded" : "")"
    }
}

let attentionCases: [AttentionCase] = [
    .init(b: 1, n: 5, m: 5, h: 1, d: 4, causal: false, padded: false),
    .init(b: 2, n: 70, m: 70, h: 3, d: 8, causal: false, padded: true),
    .init(b: 2, n: 67, m: 67, h: 2, d: 16, causal: true, padded: false),
    .init(b: 2, n: TileSpanning.long, m: TileSpanning.long, h: 1, d: 4, causal: true, padded: true),
    .init(b: 2, n: 33, m: TileSpanning.long, h: 2, d: 8, causal: false, padded: true),
    .init(b: 1, n: 40, m: TileSpanning.short, h: 1, d: 8, causal: true, padded: false),
]

/// Key mask with the last few keys of batch entry 1 padded (and entry 0 complete).
func paddingMask(b: Int, m: Int) -> Tensor {
    Tensor.filled(shape: [b, m]) { out in
        for i in 0..<b {
            for j in 0..<m { out[i * m + j] = (i % 2 == 1 && j >= m - m / 3) ? 0 : 1 }
        }
    }
}

@Test(arguments: attentionCases)
func fusedAttentionEqualsReference(_ c: AttentionCase) throws {
    let q = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 1)
    let k = Tensor.randomNormal([c.b, c.m, c.h, c.d], seed: 2)
    let v = Tensor.randomNormal([c.b, c.m, c.h, c.d], seed: 3)
    let mask = c.padded ? paddingMask(b: c.b, m: c.m) : nil
    let scale = 1 / Float(c.d).squareRoot()
    let upstream = Tensor.randomNormal([c.b, c.n, c.h, c.d], seed: 4)
    let fused = valueAndGradients([q, k, v], upstream: upstream) { x in
        Tensor.fusedAttention(
            query: x[0], key: x[1], value: x[2], scale: scale, causal: c.causal, keyMask: mask)
    }
    let reference = valueAndGradients([q, k, v], upstream: upstream) { x in
        referenceAttention(
            query: x[0], key: x[1], value: x[2], scale: scale, causal: c.causal, keyMask: mask)
    }
    try assertSameAttention(fused, reference, outputTolerance: .reordered)
}

@Test func fusedAttentionGradientMatchesFiniteDifferences() throws {
    let q = Tensor.randomNormal([1, 9, 2, 4], seed: 5)
    let k = Tensor.randomNormal([1, 9, 2, 4], seed: 6)
    let v = Tensor.randomNormal([1, 9, 2, 4], seed: 7)
    let mask = paddingMask(b: 1, m: 9)
    try GradientCheck.check([q, k, v]) { x in
        Tensor.fusedAttention(
            query: x[0], key: x[1], value: x[2], scale: 0.5, causal: true, keyMask: mask)
    }
}

@Test func fullyPaddedRowsGiveZeros() throws {
    let q = Tensor.randomNormal([1, 3, 1, 4], seed: 8)
    let k = Tensor.randomNormal([1, 3, 1, 4], seed: 9)
    let mask = Tensor.zeros([1, 3])
    let y = Tensor.fusedAttention(query: q, key: k, value: k, scale: 1, keyMask: mask)
    #expect(y.scalars.allSatisfy { $0 == 0 })
}
