// JSON decoding skips keys it does not know, so a misspelt mechanism or option (`lcoal`,
// `windw_size`) would silently keep its default. The keys a user wrote are compared with those of
// the configuration they decoded to: whatever did not survive the round trip names no option.
import Foundation

/// A key of a `mixer_options` object that names no option.
public struct UnknownMixerOption: Error, Equatable, CustomStringConvertible {
    /// Its dotted path (`lcoal`, `local.windw_size`).
    public let path: String
    /// The keys the object holding it may have.
    public let known: [String]

    /// One line: the key and the valid ones beside it.
    public var description: String {
        let parent = path.split(separator: ".").dropLast().joined(separator: ".")
        let place = parent.isEmpty ? "mixer_options" : parent
        return "unknown option \(path); \(place) holds \(known.joined(separator: ", "))"
    }
}

extension MixerConfiguration {
    /// Checks a configuration decoded from the JSON object `object`: every key names an option
    /// (else `UnknownMixerOption`) and every option is in its range (else `MixerOptionError`).
    public func checked(against object: [String: Any]) throws {
        if let unknown = try unknownKeys(in: object).first { throw unknown }
        try validateOptions()
    }

    /// The keys of `object` (a `mixer_options` JSON object that decoded to this configuration)
    /// that name no option.
    public func unknownKeys(in object: [String: Any]) throws -> [UnknownMixerOption] {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let known = try JSONSerialization.jsonObject(with: encoder.encode(self))
        return Self.keys(of: object, missingFrom: known, prefix: "")
    }

    /// The keys of `given` absent from `known`, recursively through objects; a null value (an
    /// absent optional) is never unknown.
    private static func keys(of given: Any, missingFrom known: Any, prefix: String)
        -> [UnknownMixerOption]
    {
        guard let given = given as? [String: Any] else { return [] }
        let known = known as? [String: Any] ?? [:]
        return given.keys.sorted().flatMap { key -> [UnknownMixerOption] in
            let value = given[key]!
            if value is NSNull { return [] }
            guard let knownValue = known[key] else {
                return [UnknownMixerOption(path: prefix + key, known: known.keys.sorted())]
            }
            return keys(of: value, missingFrom: knownValue, prefix: prefix + key + ".")
        }
    }
}
