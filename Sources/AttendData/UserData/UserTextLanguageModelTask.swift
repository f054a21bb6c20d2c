// Byte-level language modelling on a user's plain text: a file, or every file of a folder (in
// name order). As for the built-in `bytelm`, an example is a window of `windowLength + 1` bytes;
// training windows start anywhere in the training regions (drawn per example from the seed), and
// validation and test windows tile their regions without overlap. Without a validation file, the
// last `validationFraction` of every file is its validation region. Windows are read from disk
// when asked for, so the text never sits in memory.
import AttendCore
import Foundation

/// A byte range of one file.
struct TextRegion: Sendable {
    let file: RecordFile
    let range: Range<Int>
}

/// Next-byte prediction over a user's text files.
public struct UserTextLanguageModelTask: UserDataTask {
    /// The configuration.
    public let resolvedConfiguration: UserDataConfiguration
    /// What was read.
    public let summary: DataSummary
    private let regions: [Split: [TextRegion]]
    /// Validation and test windows: (region, start).
    private let tiles: [Split: [(region: Int, start: Int)]]
    /// Training regions that hold at least one window, with their sizes.
    private let trainable: [Int]

    /// `text`.
    public var name: String { "text-lm" }
    /// Causal language modelling.
    public var kind: TaskKind { .languageModel }
    /// Bytes plus padding (257).
    public var vocabularySize: Int { ByteTokenizer.vocabularySize }
    /// Targets are byte ids: the same 257.
    public var classCount: Int { ByteTokenizer.vocabularySize }
    /// The window length.
    public var maxLength: Int { resolvedConfiguration.windowLength }
    /// The configuration's seed.
    public var seed: UInt64 { resolvedConfiguration.seed }

    /// Indexes the text files the configuration names (sizes only; nothing is read yet).
    public init(_ configuration: UserDataConfiguration) throws(DataError) {
        let n = configuration.windowLength
        guard n >= 1 else {
            throw DataError.invalidConfiguration(
                task: "text", reason: "window length must be ≥ 1, got \(n)")
        }
        guard configuration.tokenizer == .bytes else {
            throw DataError.invalidConfiguration(
                task: "text",
                reason:
                    "language modelling reads bytes; tokenizer "
                    + "'\(configuration.tokenizer.kind)' cannot be used"
            )
        }
        var regions: [Split: [TextRegion]] = [:]
        let training = try Self.files(configuration.train)
        if let path = configuration.validation {
            regions[.train] = training.map { TextRegion(file: $0.file, range: 0..<$0.size) }
            regions[.validation] = try Self.files(path).map {
                TextRegion(file: $0.file, range: 0..<$0.size)
            }
        } else {
            let f = min(max(configuration.validationFraction, 0), 1)
            for (file, size) in training {
                let cut = size - Int((Double(size) * f).rounded())
                regions[.train, default: []].append(TextRegion(file: file, range: 0..<cut))
                regions[.validation, default: []].append(TextRegion(file: file, range: cut..<size))
            }
        }
        regions[.test] =
            try configuration.test.map { p throws(DataError) in
                try Self.files(p).map { TextRegion(file: $0.file, range: 0..<$0.size) }
            } ?? []
        var tiles: [Split: [(region: Int, start: Int)]] = [:]
        for split in [Split.validation, .test] {
            tiles[split] = (regions[split] ?? []).enumerated().flatMap { r, region in
                stride(
                    from: region.range.lowerBound, through: region.range.upperBound - (n + 1), by: n
                )
                .map { (region: r, start: $0) }
            }
        }
        trainable = regions[.train]!.indices.filter { regions[.train]![$0].range.count >= n + 1 }
        guard !trainable.isEmpty else {
            throw DataError.invalidConfiguration(
                task: "text",
                reason:
                    "no training text holds a window of \(n + 1) bytes; "
                    + "lower --seq-len or give more text"
            )
        }
        resolvedConfiguration = configuration
        self.regions = regions
        self.tiles = tiles
        var summary = DataSummary()
        summary.counts = [
            .train: max(1, regions[.train]!.reduce(0) { $0 + $1.range.count } / n),
            .validation: tiles[.validation]!.count, .test: tiles[.test]!.count,
        ]
        for split in Split.allCases where !(regions[split] ?? []).isEmpty {
            let bytes = regions[split]!.reduce(0) { $0 + $1.range.count }
            summary.notes.append(
                "\(split.rawValue) text: \(bytes) bytes in \(regions[split]!.count) file region(s), "
                    + "windows of \(n) bytes")
        }
        self.summary = summary
    }

    /// The text files of `path`: the file itself, or the regular files of a folder in name order.
    static func files(_ path: String) throws(DataError) -> [(file: RecordFile, size: Int)] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw DataError.missingFile(
                name: path, searched: [path], hint: "check the path given to --data")
        }
        let paths =
            isDirectory.boolValue
            ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                .filter { !$0.hasPrefix(".") }.sorted().map { path + "/" + $0 }
                .filter {
                    var d: ObjCBool = false
                    return FileManager.default.fileExists(atPath: $0, isDirectory: &d)
                        && !d.boolValue
                }
            : [path]
        var files: [(file: RecordFile, size: Int)] = []
        for p in paths {
            let size = ((try? FileManager.default.attributesOfItem(atPath: p))?[.size] as? Int) ?? 0
            if size > 0 { files.append((try RecordFile(path: p), size)) }
        }
        guard !files.isEmpty else {
            throw DataError.malformedFile(
                path: path, reason: "holds no text", hint: "give a non-empty text file or folder")
        }
        return files
    }

    /// Bytes of text in the training regions.
    public var trainingBytes: Int { regions[.train]!.reduce(0) { $0 + $1.range.count } }

    /// Windows in `split`: as many training windows as fit the training text without overlap.
    public func count(of split: Split) -> Int {
        split == .train ? max(1, trainingBytes / maxLength) : tiles[split]!.count
    }

    /// Window `index` of `split`: n input bytes and the n bytes that follow each.
    public func example(_ index: Int, in split: Split) -> Example {
        let n = maxLength
        let region: TextRegion
        let start: Int
        if split == .train {
            var random = RandomGenerator(
                seed: RandomGenerator.mix(seed, 0x5553_4C4D), stream: UInt64(index))
            // A region in proportion to the windows it offers, then a start inside it.
            let offers = trainable.map { regions[.train]![$0].range.count - n }
            var pick = random.nextInt(below: offers.reduce(0, +))
            var chosen = 0
            while pick >= offers[chosen] {
                pick -= offers[chosen]
                chosen += 1
            }
            region = regions[.train]![trainable[chosen]]
            start = region.range.lowerBound + pick
        } else {
            let tile = tiles[split]![index]
            (region, start) = (regions[split]![tile.region], tile.start)
        }
        let bytes = region.file.bytes(at: RecordLocation(offset: start, length: n + 1, line: 0))
        let ids = ByteTokenizer.encode(bytes)
        return Example(tokens: Array(ids.dropLast()), targets: Array(ids.dropFirst()))
    }
}
