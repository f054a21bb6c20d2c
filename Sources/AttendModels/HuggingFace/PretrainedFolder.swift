// The parts every Hugging Face model folder shares, whatever the family (BERT, DeBERTa-v2, ViT):
// where config.json and the weights are, how config.json is read (every failure names the file),
// and transformers' spelling of activations (`hidden_act`).
import AttendNN
import Foundation

/// A Hugging Face model folder: config.json next to model.safetensors or a sharded index.
public enum PretrainedFolder {
    /// The path of `directory`'s config.json.
    public static func configurationPath(in directory: String) -> String {
        URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
    }

    /// The weights file of a model folder: model.safetensors, else the sharded index.
    public static func weightsPath(in directory: String) throws -> String {
        let folder = URL(fileURLWithPath: directory)
        for name in ["model.safetensors", "model.safetensors.index.json"] {
            let path = folder.appendingPathComponent(name).path
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        let pickle = folder.appendingPathComponent("pytorch_model.bin").path
        throw PretrainedModelError.missingFile(
            path: folder.appendingPathComponent("model.safetensors").path,
            hint: FileManager.default.fileExists(atPath: pickle)
                ? "the folder has only pytorch_model.bin (a pickle); convert it to safetensors "
                    + "with transformers' save_pretrained"
                : "expected model.safetensors or model.safetensors.index.json")
    }

    /// Reads the config.json at `path` as `Configuration`; a missing file, invalid JSON or a
    /// value of the wrong type is a `PretrainedModelError` naming `path`.
    public static func configuration<Configuration: Decodable>(
        _ type: Configuration.Type, at path: String
    ) throws -> Configuration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PretrainedModelError.missingFile(
                path: path, hint: "a Hugging Face model folder has config.json")
        }
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let error as PretrainedModelError {
            throw error
        } catch {
            throw PretrainedModelError.invalidConfiguration(path: path, problem: "\(error)")
        }
    }

    /// The activation transformers calls `name` (`hidden_act`), or an error listing the known ones.
    public static func activation(named name: String) throws -> Activation {
        guard let activation = Activation(name: name) ?? extraActivationNames[name] else {
            throw PretrainedModelError.unsupported(
                feature: "hidden_act \"\(name)\"",
                supported: Activation.allCases.map(self.name(of:)))
        }
        return activation
    }

    /// The `hidden_act` string transformers reads for `activation`.
    public static func name(of activation: Activation) -> String {
        switch activation {
        case .reluSquared: "relu2"
        default: activation.rawValue
        }
    }

    /// transformers' `ACT2FN` names that `Activation(name:)` does not know.
    static let extraActivationNames: [String: Activation] = [
        "relu2": .reluSquared, "gelu_python": .gelu,
    ]
}
