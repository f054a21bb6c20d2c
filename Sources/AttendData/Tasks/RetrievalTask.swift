// Document matching, Attend's offline stand-in for LRA's Retrieval task (AAN citation pairs, two
// byte sequences of up to 4K, a two-tower model): do two passages come from the same work? Works
// are the corpus documents (plays, books of the Bible, Milton's works, dictionary sections).
// Example i has label i mod 2 and source (i / 2) mod (number of sources) for its first passage:
//   label 1: two non-overlapping passages of one work of that source;
//   label 0: a passage of one work, and one of another work, of the same source with probability
//            `sameSourceNegatives` (hard negatives: style alone cannot tell) or of another source.
// Both passages lie in the split's regions, so no pair shares text across splits.
import AttendCore

/// Parameters of the retrieval task.
public struct RetrievalConfiguration: Codable, Sendable, Equatable, SplitSizedConfiguration {
    /// Sources whose works are paired.
    public var sources: [TextSource] = TextSource.allCases
    /// Shortest passage, in bytes.
    public var minBytes: Int
    /// Longest passage, in bytes (per tower).
    public var maxBytes: Int
    /// Share of negative pairs whose second work is from the first one's source.
    public var sameSourceNegatives: Double = 0.5
    /// Training pairs per epoch.
    public var trainCount: Int
    /// Validation pairs.
    public var validationCount: Int
    /// Test pairs.
    public var testCount: Int
    /// Seed of every draw.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case sources
        case minBytes = "min_bytes"
        case maxBytes = "max_bytes"
        case sameSourceNegatives = "same_source_negatives"
        case trainCount = "train_count"
        case validationCount = "validation_count"
        case testCount = "test_count"
        case seed
    }

    /// A configuration over all four sources.
    public init(
        minBytes: Int, maxBytes: Int, trainCount: Int, validationCount: Int, testCount: Int,
        seed: UInt64 = 0
    ) {
        self.minBytes = minBytes
        self.maxBytes = maxBytes
        self.trainCount = trainCount
        self.validationCount = validationCount
        self.testCount = testCount
        self.seed = seed
    }

    /// 1–4 KB per passage (LRA: up to 4,000 bytes per document), 24k/2k/2k pairs.
    public static let lra = RetrievalConfiguration(
        minBytes: 1024, maxBytes: 4096, trainCount: 24_000, validationCount: 2_000, testCount: 2_000
    )
    /// 512 B–1 KB per passage, 8k/1k/2k pairs.
    public static let cpu = RetrievalConfiguration(
        minBytes: 512, maxBytes: 1024, trainCount: 8_000, validationCount: 1_000, testCount: 2_000)
    /// 64–128 B per passage, 256/64/64 pairs.
    public static let tiny = RetrievalConfiguration(
        minBytes: 64, maxBytes: 128, trainCount: 256, validationCount: 64, testCount: 64)
}

/// Whether two byte passages come from the same work.
public struct RetrievalTask: SequenceTask {
    /// The parameters.
    public let configuration: RetrievalConfiguration
    let sampler: PassageSampler

    /// `retrieval`.
    public var name: String { "retrieval" }
    /// Two sequences, one label.
    public var kind: TaskKind { .pairClassification }
    /// Bytes plus padding (257).
    public var vocabularySize: Int { ByteTokenizer.vocabularySize }
    /// Same work or not.
    public var classCount: Int { 2 }
    /// Label 0: different works; label 1: the same work.
    public var classNames: [String] { ["different work", "same work"] }
    /// `maxBytes`, per passage.
    public var maxLength: Int { configuration.maxBytes }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }

    /// Loads the sources' documents from `files`.
    public init(_ configuration: RetrievalConfiguration, files: DataFiles = DataFiles())
        throws(DataError)
    {
        let c = configuration
        func fail(_ reason: String) -> DataError {
            .invalidConfiguration(task: "retrieval", reason: reason)
        }
        if let problem = c.passageProblem { throw fail(problem) }
        guard c.sameSourceNegatives >= 0, c.sameSourceNegatives <= 1 else {
            throw fail("same_source_negatives must lie in [0, 1]")
        }
        if let problem = c.splitSizeProblem { throw fail(problem) }
        self.configuration = c
        sampler = PassageSampler(try TextCorpus.load(c.sources, files: files))
        for source in c.sources {
            for split in Split.allCases {
                let works = sampler.documentsBySource[source] ?? []
                if sampler.documents(works, holding: 2 * c.maxBytes, in: split).isEmpty {
                    throw fail("no \(source) work has a \(split) region of 2 × \(c.maxBytes) bytes")
                }
                if sampler.documents(works, holding: c.maxBytes, in: split).count < 2 {
                    throw fail(
                        "\(source) needs two works with \(split) regions of \(c.maxBytes) bytes")
                }
            }
        }
    }

    /// Pairs in `split`.
    public func count(of split: Split) -> Int { configuration.count(of: split) }

    /// The two passages of pair `index` of `split`.
    func passages(_ index: Int, in split: Split) -> (Passage, Passage) {
        let c = configuration
        var random = c.generator(task: 0x5245_5452, split: split, index: index)
        let firstLength = c.passageLength(using: &random)
        let lengths = (firstLength, c.passageLength(using: &random))
        let source = c.sources[(index / 2) % c.sources.count]
        let works = sampler.documentsBySource[source]!
        if index % 2 == 1 {
            let work = sampler.document(
                from: works, length: lengths.0 + lengths.1, in: split, using: &random)!
            return sampler.twoPassages(in: work, lengths: lengths, split: split, using: &random)
        }
        let first = sampler.document(from: works, length: lengths.0, in: split, using: &random)!
        let sameSource = random.nextUniformDouble() < c.sameSourceNegatives
        let others =
            sameSource
            ? works.filter { $0 != first }
            : c.sources.filter { $0 != source }.flatMap { sampler.documentsBySource[$0]! }
        let second = sampler.document(from: others, length: lengths.1, in: split, using: &random)!
        return (
            sampler.passage(in: first, length: lengths.0, split: split, using: &random),
            sampler.passage(in: second, length: lengths.1, split: split, using: &random)
        )
    }

    /// Pair `index` of `split`: both passages as byte tokens, label 1 for the same work.
    public func example(_ index: Int, in split: Split) -> Example {
        let (a, b) = passages(index, in: split)
        return Example(tokens: sampler.tokens(a), pairTokens: sampler.tokens(b), label: index % 2)
    }
}

extension RetrievalConfiguration: PassageConfiguration {}

extension RetrievalTask {
    /// The registry entry: passage pairs at each preset's lengths and split sizes.
    static let entry = TaskEntry(
        name: "retrieval",
        summary: "two byte passages: from the same work or not, two-tower (LRA Retrieval style)",
        kind: .pairClassification, isLongRangeArena: true,
        files: [.shakespeareArchive, .kingJamesBible, .gcide]
    ) { preset, seed, files throws(DataError) in
        let c: RetrievalConfiguration =
            switch preset {
            case .tiny: .tiny
            case .cpu: .cpu
            case .lra: .lra
            }
        return try RetrievalTask(c.seeded(seed), files: files)
    }
}
