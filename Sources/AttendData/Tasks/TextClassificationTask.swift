// Byte-level text classification, Attend's offline stand-in for LRA's Text task (IMDb reviews,
// byte tokens, up to 4K): which source did a 1–4 KB passage come from? Example i of a split has
// label i mod (number of sources), so labels are exactly balanced; its length, document (in
// proportion to the passage placements it offers) and position are drawn from generator stream
// (seed, split, i). Passages come from split regions of documents (see PassageSampler.swift).
import AttendCore

/// Parameters of the text classification task.
public struct TextClassificationConfiguration: Codable, Sendable, Equatable, SplitSizedConfiguration
{
    /// The classes, in label order.
    public var sources: [TextSource] = TextSource.allCases
    /// Shortest passage, in bytes.
    public var minBytes: Int
    /// Longest passage, in bytes (the task's maximum length).
    public var maxBytes: Int
    /// Training passages per epoch.
    public var trainCount: Int
    /// Validation passages.
    public var validationCount: Int
    /// Test passages.
    public var testCount: Int
    /// Seed of every draw.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case sources
        case minBytes = "min_bytes"
        case maxBytes = "max_bytes"
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

    /// 1–4 KB passages (LRA's 4K byte setting), 24k/2k/2k.
    public static let lra = TextClassificationConfiguration(
        minBytes: 1024, maxBytes: 4096, trainCount: 24_000, validationCount: 2_000, testCount: 2_000
    )
    /// 512 B–1 KB passages for CPU training, 8k/1k/2k.
    public static let cpu = TextClassificationConfiguration(
        minBytes: 512, maxBytes: 1024, trainCount: 8_000, validationCount: 1_000, testCount: 2_000)
    /// 64–128 B passages for tests, 256/64/64.
    public static let tiny = TextClassificationConfiguration(
        minBytes: 64, maxBytes: 128, trainCount: 256, validationCount: 64, testCount: 64)
}

/// Which source a byte passage comes from.
public struct TextClassificationTask: SequenceTask {
    /// The parameters.
    public let configuration: TextClassificationConfiguration
    let sampler: PassageSampler

    /// `text`.
    public var name: String { "text" }
    /// Classification.
    public var kind: TaskKind { .classification }
    /// Bytes plus padding (257).
    public var vocabularySize: Int { ByteTokenizer.vocabularySize }
    /// One class per source.
    public var classCount: Int { configuration.sources.count }
    /// `maxBytes`.
    public var maxLength: Int { configuration.maxBytes }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }
    /// Class names in label order.
    public var classNames: [String] { configuration.sources.map(\.rawValue) }

    /// Loads the sources' documents from `files`.
    public init(_ configuration: TextClassificationConfiguration, files: DataFiles = DataFiles())
        throws(DataError)
    {
        let c = configuration
        func fail(_ reason: String) -> DataError {
            .invalidConfiguration(task: "text", reason: reason)
        }
        if let problem = c.passageProblem ?? c.splitSizeProblem { throw fail(problem) }
        self.configuration = c
        sampler = PassageSampler(try TextCorpus.load(c.sources, files: files))
        for source in c.sources {
            for split in Split.allCases
            where sampler.documents(
                sampler.documentsBySource[source] ?? [], holding: c.maxBytes, in: split
            ).isEmpty {
                throw fail("no \(source) document has a \(split) region of \(c.maxBytes) bytes")
            }
        }
    }

    /// Passages in `split`.
    public func count(of split: Split) -> Int { configuration.count(of: split) }

    /// Passage `index` of `split` and where it came from.
    func passage(_ index: Int, in split: Split) -> Passage {
        let c = configuration
        var random = c.generator(task: 0x54_4558_54, split: split, index: index)
        let length = c.passageLength(using: &random)
        let source = c.sources[index % c.sources.count]
        let document = sampler.document(
            from: sampler.documentsBySource[source]!, length: length, in: split, using: &random)!
        return sampler.passage(in: document, length: length, split: split, using: &random)
    }

    /// Passage `index` of `split` as byte tokens, labelled with its source.
    public func example(_ index: Int, in split: Split) -> Example {
        Example(tokens: sampler.tokens(passage(index, in: split)), label: index % classCount)
    }
}

extension TextClassificationConfiguration: PassageConfiguration {}

extension TextClassificationTask {
    /// The registry entry: passages of four sources at each preset's lengths and split sizes.
    static let entry = TaskEntry(
        name: "text",
        summary: "byte-level passages: Shakespeare, Milton, King James Bible or GCIDE, 4 classes",
        kind: .classification, isLongRangeArena: true,
        files: [.shakespeareArchive, .kingJamesBible, .gcide]
    ) { preset, seed, files throws(DataError) in
        let c: TextClassificationConfiguration =
            switch preset {
            case .tiny: .tiny
            case .cpu: .cpu
            case .lra: .lra
            }
        return try TextClassificationTask(c.seeded(seed), files: files)
    }
}
