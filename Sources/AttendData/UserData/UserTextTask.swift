// Text classification (one text per example) and text-pair classification (two texts, for the
// two-tower model) from a user's JSON-lines, CSV or TSV files. Each file is indexed in one
// streaming pass (RecordFile) that checks every record, collects the labels and measures the
// token lengths; an example is then read back from disk, parsed and tokenized when asked for, so
// the texts never sit in memory. Without a validation file, a seeded fraction of the training
// records is held out.
import AttendCore

/// The records of one file that made it through the checks.
struct IndexedRecords: Sendable {
    let file: RecordFile
    /// The reader of this file's records (CSV/TSV: knowing its header's columns).
    let reader: TextRecordReader
    let locations: [RecordLocation]
    /// Label ids (0 for every record of an unlabelled file).
    let labels: [Int]
    /// Tokens in each record's first text.
    let lengths: [Int]
    /// Tokens in each record's longest text.
    let longest: [Int]
    let skipped: Int
}

/// Examples of one split: members of an indexed file.
struct RecordSplit: Sendable {
    let records: IndexedRecords
    let members: [Int]
}

/// Classification of texts (or text pairs) read from files.
public struct UserTextTask: UserDataTask {
    /// The configuration, with the label map filled in.
    public let resolvedConfiguration: UserDataConfiguration
    /// Label names ↔ ids.
    public let labelMap: LabelMap
    /// What was read.
    public let summary: DataSummary
    /// Whether the examples carry labels (false: prediction over an unlabelled file).
    public let isLabelled: Bool
    let tokenizer: any TextTokenizer
    let reader: TextRecordReader
    private let splits: [Split: RecordSplit]

    /// `data`.
    public var name: String { "data" }
    /// Pairs when a second text field is configured.
    public var kind: TaskKind { reader.fields.pair == nil ? .classification : .pairClassification }
    /// The tokenizer's vocabulary.
    public var vocabularySize: Int { tokenizer.vocabularySize }
    /// One class per distinct training label.
    public var classCount: Int { labelMap.count }
    /// The label names, in id order.
    public var classNames: [String] { labelMap.names }
    /// The longest text, in tokens, over every split.
    public let maxLength: Int
    /// The configuration's seed.
    public var seed: UInt64 { resolvedConfiguration.seed }
    /// The tokenizer's padding id.
    public var padID: Int { tokenizer.padID }

    /// Reads the training, validation and test files the configuration names. The label map is
    /// the configuration's, or collected from the training file when it has none.
    public init(_ configuration: UserDataConfiguration) throws(DataError) {
        let tokenizer = try configuration.tokenizer.make()
        let reader = TextRecordReader(
            format: configuration.format, fields: configuration.fields, needsLabel: true)
        var collected: [String] = []
        let known = configuration.labels.map(LabelMap.init(names:))
        let training = try Self.index(
            configuration.train, reader: reader, tokenizer: tokenizer, labels: known,
            skipBad: configuration.skipBadLines, collecting: &collected)
        let labelMap = known ?? LabelMap(collecting: collected)
        let trainingLabels = known == nil ? collected.map { labelMap.id(of: $0)! } : training.labels
        let trainRecords = IndexedRecords(
            file: training.file, reader: training.reader, locations: training.locations,
            labels: trainingLabels,
            lengths: training.lengths, longest: training.longest, skipped: training.skipped)
        var splits: [Split: RecordSplit] = [:]
        if let path = configuration.validation {
            splits[.train] = RecordSplit(
                records: trainRecords, members: Array(trainRecords.labels.indices))
            splits[.validation] = try Self.split(
                path, reader: reader, tokenizer: tokenizer, labels: labelMap, configuration)
        } else {
            let (train, validation) = fractionSplit(
                count: trainRecords.labels.count, fraction: configuration.validationFraction,
                seed: configuration.seed)
            splits[.train] = RecordSplit(records: trainRecords, members: train)
            splits[.validation] = RecordSplit(records: trainRecords, members: validation)
        }
        if let path = configuration.test {
            splits[.test] = try Self.split(
                path, reader: reader, tokenizer: tokenizer, labels: labelMap, configuration)
        }
        var resolved = configuration
        resolved.labels = labelMap.names
        self.init(resolved, labelMap, tokenizer, reader, splits, isLabelled: true)
    }

    /// Every record of `path` as the test split, read as the run in `configuration` (which must
    /// hold its label map) read its data: for evaluation (`labelled`: every record needs a known
    /// label) or prediction (labels are optional and ignored).
    public init(_ configuration: UserDataConfiguration, reading path: String, labelled: Bool)
        throws(DataError)
    {
        guard let names = configuration.labels else {
            throw DataError.invalidConfiguration(
                task: "data", reason: "the run's configuration holds no label map; train it again")
        }
        let tokenizer = try configuration.tokenizer.make()
        let reader = TextRecordReader(
            format: configuration.format, fields: configuration.fields, needsLabel: labelled)
        let labelMap = LabelMap(names: names)
        var unused: [String] = []
        let records = try Self.index(
            path, reader: reader, tokenizer: tokenizer, labels: labelled ? labelMap : nil,
            skipBad: configuration.skipBadLines, collecting: &unused)
        let test = RecordSplit(records: records, members: Array(records.locations.indices))
        self.init(configuration, labelMap, tokenizer, reader, [.test: test], isLabelled: labelled)
    }

    private init(
        _ configuration: UserDataConfiguration, _ labelMap: LabelMap,
        _ tokenizer: any TextTokenizer,
        _ reader: TextRecordReader, _ splits: [Split: RecordSplit], isLabelled: Bool
    ) {
        resolvedConfiguration = configuration
        self.labelMap = labelMap
        self.tokenizer = tokenizer
        self.reader = reader
        self.splits = splits
        self.isLabelled = isLabelled
        maxLength = max(
            1,
            splits.values.map { s in s.members.map { s.records.longest[$0] }.max() ?? 0 }.max() ?? 0
        )
        var summary = DataSummary()
        for split in Split.allCases { summary.counts[split] = splits[split]?.members.count ?? 0 }
        for s in splits.values { summary.skipped[s.records.file.path] = s.records.skipped }
        if let train = splits[.train] ?? splits[.test] {
            var counts = [Int](repeating: 0, count: labelMap.count)
            for m in train.members { counts[train.records.labels[m]] += 1 }
            if isLabelled { summary.labelCounts = zip(labelMap.names, counts).map { ($0, $1) } }
            summary.lengths = train.members.map { train.records.lengths[$0] }
        }
        self.summary = summary
    }

    /// Indexes a validation or test file against a known label map.
    private static func split(
        _ path: String, reader: TextRecordReader, tokenizer: any TextTokenizer, labels: LabelMap,
        _ configuration: UserDataConfiguration
    ) throws(DataError) -> RecordSplit {
        var unused: [String] = []
        let records = try index(
            path, reader: reader, tokenizer: tokenizer, labels: labels,
            skipBad: configuration.skipBadLines, collecting: &unused)
        return RecordSplit(records: records, members: Array(records.locations.indices))
    }

    /// One streaming pass over `path`: checks every record, maps labels through `labels` (or,
    /// when nil, appends them to `collected` and leaves the ids 0) and measures token lengths.
    static func index(
        _ path: String, reader: TextRecordReader, tokenizer: any TextTokenizer, labels: LabelMap?,
        skipBad: Bool, collecting collected: inout [String]
    ) throws(DataError) -> IndexedRecords {
        let file = try RecordFile(path: path)
        var reader = reader
        var sawHeader = !reader.needsHeader
        var locations: [RecordLocation] = []
        var ids: [Int] = []
        var lengths: [Int] = []
        var longest: [Int] = []
        var skipped = 0
        try file.scan(quoting: reader.needsHeader) { (record, location) throws(DataError) in
            if !sawHeader {
                // A bad header is never skippable: no record could be read without it.
                let header = Result { () throws(FormatError) in try reader.header(record) }
                if case .failure(let error) = header {
                    throw DataError.malformedRecord(
                        path: path, line: location.line, reason: error.reason)
                }
                sawHeader = true
                return
            }
            let parsed: TextRecord
            switch Result(catching: { () throws(FormatError) in try reader.read(record) }) {
            case .success(let value): parsed = value
            case .failure(let error):
                guard skipBad else {
                    throw DataError.malformedRecord(
                        path: path, line: location.line, reason: error.reason)
                }
                skipped += 1
                return
            }
            var id = 0
            if let label = parsed.label, reader.needsLabel {
                if let labels {
                    guard let known = labels.id(of: label) else {
                        throw DataError.unknownLabel(
                            path: path, line: location.line, label: label, known: labels.names)
                    }
                    id = known
                } else {
                    collected.append(label)
                }
            }
            let counts = parsed.texts.map { tokenizer.encode($0).count }
            locations.append(location)
            ids.append(id)
            lengths.append(counts[0])
            longest.append(counts.max()!)
        }
        guard sawHeader, !locations.isEmpty else {
            throw DataError.malformedFile(
                path: path, reason: skipped > 0 ? "every record is malformed" : "holds no records",
                hint: "give a file with at least one \(reader.format.rawValue) record")
        }
        return IndexedRecords(
            file: file, reader: reader, locations: locations, labels: ids, lengths: lengths,
            longest: longest,
            skipped: skipped)
    }

    /// Examples in `split`.
    public func count(of split: Split) -> Int { splits[split]?.members.count ?? 0 }

    /// Example `index` of `split`, read back from its file and tokenized.
    public func example(_ index: Int, in split: Split) -> Example {
        let s = splits[split]!
        let r = s.members[index]
        let location = s.records.locations[r]
        let bytes = s.records.file.bytes(at: location)
        guard let record = try? s.records.reader.read(bytes[...]) else {
            preconditionFailure("\(s.records.file.path):\(location.line) no longer parses")
        }
        let tokens = record.texts.map(tokenizer.encode)
        let label = s.records.labels[r]
        return tokens.count == 2
            ? Example(tokens: tokens[0], pairTokens: tokens[1], label: label)
            : Example(tokens: tokens[0], label: label)
    }

    /// The line each example of `split` starts on in its file (for reports).
    public func line(of index: Int, in split: Split) -> Int {
        let s = splits[split]!
        return s.records.locations[s.members[index]].line
    }
}
