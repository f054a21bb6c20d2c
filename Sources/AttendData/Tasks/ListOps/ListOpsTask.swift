// The ListOps task: LRA's generator run until the three splits are full, with duplicates removed
// across all of them (LRA draws into one set, then slices it). Trees are drawn in blocks of
// `blockSize` accepted trees, block b from its own generator stream, several blocks in parallel;
// blocks are merged in order, so the data depend on the seed and configuration only, never on the
// thread count. The test split is filled first, then validation, then train, so changing the
// training set's size leaves the evaluation sets unchanged.
import AttendCore

/// Parameters of a ListOps task. Lengths are token counts with strict bounds, as in LRA.
public struct ListOpsConfiguration: Codable, Sendable, Equatable, SplitSizedConfiguration {
    /// Exclusive lower bound on the token count (LRA: 500).
    public var minLength: Int
    /// Exclusive upper bound on the token count (LRA: 2000).
    public var maxLength: Int
    /// Deepest node level, root at 1 (LRA: 10).
    public var maxDepth: Int = 10
    /// Most arguments of one operator (LRA: 10).
    public var maxArguments: Int = 10
    /// Probability that a node is an operator (LRA's VALUE_P: 0.25).
    public var operatorProbability: Double = 0.25
    /// Training examples (LRA: 96,000).
    public var trainCount: Int
    /// Validation examples (LRA: 2,000).
    public var validationCount: Int
    /// Test examples (LRA: 2,000).
    public var testCount: Int
    /// Seed of every draw.
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case minLength = "min_length"
        case maxLength = "max_length"
        case maxDepth = "max_depth"
        case maxArguments = "max_args"
        case operatorProbability = "value_p"
        case trainCount = "train_count"
        case validationCount = "validation_count"
        case testCount = "test_count"
        case seed
    }

    /// A configuration with LRA's grammar parameters.
    public init(
        minLength: Int, maxLength: Int, trainCount: Int, validationCount: Int, testCount: Int,
        seed: UInt64 = 0
    ) {
        self.minLength = minLength
        self.maxLength = maxLength
        self.trainCount = trainCount
        self.validationCount = validationCount
        self.testCount = testCount
        self.seed = seed
    }

    /// LRA's ListOps: 500 < length < 2000, 96k/2k/2k.
    public static let lra = ListOpsConfiguration(
        minLength: 500, maxLength: 2000, trainCount: 96_000, validationCount: 2_000,
        testCount: 2_000)
    /// Shorter expressions for CPU training: 100 < length < 500, 20k/1k/2k.
    public static let cpu = ListOpsConfiguration(
        minLength: 100, maxLength: 500, trainCount: 20_000, validationCount: 1_000,
        testCount: 2_000)
    /// A few short expressions for tests: 10 < length < 50, 512/128/128.
    public static let tiny = ListOpsConfiguration(
        minLength: 10, maxLength: 50, trainCount: 512, validationCount: 128, testCount: 128)
}

/// ListOps: 10-way classification of nested list expressions (vocabulary in `ListOps`).
public struct ListOpsTask: SequenceTask {
    /// The parameters the data were generated with.
    public let configuration: ListOpsConfiguration
    /// Trees drawn (accepted or not) while generating, for the acceptance rate.
    public let draws: Int
    /// Trees accepted by the length band while generating (before duplicates are removed).
    public let accepted: Int
    private let splits: [Split: TokenStore]

    /// `listops`.
    public var name: String { "listops" }
    /// Classification.
    public var kind: TaskKind { .classification }
    /// 16: pad, ten digits, four operators, `]`.
    public var vocabularySize: Int { ListOps.vocabulary.count }
    /// The ten digits.
    public var classCount: Int { 10 }
    /// The longest allowed expression, `maxLength − 1` tokens.
    public var maxLength: Int { configuration.maxLength - 1 }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }

    /// Generates the three splits.
    public init(_ configuration: ListOpsConfiguration) throws(DataError) {
        try Self.validate(configuration)
        self.configuration = configuration
        let generator = ListOpsGenerator(
            maxDepth: configuration.maxDepth, maxArguments: configuration.maxArguments,
            minLength: configuration.minLength, maxLength: configuration.maxLength,
            operatorProbability: configuration.operatorProbability)
        let total =
            configuration.testCount + configuration.validationCount
            + configuration.trainCount
        var unique = TokenStore()
        var seen = Set<[UInt8]>()
        var nextBlock = 0
        var draws = 0
        var accepted = 0
        var barrenWaves = 0
        let base = RandomGenerator.mix(configuration.seed, 0x4C49_5354_4F50_53)  // "LISTOPS"
        while unique.count < total {
            let blockCount = min(64, (total - unique.count + Self.blockSize - 1) / Self.blockSize)
            let blocks = Self.generateBlocks(
                generator, base: base, first: nextBlock, count: blockCount)
            nextBlock += blockCount
            let before = unique.count
            for block in blocks {
                draws += block.draws
                accepted += block.trees.count
                for (tokens, label) in zip(block.trees, block.labels) where unique.count < total {
                    if seen.insert(tokens).inserted { unique.append(tokens, label: label) }
                }
            }
            barrenWaves = unique.count == before ? barrenWaves + 1 : 0
            if barrenWaves >= 4 {
                throw DataError.invalidConfiguration(
                    task: "listops",
                    reason:
                        "only \(unique.count) distinct expressions with \(configuration.minLength) "
                        + "< length < \(configuration.maxLength) were found, \(total) requested")
            }
        }
        // Test first, then validation, then train (LRA slices its set the same way).
        let stores: [Split: TokenStore] = [
            .test: unique.slice(0..<configuration.testCount),
            .validation: unique.slice(
                configuration.testCount..<(configuration.testCount + configuration.validationCount)),
            .train: unique.slice((configuration.testCount + configuration.validationCount)..<total),
        ]
        self.splits = stores
        self.draws = draws
        self.accepted = accepted
    }

    /// Draws per accepted tree: the reciprocal of the band's acceptance rate.
    public var drawsPerExample: Double { Double(draws) / Double(max(1, accepted)) }

    /// Examples in `split`.
    public func count(of split: Split) -> Int { splits[split]!.count }

    /// Expression `index` of `split` and its value.
    public func example(_ index: Int, in split: Split) -> Example {
        let store = splits[split]!
        return Example(tokens: store.tokens(index).map(Int.init), label: store.labels[index])
    }

    /// Accepted trees per block; a block is the unit of parallel work and of the seed stream.
    static let blockSize = 256

    private struct Block: Sendable {
        var trees: [[UInt8]] = []
        var labels: [Int] = []
        var draws = 0
    }

    private static func generateBlocks(
        _ generator: ListOpsGenerator, base: UInt64, first: Int, count: Int
    ) -> [Block] {
        let results = UnsafeMutablePointer<Block>.allocate(capacity: count)
        results.initialize(repeating: Block(), count: count)
        defer { results.deinitialize(count: count).deallocate() }
        let shared = SendablePointer(results)
        Parallel.forEach(count) { b in
            var random = RandomGenerator(seed: base, stream: UInt64(first + b))
            var scratch = ListOpsGenerator.Scratch()
            var block = Block()
            for _ in 0..<blockSize {
                let tree = generator.next(using: &random, scratch: &scratch)
                block.trees.append(tree.tokens)
                block.labels.append(tree.label)
                block.draws += tree.draws
            }
            shared[b] = block
        }
        return Array(UnsafeBufferPointer(start: results, count: count))
    }

    private static func validate(_ c: ListOpsConfiguration) throws(DataError) {
        func fail(_ reason: String) -> DataError {
            .invalidConfiguration(task: "listops", reason: reason)
        }
        guard c.minLength >= 0, c.maxLength > c.minLength + 1 else {
            throw fail(
                "need 0 ≤ min_length and min_length + 1 < max_length, got \(c.minLength), \(c.maxLength)"
            )
        }
        guard c.maxDepth >= 1, c.maxArguments >= 2 else {
            throw fail("need max_depth ≥ 1 and max_args ≥ 2, got \(c.maxDepth), \(c.maxArguments)")
        }
        guard c.operatorProbability > 0, c.operatorProbability < 1 else {
            throw fail("value_p must lie in (0, 1), got \(c.operatorProbability)")
        }
        if let problem = c.splitSizeProblem { throw fail(problem) }
        // Trees that fit the depth bound: the longest one is the full tree of maximal arity.
        var longest = 1
        for _ in 1..<c.maxDepth { longest = min(2 + c.maxArguments * longest, Int.max / 64) }
        guard longest > c.minLength else {
            throw fail("no tree of depth ≤ \(c.maxDepth) is longer than \(c.minLength) tokens")
        }
    }
}

/// Variable-length token sequences stored back to back, with one label each.
struct TokenStore: Sendable {
    private(set) var storage: [UInt8] = []
    private(set) var offsets: [Int] = [0]
    private(set) var labels: [Int] = []

    var count: Int { labels.count }

    mutating func append(_ tokens: [UInt8], label: Int) {
        storage += tokens
        offsets.append(storage.count)
        labels.append(label)
    }

    func tokens(_ index: Int) -> ArraySlice<UInt8> { storage[offsets[index]..<offsets[index + 1]] }

    /// The sequences in `range`, as a store of their own.
    func slice(_ range: Range<Int>) -> TokenStore {
        var copy = TokenStore()
        for i in range { copy.append(Array(tokens(i)), label: labels[i]) }
        return copy
    }
}

extension ListOpsTask {
    /// The registry entry: LRA's ListOps at each preset's expression lengths and split sizes.
    static let entry = TaskEntry(
        name: "listops",
        summary: "ListOps: value of nested MIN/MAX/MED/SM expressions, 10 classes (LRA)",
        kind: .classification, isLongRangeArena: true
    ) { preset, seed, _ throws(DataError) in
        let c: ListOpsConfiguration =
            switch preset {
            case .tiny: .tiny
            case .cpu: .cpu
            case .lra: .lra
            }
        return try ListOpsTask(c.seeded(seed))
    }
}
