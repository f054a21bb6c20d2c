// Byte-level language modelling on Shakespeare (char-rnn / nanoGPT "shakespeare_char" style, on
// bytes): each example is a window of `windowLength + 1` contiguous bytes of one work; the model
// reads the first n and predicts each next byte. Training windows start anywhere in the works'
// training regions (drawn per example from stream (seed, train, i)); validation and test windows
// tile their regions without overlap, so an evaluation pass scores every byte of the region once
// (except each region's first byte and a tail shorter than a window). Bits per byte is the mean
// next-byte cross-entropy over real positions divided by ln 2; the trainer computes it.
import AttendCore

/// Parameters of the byte language-modelling task.
public struct ByteLanguageModelConfiguration: Codable, Sendable, Equatable, SeededConfiguration {
    /// Sources of the text (Shakespeare by default).
    public var sources: [TextSource] = [.shakespeare]
    /// Bytes the model reads per example (the context length).
    public var windowLength: Int
    /// Training windows per epoch; nil: as many as fit the training text without overlap.
    public var trainCount: Int?
    /// Seed of every draw.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case sources
        case windowLength = "window_length"
        case trainCount = "train_count"
        case seed
    }

    /// Windows of `windowLength` bytes.
    public init(windowLength: Int, trainCount: Int? = nil, seed: UInt64 = 0) {
        self.windowLength = windowLength
        self.trainCount = trainCount
        self.seed = seed
    }

    /// 1,024-byte context.
    public static let lra = ByteLanguageModelConfiguration(windowLength: 1024)
    /// 256-byte context, 8k windows per epoch.
    public static let cpu = ByteLanguageModelConfiguration(windowLength: 256, trainCount: 8_000)
    /// 32-byte context, 256 windows per epoch.
    public static let tiny = ByteLanguageModelConfiguration(windowLength: 32, trainCount: 256)
}

/// Next-byte prediction over contiguous windows of text.
public struct ByteLanguageModelTask: SequenceTask {
    /// The parameters.
    public let configuration: ByteLanguageModelConfiguration
    let sampler: PassageSampler
    /// Start offsets of the evaluation windows, per split: (document, start).
    private let tiles: [Split: [(document: Int, start: Int)]]

    /// `bytelm`.
    public var name: String { "bytelm" }
    /// Causal language modelling.
    public var kind: TaskKind { .languageModel }
    /// Bytes plus padding (257).
    public var vocabularySize: Int { ByteTokenizer.vocabularySize }
    /// Targets are token ids: the same 257.
    public var classCount: Int { ByteTokenizer.vocabularySize }
    /// The window length.
    public var maxLength: Int { configuration.windowLength }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }

    /// Loads the text from `files`.
    public init(_ configuration: ByteLanguageModelConfiguration, files: DataFiles = DataFiles())
        throws(DataError)
    {
        let n = configuration.windowLength
        guard n >= 1, configuration.trainCount.map({ $0 >= 0 }) ?? true,
            !configuration.sources.isEmpty
        else {
            throw DataError.invalidConfiguration(
                task: "bytelm", reason: "need window_length ≥ 1, train_count ≥ 0 and a source")
        }
        self.configuration = configuration
        let sampler = PassageSampler(try TextCorpus.load(configuration.sources, files: files))
        self.sampler = sampler
        var tiles: [Split: [(document: Int, start: Int)]] = [:]
        for split in [Split.validation, .test] {
            tiles[split] = sampler.corpus.documents.indices.flatMap { d in
                let region = sampler.region(d, split)
                return stride(from: region.lowerBound, through: region.upperBound - (n + 1), by: n)
                    .map { (document: d, start: $0) }
            }
        }
        self.tiles = tiles
        if sampler.documents(Array(sampler.corpus.documents.indices), holding: n + 1, in: .train)
            .isEmpty
            || tiles[.validation]!.isEmpty || tiles[.test]!.isEmpty
        {
            throw DataError.invalidConfiguration(
                task: "bytelm", reason: "window_length \(n) is longer than every split region")
        }
    }

    /// Bytes of text in the training regions.
    public var trainingBytes: Int {
        sampler.corpus.documents.indices.reduce(0) { $0 + sampler.region($1, .train).count }
    }

    /// Windows in `split`.
    public func count(of split: Split) -> Int {
        switch split {
        case .train: configuration.trainCount ?? trainingBytes / configuration.windowLength
        case .validation, .test: tiles[split]!.count
        }
    }

    /// Window `index` of `split`: n input tokens and the n tokens that follow each.
    public func example(_ index: Int, in split: Split) -> Example {
        let n = configuration.windowLength
        let window: Passage
        if split == .train {
            var random = configuration.generator(task: 0x424C_4D, split: .train, index: index)
            let all = Array(sampler.corpus.documents.indices)
            let document = sampler.document(from: all, length: n + 1, in: .train, using: &random)!
            window = sampler.passage(in: document, length: n + 1, split: .train, using: &random)
        } else {
            let tile = tiles[split]![index]
            window = Passage(document: tile.document, range: tile.start..<(tile.start + n + 1))
        }
        let ids = sampler.tokens(window)
        return Example(tokens: Array(ids.dropLast()), targets: Array(ids.dropFirst()))
    }
}

extension ByteLanguageModelTask {
    /// The registry entry: Shakespeare in each preset's window length and number of windows.
    static let entry = TaskEntry(
        name: "bytelm", summary: "next-byte prediction on Shakespeare, reported in bits per byte",
        kind: .languageModel, isLongRangeArena: false, files: [.shakespeareArchive]
    ) { preset, seed, files throws(DataError) in
        let c: ByteLanguageModelConfiguration =
            switch preset {
            case .tiny: .tiny
            case .cpu: .cpu
            case .lra: .lra
            }
        return try ByteLanguageModelTask(c.seeded(seed), files: files)
    }
}
