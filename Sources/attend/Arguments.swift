// A small hand-written command-line parser (SwiftPM cannot fetch swift-argument-parser here).
// Each command declares its options once; parsing, typed access, one-line errors with the valid
// choices and `--help` text all come from that declaration.
import Foundation

/// A command-line usage error: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One declared option.
struct OptionSpec {
    /// Long name without dashes.
    let name: String
    /// Placeholder for the value (nil for a boolean flag).
    let value: String?
    /// One-line help.
    let help: String
    /// Default shown in help (and used when absent), nil when the option is optional or required.
    let defaultValue: String?
    /// The value of an option given without one (`--checkpoint-activations` alone); nil when a
    /// value is required.
    var bareValue: String?

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, value: nil, help: help, defaultValue: nil)
    }
    static func option(_ name: String, _ value: String, _ help: String, default defaultValue: String? = nil) -> OptionSpec {
        OptionSpec(name: name, value: value, help: help, defaultValue: defaultValue)
    }
    /// An option whose value may be left out (then it is `bare`): the next argument is its value
    /// unless it is another option.
    static func option(_ name: String, _ value: String, _ help: String, bare: String)
        -> OptionSpec
    {
        OptionSpec(name: name, value: "[\(value)]", help: help, defaultValue: nil, bareValue: bare)
    }
}

/// A subcommand's declaration.
struct CommandSpec {
    let name: String
    let summary: String
    let usage: String
    let options: [OptionSpec]
    /// Description of positional arguments, nil when none are accepted.
    let positionals: String?

    /// `--help` text.
    var help: String {
        var lines = ["\(summary)", "", "usage: attend \(usage)", ""]
        if let positionals { lines += ["arguments:", "  \(positionals)", ""] }
        lines.append("options:")
        let widest = options.map { ($0.value.map { "--\($0) \($0)" } ?? "").count + $0.name.count + 4 }.max() ?? 0
        for o in options {
            let left = "  --\(o.name)" + (o.value.map { " \($0)" } ?? "")
            let padding = String(repeating: " ", count: max(2, widest + 4 - left.count))
            lines.append(left + padding + o.help + (o.defaultValue.map { " (default: \($0))" } ?? ""))
        }
        lines.append("  --help" + String(repeating: " ", count: max(2, widest - 2)) + "show this help")
        return lines.joined(separator: "\n")
    }

    /// Parses `arguments` (after the subcommand name) against the declaration.
    func parse(_ arguments: [String]) throws -> ParsedArguments {
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                guard positionals != nil else {
                    throw UsageError("attend \(name): unexpected argument '\(argument)' (see attend \(name) --help)")
                }
                positional.append(argument)
                continue
            }
            var key = String(argument.dropFirst(2))
            var inlineValue: String?
            if let equals = key.firstIndex(of: "=") {
                inlineValue = String(key[key.index(after: equals)...])
                key = String(key[..<equals])
            }
            if key == "help" { throw HelpRequested(text: help) }
            guard let spec = options.first(where: { $0.name == key }) else {
                let close = options.map(\.name).filter { $0.hasPrefix(String(key.prefix(3))) }
                let hint = close.isEmpty ? "" : " (did you mean \(close.map { "--" + $0 }.joined(separator: ", "))?)"
                throw UsageError("attend \(name): unknown option --\(key)\(hint); see attend \(name) --help")
            }
            if spec.value == nil {
                if inlineValue != nil { throw UsageError("attend \(name): --\(key) takes no value") }
                flags.insert(key)
            } else if let inlineValue {
                values[key] = inlineValue
            } else if let bare = spec.bareValue,
                i == arguments.count || arguments[i].hasPrefix("--")
            {
                values[key] = bare
            } else {
                guard i < arguments.count else { throw UsageError("attend \(name): --\(key) needs a value (\(spec.value!))") }
                values[key] = arguments[i]
                i += 1
            }
        }
        for spec in options where values[spec.name] == nil {
            if let d = spec.defaultValue { values[spec.name] = d }
        }
        return ParsedArguments(command: name, values: values, flags: flags, positional: positional)
    }
}

/// `--help` was given: print `text` and exit 0.
struct HelpRequested: Error { let text: String }

/// Parsed options with typed, validated access.
struct ParsedArguments {
    let command: String
    let values: [String: String]
    let flags: Set<String>
    let positional: [String]

    func flag(_ name: String) -> Bool { flags.contains(name) }

    func string(_ name: String) -> String? { values[name] }

    func requiredString(_ name: String) throws -> String {
        guard let v = values[name] else { throw UsageError("attend \(command): --\(name) is required") }
        return v
    }

    func int(_ name: String) throws -> Int? {
        guard let v = values[name] else { return nil }
        guard let n = Int(v) else { throw UsageError("attend \(command): --\(name) expects a whole number, got '\(v)'") }
        return n
    }

    func positiveInt(_ name: String) throws -> Int? {
        guard let n = try int(name) else { return nil }
        guard n > 0 else { throw UsageError("attend \(command): --\(name) must be positive, got \(n)") }
        return n
    }

    /// A size in bytes: a number with an optional unit K, M, G or T (powers of 1024; "GiB" and "GB"
    /// read the same), e.g. 12G, 512MiB, 1.5G.
    func byteSize(_ name: String) throws -> Int? {
        guard let v = values[name] else { return nil }
        let units: [(String, Double)] = [("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10)]
        var text = v.uppercased()
        for suffix in ["IB", "B"] where text.hasSuffix(suffix) { text.removeLast(suffix.count) }
        var scale = 1.0
        if let (unit, factor) = units.first(where: { text.hasSuffix($0.0) }) {
            text.removeLast(unit.count)
            scale = factor
        }
        guard let number = Double(text), number > 0, (number * scale).isFinite else {
            throw UsageError(
                "attend \(command): --\(name) expects a size such as 12G, 512M or a byte count, "
                    + "got '\(v)'")
        }
        return Int(number * scale)
    }

    func float(_ name: String) throws -> Float? {
        guard let v = values[name] else { return nil }
        guard let x = Float(v), x.isFinite else { throw UsageError("attend \(command): --\(name) expects a number, got '\(v)'") }
        return x
    }

    /// Comma-separated values.
    func list(_ name: String) -> [String]? {
        values[name].map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
    }

    func intList(_ name: String) throws -> [Int]? {
        try list(name).map { items in
            try items.map { item in
                guard let n = Int(item), n > 0 else {
                    throw UsageError("attend \(command): --\(name) expects positive whole numbers, got '\(item)'")
                }
                return n
            }
        }
    }

    /// A value that must be one of `choices`.
    func choice(_ name: String, from choices: [String]) throws -> String? {
        guard let v = values[name] else { return nil }
        guard choices.contains(v) else {
            throw UsageError("attend \(command): --\(name) '\(v)' is not one of: \(choices.joined(separator: ", "))")
        }
        return v
    }
}
