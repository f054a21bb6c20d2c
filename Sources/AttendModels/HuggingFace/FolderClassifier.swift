// A classifier fine-tuned from one family of Hugging Face folders loads a folder's weights by
// one rule: the folder must be of its family, then its own `loadPretrained(from:)` copies them.
// BERT adds to that (a position table grown as the run records) and so implements the entry
// point itself; ViT and DeBERTa-v2 take it from here.
import AttendCore

/// A classifier built from the folders of one `model_type`.
public protocol FolderClassifier: AnyObject {
    /// transformers' `model_type` of the folders it is built from.
    static var modelType: String { get }
    /// What it is, for errors ("ViT image classifier").
    static var familyName: String { get }
    /// Copies a folder's encoder (and a classifier of this model's shape) into the model.
    func loadPretrained(
        from archive: any SafetensorsArchive
    ) throws -> PretrainedClassifierLoadReport
}

extension FolderClassifier {
    /// Copies the folder of `initialization` from `archive`, as `loadPretrained(from:)`, after
    /// checking that the folder is of this classifier's family.
    @discardableResult
    public func loadPretrained(
        from archive: any SafetensorsArchive, as initialization: PretrainedInitialization
    ) throws -> PretrainedClassifierLoadReport {
        guard initialization.architecture.modelType == Self.modelType else {
            throw initialization.wrongFamily(Self.familyName)
        }
        return try loadPretrained(from: archive)
    }
}
