// The classification head of a fine-tuned Hugging Face model (`classifier.weight`,
// `classifier.bias`), shared by every family: a folder that already holds a head of the model's
// shapes (an exported fine-tuned model) loads it, so an export reloads to the identical model; any
// other folder leaves the new head as initialised.
import AttendCore
import AttendNN

/// What loading a pretrained folder into a classifier did besides copying the encoder.
public struct PretrainedClassifierLoadReport: Sendable {
    /// The encoder's report (skipped, converted and initial tensors).
    public let encoder: PretrainedLoadReport
    /// True when the folder's pooler was absent and a new one was initialised.
    public let newPooler: Bool
    /// True when the folder held a classifier of the right shape and it was loaded (an exported
    /// fine-tuned model); false: the classifier is new.
    public let loadedClassifier: Bool
}

extension Linear {
    /// Copies `name.weight` and `name.bias` of `archive` into this layer when both are there with
    /// its shapes; returns whether it did.
    func loadHead(named name: String, from archive: any SafetensorsArchive) throws -> Bool {
        let names = Set(archive.names)
        let (weightName, biasName) = (name + ".weight", name + ".bias")
        guard names.contains(weightName), names.contains(biasName) else { return false }
        guard try archive.info(weightName).shape == weight.shape,
            try archive.info(biasName).shape == bias?.shape
        else { return false }
        weight.value = try archive.tensor(weightName)
        bias?.value = try archive.tensor(biasName)
        return true
    }
}
