// Training objectives with PyTorch's semantics (so fixtures compare element for element):
// cross-entropy with ignore index and label smoothing, binary cross-entropy on logits, MSE; plus
// accuracy.
import AttendCore

/// How per-example losses are combined.
public enum LossReduction: String, Sendable, Codable {
    /// Average over counted examples (ignored targets excluded).
    case mean
    /// Sum over examples.
    case sum
    /// One loss per example.
    case none
}

/// Cross-entropy between `logits` [N, C] and integer `targets` [N].
///
/// With label smoothing ε the target distribution is (1 − ε)·onehot + ε/C (PyTorch's definition).
/// Targets equal to `ignoreIndex` contribute nothing and are left out of the mean.
public func crossEntropy(
    logits: Tensor, targets: [Int], ignoreIndex: Int = -100, labelSmoothing: Float = 0,
    reduction: LossReduction = .mean
) -> Tensor {
    precondition(logits.rank == 2, "crossEntropy: logits must be [N, C], got \(logits.shape)")
    let (n, classes) = (logits.shape[0], logits.shape[1])
    precondition(
        targets.count == n, "crossEntropy: \(targets.count) targets for \(n) rows of logits")
    for t in targets where t != ignoreIndex && (t < 0 || t >= classes) {
        preconditionFailure(
            "crossEntropy: target \(t) outside 0..<\(classes) (ignore index \(ignoreIndex))")
    }
    let kept = targets.map { $0 == ignoreIndex ? Float(0) : 1 }
    let keptMask = Tensor(shape: [n, 1], scalars: kept)
    let logProbabilities = logits.logSoftmax()  // [N, C]
    let safeTargets = Indices(shape: [n, 1], values: targets.map { $0 == ignoreIndex ? 0 : $0 })
    let picked = logProbabilities.gathered(alongAxis: 1, safeTargets)  // [N, 1]
    var perExample = -picked * keptMask
    if labelSmoothing > 0 {
        let uniform = -logProbabilities.mean(alongAxis: 1, keepingDimensions: true) * keptMask
        perExample = perExample * (1 - labelSmoothing) + uniform * labelSmoothing
    }
    let losses = perExample.reshaped([n])
    switch reduction {
    case .none: return losses
    case .sum: return losses.summed()
    case .mean: return losses.summed() / Swift.max(kept.reduce(0, +), 1)
    }
}

/// Binary cross-entropy on logits, max(x,0) − x·y + log(1 + e^{−|x|}) (stable for any x);
/// the gradient is σ(x) − y exactly.
public func binaryCrossEntropy(logits: Tensor, targets: Tensor, reduction: LossReduction = .mean)
    -> Tensor
{
    precondition(
        logits.shape == targets.shape, "binaryCrossEntropy: \(logits.shape) vs \(targets.shape)")
    let losses = Tensor.fused(BinaryCrossEntropyOp(logits: logits, targets: targets))
    switch reduction {
    case .none: return losses
    case .sum: return losses.summed()
    case .mean: return losses.mean()
    }
}

/// Mean (or summed) squared error.
public func meanSquaredError(
    _ predictions: Tensor, _ targets: Tensor, reduction: LossReduction = .mean
)
    -> Tensor
{
    precondition(
        predictions.shape == targets.shape,
        "meanSquaredError: \(predictions.shape) vs \(targets.shape)")
    let squares = (predictions - targets).squared()
    switch reduction {
    case .none: return squares
    case .sum: return squares.summed()
    case .mean: return squares.mean()
    }
}

/// Fraction of rows of `logits` [N, C] whose arg-max equals the target, ignoring `ignoreIndex`.
public func accuracy(logits: Tensor, targets: [Int], ignoreIndex: Int = -100) -> Float {
    let predictions = logits.argmax(alongAxis: -1)
    var correct = 0, counted = 0
    for (p, t) in zip(predictions, targets) where t != ignoreIndex {
        counted += 1
        if p == t { correct += 1 }
    }
    return counted == 0 ? 0 : Float(correct) / Float(counted)
}

/// The elementwise loss of `binaryCrossEntropy` as a kernel op: inputs logits x and targets y;
/// d x = (σ(x) − y)·dℓ, d y = −x·dℓ.
struct BinaryCrossEntropyOp: KernelOp {
    static let op = Op("binaryCrossEntropy")
    static let skipsUnneededGradients = true
    let logits: Tensor, targets: Tensor

    var inputs: [Tensor?] { [logits, targets] }
    var outputShape: [Int] { logits.shape }

    func forward(_ buffers: KernelBuffers, into output: UnsafeMutablePointer<Float>) {
        Elementwise.zip(buffers.input(0), buffers.input(1), output, count: logits.count) { xv, yv in
            let positive = xv.replacing(with: 0, where: xv .< 0)
            let magnitude = xv.replacing(with: -xv, where: xv .< 0)
            let softplus = VectorMath.logOnePlus(VectorMath.exp(-magnitude))
            return positive - xv * yv + softplus
        }
    }

    func backward(_ buffers: KernelBuffers, _ g: KernelGradients, saved: Void) {
        let (x, y, dy, count) = (buffers.input(0), buffers.input(1), g.outputGradient, logits.count)
        if let dx = g.optionalInput(0) {
            Elementwise.zip3(x, y, dy, dx, count: count) { (VectorMath.sigmoid($0) - $1) * $2 }
        }
        if let dTargets = g.optionalInput(1) {
            Elementwise.zip(x, dy, dTargets, count: count) { -$0 * $1 }
        }
    }
}

extension BinaryCrossEntropyOp {
    /// Logits and soft targets in [0, 1], unreduced.
    static var gradientExamples: [KernelOpExample] {
        let inputs = [
            Tensor.randomNormal([2, 3], seed: 1),
            Tensor.randomUniform([2, 3], seed: 2, low: 0, high: 1),
        ]
        return [
            KernelOpExample("logits and soft targets", inputs) {
                binaryCrossEntropy(logits: $0[0], targets: $0[1], reduction: .none)
            }
        ]
    }
}
