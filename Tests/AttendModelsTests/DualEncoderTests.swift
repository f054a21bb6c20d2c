// The two-tower model of LRA Retrieval: one encoder shared by both documents, so its parameters
// take gradient from both towers, and the head sees [u, v, u⊙v, u−v]. The toy task below has the
// shape of Retrieval ("do both sequences come from the same source?") with sources a small model
// can tell apart (disjoint halves of the vocabulary), so the pair path itself must learn it.
import AttendCore
import AttendModels
import AttendNN
import Testing

@Suite struct DualEncoderTests {
    static func configuration(pooling: Pooling) -> ModelConfiguration {
        var c = ModelConfiguration(
            vocabularySize: 33, modelDimension: 32, layerCount: 1, headCount: 2,
            feedForwardDimension: 64,
            maximumLength: 12)
        c.classCount = 2
        c.dropout = 0
        c.pooling = pooling
        return c
    }

    /// Pairs of sequences over tokens 1…16 ("source" 0) or 17…32 (source 1); label 1 when both share a source.
    static func pairs(_ count: Int, generator: inout RandomGenerator) -> (
        Indices, Tensor, Indices, Tensor, [Int]
    ) {
        var first: [Int] = [], second: [Int] = [], firstMask: [Float] = [],
            secondMask: [Float] = [], labels: [Int] = []
        func sequence(
            source: Int, into tokens: inout [Int], mask: inout [Float],
            generator: inout RandomGenerator
        ) {
            let length = 6 + generator.nextInt(below: 7)
            for t in 0..<12 {
                tokens.append(t < length ? 1 + 16 * source + generator.nextInt(below: 16) : 0)
                mask.append(t < length ? 1 : 0)
            }
        }
        for _ in 0..<count {
            let label = generator.nextInt(below: 2), source = generator.nextInt(below: 2)
            sequence(source: source, into: &first, mask: &firstMask, generator: &generator)
            sequence(
                source: label == 1 ? source : 1 - source, into: &second, mask: &secondMask,
                generator: &generator)
            labels.append(label)
        }
        return (
            Indices(shape: [count, 12], values: first),
            Tensor(shape: [count, 12], scalars: firstMask),
            Indices(shape: [count, 12], values: second),
            Tensor(shape: [count, 12], scalars: secondMask), labels
        )
    }

    @Test func bothTowersTrainTheSharedEncoder() throws {
        let model = try DualEncoder(Self.configuration(pooling: .cls))
        var generator = RandomGenerator(seed: 4)
        let (a, aMask, b, bMask, labels) = Self.pairs(4, generator: &generator)
        func gradients(_ body: (DualEncoder) throws -> Tensor) throws -> [Float] {
            let (_, g) = try valueAndGradient(of: model, body)
            return g[model.encoder.tokenEmbedding.weight]!.scalars
        }
        let loss = { (m: DualEncoder) in
            crossEntropy(logits: try m(a, mask: aMask, b, mask: bMask).logits, targets: labels)
        }
        let whole = try gradients(loss)
        // The encoder is one module used twice: its gradient must be the sum over both towers, so it
        // changes when only the second document changes.
        let (_, _, other, otherMask, _) = Self.pairs(4, generator: &generator)
        let changed = try gradients { m in
            crossEntropy(
                logits: try m(a, mask: aMask, other, mask: otherMask).logits, targets: labels)
        }
        #expect(whole.contains { $0 != 0 } && whole != changed)
    }

    @Test(arguments: [Pooling.cls, .mean])
    func learnsWhetherTwoSequencesShareASource(_ pooling: Pooling) throws {
        let model = try DualEncoder(Self.configuration(pooling: pooling))
        let optimizer = AdamW(parameters: model.namedParameters(), weightDecay: 0)
        var generator = RandomGenerator(seed: 7)
        for _ in 0..<150 {
            let (a, aMask, b, bMask, labels) = Self.pairs(32, generator: &generator)
            let (_, gradients) = try valueAndGradient(of: model) { m in
                crossEntropy(logits: try m(a, mask: aMask, b, mask: bMask).logits, targets: labels)
            }
            optimizer.step(gradients, learningRate: 2e-3)
        }
        let (a, aMask, b, bMask, labels) = Self.pairs(256, generator: &generator)
        let predictions = try withoutGradient {
            try model(a, mask: aMask, b, mask: bMask).logits.argmax(alongAxis: -1)
        }
        let accuracy =
            Double(zip(predictions, labels).filter { $0 == $1 }.count) / Double(labels.count)
        #expect(accuracy >= 0.95, "\(pooling) pooling: held-out accuracy \(accuracy)")
    }
}
