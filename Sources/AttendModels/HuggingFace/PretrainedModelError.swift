// Why a pretrained checkpoint could not be loaded, saved or run: each case names the file, the tensor
// or the setting, so the message says what to fix.
import AttendCore
import AttendNN

/// A failure loading, saving or running a pretrained (Hugging Face layout) model.
public enum PretrainedModelError: Error, CustomStringConvertible {
    /// A file the model folder needs is absent.
    case missingFile(path: String, hint: String)
    /// config.json is not valid or not consistent.
    case invalidConfiguration(path: String, problem: String)
    /// A setting this implementation does not have (another position embedding type, activation…).
    case unsupported(feature: String, supported: [String])
    /// A config.json value this implementation does not reproduce, and why.
    case unsupportedValue(field: String, value: String, reason: String)
    /// The checkpoint's tensors do not match the model: missing, unexpected and mis-shaped names.
    case weightsMismatch(file: String, mismatch: StateDictionaryMismatch)
    /// A weight stored as integers or booleans.
    case nonFloatingPointWeight(file: String, tensor: String, dtype: DType)
    /// An input longer than the position table.
    case sequenceTooLong(length: Int, maximum: Int)
    /// Token ids, masks or segment ids the model cannot take.
    case invalidInput(String)

    /// What is wrong and what to do about it, on one line.
    public var description: String {
        switch self {
        case .missingFile(let path, let hint):
            return "\(path) does not exist (\(hint))"
        case .invalidConfiguration(let path, let problem):
            return "\(path): \(problem)"
        case .unsupported(let feature, let supported):
            return "\(feature) is not supported; supported: \(supported.joined(separator: ", "))"
        case .unsupportedValue(let field, let value, let reason):
            return "config.json: \(field) = \(value) is not supported: \(reason)"
        case .weightsMismatch(let file, let mismatch):
            return "\(file): \(mismatch.description)"
        case .nonFloatingPointWeight(let file, let tensor, let dtype):
            return "\(file): weight \(tensor) is stored as \(dtype.rawValue), not as floating point"
        case .sequenceTooLong(let length, let maximum):
            return
                "an input of \(length) tokens is longer than the model's \(maximum) positions; truncate it (--max-length)"
        case .invalidInput(let problem):
            return problem
        }
    }
}
