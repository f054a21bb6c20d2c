// Transformer-MGK attention on [b, n, h, d] heads with M component keys per position [b, m, M, h, d]
// (mechanisms-a.md §2.2–2.7), two ways that must agree:
// - `referenceMixtureOfGaussianKeysAttention`: every e_ijr materialised, the mixture by log-sum-exp
//   over components (hard: max), one masked softmax over keys; the oracle;
// - `Tensor.mixtureOfGaussianKeysAttention`: the tiled kernel (`MixtureOfGaussianKeysKernel`).
// Masking as full attention: padded keys get zero weight, rows that see no key give 0.
import AttendCore

/// MGK attention with every score materialised: the oracle for the tiled kernel.
///
/// - Parameters:
///   - query: [b, n, h, d].
///   - keys: [b, m, M, h, d] (M component keys per position).
///   - value: [b, m, h, e].
///   - logPriors: [h, M] component log-priors (−∞ turns a component off) for the soft mixture; nil
///     for the hard assignment (closest component, no priors).
///   - inverseVariances: 1/σ_r² per component.
///   - gaussian: score −‖q − k‖²/(2σ²) (true) or q·k/σ² (false).
///   - causal: whether query i sees only keys j ≤ i.
///   - keyMask: [b, m], 0 for padded keys.
/// - Returns: [b, n, h, e].
public func referenceMixtureOfGaussianKeysAttention(
    query: Tensor, keys: Tensor, value: Tensor, logPriors: Tensor?, inverseVariances: [Float],
    gaussian: Bool,
    causal: Bool = false, keyMask: Tensor? = nil
) -> Tensor {
    let (b, n, h, _) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
    let (m, M) = (keys.shape[1], keys.shape[2])
    let q = query.permuted([0, 2, 1, 3])  // [b, h, n, d]
    // [b, h, n, 1]
    let queryNorms = q.squared().summed(alongAxes: [3], keepingDimensions: true) * 0.5
    var components: [Tensor] = []
    for r in 0..<M {
        let k = keys.sliced(alongAxis: 2, r..<(r + 1)).reshaped([b, m, h, keys.shape[4]]).permuted([
            0, 2, 1, 3,
        ])
        var e = Tensor.matmul(q, k, transposeB: true)  // [b, h, n, m]
        if gaussian {
            let keyNorms = k.squared().summed(alongAxes: [3]).reshaped([b, h, 1, m]) * 0.5
            e = e - queryNorms - keyNorms
        }
        e = e * inverseVariances[r]
        if let logPriors {
            e = e + logPriors.sliced(alongAxis: 1, r..<(r + 1)).reshaped([1, h, 1, 1])
        }
        components.append(e)
    }
    let stacked = Tensor.stacked(components, alongAxis: 0)  // [M, b, h, n, m]
    // [b, h, n, m]
    var scores = logPriors == nil ? stacked.max(alongAxis: 0) : stacked.logSumExp(alongAxis: 0)
    var hidden = Tensor.zeros([1, 1, n, m])
    if causal { hidden = hidden + causalMask(queries: n, keys: m) }
    if let keyMask { hidden = hidden + (1 - keyMask).reshaped([b, 1, 1, m]) }
    scores = scores.maskedFill(where: hidden, with: -.infinity)
    let probabilities = scores.softmax(alongAxis: -1)  // all-masked rows give 0
    return Tensor.matmul(probabilities, value.permuted([0, 2, 1, 3])).permuted([0, 2, 1, 3])
}

extension Tensor {
    /// MGK attention through the tiled kernel: the contract of
    /// `referenceMixtureOfGaussianKeysAttention` in O(n) extra memory.
    public static func mixtureOfGaussianKeysAttention(
        query: Tensor, keys: Tensor, value: Tensor, logPriors: Tensor?, inverseVariances: [Float],
        gaussian: Bool,
        causal: Bool = false, keyMask: Tensor? = nil
    ) -> Tensor {
        precondition(
            query.rank == 4 && keys.rank == 5 && value.rank == 4,
            "mixtureOfGaussianKeysAttention: q [b, n, h, d], keys [b, m, M, h, d], v [b, m, h, e]")
        let (b, h, d) = (query.shape[0], query.shape[2], query.shape[3])
        let (m, M, e) = (keys.shape[1], keys.shape[2], value.shape[3])
        precondition(
            keys.shape == [b, m, M, h, d],
            "mixtureOfGaussianKeysAttention: keys \(keys.shape) vs query \(query.shape)")
        precondition(
            value.shape == [b, m, h, e],
            "mixtureOfGaussianKeysAttention: value \(value.shape) vs keys \(keys.shape)")
        precondition(
            inverseVariances.count == M,
            "mixtureOfGaussianKeysAttention: \(inverseVariances.count) variances for \(M) components"
        )
        requireShape("mixtureOfGaussianKeysAttention", "log-priors", logPriors, [h, M])
        requireShape("mixtureOfGaussianKeysAttention", "key mask", keyMask, [b, m])
        return fused(
            MixtureOfGaussianKeysOp(
                query: query, keys: keys, value: value, logPriors: logPriors,
                inverseVariances: inverseVariances, gaussian: gaussian, causal: causal,
                keyMask: keyMask))
    }
}

/// `Tensor.mixtureOfGaussianKeysAttention` as a kernel op: inputs q, keys, v, log π (optional);
/// constant the key mask; saved the rows' log-sum-exp. d log π comes per batch entry, [b, h, M],
/// and is summed over it.
struct MixtureOfGaussianKeysOp: KernelOp {
    static let op = Op("mixtureOfGaussianKeysAttention")
    static let backwardReadsOutput = true
    let query: Tensor, keys: Tensor, value: Tensor, logPriors: Tensor?, inverseVariances: [Float]
    let gaussian: Bool, causal: Bool, keyMask: Tensor?

    var inputs: [Tensor?] { [query, keys, value, logPriors] }
    var constants: [Tensor?] { [keyMask] }
    var outputShape: [Int] { [query.shape[0], query.shape[1], query.shape[2], value.shape[3]] }
    var outputLayout: HeadLayout {
        .positionMajor(length: query.shape[1], heads: query.shape[2], dimension: value.shape[3])
    }

    func gradientShape(ofInput index: Int) -> [Int] {
        index < 3 ? inputs[index]!.shape : [query.shape[0]] + inputs[index]!.shape
    }

    func problem(_ x: KernelBuffers) -> MixtureProblem {
        let (b, n, h, d) = (query.shape[0], query.shape[1], query.shape[2], query.shape[3])
        let (m, M, e) = (keys.shape[1], keys.shape[2], value.shape[3])
        return MixtureProblem(
            attention: AttentionProblem(
                batch: b, heads: h, queries: n, keys: m, dimension: d, valueDimension: e,
                scale: 1, causal: causal, keyMask: x.constant(0),
                query: x.input(0), queryLayout: .positionMajor(length: n, heads: h, dimension: d),
                key: x.input(1),
                keyLayout: HeadLayout(
                    batchStride: m * M * h * d, positionStride: M * h * d, headStride: d),
                value: x.input(2), valueLayout: .positionMajor(length: m, heads: h, dimension: e)),
            components: M, keys: x.input(1), componentStride: h * d,
            inverseVariances: inverseVariances,
            logPriors: x.optionalInput(3), gaussian: gaussian)
    }

    func forward(_ x: KernelBuffers, into output: UnsafeMutablePointer<Float>) -> [Float] {
        var logSumExp = rowStatistics(query)
        MixtureOfGaussianKeysKernel.forward(
            problem(x), output: output, outputLayout: outputLayout, logSumExp: &logSumExp)
        return logSumExp
    }

    func backward(_ x: KernelBuffers, _ g: KernelGradients, saved logSumExp: [Float]) {
        MixtureOfGaussianKeysKernel.backward(
            problem(x), output: g.output, outputLayout: outputLayout,
            outputGradient: g.outputGradient,
            logSumExp: logSumExp, queryGradient: g.input(0), keyGradient: g.input(1),
            valueGradient: g.input(2),
            logPriorGradient: g.optionalInput(3))
    }
}

extension MixtureOfGaussianKeysOp {
    /// Two soft Gaussian components per key, causal, over 5 positions (the last padded).
    static var gradientExamples: [KernelOpExample] {
        let mask = Tensor(shape: [1, 5], scalars: [1, 1, 1, 1, 0])
        let inputs = [
            Tensor.randomNormal([1, 5, 2, 3], seed: 1),
            Tensor.randomNormal([1, 5, 2, 2, 3], seed: 5, standardDeviation: 0.7),
            Tensor.randomNormal([1, 5, 2, 3], seed: 3),
            Tensor(shape: [2, 2], scalars: [-0.3, -1.2, -0.7, -0.1]),
        ]
        return [
            KernelOpExample("soft, gaussian", inputs) {
                Tensor.mixtureOfGaussianKeysAttention(
                    query: $0[0], keys: $0[1], value: $0[2], logPriors: $0[3],
                    inverseVariances: [0.6, 1.1], gaussian: true, causal: true, keyMask: mask)
            }
        ]
    }
}
