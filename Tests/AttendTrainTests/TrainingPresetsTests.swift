// Preset choices that change what a model learns: the token-embedding scale per task (Image starts
// its grey levels at 0.02 below preset `lra`), what the encoder actually draws from it, and that
// configurations written before the option existed still load with the old behaviour (N(0, 1));
// and the position encoding each task gets.
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendTrain
import Foundation
import Testing

@Suite struct TrainingPresetsTests {
    func model(_ taskName: String, _ preset: TaskPreset) throws -> ModelConfiguration {
        let task = try TaskCatalog.make(taskName, options: TaskOptions(preset: .tiny, seed: 0))
        return TrainingPresets.configuration(task: task, mixer: "full", preset: preset).model
    }

    func scale(_ taskName: String, _ preset: TaskPreset) throws -> Float {
        try model(taskName, preset).tokenEmbeddingScale
    }

    /// Positions as LRA's configs choose them (`learn_pos_emb`): learned for CIFAR-10 (our Image),
    /// PF-64 and Path-X, fixed sinusoids for PF-32 and the text tasks, at every preset.
    @Test(arguments: TaskPreset.allCases) func positionsFollowLRAPerTask(_ preset: TaskPreset)
        throws
    {
        for task in ["image", "pathx", "pathfinder64"] {
            #expect(try model(task, preset).positions == .learned, "\(task)")
        }
        for task in ["pathfinder", "listops", "text", "retrieval"] {
            #expect(try model(task, preset).positions == .sinusoidal, "\(task)")
        }
    }

    @Test func imageStartsItsGreyLevelsSmallBelowTheLRAPreset() throws {
        #expect(try scale("image", .tiny) == 0.02)
        #expect(try scale("image", .cpu) == 0.02)
        #expect(try scale("image", .lra) == 1)
        for task in ["listops", "text", "retrieval", "pathfinder"] {
            #expect(try scale(task, .cpu) == 1, "\(task)")
        }
    }

    /// The drawn embeddings have the configured spread (256 × 64 draws: the sample standard
    /// deviation is within 2 % of σ with overwhelming probability; 10 % leaves no doubt).
    @Test(arguments: [Float(1), 0.02]) func encoderDrawsTokensAtTheConfiguredScale(_ sigma: Float)
        throws
    {
        var configuration = ModelConfiguration(
            vocabularySize: 256, modelDimension: 64, layerCount: 1, headCount: 2,
            feedForwardDimension: 64,
            maximumLength: 16)
        configuration.tokenEmbeddingScale = sigma
        var generator = RandomGenerator(seed: 1)
        let encoder = try SequenceEncoder(configuration, generator: &generator)
        let deviation = encoder.tokenEmbedding.weight.value.variance(
            alongAxes: [0, 1], correction: 0
        ).scalar.squareRoot()
        #expect(abs(deviation / sigma - 1) < 0.1)
    }

    @Test(arguments: [Float(-1), .nan, .infinity]) func encoderRefusesAnUnusableScale(
        _ sigma: Float
    ) throws {
        var configuration = ModelConfiguration(
            vocabularySize: 8, modelDimension: 8, layerCount: 1, headCount: 1,
            feedForwardDimension: 8,
            maximumLength: 4)
        configuration.tokenEmbeddingScale = sigma
        var generator = RandomGenerator(seed: 1)
        #expect(throws: MixerError.self) {
            try SequenceEncoder(configuration, generator: &generator)
        }
    }

    @Test func configurationsWithoutTheScaleLoadAtOne() throws {
        var configuration = ModelConfiguration(
            vocabularySize: 8, modelDimension: 8, layerCount: 1, headCount: 1,
            feedForwardDimension: 8,
            maximumLength: 4)
        configuration.tokenEmbeddingScale = 0.5
        var object = try #require(
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
                as? [String: Any])
        #expect(object["token_embedding_std"] as? Double == 0.5)
        object["token_embedding_std"] = nil
        let older = try JSONDecoder().decode(
            ModelConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(older.tokenEmbeddingScale == 1)
    }
}
