// The two-level bootstrapped schedule through the trainer: full attention first (the tree untouched
// and unfitted), then TC-attention (splits fitted to the first batch that uses them, then trained),
// then TF-attention alone (no gradient reaches the tree, so it stays as TC left it).
import AttendAttention
import AttendCore
import AttendData
import AttendModels
import AttendNN
import AttendTesting
import AttendTrain
import Testing

@Suite(.serialized, .optimizedBuildsOnly) struct TreeformerTrainingTests {
    @Test func bootstrapScheduleFitsTrainsThenFreezesTheTree() throws {
        var (configuration, task) = try tinyConfiguration("listops", mixer: "treeformer", steps: 24)
        var options = configuration.model.resolvedMixer
        options.treeformer.height = 2
        options.treeformer.schedule = .init(fullAttentionSteps: 5, coarseSteps: 10)
        configuration.model.mixerOptions = options
        let trainer = try Trainer(configuration: configuration, task: task, run: nil)
        let cores = trainer.model.namedModules().compactMap {
            ($0.1 as? MultiHeadAttention)?.core as? TreeformerAttention
        }
        try #require(!cores.isEmpty)
        func trees() -> [[Float]] {
            cores.map { $0.treeWeight.value.scalars + $0.treeBias.value.scalars }
        }
        let initial = trees()
        var snapshots: [Int: [[Float]]] = [:]
        var flags: [Int: [Float]] = [:]
        let optimizer = trainer.optimizer  // not the trainer, which holds this closure
        trainer.stopRequested = {
            let step = optimizer.stepCount
            snapshots[step] = trees()
            flags[step] = cores.map { $0.initialized.value.scalar }
            return false
        }
        let summary = try trainer.train()
        #expect(summary.finalTrainingLoss.isFinite)
        #expect(snapshots[5] == initial, "the full-attention phase must leave the tree alone")
        #expect(
            flags[5]!.allSatisfy { $0 == 0 } && flags[6]!.allSatisfy { $0 == 1 },
            "splits are fitted when TC starts")
        #expect(snapshots[7] != snapshots[15], "TC-attention trains the splits")
        #expect(snapshots[16] == snapshots[24], "TF-attention alone gives the tree no gradient")
        let leaves = try #require(cores[0].keysPerLeaf)
        #expect(leaves[0].count == 4)
    }
}
