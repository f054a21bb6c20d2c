// A mechanism's options are one section of `mixer_options` (`local`, `long_short`, …), declared
// entirely in the mechanism's own file: its `Options` struct adopts `MechanismOptions`, naming the
// section, and its registry entry names the type. `MixerConfiguration` keeps the sections in one
// table keyed by that name, so a new mechanism adds no field, coding key or section line to a
// shared file; the sections it decodes, encodes and checks are derived from the registry.
import AttendCore

/// A mechanism's options: one section of `mixer_options`, read by the registered mechanisms whose
/// entries name this type (`mgk` and `mgk-linear` share theirs).
public protocol MechanismOptions: LimitedOptions, Equatable {
    /// The section's JSON key within `mixer_options` (`long_short`); unique among the registered
    /// mechanisms' options.
    static var section: String { get }
    /// The defaults (the reference implementation's): what a configuration holds until the
    /// section is set or decoded.
    init()
}

/// The options sections a configuration holds, by section key; a section never set holds its
/// type's defaults, so an explicit default and an absent section are equal.
struct MechanismOptionSections: Sendable, Equatable {
    /// The sections set so far.
    private var values: [String: any MechanismOptions] = [:]

    /// The section `Options`, its defaults when never set.
    subscript<Options: MechanismOptions>(_: Options.Type) -> Options {
        get { values[Options.section] as? Options ?? Options() }
        set { values[Options.section] = newValue }
    }

    /// Equal when every section either side has set holds the same options on both.
    static func == (a: Self, b: Self) -> Bool {
        Set(a.values.keys).union(b.values.keys).allSatisfy { key in
            guard let value = a.values[key] ?? b.values[key] else { return true }
            return type(of: value).holdsSameSection(a, b)
        }
    }
}

extension MechanismOptions {
    /// Whether `a` and `b` hold the same options in this type's section.
    fileprivate static func holdsSameSection(
        _ a: MechanismOptionSections, _ b: MechanismOptionSections
    ) -> Bool {
        a[Self.self] == b[Self.self]
    }

    /// This type's section of `mixer_options`, read by `mechanisms`, with its declared limits.
    static func optionSection(mechanisms: [String]) -> MixerOptionSection {
        MixerOptionSection(
            section, mechanisms: mechanisms, read: { $0[Self.self] }, write: { $0[Self.self] = $1 })
    }
}
