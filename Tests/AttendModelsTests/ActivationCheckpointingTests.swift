// Activation checkpointing over the whole mechanism registry: for every registered mechanism, the
// gradients of an encoder classifier whose blocks are recomputed in the backward pass equal a
// plain run's, with dropout on (its masks must be replayed exactly) and a padded batch. A new
// mechanism is covered without new test code. Bit for bit, except where a parameter is read by
// several layers (a mechanism's shared state, `makeShared`): there the recomputed layers hand back
// their contributions as one sum per region, so the gradient's terms are added in another
// grouping (tolerance `reordered`).
import AttendAttention
import AttendCore
import AttendModels
import AttendNN
import AttendTesting
import Testing

@Suite(.optimizedBuildsOnly) struct ActivationCheckpointingTests {
    /// Two examples of 24 tokens, the second with its last 7 padded.
    static let (tokens, mask): (Indices, Tensor) = {
        let (b, n) = (2, 24)
        let ids = (0..<(b * n)).map { ($0 * 7 + 3) % 16 }
        let mask = Tensor.filled(shape: [b, n]) { m in
            for i in 0..<(b * n) { m[i] = i >= n && i % n >= n - 7 ? 0 : 1 }
        }
        return (Indices(shape: [b, n], values: ids), mask)
    }()

    static func model(
        _ mixer: String, feedForward: FeedForwardKind = .dense
    ) throws -> EncoderClassifier {
        var configuration = ModelConfiguration(
            vocabularySize: 16, modelDimension: 16, layerCount: 3, headCount: 2,
            feedForwardDimension: 32,
            maximumLength: 32)
        configuration.mixer = mixer
        configuration.dropout = 0.1
        configuration.feedForward = feedForward
        configuration.classCount = 3
        configuration.seed = 11
        return try EncoderClassifier(configuration)
    }

    /// Gradients of a classification loss (plus any auxiliary losses), with dropout reseeded.
    static func gradients(
        _ model: EncoderClassifier, checkpointing blocks: Int
    ) throws -> [(String, Tensor?)] {
        model.encoder.activationCheckpointBlocks = blocks
        model.train()
        model.reseedRandomness(5)
        let (_, grads) = try valueAndGradient(of: model) { model in
            let output = try model(tokens, mask: mask, trainingStep: 3)
            let loss = crossEntropy(logits: output.logits, targets: [0, 2])
            return output.auxiliaryLoss.map { loss + $0 } ?? loss
        }
        return model.namedParameters().map { ($0.0, grads[$0.1]) }
    }

    static func compare(_ mixer: String, feedForward: FeedForwardKind = .dense, blocks: Int) throws
    {
        let plain = try gradients(model(mixer, feedForward: feedForward), checkpointing: 0)
        let recomputed = try gradients(
            model(mixer, feedForward: feedForward), checkpointing: blocks)
        let exact = try Mechanisms.named(mixer).makeShared == nil
        #expect(plain.contains { $0.1 != nil }, "\(mixer): no gradients at all")
        for ((name, a), (_, b)) in zip(plain, recomputed) {
            guard let a, let b else {
                #expect(a == nil && b == nil, "\(mixer) \(name): a gradient in only one run")
                continue
            }
            if exact {
                #expect(a.scalars == b.scalars, "\(mixer) \(name): checkpointed gradient differs")
            } else {
                try assertClose(b, a, .reordered, "\(mixer) \(name)")
            }
        }
    }

    @Test(arguments: Mechanisms.names)
    func checkpointedGradientsEqualPlainOnes(_ mixer: String) throws {
        try Self.compare(mixer, blocks: 1)
    }

    @Test func regionsOfSeveralBlocksAndSwitchBalanceLossesToo() throws {
        try Self.compare("full", blocks: 2)
        try Self.compare("full", feedForward: .switch, blocks: 1)
    }

    @Test func evaluationIsUnchanged() throws {
        let model = try Self.model("local")
        model.eval()
        let plain = try model(Self.tokens, mask: Self.mask).logits
        model.encoder.activationCheckpointBlocks = 1
        let checkpointed = try withoutGradient { try model(Self.tokens, mask: Self.mask).logits }
        #expect(plain.scalars == checkpointed.scalars)
    }
}
