// Fine-tuning a Hugging Face ViT folder on a user's images (`attend train --data IMAGES
// --init-from VIT_DIR`): the images must have the checkpoint's size (they are not resized) and its
// channels, except that grey images feed a three-channel model by repetition; they are normalised
// as the folder's preprocessor_config.json says (ViT's defaults without one). The model is
// transformers' ViTForImageClassification: the encoder without its pooler and a new classifier on
// the final [CLS] state.
import AttendCore
import AttendData
import AttendModels
import Foundation

extension ViTClassifier: PretrainedClassifier {}

/// The ViT family of `FineTuning`.
enum ViTFineTuning {
    /// What fine-tuning the ViT folder `directory` on `task` starts from; throws when the task is
    /// not a user's images of the checkpoint's size and channels.
    static func initialization(
        directory: String, task: any SequenceTask, freezeEncoder: Bool
    ) throws -> PretrainedInitialization {
        let vit = try ViTConfiguration(
            contentsOf: PretrainedFolder.configurationPath(in: directory))
        _ = try PretrainedFolder.weightsPath(in: directory)  // fail now, not when training starts
        guard let images = task as? UserImageTask else {
            throw TrainingError.incompatible(imagesOnly(directory))
        }
        try check(images, fit: vit, directory: directory)
        let normalization = try ImageNormalization(
            folder: directory, channels: vit.channelCount)
        var initialization = PretrainedInitialization(
            directory: directory, architecture: .vit(vit, normalization),
            labels: task.classNames)
        initialization.freezeEncoder = freezeEncoder
        return initialization
    }

    /// Throws unless `images` have the size of `vit`'s images and its channels (or are grey for
    /// a three-channel model).
    static func check(_ images: UserImageTask, fit vit: ViTConfiguration, directory: String) throws
    {
        let side = vit.imageSize
        let source = images.resolvedConfiguration.train
        guard images.width == side, images.height == side else {
            throw TrainingError.incompatible(
                "the images of \(source) are \(images.width)×\(images.height) pixels; the ViT "
                    + "at \(directory) takes \(side)×\(side) (image_size in its config.json): "
                    + "resize them to \(side)×\(side)")
        }
        guard images.channels == vit.channelCount || (images.channels == 1 && vit.channelCount == 3)
        else {
            throw TrainingError.incompatible(
                "the images of \(source) have \(images.channels) channels; the ViT at "
                    + "\(directory) takes \(vit.channelCount) (num_channels in its config.json)")
        }
    }

    /// Why the ViT folder `directory` cannot fine-tune on other data than a user's images.
    static func imagesOnly(_ directory: String) -> String {
        "--init-from \(directory) is a ViT, which classifies images; give a folder with one "
            + "sub-folder of images per class (or IDX files) as --data"
    }

    /// The model configuration mirroring `vit` for `task`'s images (whose sample count is the
    /// input length).
    static func model(_ vit: ViTConfiguration, task: any SequenceTask) -> ModelConfiguration {
        var model = ModelConfiguration(
            vocabularySize: 256, modelDimension: vit.modelDimension, layerCount: vit.layerCount,
            headCount: vit.headCount, feedForwardDimension: vit.feedForwardDimension,
            maximumLength: task.maxLength)
        model.architecture = .vit
        model.patchSize = vit.patchSize
        model.imageChannels = task.maxLength / (vit.imageSize * vit.imageSize)
        model.activation = vit.activation
        model.dropout = vit.hiddenDropout
        model.layerNormEpsilon = vit.layerNormEpsilon
        return model
    }

    /// transformers' preprocessor_config.json for `vit` with `normalization`: what an exported
    /// folder needs for `ViTImageProcessor` (and `--init-from`) to prepare images as training did.
    static func preprocessorJSON(_ vit: ViTConfiguration, _ normalization: ImageNormalization)
        throws -> Data
    {
        let encoded = try JSONEncoder().encode(normalization)
        var object = try JSONSerialization.jsonObject(with: encoded) as! [String: Any]
        object["image_processor_type"] = "ViTImageProcessor"
        object["do_resize"] = true
        object["size"] = ["height": vit.imageSize, "width": vit.imageSize]
        object["resample"] = 2  // bilinear, ViTImageProcessor's default
        return try JSONSerialization.data(
            withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) + Data("\n".utf8)
    }
}
