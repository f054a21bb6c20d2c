// Configuration files are JSON decoded by `Codable`, whose errors print as debug dumps of coding
// paths. A user needs the field and what it should hold, in words.
import Foundation

extension DecodingError {
    /// One line: the field (`model.layer_count`) and what it must hold, or what is wrong with the
    /// file as a whole.
    public var plainDescription: String {
        switch self {
        case .typeMismatch(let type, let context):
            return "\(context.fieldName) must be \(words(for: type))"
        case .valueNotFound(let type, let context):
            return "\(context.fieldName) must be \(words(for: type)), not null"
        case .keyNotFound(let key, let context):
            let place = context.codingPath.isEmpty ? "" : " in \(context.fieldName)"
            return "the required field \(key.stringValue) is missing\(place)"
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let detail =
                (context.underlyingError as NSError?)?
                .userInfo[NSDebugDescriptionErrorKey] as? String
            // Foundation says the same of a number too large for its field, with no detail.
            return "not valid JSON"
                + (detail.map { " (\($0))" } ?? ", or a number too large for its field")
        case .dataCorrupted(let context):
            return "\(context.fieldName) has an invalid value: \(context.debugDescription)"
        @unknown default:
            return "\(self)"
        }
    }
}

extension DecodingError.Context {
    /// The JSON path of the value, e.g. `model.switch.expert_count` or `values[3]`.
    fileprivate var fieldName: String {
        guard !codingPath.isEmpty else { return "the file" }
        var name = ""
        for key in codingPath {
            if let index = key.intValue {
                name += "[\(index)]"
            } else {
                name += (name.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return name
    }
}

/// A Swift type as a JSON value, in words.
private func words(for type: Any.Type) -> String {
    switch type {
    case is any FixedWidthInteger.Type where type is any UnsignedInteger.Type:
        return "a whole number, 0 or more"
    case is any FixedWidthInteger.Type: return "a whole number"
    case is any BinaryFloatingPoint.Type: return "a number"
    case is String.Type: return "a string"
    case is Bool.Type: return "true or false"
    case is [Any].Type: return "an array"
    default: return "an object"
    }
}
