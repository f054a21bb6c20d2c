// Every mechanism's options have declared ranges (`LimitedOptions`, next to each `Options`), and
// every declared option refuses values outside its range with one line naming the mechanism and
// the option. Driven by the registry and the declarations, so a new mechanism or option is covered
// without new test code.
import AttendAttention
import Foundation
import Testing

@Suite struct MechanismOptionLimitsTests {
    let defaults = MixerConfiguration(modelDimension: 16, headCount: 2, maximumLength: 64)

    @Test func everyMechanismHasAnOptionSection() throws {
        let covered = Set(MixerConfiguration.optionSections.flatMap(\.mechanisms))
        for name in Mechanisms.names {
            #expect(
                covered.contains(name),
                "\(name) has no section in MixerConfiguration.optionSections")
        }
        let json = try jsonObject(defaults)
        for key in MixerConfiguration.optionSections.compactMap(\.key) {
            #expect(json[key] != nil, "\(key) is not a key of mixer_options")
        }
    }

    @Test func defaultsAreWithinTheLimits() throws {
        try defaults.validateOptions()
    }

    @Test func everyDeclaredOptionRefusesValuesOutsideItsRange() throws {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let defaultJSON = try jsonObject(defaults)
        for section in MixerConfiguration.optionSections {
            let outside = section.outsideValues(defaults)
            #expect(Set(outside.map(\.1)) == Set(section.fields), "\(section.fields)")
            for (configuration, field) in outside {
                #expect {
                    try configuration.validateOptions()
                } throws: { error in
                    guard let error = error as? MixerOptionError else { return false }
                    return error.field == field && error.mechanisms == section.mechanisms
                        && !error.expected.isEmpty && !error.description.contains("\n")
                        && section.mechanisms.allSatisfy { error.description.contains($0) }
                }
                // The declared name is the JSON key that carries the value, and the JSON form is
                // refused too once decoded.
                let json = try jsonObject(configuration)
                #expect(
                    value(at: field, in: json) != value(at: field, in: defaultJSON),
                    "\(field) is not where the JSON holds the option")
                let decoded = try decoder.decode(
                    MixerConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
                #expect(throws: MixerOptionError.self, "\(field)") {
                    try decoded.validateOptions()
                }
            }
        }
    }

    @Test func dependentBoundsFollowTheOtherOption() throws {
        // DeBERTa's log buckets divide by log((max_position − 1) / (buckets / 2)): at 129 with 256
        // buckets that is log 1 = 0, and the bucket of a distance of 200 became Int(∞), a trap.
        var options = defaults
        options.deberta.buckets = .init(bucketSize: 256, maxPosition: 129)
        #expect(throws: MixerOptionError.self) { try options.validateOptions() }
        options.deberta.buckets = .init(bucketSize: 256, maxPosition: 130)
        try options.validateOptions()
        options.deberta.buckets = .init(bucketSize: 0, maxPosition: 129)
        try options.validateOptions()
        options.spade.s4.dtMinimum = 0.5
        options.spade.s4.dtMaximum = 0.25
        #expect(throws: MixerOptionError.self) { try options.validateOptions() }
    }

    @Test func unknownKeysAreNamedWithTheValidOnes() throws {
        let object: [String: Any] = [
            "model_dimension": 16, "head_count": 2, "maximum_length": 64,
            "local": ["windw_size": 8], "lcoal": ["window_size": 8],
            "treeformer": ["height": NSNull(), "schedule": ["coarse_step": 1]],
        ]
        let configuration = try JSONDecoder().decode(
            MixerConfiguration.self, from: JSONSerialization.data(withJSONObject: object))
        let unknown = try configuration.unknownKeys(in: object)
        #expect(
            unknown.map(\.path) == ["lcoal", "local.windw_size", "treeformer.schedule.coarse_step"])
        #expect(unknown[1].known == ["window_size"])
        #expect(
            unknown[1].description == "unknown option local.windw_size; local holds window_size")
        #expect(throws: UnknownMixerOption.self) { try configuration.checked(against: object) }
        let good: [String: Any] = ["model_dimension": 16, "head_count": 2, "maximum_length": 64]
        try defaults.checked(against: good)
    }

    /// The configuration as a JSON object (NaN and infinities as strings).
    func jsonObject(_ configuration: MixerConfiguration) throws -> [String: Any] {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let object = try JSONSerialization.jsonObject(with: encoder.encode(configuration))
        return try #require(object as? [String: Any])
    }

    /// The value at a dotted path, as text (nil when absent).
    func value(at path: String, in object: [String: Any]) -> String? {
        var current: Any = object
        for key in path.split(separator: ".") {
            guard let next = (current as? [String: Any])?[String(key)] else { return nil }
            current = next
        }
        return "\(current)"
    }
}
