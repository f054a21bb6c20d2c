// Masked-token (self-pretraining) data: only real tokens are hidden (padding never), the hidden
// fraction matches the rate over many seeded examples, spans and patches hide whole units, pair
// tasks contribute both sequences, and impossible requests (language modelling, patches of a
// non-square input, bad rates) are refused with the reason.
import AttendCore
import AttendData
import Testing

/// Sequences of 5…60 tokens in 1…9 (0 is padding); with `pairs`, two per example.
struct VariableLengthTask: SequenceTask {
    var pairs = false
    var name: String { "variable" }
    var kind: TaskKind { pairs ? .pairClassification : .classification }
    var vocabularySize: Int { 10 }
    var classCount: Int { 2 }
    var maxLength: Int { 60 }
    var seed: UInt64 { 11 }
    func count(of split: Split) -> Int { 400 }
    func example(_ index: Int, in split: Split) -> Example {
        var generator = RandomGenerator(seed: 5, stream: UInt64(index))
        let tokens = (0..<(5 + generator.nextInt(below: 56))).map { _ in
            1 + generator.nextInt(below: 9)
        }
        guard pairs else { return Example(tokens: tokens, label: index % 2) }
        return Example(tokens: tokens, pairTokens: tokens.map { 10 - $0 }, label: index % 2)
    }
}

/// Fixed-length inputs of `side`² grey levels (0 is a real pixel here).
struct SquareImageTask: SequenceTask {
    var side = 16
    var name: String { "square" }
    var kind: TaskKind { .classification }
    var vocabularySize: Int { 256 }
    var classCount: Int { 2 }
    var maxLength: Int { side * side }
    var seed: UInt64 { 2 }
    func count(of split: Split) -> Int { 300 }
    func example(_ index: Int, in split: Split) -> Example {
        Example(tokens: (0..<(side * side)).map { ($0 * 7 + index) % 256 }, label: 0)
    }
}

/// Whether each position of a masked example is hidden (its target is a token).
private func hidden(_ example: Example) -> [Bool] { example.targets!.map { $0 != -100 } }

@Test func maskingHidesOnlyRealTokensAndNeverPadding() throws {
    let base = VariableLengthTask()
    let task = try MaskedTokenTask(base: base, masking: MaskingOptions(rate: 0.3, span: 3))
    #expect(
        task.kind == .maskedTokens && task.vocabularySize == 11 && task.classCount == 10
            && task.maskID == 10)
    let examples = (0..<16).map { task.example($0, in: .train) }
    for (index, example) in examples.enumerated() {
        let original = base.example(index, in: .train).tokens
        #expect(example.tokens.count == original.count)
        for t in original.indices {
            if hidden(example)[t] {
                #expect(example.tokens[t] == task.maskID && example.targets![t] == original[t])
            } else {
                #expect(example.tokens[t] == original[t])
            }
        }
    }
    let batch = Batch.collate(
        examples, indices: Array(0..<16), padding: .longest, padID: task.padID)
    let mask = batch.mask.scalars
    for (position, id) in batch.tokens.values.enumerated() where id == task.maskID {
        #expect(mask[position] == 1, "a mask token at padded position \(position)")
    }
    #expect(examples.allSatisfy { hidden($0).contains(true) }, "every example hides something")
    #expect(task.example(7, in: .train) == examples[7], "the same masking on every call")
}

@Test(arguments: [(0.15, 1), (0.5, 1), (0.3, 4)])
func theHiddenFractionMatchesTheRate(rate: Double, span: Int) throws {
    let task = try MaskedTokenTask(
        base: VariableLengthTask(), masking: MaskingOptions(rate: rate, span: span))
    var hiddenCount = 0, total = 0
    for index in 0..<task.count(of: .train) {
        let example = task.example(index, in: .train)
        hiddenCount += hidden(example).filter { $0 }.count
        total += example.tokens.count
    }
    let fraction = Double(hiddenCount) / Double(total)
    // ~13 000 positions in units of `span`: the standard error is under 1 % for every case.
    #expect(
        abs(fraction - rate) < 0.03, "hidden fraction \(fraction) for rate \(rate), span \(span)")
}

@Test func spansHideRunsOfWholeSpans() throws {
    let span = 5
    let task = try MaskedTokenTask(
        base: VariableLengthTask(), masking: MaskingOptions(rate: 0.3, span: span))
    for index in 0..<100 {
        let flags = hidden(task.example(index, in: .train))
        var start = 0
        while start < flags.count {
            var end = start
            while end < flags.count && flags[end] == flags[start] { end += 1 }
            // A run inside the sequence is a whole number of spans; at the ends one may be cut.
            if flags[start] && start > 0 && end < flags.count {
                #expect((end - start) % span == 0, "example \(index): hidden run \(start)..<\(end)")
            }
            start = end
        }
    }
}

@Test func patchesHideWholeSquaresOfTheImage() throws {
    let (side, patch) = (16, 4)
    let task = try MaskedTokenTask(
        base: SquareImageTask(side: side), masking: MaskingOptions(rate: 0.4, patch: patch))
    for index in 0..<50 {
        let flags = hidden(task.example(index, in: .train))
        // Some grid of patch×patch cells (shifted by an offset) must be hidden or kept as a whole.
        let fits = (0..<patch).contains { rowOffset in
            (0..<patch).contains { columnOffset in
                var cells: [Int: Bool] = [:]
                for p in 0..<(side * side) {
                    let cell =
                        ((p / side + rowOffset) / patch) * 100 + (p % side + columnOffset) / patch
                    if let seen = cells[cell], seen != flags[p] { return false }
                    cells[cell] = flags[p]
                }
                return true
            }
        }
        #expect(fits, "example \(index) is not a union of \(patch)×\(patch) patches")
    }
}

@Test func pairTasksContributeBothSequences() throws {
    let base = VariableLengthTask(pairs: true)
    let task = try MaskedTokenTask(base: base, masking: MaskingOptions(rate: 0.2))
    #expect(task.count(of: .train) == 2 * base.count(of: .train))
    let source = base.example(3, in: .train)
    for (index, sequence) in [(6, source.tokens), (7, source.pairTokens!)] {
        let example = task.example(index, in: .train)
        let restored = zip(example.tokens, example.targets!).map { $1 == -100 ? $0 : $1 }
        #expect(restored == sequence && example.pairTokens == nil)
    }
}

@Test func impossibleMaskingIsRefusedWithTheReason() throws {
    let refusals: [(any SequenceTask, MaskingOptions, String)] = [
        (VariableLengthTask(), MaskingOptions(rate: 0.3, patch: 2), "not a square"),
        (
            SquareImageTask(side: 4), MaskingOptions(rate: 0.3, patch: 8),
            "larger than the 4×4 image"
        ),
        (VariableLengthTask(), MaskingOptions(rate: 1.5), "between 0 and 1"),
        (VariableLengthTask(), MaskingOptions(rate: 0.3, span: 2, patch: 2), "not both"),
        (
            try TaskCatalog.make("bytelm", preset: .tiny, seed: 0), MaskingOptions(rate: 0.3),
            "its own tokens"
        ),
    ]
    for (base, masking, reason) in refusals {
        #expect {
            _ = try MaskedTokenTask(base: base, masking: masking)
        } throws: { error in
            "\(error)".contains(reason)
        }
    }
}
