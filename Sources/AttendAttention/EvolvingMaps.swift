// Differentiable operations on materialised attention maps, for evolving attention (mechanisms-a
// §5): scores and value mixing restricted to a diagonal band (local attention's map in O(n·W)
// memory), and the fused evolving update
//   M = (1 − ρ)·(S ⊙ valid) + ρ·Ã_prev
//   Ã = (γ·act(conv3×3(M) + bias) + (1 − γ)·M) ⊙ valid
// whose backward (§5.5) is
//   dA = dÃ ⊙ valid,  dPre = γ·dA ⊙ act′(pre),  dM = convᵀ(dPre) + (1 − γ)·dA,
//   dS = (1 − ρ)·dM ⊙ valid,  dÃ_prev = ρ·dM,  dW, dbias from (dPre, M).
// One op keeps only M and the pre-activation for backward instead of the half-dozen maps a chain of
// elementwise ops would hold: these maps are the mechanism's whole memory cost.
// Shapes: b batch, h heads, n queries, W stored columns (m keys for whole maps), d head dimension.
import AttendCore

/// The non-linearity applied to the convolved map.
public enum MapActivation: String, Codable, Sendable, CaseIterable {
    /// max(0, x) (EA-ResNet, TensorFlow).
    case relu
    /// x for x ≥ 0, 0.01·x below (EA-DC, PyTorch's nn.LeakyReLU()).
    case leakyRelu = "leaky_relu"
    /// No activation.
    case identity

    @inline(__always)
    func apply(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? x : 0
        case .leakyRelu: return x >= 0 ? x : 0.01 * x
        case .identity: return x
        }
    }

    @inline(__always)
    func derivative(_ x: Float) -> Float {
        switch self {
        case .relu: return x > 0 ? 1 : 0
        case .leakyRelu: return x >= 0 ? 1 : 0.01
        case .identity: return 1
        }
    }
}

extension Tensor {
    /// S [b, h, n, W] = scale·q·kᵀ on the diagonal band of `width` columns starting `before` keys
    /// before each query (0 where the key lies outside the sequence). q, k: [b, n, h, d].
    public static func bandedScores(
        query: Tensor, key: Tensor, scale: Float, before: Int, width: Int
    ) -> Tensor {
        precondition(
            key.shape == query.shape, "bandedScores: key \(key.shape) vs query \(query.shape)")
        return fused(
            BandedScoresOp(query: query, key: key, scale: scale, before: before, width: width))
    }

    /// o [b, n, h, e] = P·v for a banded P [b, h, n, W] (same band as `bandedScores`); v [b, n, h, e].
    public static func bandedMix(probabilities: Tensor, value: Tensor, before: Int) -> Tensor {
        let (b, n, h) = (value.shape[0], value.shape[1], value.shape[2])
        let width = probabilities.shape[3]
        precondition(
            probabilities.shape == [b, h, n, width],
            "bandedMix: probabilities \(probabilities.shape) for values \(value.shape)")
        return fused(BandedMixOp(probabilities: probabilities, value: value, before: before))
    }

    /// y = conv3×3(x) + bias over maps [b, h, n, W] (see `MapConvolution`); weight [h, h, 3, 3].
    public static func mapConvolution(
        _ x: Tensor, weight: Tensor, bias: Tensor, shift: Int, causal: Bool
    ) -> Tensor {
        fused(MapConvolutionOp(x: x, weight: weight, bias: bias, shift: shift, causal: causal))
    }

    /// The evolving update Ã of scores S given the previous layer's Ã_prev (see the file header).
    ///
    /// - Parameters:
    ///   - scores: S [b, h, n, W].
    ///   - previous: Ã_prev [b, h, n, W], zero on invalid cells.
    ///   - weight, bias: the convolution, [h, h, 3, 3] and [h].
    ///   - valid: [1 or b, 1, n, W], 1 on cells that exist and are visible (0/1 values).
    ///   - shift: 0 for whole maps, 1 for bands; `causal` picks the causal taps.
    /// - Returns: Ã [b, h, n, W], zero on invalid cells.
    public static func evolvingUpdate(
        scores: Tensor, previous: Tensor, weight: Tensor, bias: Tensor, valid: Tensor,
        residualWeight rho: Float,
        convolutionWeight gamma: Float, activation: MapActivation, shift: Int, causal: Bool
    ) -> Tensor {
        let (b, n, w) = (scores.shape[0], scores.shape[2], scores.shape[3])
        precondition(
            previous.shape == scores.shape,
            "evolvingUpdate: previous map \(previous.shape) vs scores \(scores.shape)")
        let validBatched = valid.shape[0] != 1
        precondition(
            valid.shape == [validBatched ? b : 1, 1, n, w],
            "evolvingUpdate: valid mask \(valid.shape) for maps \(scores.shape)")
        return fused(
            EvolvingUpdateOp(
                scores: scores, previous: previous, weight: weight, bias: bias, valid: valid,
                rho: rho,
                gamma: gamma, activation: activation, shift: shift, causal: causal))
    }
}

/// `Tensor.bandedScores` as a kernel op: inputs q, k.
struct BandedScoresOp: KernelOp {
    static let op = Op("bandedScores")
    static let skipsUnneededGradients = true
    let query: Tensor, key: Tensor, scale: Float, shape: BandedAttention.Shape

    init(query: Tensor, key: Tensor, scale: Float, before: Int, width: Int) {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        (self.query, self.key, self.scale) = (query, key, scale)
        shape = BandedAttention.Shape(
            batch: b, length: n, heads: h, dimension: d, valueDimension: d, before: before,
            width: width)
    }

    var inputs: [Tensor?] { [query, key] }
    var outputShape: [Int] { [shape.batch, shape.heads, shape.length, shape.width] }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        BandedAttention.scores(
            query: x.input(0), key: x.input(1), scale: scale, into: output, shape: shape)
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        BandedAttention.scoresBackward(
            query: x.input(0), key: x.input(1), scale: scale, scoreGradient: g.outputGradient,
            queryGradient: g.optionalInput(0), keyGradient: g.optionalInput(1), shape: shape)
    }
}

/// `Tensor.bandedMix` as a kernel op: inputs P, v.
struct BandedMixOp: KernelOp {
    static let op = Op("bandedMix")
    static let skipsUnneededGradients = true
    let probabilities: Tensor, value: Tensor, shape: BandedAttention.Shape

    init(probabilities: Tensor, value: Tensor, before: Int) {
        let (b, n, h, e) = (value.shape[0], value.shape[1], value.shape[2], value.shape[3])
        (self.probabilities, self.value) = (probabilities, value)
        shape = BandedAttention.Shape(
            batch: b, length: n, heads: h, dimension: e, valueDimension: e, before: before,
            width: probabilities.shape[3])
    }

    var inputs: [Tensor?] { [probabilities, value] }
    var outputShape: [Int] { value.shape }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        BandedAttention.mix(
            probabilities: x.input(0), value: x.input(1), into: output, shape: shape)
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        BandedAttention.mixBackward(
            probabilities: x.input(0), value: x.input(1), outputGradient: g.outputGradient,
            probabilityGradient: g.optionalInput(0), valueGradient: g.optionalInput(1), shape: shape
        )
    }
}

/// `Tensor.mapConvolution` as a kernel op: inputs x, weight, bias.
struct MapConvolutionOp: KernelOp {
    static let op = Op("mapConvolution")
    static let skipsUnneededGradients = true
    let x: Tensor, weight: Tensor, bias: Tensor, shape: MapConvolutionShape

    init(x: Tensor, weight: Tensor, bias: Tensor, shift: Int, causal: Bool) {
        (self.x, self.weight, self.bias) = (x, weight, bias)
        shape = MapConvolutionShape(
            batch: x.shape[0], channels: x.shape[1], rows: x.shape[2], columns: x.shape[3],
            shift: shift,
            tapOffset: causal ? 2 : 1)
    }

    var inputs: [Tensor?] { [x, weight, bias] }
    var outputShape: [Int] { x.shape }

    func forward(_ p: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        MapConvolution.forward(
            p.input(0), weight: p.input(1), bias: p.input(2), into: output, shape: shape)
    }

    func backward(_ p: KernelBuffers, _ g: KernelGradients, saved: Void) {
        MapConvolution.backward(
            p.input(0), weight: p.input(1), outputGradient: g.outputGradient,
            inputGradient: g.optionalInput(0),
            weightGradient: g.optionalInput(1), biasGradient: g.optionalInput(2), shape: shape)
    }
}

/// `Tensor.evolvingUpdate` as a kernel op: inputs S, Ã_prev, weight, bias; constant `valid`; saved
/// M and the pre-activation; backward's scratch dPre, dA and dM.
struct EvolvingUpdateOp: KernelOp {
    static let op = Op("evolvingUpdate")
    static let skipsUnneededGradients = true
    let scores: Tensor, previous: Tensor, weight: Tensor, bias: Tensor, valid: Tensor
    let rho: Float, gamma: Float, activation: MapActivation
    let shape: MapConvolutionShape

    init(
        scores: Tensor, previous: Tensor, weight: Tensor, bias: Tensor, valid: Tensor, rho: Float,
        gamma: Float,
        activation: MapActivation, shift: Int, causal: Bool
    ) {
        (self.scores, self.previous, self.weight, self.bias, self.valid) = (
            scores, previous, weight, bias, valid
        )
        (self.rho, self.gamma, self.activation) = (rho, gamma, activation)
        shape = MapConvolutionShape(
            batch: scores.shape[0], channels: scores.shape[1], rows: scores.shape[2],
            columns: scores.shape[3],
            shift: shift, tapOffset: causal ? 2 : 1)
    }

    var inputs: [Tensor?] { [scores, previous, weight, bias] }
    var constants: [Tensor?] { [valid] }
    var outputShape: [Int] { scores.shape }
    var savedShapes: [[Int]] { [scores.shape, scores.shape] }
    var scratchShapes: [[Int]] { [scores.shape, scores.shape, scores.shape] }

    /// The valid mask of map `index` (one of b·h), [n·W]: one per batch entry or one for all.
    private func mask(_ valid: UnsafePointer<Float>, map index: Int) -> UnsafePointer<Float> {
        valid + (self.valid.shape[0] != 1 ? index / shape.channels : 0) * mapSize
    }

    private var mapSize: Int { shape.rows * shape.columns }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        let (s, p, v) = (x.input(0), x.input(1), x.constant(0)!)
        let (mixed, pre) = (x.saved(0), x.saved(1))
        let (map, rho, gamma, activation) = (mapSize, rho, gamma, activation)
        // M = (1 − ρ)·S ⊙ valid + ρ·Ã_prev
        forEachMap(shape.batch * shape.channels) { index in
            let valid = mask(v, map: index)
            let (sm, pm, om) = (s + index * map, p + index * map, mixed + index * map)
            for c in 0..<map { om[c] = (1 - rho) * sm[c] * valid[c] + rho * pm[c] }
        }
        MapConvolution.forward(mixed, weight: x.input(2), bias: x.input(3), into: pre, shape: shape)
        // Ã = (γ·act(pre) + (1 − γ)·M) ⊙ valid
        forEachMap(shape.batch * shape.channels) { index in
            let valid = mask(v, map: index)
            let (pr, mm, om) = (pre + index * map, mixed + index * map, output + index * map)
            for c in 0..<map {
                om[c] = (gamma * activation.apply(pr[c]) + (1 - gamma) * mm[c]) * valid[c]
            }
        }
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved: Void) {
        let (v, mixed, pre) = (x.constant(0)!, x.saved(0), x.saved(1))
        let (dPre, dA, dMixed) = (g.scratch(0), g.scratch(1), g.scratch(2))
        let (map, rho, gamma, activation, dy) = (mapSize, rho, gamma, activation, g.outputGradient)
        // dPre = γ·(dÃ ⊙ valid) ⊙ act′(pre); dA kept for the (1 − γ) path.
        forEachMap(shape.batch * shape.channels) { index in
            let valid = mask(v, map: index)
            let offset = index * map
            for c in 0..<map {
                let a = dy[offset + c] * valid[c]
                dA[offset + c] = a
                dPre[offset + c] = gamma * a * activation.derivative(pre[offset + c])
            }
        }
        MapConvolution.backward(
            mixed, weight: x.input(2), outputGradient: dPre, inputGradient: dMixed,
            weightGradient: g.optionalInput(2), biasGradient: g.optionalInput(3), shape: shape)
        // dM += (1 − γ)·dA; dS = (1 − ρ)·dM ⊙ valid; dÃ_prev = ρ·dM.
        let (dScores, dPrevious) = (g.optionalInput(0), g.optionalInput(1))
        forEachMap(shape.batch * shape.channels) { index in
            let valid = mask(v, map: index)
            let offset = index * map
            for c in 0..<map {
                let total = dMixed[offset + c] + (1 - gamma) * dA[offset + c]
                dScores?[offset + c] = (1 - rho) * total * valid[c]
                dPrevious?[offset + c] = rho * total
            }
        }
    }
}

/// Runs `body` for each of `count` maps in parallel (each call writes only its own map).
private func forEachMap(_ count: Int, _ body: (Int) -> Void) {
    Parallel.forEach(count, body)
}

/// The operands of the maps' gradient examples: 2 heads, 5 queries, a band of 3 columns.
private enum MapExample {
    static var query: Tensor { Tensor.randomNormal([1, 5, 2, 3], seed: 31) }
    static var key: Tensor { Tensor.randomNormal([1, 5, 2, 3], seed: 32) }
    static var band: Tensor { Tensor.randomNormal([1, 2, 5, 3], seed: 33) }
    /// The 3×3 convolution's weight [2, 2, 3, 3] and bias [2].
    static var convolution: [Tensor] {
        [
            Tensor.randomNormal([2, 2, 3, 3], seed: 34, standardDeviation: 0.3),
            Tensor.randomNormal([2], seed: 35),
        ]
    }
}

extension BandedScoresOp {
    /// A band of 3 starting one key before each query.
    static var gradientExamples: [KernelOpExample] {
        [
            KernelOpExample("band of 3", [MapExample.query, MapExample.key]) {
                Tensor.bandedScores(query: $0[0], key: $0[1], scale: 0.5, before: 1, width: 3)
            }
        ]
    }
}

extension BandedMixOp {
    /// A band of 3 starting one key before each query.
    static var gradientExamples: [KernelOpExample] {
        [
            KernelOpExample("band of 3", [MapExample.band, MapExample.key]) {
                Tensor.bandedMix(probabilities: $0[0], value: $0[1], before: 1)
            }
        ]
    }
}

extension MapConvolutionOp {
    /// Banded maps with the causal taps.
    static var gradientExamples: [KernelOpExample] {
        [
            KernelOpExample("banded, causal", [MapExample.band] + MapExample.convolution) {
                Tensor.mapConvolution($0[0], weight: $0[1], bias: $0[2], shift: 1, causal: true)
            }
        ]
    }
}

extension EvolvingUpdateOp {
    /// Banded maps with two invalid cells.
    static var gradientExamples: [KernelOpExample] {
        let previous = Tensor.randomNormal([1, 2, 5, 3], seed: 36)
        let valid = Tensor(shape: [1, 1, 5, 3], scalars: (0..<15).map { $0 % 7 == 3 ? 0 : 1 })
        return [
            KernelOpExample("banded", [MapExample.band, previous] + MapExample.convolution) {
                Tensor.evolvingUpdate(
                    scores: $0[0], previous: $0[1], weight: $0[2], bias: $0[3], valid: valid,
                    residualWeight: 0.6, convolutionWeight: 0.4, activation: .identity, shift: 1,
                    causal: false)
            }
        ]
    }
}
