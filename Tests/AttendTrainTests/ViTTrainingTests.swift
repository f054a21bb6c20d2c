// A ViT through the trainer: `architecture = vit` builds a ViTClassifier over the task's tokens read
// as grey levels of square images (Pathfinder 32 × 32 here, generated, so no data files are needed).
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import AttendTesting
import AttendTrain
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct ViTTrainingTests {
    @Test func trainerBuildsAndTrainsAViT() throws {
        var (configuration, task) = try tinyConfiguration("pathfinder", steps: 6)
        configuration.model.architecture = .vit
        configuration.model.patchSize = 8
        configuration.evaluationExamples = 32
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        let classifier = try #require(trainer.model as? ViTClassifier)
        let side = Int(Double(task.maxLength).squareRoot())
        #expect(
            classifier.vit.configuration.imageSize == side
                && classifier.vit.configuration.patchSize == 8)
        let summary = try trainer.train()
        #expect(summary.finalTrainingLoss.isFinite)
        let validation = try #require(summary.validation)
        #expect((0...1).contains(validation.accuracy))
        var lm = configuration
        lm.task = "bytelm"
        #expect(throws: TrainingError.self) { try makeModel(for: .languageModel, lm.model) }
    }
}
