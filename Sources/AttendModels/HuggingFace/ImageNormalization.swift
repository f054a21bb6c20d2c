// How a Hugging Face image model expects its pixels: sample values are rescaled (transformers'
// `rescale_factor`, 1/255) and then normalised per channel, (v·rescale − mean[c]) / std[c], with
// the `image_mean` and `image_std` of the folder's preprocessor_config.json (ViTImageProcessor's
// defaults, 0.5 and 0.5, when the folder has none). `do_rescale` or `do_normalize` false turn the
// step off, as the image processor does. Resizing is not done here: images must already have the
// model's size (checked where a fine-tuning run starts).
import AttendCore
import Foundation

/// The per-channel rescaling and normalisation of an image model's preprocessor.
public struct ImageNormalization: Codable, Sendable, Equatable {
    /// Multiplies each sample value first (`rescale_factor`; 1 when `do_rescale` is false).
    public var rescaleFactor: Float
    /// Subtracted per channel after rescaling (`image_mean`).
    public var mean: [Float]
    /// Divides per channel after the mean is subtracted (`image_std`).
    public var standardDeviation: [Float]

    /// transformers' ViTImageProcessor defaults for `channels` channels: 1/255, mean 0.5, std 0.5.
    public static func vitDefault(channels: Int) -> ImageNormalization {
        ImageNormalization(
            rescaleFactor: 1 / 255, mean: Array(repeating: 0.5, count: channels),
            standardDeviation: Array(repeating: 0.5, count: channels))
    }

    /// A normalisation with these values (one mean and one deviation per channel).
    public init(rescaleFactor: Float, mean: [Float], standardDeviation: [Float]) {
        self.rescaleFactor = rescaleFactor
        self.mean = mean
        self.standardDeviation = standardDeviation
    }

    enum CodingKeys: String, CodingKey {
        case rescaleFactor = "rescale_factor", mean = "image_mean", standardDeviation = "image_std"
        case doRescale = "do_rescale", doNormalize = "do_normalize"
    }

    /// Decodes preprocessor_config.json's fields over ViT's defaults (three channels, as a
    /// processor without `image_mean` has).
    public init(from decoder: any Decoder) throws {
        self = .vitDefault(channels: 3)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.override(&rescaleFactor, .rescaleFactor)
        try c.override(&mean, .mean)
        try c.override(&standardDeviation, .standardDeviation)
        if try c.decodeIfPresent(Bool.self, forKey: .doRescale) == false { rescaleFactor = 1 }
        if try c.decodeIfPresent(Bool.self, forKey: .doNormalize) == false {
            mean = mean.map { _ in 0 }
            standardDeviation = standardDeviation.map { _ in 1 }
        }
    }

    /// Writes the fields under transformers' keys, with `do_rescale` and `do_normalize` true.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(rescaleFactor, forKey: .rescaleFactor)
        try c.encode(mean, forKey: .mean)
        try c.encode(standardDeviation, forKey: .standardDeviation)
        try c.encode(true, forKey: .doRescale)
        try c.encode(true, forKey: .doNormalize)
    }

    /// The preprocessor of the model folder `directory` for a model of `channels` channels:
    /// preprocessor_config.json when present, else ViT's defaults. A mean or deviation of one value
    /// applies to every channel; any other count than `channels`, or a zero deviation, is an error
    /// naming the file.
    public init(folder directory: String, channels: Int) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent(Self.fileName).path
        guard FileManager.default.fileExists(atPath: path) else {
            self = .vitDefault(channels: channels)
            return
        }
        self = try PretrainedFolder.configuration(ImageNormalization.self, at: path)
        for (name, values) in [("image_mean", mean), ("image_std", standardDeviation)]
        where values.count != channels && values.count != 1 {
            throw PretrainedModelError.invalidConfiguration(
                path: path,
                problem: "\(name) has \(values.count) values for a model of \(channels) channels")
        }
        if mean.count == 1 { mean = Array(repeating: mean[0], count: channels) }
        if standardDeviation.count == 1 {
            standardDeviation = Array(repeating: standardDeviation[0], count: channels)
        }
        guard !standardDeviation.contains(0) else {
            throw PretrainedModelError.invalidConfiguration(
                path: path, problem: "image_std holds a zero; every deviation must be nonzero")
        }
    }

    /// The preprocessor's file in a model folder.
    public static let fileName = "preprocessor_config.json"

    /// Sample values 0…255 of images [b, C·H·W] (channel-major) → normalised pixels, channel c
    /// being the `plane`-long run c of each image.
    public func callAsFunction(_ samples: [Int], plane: Int) -> [Float] {
        let channels = mean.count
        return samples.indices.map { i in
            let channel = (i / plane) % channels
            return (Float(samples[i]) * rescaleFactor - mean[channel]) / standardDeviation[channel]
        }
    }
}
