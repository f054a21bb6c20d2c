// The attention mechanism a model folder was adapted to (attend adapt), recorded in its config.json
// next to transformers' keys: "attend_mechanism" (a registry name) and "attend_mixer_options" (its
// MixerConfiguration, snake_case as --mixer-options spells it). transformers ignores both keys, so
// the folder still loads there (running full attention); Attend reads them to run the folder with
// the mechanism its weights were adapted to.
import AttendAttention
import Foundation

/// A mechanism and its options as a model folder records them.
public struct RecordedMechanism: Sendable, Equatable {
    /// The registry name (attend list).
    public var name: String
    /// Its options; the shape fields are the model's.
    public var configuration: MixerConfiguration

    /// The config.json key holding the mechanism's name.
    public static let nameKey = "attend_mechanism"
    /// The config.json key holding its options.
    public static let optionsKey = "attend_mixer_options"

    /// A record of `name` with `configuration`.
    public init(name: String, configuration: MixerConfiguration) {
        self.name = name
        self.configuration = configuration
    }

    /// The record in the config.json of the folder `directory`; nil when the folder has none
    /// (an ordinary Hugging Face checkpoint, which runs full attention).
    public init?(directory: String) throws {
        let path = URL(fileURLWithPath: directory).appendingPathComponent("config.json").path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PretrainedModelError.missingFile(
                path: path, hint: "a Hugging Face model folder has config.json")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw PretrainedModelError.invalidConfiguration(
                path: path, problem: "not a JSON object")
        }
        guard let name = object[Self.nameKey] else { return nil }
        guard let name = name as? String, (try? Mechanisms.named(name)) != nil else {
            throw PretrainedModelError.invalidConfiguration(
                path: path,
                problem: "\(Self.nameKey) \(name) is not a registered mechanism (attend list)")
        }
        var options = object[Self.optionsKey] as? [String: Any] ?? [:]
        for key in ["model_dimension", "head_count", "maximum_length"] where options[key] == nil {
            options[key] = 0
        }
        do {
            let json = try JSONSerialization.data(withJSONObject: options)
            configuration = try JSONDecoder().decode(MixerConfiguration.self, from: json)
            try configuration.checked(against: options)
        } catch {
            throw PretrainedModelError.invalidConfiguration(
                path: path, problem: "\(Self.optionsKey): \(error)")
        }
        self.name = name
    }

    /// `object` (a config.json's keys) with this record added: the options that differ from the
    /// defaults (absent keys decode to them), the shape and the seed.
    public func adding(to object: [String: Any]) throws -> [String: Any] {
        func fields(_ configuration: MixerConfiguration) throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: JSONEncoder().encode(configuration))
                as! [String: Any]
        }
        func json(_ value: Any) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["": value], options: .sortedKeys)
        }
        let defaults = try fields(
            MixerConfiguration(
                modelDimension: configuration.modelDimension, headCount: configuration.headCount,
                maximumLength: configuration.maximumLength))
        let always: Set = ["model_dimension", "head_count", "maximum_length", "seed"]
        var options: [String: Any] = [:]
        for (key, value) in try fields(configuration) {
            if try always.contains(key) || defaults[key].map(json) != json(value) {
                options[key] = value
            }
        }
        var object = object
        object[Self.nameKey] = name
        object[Self.optionsKey] = options
        return object
    }
}
