// Image classification as a pixel sequence, Attend's offline stand-in for LRA's Image task (CIFAR-10
// in grey, 32 × 32 = 1024 tokens): Fashion-MNIST (Xiao, Rasul & Vollgraf, 2017), 28 × 28 = 784 grey
// levels in row-major order, each level a token id 0…255, 10 clothing classes. As LRA takes its
// validation set from the end of the training data (train[:90%]), the last `validationCount` of
// the 60,000 training images are the validation split; the 10,000 test images are the test split.

/// Parameters of the Fashion-MNIST task.
public struct FashionMNISTConfiguration: Codable, Sendable, Equatable, SeededConfiguration {
    /// Training images taken from the end of the training file for validation.
    public var validationCount: Int = 6_000
    /// Use only the first this many training images (nil: all the rest).
    public var trainLimit: Int?
    /// Use only the first this many validation images.
    public var validationLimit: Int?
    /// Use only the first this many test images.
    public var testLimit: Int?
    /// Seed for shuffling (the images themselves are fixed).
    public var seed: UInt64 = 0

    enum CodingKeys: String, CodingKey {
        case validationCount = "validation_count"
        case trainLimit = "train_limit"
        case validationLimit = "validation_limit"
        case testLimit = "test_limit"
        case seed
    }

    /// A configuration with optional subset sizes.
    public init(
        trainLimit: Int? = nil, validationLimit: Int? = nil, testLimit: Int? = nil, seed: UInt64 = 0
    ) {
        self.trainLimit = trainLimit
        self.validationLimit = validationLimit
        self.testLimit = testLimit
        self.seed = seed
    }

    /// Everything: 54k/6k/10k.
    public static let full = FashionMNISTConfiguration()
    /// 20k/2k/10k for CPU training.
    public static let cpu = FashionMNISTConfiguration(trainLimit: 20_000, validationLimit: 2_000)
    /// 512/128/128 for tests.
    public static let tiny = FashionMNISTConfiguration(
        trainLimit: 512, validationLimit: 128, testLimit: 128)
}

/// The Fashion-MNIST images and labels of one IDX file pair.
struct LabelledImages: Sendable {
    let count: Int
    let rows: Int
    let columns: Int
    let pixels: [UInt8]
    let labels: [UInt8]
}

/// Fashion-MNIST as 784-token sequences.
public struct FashionMNISTTask: SequenceTask {
    /// The class names, in label order.
    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot",
    ]

    /// The parameters.
    public let configuration: FashionMNISTConfiguration
    let training: LabelledImages
    let testing: LabelledImages

    /// `image`.
    public var name: String { "image" }
    /// Classification.
    public var kind: TaskKind { .classification }
    /// Grey levels 0…255.
    public var vocabularySize: Int { 256 }
    /// Ten clothing classes.
    public var classCount: Int { 10 }
    /// `FashionMNISTTask.classNames`.
    public var classNames: [String] { Self.classNames }
    /// 28 × 28.
    public var maxLength: Int { training.rows * training.columns }
    /// The configuration's seed.
    public var seed: UInt64 { configuration.seed }

    /// Reads and decompresses the four IDX files from `files`.
    public init(_ configuration: FashionMNISTConfiguration = .full, files: DataFiles = DataFiles())
        throws(DataError)
    {
        self.configuration = configuration
        training = try Self.load(
            images: "train-images-idx3-ubyte.gz", labels: "train-labels-idx1-ubyte.gz", files)
        testing = try Self.load(
            images: "t10k-images-idx3-ubyte.gz", labels: "t10k-labels-idx1-ubyte.gz", files)
        guard configuration.validationCount >= 0, configuration.validationCount < training.count
        else {
            throw DataError.invalidConfiguration(
                task: "image",
                reason:
                    "validation_count must lie in 0..<\(training.count), got \(configuration.validationCount)"
            )
        }
    }

    /// Reads one images/labels pair and checks that they agree.
    static func load(images: String, labels: String, _ files: DataFiles) throws(DataError)
        -> LabelledImages
    {
        let imageArray = try files.decoded(.fashionMNIST(images)) { (bytes) throws(FormatError) in
            try IDXArray(Gzip.decompress(bytes), dimensions: 3)
        }
        let labelArray = try files.decoded(.fashionMNIST(labels)) { (bytes) throws(FormatError) in
            try IDXArray(Gzip.decompress(bytes), dimensions: 1)
        }
        let hint = DataFile.fashionMNIST(labels).hint
        guard labelArray.shape[0] == imageArray.shape[0] else {
            throw DataError.malformedFile(
                path: try files.locate(.fashionMNIST(labels)),
                reason:
                    "\(labelArray.shape[0]) labels for \(imageArray.shape[0]) images in \(images)",
                hint: hint)
        }
        if let bad = labelArray.values.first(where: { $0 > 9 }) {
            throw DataError.malformedFile(
                path: try files.locate(.fashionMNIST(labels)), reason: "label \(bad) outside 0…9",
                hint: hint)
        }
        return LabelledImages(
            count: imageArray.shape[0], rows: imageArray.shape[1], columns: imageArray.shape[2],
            pixels: imageArray.values, labels: labelArray.values)
    }

    /// Images in `split`.
    public func count(of split: Split) -> Int {
        let c = configuration
        switch split {
        case .train:
            let available = training.count - c.validationCount
            return min(available, c.trainLimit ?? available)
        case .validation: return min(c.validationCount, c.validationLimit ?? c.validationCount)
        case .test: return min(testing.count, c.testLimit ?? testing.count)
        }
    }

    /// Image `index` of `split`: 784 grey levels and the class.
    public func example(_ index: Int, in split: Split) -> Example {
        precondition(index >= 0 && index < count(of: split), "image \(index) outside \(split)")
        let (images, row) =
            switch split {
            case .train: (training, index)
            case .validation: (training, training.count - configuration.validationCount + index)
            case .test: (testing, index)
            }
        let length = images.rows * images.columns
        let pixels = images.pixels[(row * length)..<((row + 1) * length)]
        return Example(tokens: pixels.map(Int.init), label: Int(images.labels[row]))
    }
}

extension FashionMNISTTask {
    /// The registry entry: Fashion-MNIST, all of it at preset `lra`, fewer images below.
    static let entry = TaskEntry(
        name: "image",
        summary: "Fashion-MNIST as 784 grey-level tokens, 10 classes (LRA Image style)",
        kind: .classification, isLongRangeArena: true,
        files: [
            "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ].map(DataFile.fashionMNIST)
    ) { preset, seed, files throws(DataError) in
        let c: FashionMNISTConfiguration =
            switch preset {
            case .tiny: .tiny
            case .cpu: .cpu
            case .lra: .full
            }
        return try FashionMNISTTask(c.seeded(seed), files: files)
    }
}
