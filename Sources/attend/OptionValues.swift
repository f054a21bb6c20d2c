// The value types an option can declare: how its text becomes a value, and the one-line error
// (naming the option and the command) when it cannot. An option's type is fixed here, where it is
// declared, so every reader gets the same checks.
import Foundation

extension Option {
    /// An option of `value` placeholder whose text `convert` turns into a value.
    init(
        _ name: String, _ value: String, _ help: String, bare: String? = nil,
        convert: @escaping (String, OptionContext) throws -> Value
    ) {
        spec = OptionSpec(
            name: name, value: bare == nil ? value : "[\(value)]", help: help, defaultValue: nil,
            bareValue: bare)
        self.convert = convert
    }
}

extension Option where Value == String {
    /// Text, taken as given.
    static func string(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, _ in text }
    }

    /// One of `choices`.
    static func choice(_ name: String, _ value: String, _ help: String, from choices: [String])
        -> Self
    {
        Self(name, value, help) { text, context in
            guard choices.contains(text) else {
                throw context.error(
                    "'\(text)' is not one of: \(choices.joined(separator: ", "))")
            }
            return text
        }
    }
}

extension Option where Value: CaseIterable & RawRepresentable<String> {
    /// One of `Value`'s cases, by raw value.
    static func cases(_ name: String, _ value: String, _ help: String) -> Self {
        let choice = Option<String>.choice(
            name, value, help, from: Value.allCases.map(\.rawValue))
        return Self(name, value, help) { text, context in
            Value(rawValue: try choice.convert(text, context))!
        }
    }
}

extension Option where Value == Int {
    /// A whole number.
    static func int(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, context in try wholeNumber(text, context) }
    }

    /// A whole number above 0; with `bare`, the value of the option given alone.
    static func positiveInt(_ name: String, _ value: String, _ help: String, bare: String? = nil)
        -> Self
    {
        Self(name, value, help, bare: bare) { text, context in
            let n = try wholeNumber(text, context)
            guard n > 0 else { throw context.error("must be positive, got \(n)") }
            return n
        }
    }

    /// A size in bytes: a number with an optional unit K, M, G or T (powers of 1024; "GiB" and
    /// "GB" read the same), e.g. 12G, 512MiB, 1.5G.
    static func byteSize(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, context in
            let units: [(String, Double)] = [
                ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10),
            ]
            var number = text.uppercased()
            for suffix in ["IB", "B"] where number.hasSuffix(suffix) {
                number.removeLast(suffix.count)
            }
            var scale = 1.0
            if let (unit, factor) = units.first(where: { number.hasSuffix($0.0) }) {
                number.removeLast(unit.count)
                scale = factor
            }
            guard let x = Double(number), x > 0, (x * scale).isFinite else {
                throw context.error(
                    "expects a size such as 12G, 512M or a byte count, got '\(text)'")
            }
            return Int(x * scale)
        }
    }
}

extension Option where Value == UInt64 {
    /// A seed: a whole number, 0 or more.
    static func seed(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, context in
            let n = try wholeNumber(text, context)
            guard n >= 0 else { throw context.error("must be 0 or more, got \(n)") }
            return UInt64(n)
        }
    }
}

/// `text` as an `Int`, or the error naming the option.
private func wholeNumber(_ text: String, _ context: OptionContext) throws -> Int {
    guard let n = Int(text) else { throw context.error("expects a whole number, got '\(text)'") }
    return n
}

extension Option where Value == Float {
    /// A finite number.
    static func float(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, context in
            guard let x = Float(text), x.isFinite else {
                throw context.error("expects a number, got '\(text)'")
            }
            return x
        }
    }
}

extension Option where Value == [String] {
    /// Comma-separated items (blanks around them and empty items dropped).
    static func list(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, _ in items(text) }
    }

    /// The items of a comma-separated `text`.
    static func items(_ text: String) -> [String] {
        text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }
}

extension Option where Value == [Int] {
    /// Comma-separated whole numbers above 0.
    static func intList(_ name: String, _ value: String, _ help: String) -> Self {
        Self(name, value, help) { text, context in
            try Option<[String]>.items(text).map { item in
                guard let n = Int(item), n > 0 else {
                    throw context.error("expects positive whole numbers, got '\(item)'")
                }
                return n
            }
        }
    }
}

extension DefaultedOption {
    /// `option` with the default `text`, read as if it had been given (and shown in `--help`).
    init(_ option: Option<Value>, default text: String) {
        let spec = OptionSpec(
            name: option.spec.name, value: option.spec.value, help: option.spec.help,
            defaultValue: text, bareValue: option.spec.bareValue)
        self.option = Option(spec: spec, convert: option.convert)
    }
}
