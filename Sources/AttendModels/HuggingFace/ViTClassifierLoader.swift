// Fine-tuning a Hugging Face ViT folder: its encoder copied into `ViTClassifier.vit` by the one
// strict loader, whether the folder is a ViTModel (a pooler, skipped: the image classifier reads
// the final [CLS] state without one, as transformers' ViTForImageClassification) or an image
// classifier (`vit.…`), whose `classifier` is loaded when its shape is this model's (an export).
import AttendCore
import AttendNN

extension ViTClassifier: FolderClassifier {
    /// ViT folders.
    public static let modelType = "vit"
    /// For errors.
    public static let familyName = "ViT image classifier"

    /// Copies a Hugging Face ViT checkpoint into the encoder, strictly (every encoder tensor with
    /// its shape; a pooler is skipped), and a `classifier` of this model's shapes into the head.
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive
    ) throws -> PretrainedClassifierLoadReport {
        let encoder = try vit.load(from: archive, naming: Self.encoderNaming)
        return PretrainedClassifierLoadReport(
            encoder: encoder, newPooler: false,
            loadedClassifier: try classifier.loadHead(named: "classifier", from: archive))
    }

    /// ViT's key translation without the pooler, which an image classifier does not have.
    static let encoderNaming = CheckpointNaming(
        prefix: ViT.naming.prefix, isSkipped: { $0.hasPrefix("pooler.") })
}
