// Each mechanism's options are a section of `mixer_options` declared in its own file and named by
// its registry entry (`MechanismOptions`); `MixerConfiguration` decodes, encodes, compares and
// checks exactly the sections the registry names. Driven by the registry and the declared limits,
// so a new mechanism's section is covered without new test code.
import AttendAttention
import Foundation
import Testing

@Suite struct MechanismOptionSectionsTests {
    let defaults = MixerConfiguration(modelDimension: 16, headCount: 2, maximumLength: 64)

    @Test func eachMechanismReadsTheSectionItsEntryNames() {
        let sections = MixerConfiguration.optionSections
        for mechanism in Mechanisms.all {
            let keys = sections.filter { $0.mechanisms.contains(mechanism.name) }.map(\.key)
            #expect(keys == [mechanism.options.section], "\(mechanism.name)")
        }
        #expect(sections.first?.key == nil && sections.first?.mechanisms == [])
    }

    @Test func sectionKeysAreDistinct() {
        // Two options types under one key would each decode the other's JSON as its own.
        let keys = MixerConfiguration.optionSections.compactMap(\.key)
        #expect(Set(keys).count == keys.count, "\(keys)")
    }

    @Test func defaultsRoundTripAndExplicitDefaultsEqualAbsentSections() throws {
        // Decoding sets every section explicitly; the fresh configuration has none set. A section
        // key that is also a field every mechanism reads would fail to decode here.
        let json = try jsonObject(defaults)
        for key in MixerConfiguration.optionSections.compactMap(\.key) {
            #expect(json[key] is [String: Any], "\(key) is not a section of the JSON")
        }
        #expect(try roundTripped(defaults) == defaults)
    }

    @Test func aChangedOptionOfEverySectionIsSeenAndRoundTrips() throws {
        for section in MixerConfiguration.optionSections {
            for (configuration, field) in section.outsideValues(defaults) {
                // A NaN equals nothing, not even itself once decoded; the limit tests cover those.
                let json = String(decoding: try encoded(configuration), as: UTF8.self)
                if json.contains(#""nan""#) { continue }
                #expect(configuration != defaults, "\(field) left the configuration unchanged")
                #expect(try roundTripped(configuration) == configuration, "\(field)")
            }
        }
    }

    /// `configuration` encoded to JSON and decoded again (NaN and infinities as strings).
    func roundTripped(_ configuration: MixerConfiguration) throws -> MixerConfiguration {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(MixerConfiguration.self, from: encoded(configuration))
    }

    /// The configuration as a JSON object.
    func jsonObject(_ configuration: MixerConfiguration) throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: encoded(configuration))
        return try #require(object as? [String: Any])
    }

    /// The configuration's JSON (NaN and infinities as strings).
    func encoded(_ configuration: MixerConfiguration) throws -> Data {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(configuration)
    }
}
