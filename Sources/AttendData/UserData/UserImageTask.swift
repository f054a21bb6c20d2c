// Image classification from a user's files: a folder with one sub-folder of PNG or PGM images per
// class (the sub-folder's name is the label), or an IDX images file with its labels file (MNIST
// layout). Every image must have the first one's size; if any is in colour, grey ones are
// repeated into three channels. An image is a sequence of sample values 0…255, grey row-major or
// RGB plane by plane (the order `--architecture vit` reads channels in). Images are small, so
// they are decoded into memory once.
import AttendCore
import Foundation

/// Labelled images in memory, all of one size.
struct ImageSet: Sendable {
    var images: [DecodedImage] = []
    /// Label names as written (folder names, IDX label values).
    var labels: [String] = []
    /// Where each image came from, for error messages.
    var sources: [String] = []
}

/// Classification of images read from a folder tree or IDX files.
public struct UserImageTask: UserDataTask {
    /// The configuration, with the label map filled in.
    public let resolvedConfiguration: UserDataConfiguration
    /// Label names ↔ ids.
    public let labelMap: LabelMap
    /// What was read.
    public let summary: DataSummary
    /// Image width and height in pixels.
    public let width: Int, height: Int
    /// 1 (grey) or 3 (RGB).
    public let channels: Int
    private let splits: [Split: (tokens: [[Int]], labels: [Int])]

    /// `images`.
    public var name: String { "images" }
    /// Classification.
    public var kind: TaskKind { .classification }
    /// Sample values 0…255.
    public var vocabularySize: Int { 256 }
    /// One class per label.
    public var classCount: Int { labelMap.count }
    /// The label names, in id order.
    public var classNames: [String] { labelMap.names }
    /// width · height · channels.
    public var maxLength: Int { width * height * channels }
    /// The configuration's seed.
    public var seed: UInt64 { resolvedConfiguration.seed }

    /// Reads the training images (and validation and test images when named) the configuration
    /// gives; the label map is the configuration's or the training labels'.
    public init(_ configuration: UserDataConfiguration) throws(DataError) {
        let training = try Self.load(configuration.train, configuration.format)
        let labelMap =
            configuration.labels.map(LabelMap.init(names:)) ?? LabelMap(collecting: training.labels)
        var sets: [Split: ImageSet] = [:]
        if let path = configuration.validation {
            sets[.train] = training
            sets[.validation] = try Self.load(path, configuration.format)
        } else {
            let (train, validation) = fractionSplit(
                count: training.images.count, fraction: configuration.validationFraction,
                seed: configuration.seed)
            sets[.train] = Self.subset(training, train)
            sets[.validation] = Self.subset(training, validation)
        }
        if let path = configuration.test { sets[.test] = try Self.load(path, configuration.format) }
        var resolved = configuration
        resolved.labels = labelMap.names
        try self.init(resolved, labelMap, sets)
    }

    /// Every image under `path` as the test split, labelled by the run's label map (`labelled`)
    /// or not (prediction: a folder of images, or of class folders whose names are ignored).
    public init(_ configuration: UserDataConfiguration, reading path: String, labelled: Bool)
        throws(DataError)
    {
        guard let names = configuration.labels else {
            throw DataError.invalidConfiguration(
                task: "images", reason: "the run's configuration holds no label map; train it again"
            )
        }
        var set = try Self.load(path, configuration.format, labelled: labelled)
        if !labelled { set.labels = set.labels.map { _ in names[0] } }
        try self.init(configuration, LabelMap(names: names), [.test: set])
    }

    private init(
        _ configuration: UserDataConfiguration, _ labelMap: LabelMap, _ sets: [Split: ImageSet]
    ) throws(DataError) {
        let first = (sets[.train] ?? sets[.test])!
        guard let reference = first.images.first else {
            throw DataError.malformedFile(
                path: configuration.train, reason: "holds no images", hint: "add PNG or PGM files")
        }
        let channels = sets.values.flatMap(\.images).map(\.channels).max()!
        var splits: [Split: (tokens: [[Int]], labels: [Int])] = [:]
        for (split, set) in sets {
            var tokens: [[Int]] = []
            var labels: [Int] = []
            for (i, image) in set.images.enumerated() {
                guard image.width == reference.width, image.height == reference.height else {
                    throw DataError.malformedFile(
                        path: set.sources[i],
                        reason: "image is \(image.width)×\(image.height), the others are "
                            + "\(reference.width)×\(reference.height)",
                        hint: "resize every image to one size")
                }
                guard let id = labelMap.id(of: set.labels[i]) else {
                    throw DataError.unknownLabel(
                        path: set.sources[i], line: 1, label: set.labels[i], known: labelMap.names)
                }
                tokens.append((channels == 3 ? image.rgb : image).planar.map(Int.init))
                labels.append(id)
            }
            splits[split] = (tokens, labels)
        }
        resolvedConfiguration = configuration
        self.labelMap = labelMap
        (width, height, self.channels) = (reference.width, reference.height, channels)
        self.splits = splits
        var summary = DataSummary()
        summary.unit = "samples"
        for split in Split.allCases { summary.counts[split] = splits[split]?.labels.count ?? 0 }
        if let train = splits[.train] ?? splits[.test] {
            var counts = [Int](repeating: 0, count: labelMap.count)
            for label in train.labels { counts[label] += 1 }
            summary.labelCounts = zip(labelMap.names, counts).map { ($0, $1) }
            summary.lengths = train.tokens.map(\.count)
        }
        self.summary = summary
    }

    private static func subset(_ set: ImageSet, _ members: [Int]) -> ImageSet {
        ImageSet(
            images: members.map { set.images[$0] }, labels: members.map { set.labels[$0] },
            sources: members.map { set.sources[$0] })
    }

    /// The images under `path`: IDX files, or a folder of class folders (or, unlabelled, of
    /// images).
    static func load(_ path: String, _ format: DataFormat, labelled: Bool = true) throws(DataError)
        -> ImageSet
    {
        format == .idx ? try ImageFiles.idx(path) : try ImageFiles.folder(path, labelled: labelled)
    }

    /// Images in `split`.
    public func count(of split: Split) -> Int { splits[split]?.labels.count ?? 0 }

    /// Image `index` of `split`: its samples and class.
    public func example(_ index: Int, in split: Split) -> Example {
        let s = splits[split]!
        return Example(tokens: s.tokens[index], label: s.labels[index])
    }
}
