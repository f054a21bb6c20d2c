// The allowed values of mechanism options, declared once next to each mechanism's `Options` (a
// `LimitedOptions` conformance) and checked by `MixerConfiguration.validateOptions()` wherever
// options come from: `--mixer-options`, a `--config` file, a run directory's config.json. A value
// outside its range would otherwise trap (a zero window divides), hang or allocate without bound
// (a billion random features) deep inside a model. Each limit can also produce values outside its
// range, so one registry-wide test refuses a bad value of every declared option.
import AttendCore

/// Options whose numeric fields have declared ranges.
public protocol LimitedOptions: Codable, Sendable {
    /// The allowed values of each numeric field.
    static var limits: [OptionLimit<Self>] { get }
}

/// What one numeric option may hold. A bound may depend on other options of the same section
/// (DeBERTa's largest distance must exceed half its bucket count), so ranges are computed from the
/// options being checked.
public struct OptionLimit<Options>: Sendable {
    /// The option's JSON name within its section, dotted when nested (`s4.state_size`).
    public let field: String
    /// What is allowed, in words, given the other options.
    public let allowed: @Sendable (Options) -> String
    /// The value found, as text, when `options` holds one outside the range; nil when allowed.
    let problem: @Sendable (Options) -> String?
    /// Copies of `options` with this field set to values outside its range (each must be refused).
    public let outsideValues: @Sendable (Options) -> [Options]

    /// A whole number in one of `ranges(options)`, a multiple of `multiple`.
    public static func whole(
        _ field: String, _ path: WritableKeyPath<Options, Int> & Sendable,
        ranges: @escaping @Sendable (Options) -> [ClosedRange<Int>], multiple: Int = 1
    ) -> OptionLimit {
        OptionLimit(
            field: field, allowed: { ranges($0).words(multiple: multiple) },
            problem: { options in
                let value = options[keyPath: path], allowed = ranges(options)
                guard !allowed.contains(where: { $0.contains(value) }) || value % multiple != 0
                else { return nil }
                return "\(value)"
            },
            outsideValues: { options in
                let allowed = ranges(options)
                var values = allowed.flatMap { [$0.lowerBound &- 1, $0.upperBound &+ 1] } + [.min]
                if multiple > 1, let first = allowed.first { values.append(first.lowerBound + 1) }
                return values.filter { value in
                    !allowed.contains { $0.contains(value) } || value % multiple != 0
                }.map { value in
                    var copy = options
                    copy[keyPath: path] = value
                    return copy
                }
            })
    }

    /// A whole number in `range(options)`, a multiple of `multiple`.
    public static func whole(
        _ field: String, _ path: WritableKeyPath<Options, Int> & Sendable,
        _ range: @escaping @Sendable (Options) -> ClosedRange<Int>, multiple: Int = 1
    ) -> OptionLimit {
        whole(field, path, ranges: { [range($0)] }, multiple: multiple)
    }

    /// A whole number in the fixed `range`, a multiple of `multiple`.
    public static func whole(
        _ field: String, _ path: WritableKeyPath<Options, Int> & Sendable,
        _ range: ClosedRange<Int>,
        multiple: Int = 1
    ) -> OptionLimit {
        whole(field, path, ranges: { _ in [range] }, multiple: multiple)
    }

    /// An optional whole number: absent (nil) or in `range`.
    public static func optionalWhole(
        _ field: String, _ path: WritableKeyPath<Options, Int?> & Sendable,
        _ range: ClosedRange<Int>
    ) -> OptionLimit {
        OptionLimit(
            field: field, allowed: { _ in [range].words(multiple: 1) + " (or absent)" },
            problem: { options in
                guard let value = options[keyPath: path], !range.contains(value) else { return nil }
                return "\(value)"
            },
            outsideValues: { options in
                [range.upperBound &+ 1, range.lowerBound &- 1].map { value in
                    var copy = options
                    copy[keyPath: path] = value
                    return copy
                }
            })
    }

    /// A real number in `range(options)`; NaN never is.
    public static func number(
        _ field: String, _ path: WritableKeyPath<Options, Float> & Sendable,
        _ range: @escaping @Sendable (Options) -> NumberRange
    ) -> OptionLimit {
        OptionLimit(
            field: field, allowed: { range($0).words },
            problem: { options in
                let value = options[keyPath: path]
                return range(options).contains(value) ? nil : "\(value)"
            },
            outsideValues: { options in
                range(options).outsideValues.map { value in
                    var copy = options
                    copy[keyPath: path] = value
                    return copy
                }
            })
    }

    /// A real number in the fixed `range`.
    public static func number(
        _ field: String, _ path: WritableKeyPath<Options, Float> & Sendable, _ range: NumberRange
    ) -> OptionLimit {
        number(field, path, { _ in range })
    }

    /// A list of real numbers, each in `range`, as many as one of `counts(options)`.
    public static func numbers(
        _ field: String, _ path: WritableKeyPath<Options, [Float]> & Sendable,
        each range: NumberRange, counts: @escaping @Sendable (Options) -> [Int]
    ) -> OptionLimit {
        OptionLimit(
            field: field,
            allowed: { options in
                let counts = counts(options).map(String.init).joined(separator: " or ")
                let each = range.words.dropFirst("a number ".count)
                return "a list of \(counts) numbers, each \(each)"
            },
            problem: { options in
                let values = options[keyPath: path]
                if !counts(options).contains(values.count) { return "a list of \(values.count)" }
                guard let bad = values.first(where: { !range.contains($0) }) else { return nil }
                return "a list holding \(bad)"
            },
            outsideValues: { options in
                let count = counts(options).max() ?? 0
                let wrongCount = [Float](repeating: range.inside, count: count + 1)
                let wrongValues = range.outsideValues.map {
                    [Float](repeating: range.inside, count: Swift.max(count - 1, 0)) + [$0]
                }
                return ([wrongCount] + wrongValues).map { list in
                    var copy = options
                    copy[keyPath: path] = list
                    return copy
                }
            })
    }

    /// The limits of `Inner`'s options, which these options hold under `field` (SPADE's `s4`).
    public static func nested<Inner: LimitedOptions>(
        _ field: String, _ path: WritableKeyPath<Options, Inner> & Sendable
    ) -> [OptionLimit] {
        Inner.limits.map { inner in
            OptionLimit(
                field: field + "." + inner.field, allowed: { inner.allowed($0[keyPath: path]) },
                problem: { inner.problem($0[keyPath: path]) },
                outsideValues: { options in
                    inner.outsideValues(options[keyPath: path]).map { value in
                        var copy = options
                        copy[keyPath: path] = value
                        return copy
                    }
                })
        }
    }
}

/// A mechanism option outside its declared range.
public struct MixerOptionError: Error, Equatable, CustomStringConvertible {
    /// The mechanisms that read the option (`mgk` and `mgk-linear` share theirs); empty for the
    /// options every mechanism reads.
    public let mechanisms: [String]
    /// The option's JSON path within `mixer_options` (`spade.s4.state_size`).
    public let field: String
    /// The value found.
    public let value: String
    /// What is allowed, in words.
    public let expected: String

    /// Who reads the option, in words: "long-short", "mgk and mgk-linear", "every mechanism".
    public var owner: String {
        mechanisms.isEmpty ? "every mechanism" : mechanisms.joined(separator: " and ")
    }

    /// One line naming the option, its mechanism, the value and what is allowed.
    public var description: String {
        "\(field) (an option of \(owner)) is \(value); expected \(expected)"
    }
}

/// One section of `mixer_options` (a mechanism's options, or the fields every mechanism reads)
/// with its declared limits.
public struct MixerOptionSection: Sendable {
    /// The section's JSON key (`long_short`); nil for the top-level fields.
    public let key: String?
    /// The registered mechanisms that read it.
    public let mechanisms: [String]
    /// The JSON path of each limited option, section included (`long_short.segment_size`).
    public let fields: [String]
    /// Each limited option's JSON path (section included) and what it may hold, in words, given
    /// the other options of `configuration`.
    public let allowedValues: @Sendable (MixerConfiguration) -> [(field: String, allowed: String)]
    /// The first option outside its range, or nil.
    let problem: @Sendable (MixerConfiguration) -> MixerOptionError?
    /// Copies of a configuration with one option of this section outside its range, each with the
    /// option's JSON path.
    public let outsideValues: @Sendable (MixerConfiguration) -> [(MixerConfiguration, String)]

    /// The section `key`, which `read` takes from a configuration and `write` puts back, read by
    /// `mechanisms`.
    init<Options: LimitedOptions>(
        _ key: String?, mechanisms: [String],
        read: @escaping @Sendable (MixerConfiguration) -> Options,
        write: @escaping @Sendable (inout MixerConfiguration, Options) -> Void
    ) {
        let prefix = key.map { $0 + "." } ?? ""
        self.key = key
        self.mechanisms = mechanisms
        fields = Options.limits.map { prefix + $0.field }
        allowedValues = { configuration in
            Options.limits.map { (prefix + $0.field, $0.allowed(read(configuration))) }
        }
        problem = { configuration in
            let options = read(configuration)
            for limit in Options.limits {
                if let value = limit.problem(options) {
                    return MixerOptionError(
                        mechanisms: mechanisms, field: prefix + limit.field, value: value,
                        expected: limit.allowed(options))
                }
            }
            return nil
        }
        outsideValues = { configuration in
            Options.limits.flatMap { limit in
                limit.outsideValues(read(configuration)).map { options in
                    var copy = configuration
                    write(&copy, options)
                    return (copy, prefix + limit.field)
                }
            }
        }
    }
}

extension MixerConfiguration {
    /// Checks every option against its declared range; the first one outside is thrown.
    public func validateOptions() throws(MixerOptionError) {
        for section in Self.optionSections {
            if let error = section.problem(self) { throw error }
        }
    }
}

extension [ClosedRange<Int>] {
    /// "a whole number from 1 to 64", "an even number from 2 to 1024", "a whole number from -1 to
    /// 0 or from 2 to 256".
    public func words(multiple: Int) -> String {
        let kind =
            switch multiple {
            case 1: "a whole number"
            case 2: "an even number"
            default: "a multiple of \(multiple)"
            }
        let spans = map { "from \($0.lowerBound) to \($0.upperBound)" }
        return "\(kind) \(spans.joined(separator: " or "))"
    }
}
