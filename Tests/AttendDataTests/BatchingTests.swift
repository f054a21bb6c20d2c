import AttendCore
import Testing

// Batching: shapes, masks that mark exactly the real tokens, padding and truncation, labels and
// next-token targets, pair batches, and a deterministic per-epoch order.
@testable import AttendData

@Test func batchesPadToTheLongestAndMaskExactlyTheRealTokens() throws {
    let task = FixedTask.classification(count: 10)
    let batch = task.batches(.validation, batchSize: 4)[0]
    let examples = (0..<4).map { task.example($0, in: .validation) }
    let longest = examples.map(\.tokens.count).max()!
    #expect(batch.tokens.shape == [4, longest] && batch.mask.shape == [4, longest])
    #expect(batch.labels.shape == [4] && batch.labels.values == examples.map(\.label))
    #expect(batch.lengths == examples.map(\.tokens.count) && batch.exampleIndices == [0, 1, 2, 3])
    let mask = batch.mask.scalars
    for (r, example) in examples.enumerated() {
        for t in 0..<longest {
            let real = t < example.tokens.count
            #expect(mask[r * longest + t] == (real ? 1 : 0))
            #expect(batch.tokens.values[r * longest + t] == (real ? example.tokens[t] : 0))
        }
    }
    #expect(batch.realTokenCount == examples.map(\.tokens.count).reduce(0, +))
    #expect(batch.pairTokens == nil && batch.pairMask == nil)
}

@Test func fixedPaddingPadsAndTruncates() throws {
    let task = FixedTask.classification(count: 10, longest: 7)
    let batch = task.batches(.train, batchSize: 10, shuffled: false, padding: .fixed(5))[0]
    #expect(batch.tokens.shape == [10, 5])
    for r in 0..<10 {
        let example = task.example(r, in: .train)
        let kept = min(5, example.tokens.count)
        #expect(batch.lengths[r] == kept)
        #expect(
            Array(batch.tokens.values[(r * 5)..<(r * 5 + kept)]) == Array(example.tokens.prefix(5)))
        #expect(batch.mask.scalars[(r * 5)..<(r * 5 + 5)].reduce(0, +) == Float(kept))
    }
}

@Test func epochsShuffleTrainingDeterministically() throws {
    let task = FixedTask.classification(count: 23)
    let epoch0 = task.batches(.train, batchSize: 5, epoch: 0)
    let again = task.batches(.train, batchSize: 5, epoch: 0)
    let epoch1 = task.batches(.train, batchSize: 5, epoch: 1)
    #expect(epoch0.count == 5 && epoch0.order == again.order)
    #expect(epoch0.order != epoch1.order)
    #expect(epoch0.order.sorted() == Array(0..<23) && epoch1.order.sorted() == Array(0..<23))
    #expect(epoch0.order != Array(0..<23))
    // Batches are addressable: batch 3 equals the fourth one met when iterating.
    let iterated = Array(epoch0)
    #expect(iterated[3].exampleIndices == epoch0[3].exampleIndices)
    #expect(iterated[3].tokens == epoch0[3].tokens)
    #expect(iterated.last!.size == 3)
    #expect(task.batches(.train, batchSize: 5, dropsLast: true).count == 4)
    // Evaluation splits keep their order unless asked otherwise.
    #expect(task.batches(.validation, batchSize: 2).order == [0, 1, 2, 3, 4])
    #expect(task.batches(.validation, batchSize: 2, shuffled: true).order != [0, 1, 2, 3, 4])
}

@Test func pairAndLanguageModelBatches() throws {
    let pairs = FixedTask(
        kind: .pairClassification,
        examples: [
            .train: [
                Example(tokens: [1, 2, 3], pairTokens: [4], label: 1),
                Example(tokens: [5], pairTokens: [6, 7, 8, 9], label: 0),
            ]
        ])
    let batch = pairs.batches(.train, batchSize: 2, shuffled: false)[0]
    #expect(batch.tokens.shape == [2, 3] && batch.pairTokens?.shape == [2, 4])
    #expect(batch.pairTokens?.values == [4, 0, 0, 0, 6, 7, 8, 9])
    #expect(batch.pairMask?.scalars == [1, 0, 0, 0, 1, 1, 1, 1])
    #expect(batch.labels.values == [1, 0] && batch.realTokenCount == 9)
    // A length limit cuts both sequences of a pair, keeping their starts; shorter batches stay short.
    let limited = pairs.batches(.train, batchSize: 2, shuffled: false, padding: .longestUpTo(2))[0]
    #expect(limited.tokens.values == [1, 2, 5, 0] && limited.pairTokens?.values == [4, 0, 6, 7])
    #expect(limited.mask.scalars == [1, 1, 1, 0] && limited.pairMask?.scalars == [1, 0, 1, 1])
    #expect(limited.lengths == [2, 1] && limited.realTokenCount == 6)
    let roomy = pairs.batches(.train, batchSize: 2, shuffled: false, padding: .longestUpTo(10))[0]
    #expect(roomy.tokens.shape == [2, 3] && roomy.pairTokens?.shape == [2, 4])

    let language = FixedTask(
        kind: .languageModel,
        examples: [
            .train: [
                Example(tokens: [1, 2, 3], targets: [2, 3, 4]),
                Example(tokens: [5, 6], targets: [6, 7]),
            ]
        ])
    let lm = language.batches(.train, batchSize: 2, shuffled: false)[0]
    #expect(lm.labels.shape == [2, 3] && lm.labels.values == [2, 3, 4, 6, 7, 0])
    #expect(lm.mask.scalars == [1, 1, 1, 1, 1, 0])
}

@Test func generatedTasksBatchThroughTheProtocol() throws {
    let task: any SequenceTask = try TaskCatalog.make("listops", preset: .tiny)
    let batches = Batches(task: task, split: .test, batchSize: 32)
    #expect(batches.count == 4)
    for batch in batches {
        #expect(batch.tokens.shape[0] == 32 && batch.tokens.shape[1] <= task.maxLength)
        #expect(batch.tokens.values.allSatisfy { $0 >= 0 && $0 < task.vocabularySize })
        #expect(batch.labels.values.allSatisfy { $0 >= 0 && $0 < task.classCount })
        // Padding id 0 never occurs inside a ListOps expression, so the mask is exactly "id ≠ 0".
        #expect(zip(batch.tokens.values, batch.mask.scalars).allSatisfy { ($0 != 0) == ($1 == 1) })
    }
}
