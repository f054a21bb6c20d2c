import Testing

// Text, Retrieval and byte language modelling over the installed corpora: the documents each source
// yields, balanced labels, passage lengths, passages confined to their split's region (so train
// and test never share text), determinism, and the language-model shift.
@testable import AttendData

private let textAvailable = TestData.available(task: "text")

@Test(.enabled(if: textAvailable, TestData.skipNote))
func corpusHasTheExpectedWorksNormalised() throws {
    let corpus = try TextCorpus.load(TextSource.allCases)
    let counts = Dictionary(grouping: corpus.documents, by: \.source).mapValues(\.count)
    #expect(counts == [.shakespeare: 42, .milton: 4, .kjv: 66, .gcide: 11])
    for document in corpus.documents {
        #expect(!document.bytes.contains(13), "\(document.title) keeps a carriage return")
        #expect(!document.bytes.starts(with: [0xEF, 0xBB, 0xBF]))
        #expect(document.bytes.count > 1_000, "\(document.title)")
    }
    let genesis = corpus.documents.first { $0.source == .kjv }!
    #expect(genesis.title == "Ge")
    #expect(
        genesis.bytes.starts(
            with: Array("In the beginning God created the heaven and the earth.\n".utf8)))
    let sizes = Dictionary(grouping: corpus.documents, by: \.source).mapValues {
        $0.reduce(0) { $0 + $1.bytes.count }
    }
    // Shakespeare ≈ 5.0 MB, Bible ≈ 4.3 MB without references, GCIDE ≈ 5.1 MB, Milton ≈ 0.7 MB.
    #expect(
        sizes[.shakespeare]! > 4_500_000 && sizes[.kjv]! > 4_000_000 && sizes[.gcide]! > 4_500_000)
    #expect(sizes[.milton]! > 600_000)
}

@Test(.enabled(if: textAvailable, TestData.skipNote))
func textPassagesAreBalancedBoundedAndConfinedToTheirSplit() throws {
    var configuration = TextClassificationConfiguration.lra
    (configuration.trainCount, configuration.validationCount, configuration.testCount) = (
        400, 40, 80
    )
    let task = try TextClassificationTask(configuration)
    #expect(task.classCount == 4 && task.vocabularySize == 257 && task.maxLength == 4096)
    var passagesBySplit: [Split: [Passage]] = [:]
    for split in Split.allCases {
        var labels = [Int](repeating: 0, count: 4)
        for i in 0..<task.count(of: split) {
            let example = task.example(i, in: split)
            let passage = task.passage(i, in: split)
            labels[example.label] += 1
            #expect((1024...4096).contains(example.tokens.count))
            #expect(example.tokens.allSatisfy { (1...256).contains($0) })
            #expect(
                task.sampler.corpus.documents[passage.document].source
                    == configuration.sources[example.label])
            #expect(
                example.tokens
                    == ByteTokenizer.encode(
                        task.sampler.corpus.documents[passage.document].bytes[passage.range]))
            let region = task.sampler.region(passage.document, split)
            #expect(
                passage.range.lowerBound >= region.lowerBound
                    && passage.range.upperBound <= region.upperBound)
            passagesBySplit[split, default: []].append(passage)
        }
        #expect(Set(labels).count == 1, "\(split) labels \(labels)")
    }
    // No byte of a test passage lies in any training passage of the same document.
    for test in passagesBySplit[.test]! {
        for train in passagesBySplit[.train]! where train.document == test.document {
            #expect(!train.range.overlaps(test.range))
        }
    }
}

@Test(.enabled(if: textAvailable, TestData.skipNote))
func textTasksAreDeterministic() throws {
    let a = try TextClassificationTask(.tiny)
    let b = try TextClassificationTask(.tiny)
    let other = try TextClassificationTask(TextClassificationConfiguration.tiny.seeded(5))
    let first = (0..<32).map { a.example($0, in: .train) }
    #expect(first == (0..<32).map { b.example($0, in: .train) })
    #expect(first != (0..<32).map { other.example($0, in: .train) })
    #expect(first != (0..<32).map { a.example($0, in: .validation) })
}

@Test(.enabled(if: textAvailable, TestData.skipNote))
func retrievalPairsMatchTheirLabels() throws {
    var configuration = RetrievalConfiguration.lra
    (configuration.trainCount, configuration.validationCount, configuration.testCount) = (
        400, 40, 80
    )
    let task = try RetrievalTask(configuration)
    #expect(task.isPair && task.classCount == 2 && task.maxLength == 4096)
    let documents = task.sampler.corpus.documents
    var sameSourceNegatives = 0
    var trainPassages: [Passage] = []
    for split in Split.allCases {
        var positives = 0
        for i in 0..<task.count(of: split) {
            let example = task.example(i, in: split)
            let (a, b) = task.passages(i, in: split)
            positives += example.label
            #expect(
                example.tokens == task.sampler.tokens(a)
                    && example.pairTokens == task.sampler.tokens(b))
            #expect((1024...4096).contains(a.range.count) && (1024...4096).contains(b.range.count))
            for passage in [a, b] {
                let region = task.sampler.region(passage.document, split)
                #expect(
                    passage.range.lowerBound >= region.lowerBound
                        && passage.range.upperBound <= region.upperBound)
                if split == .train { trainPassages.append(passage) }
                if split == .test {
                    #expect(
                        !trainPassages.contains {
                            $0.document == passage.document && $0.range.overlaps(passage.range)
                        })
                }
            }
            if example.label == 1 {
                #expect(a.document == b.document && !a.range.overlaps(b.range))
            } else {
                #expect(a.document != b.document)
                if documents[a.document].source == documents[b.document].source {
                    sameSourceNegatives += 1
                }
            }
        }
        #expect(positives * 2 == task.count(of: split))
    }
    // Half the 260 negatives are expected to pair works of one source: σ ≈ 8.
    #expect(abs(sameSourceNegatives - 130) < 40, "same-source negatives: \(sameSourceNegatives)")
}

@Test(.enabled(if: TestData.available(task: "bytelm"), TestData.skipNote))
func byteLanguageModelWindowsShiftByOne() throws {
    let task = try ByteLanguageModelTask(
        ByteLanguageModelConfiguration(windowLength: 64, trainCount: 100))
    #expect(task.isCausal && task.classCount == 257 && task.maxLength == 64)
    for split in Split.allCases {
        for i in stride(from: 0, to: task.count(of: split), by: max(1, task.count(of: split) / 50))
        {
            let example = task.example(i, in: split)
            #expect(example.tokens.count == 64 && example.targets?.count == 64)
            #expect(Array(example.tokens.dropFirst()) == Array(example.targets!.dropLast()))
        }
    }
    // Evaluation windows tile each validation region of every work, 64 predicted bytes apart.
    let documents = task.sampler.corpus.documents
    let expected = documents.indices.reduce(0) { total, d in
        total + max(0, (task.sampler.region(d, .validation).count - 1) / 64)
    }
    #expect(task.count(of: .validation) == expected)
    #expect(task.count(of: .train) == 100)
    let first = task.sampler.region(0, .test)
    #expect(
        task.example(0, in: .test).tokens
            == ByteTokenizer.encode(documents[0].bytes[first.lowerBound..<(first.lowerBound + 64)]))
}

@Test func byteTokenizerRoundTrips() {
    let text = "Shall I compare thee to a summer’s day?"
    let ids = ByteTokenizer.encode(text)
    #expect(ids.count == text.utf8.count && ids.allSatisfy { (1...256).contains($0) })
    #expect(ByteTokenizer.decodeText(ids + [0, 0]) == text)
}
