// Checkpoints: model parameters, optimizer state and the step in one safetensors file, written
// atomically (temporary file + rename inside the safetensors writer), so an interrupted write never
// replaces a good checkpoint. The batch order and dropout depend only on (seed, step), so the step is
// all the trainer state a resumed run needs to continue on exactly the same trajectory.
import AttendCore
import AttendNN
import Foundation

/// Saving and restoring training state.
public enum Checkpoint {
    static let format = "attend-checkpoint-1"

    /// Writes `model` and `optimizer` state after `step` completed steps to `path`.
    public static func save(model: any Module, optimizer: any Optimizer, step: Int, to path: String)
        throws
    {
        var tensors: [(String, SafetensorsValue)] = model.stateDictionary().map {
            ("model." + $0.0, .float($0.1))
        }
        tensors += optimizer.state().map { ("optimizer." + $0.0, .float($0.1)) }
        try Safetensors.write(tensors, metadata: ["format": format, "step": "\(step)"], to: path)
    }

    /// Restores `model` and `optimizer` from `path`; returns the number of completed steps.
    public static func load(model: any Module, optimizer: any Optimizer, from path: String) throws
        -> Int
    {
        let file = try SafetensorsFile(path: path)
        guard file.metadata["format"] == format, let step = file.metadata["step"].flatMap(Int.init)
        else {
            throw TrainingError.run("\(path) is not an Attend checkpoint (no '\(format)' metadata)")
        }
        var modelState: [String: Tensor] = [:]
        var optimizerState: [String: Tensor] = [:]
        for name in file.names {
            if name.hasPrefix("model.") {
                modelState[String(name.dropFirst(6))] = try file.tensor(name)
            } else if name.hasPrefix("optimizer.") {
                optimizerState[String(name.dropFirst(10))] = try file.tensor(name)
            }
        }
        try model.load(modelState)
        try optimizer.load(state: optimizerState)
        return step
    }

    /// Writes only the model parameters (the final model) to `path`.
    public static func saveModel(
        _ model: any Module, to path: String, metadata: [String: String] = [:]
    ) throws {
        try Safetensors.write(
            model.stateDictionary().map { ($0.0, .float($0.1)) }, metadata: metadata, to: path)
    }

    /// Loads parameters saved by `saveModel` into `model` (strict: every name must match).
    public static func loadModel(_ model: any Module, from path: String) throws {
        let file = try SafetensorsFile(path: path)
        var state: [String: Tensor] = [:]
        for name in file.names { state[name] = try file.tensor(name) }
        try model.load(state)
    }
}
