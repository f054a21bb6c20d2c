// End-to-end check of autograd, layers, loss and AdamW: a small MLP must separate two interleaved
// spirals (a task no linear model can solve) to ≥ 95% accuracy, identically on every run.
import AttendCore
import AttendNN
import AttendTesting
import Foundation
import Testing

/// Two spirals of `perClass` points each, label 0/1, with small seeded noise.
func twoSpirals(perClass: Int, seed: UInt64) -> (points: Tensor, labels: [Int]) {
    var generator = RandomGenerator(seed: seed)
    var coordinates: [Float] = []
    var labels: [Int] = []
    for label in 0..<2 {
        for i in 0..<perClass {
            let t = Float(i) / Float(perClass) * 3 * Float.pi + 0.5
            let sign: Float = label == 0 ? 1 : -1
            let noise = { 0.05 * generator.nextNormal() }
            coordinates += [sign * t * cos(t) / 10 + noise(), sign * t * sin(t) / 10 + noise()]
            labels.append(label)
        }
    }
    return (Tensor(shape: [2 * perClass, 2], scalars: coordinates), labels)
}

final class SpiralClassifier: Module {
    let layers: [Linear]
    init(hidden: Int, generator: inout RandomGenerator) {
        layers = [
            Linear(inputCount: 2, outputCount: hidden, generator: &generator),
            Linear(inputCount: hidden, outputCount: hidden, generator: &generator),
            Linear(inputCount: hidden, outputCount: 2, generator: &generator),
        ]
    }
    var children: [(String, any Module)] {
        layers.enumerated().map { ("\($0.offset)", $0.element) }
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        layers[2](layers[1](layers[0](x).tanh()).tanh())
    }
}

/// Trains the classifier and returns (final accuracy, loss trajectory).
func trainSpirals(seed: UInt64) -> (Float, [Float]) {
    let (points, labels) = twoSpirals(perClass: 200, seed: 1)
    var generator = RandomGenerator(seed: seed)
    let model = SpiralClassifier(hidden: 64, generator: &generator)
    let optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0)
    var losses: [Float] = []
    for _ in 0..<1500 {
        let (loss, gradients) = valueAndGradient(of: model) { model in
            crossEntropy(logits: model(points), targets: labels)
        }
        optimizer.step(gradients, learningRate: 0.01)
        losses.append(loss.scalar)
    }
    let logits = withoutGradient { model(points) }
    return (accuracy(logits: logits, targets: labels), losses)
}

@Test(.optimizedBuildsOnly) func mlpLearnsTwoSpiralsDeterministically() {
    let (accuracy, losses) = trainSpirals(seed: 7)
    #expect(accuracy >= 0.95, "two-spirals accuracy \(accuracy)")
    #expect(losses.last! < losses.first! / 5)
    let (again, lossesAgain) = trainSpirals(seed: 7)
    #expect(again == accuracy)
    #expect(lossesAgain == losses, "same seed must give a bit-identical loss trajectory")
}
