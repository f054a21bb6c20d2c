// A small hand-written command-line parser (SwiftPM cannot fetch swift-argument-parser here).
// Each command declares its options once, as the stored properties of one options struct: name,
// value type, default and help in one place. Parsing, `--help` text and one-line errors with the
// valid choices come from that declaration, and options are read back typed through key paths
// (`arguments[\.steps]`), so reading an option the command does not declare does not compile.
import Foundation

/// A command-line usage error: printed as one line, exit status 2.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `--help` was given: print `text` and exit 0.
struct HelpRequested: Error { let text: String }

/// How one option looks on the command line and in `--help`.
struct OptionSpec {
    /// Long name without dashes.
    let name: String
    /// Placeholder for the value (nil for a boolean flag).
    let value: String?
    /// One-line help.
    let help: String
    /// Default shown in help and read when the option is absent; nil when there is none.
    let defaultValue: String?
    /// The value of an option given without one (`--checkpoint-activations` alone); nil when a
    /// value is required.
    var bareValue: String?
}

/// Something declared in an options struct: one or more options on the command line.
protocol OptionDeclaration {
    /// The options it adds, in the order `--help` lists them.
    var specs: [OptionSpec] { get }
}

/// An option with a value, read back as `Value?`: nil when it is absent (it has no default).
struct Option<Value>: OptionDeclaration {
    let spec: OptionSpec
    /// The value of `text`, or a usage error naming the option and the command.
    let convert: (_ text: String, _ context: OptionContext) throws -> Value
    var specs: [OptionSpec] { [spec] }
}

/// An option with a default, read back as `Value`: the default text is converted like a given
/// value, so it is written once, where the option is declared.
struct DefaultedOption<Value>: OptionDeclaration {
    let option: Option<Value>
    var specs: [OptionSpec] { option.specs }
}

/// A boolean flag (`--resume`): true when given.
struct Flag: OptionDeclaration {
    let spec: OptionSpec
    var specs: [OptionSpec] { [spec] }

    init(_ name: String, _ help: String) {
        spec = OptionSpec(name: name, value: nil, help: help, defaultValue: nil)
    }
}

/// `--x` and `--no-x` from one declaration, read back as true, false or nil (neither given);
/// giving both is a usage error.
struct FlagPair: OptionDeclaration {
    let on: Flag, off: Flag
    var specs: [OptionSpec] { on.specs + off.specs }

    /// `--name` with `help` and `--no-name` with `negatedHelp`.
    init(_ name: String, _ help: String, negated negatedHelp: String) {
        on = Flag(name, help)
        off = Flag("no-" + name, negatedHelp)
    }
}

/// Where a value is being read: its option's name and the command, for error messages.
struct OptionContext {
    let name: String
    let command: String

    /// A usage error about this option: "attend COMMAND: --NAME …".
    func error(_ message: String) -> UsageError {
        UsageError("attend \(command): --\(name) \(message)")
    }
}

/// A command's options: a struct whose stored properties are `Option`, `DefaultedOption`,
/// `Flag`, `FlagPair` or nested groups, listed by `--help` in declaration order.
protocol OptionGroup {
    init()
    /// Names of nested options that this command does not accept (they read as absent).
    static var excluded: Set<String> { get }
}

extension OptionGroup {
    static var excluded: Set<String> { [] }

    /// Every option this group declares, nested groups included, in declaration order.
    var specs: [OptionSpec] {
        Mirror(reflecting: self).children.flatMap { child -> [OptionSpec] in
            if let declaration = child.value as? any OptionDeclaration { return declaration.specs }
            if let group = child.value as? any OptionGroup { return group.specs }
            return []
        }
        .filter { !Self.excluded.contains($0.name) }
    }
}

/// A subcommand's declaration: its name, help and what it accepts besides options.
struct CommandSpec {
    let name: String
    let summary: String
    let usage: String
    /// Description of positional arguments, nil when none are accepted.
    let positionals: String?

    /// `--help` text listing `options`.
    func help(options: [OptionSpec]) -> String {
        var lines = ["\(summary)", "", "usage: attend \(usage)", ""]
        if let positionals { lines += ["arguments:", "  \(positionals)", ""] }
        lines.append("options:")
        let widest =
            options.map { ($0.value.map { "--\($0) \($0)" } ?? "").count + $0.name.count + 4 }
            .max() ?? 0
        for o in options {
            let left = "  --\(o.name)" + (o.value.map { " \($0)" } ?? "")
            let padding = String(repeating: " ", count: max(2, widest + 4 - left.count))
            lines.append(
                left + padding + o.help + (o.defaultValue.map { " (default: \($0))" } ?? ""))
        }
        lines.append(
            "  --help" + String(repeating: " ", count: max(2, widest - 2)) + "show this help")
        return lines.joined(separator: "\n")
    }

    /// Parses `arguments` (after the subcommand name) against `Options`' declaration.
    func parse<Options: OptionGroup>(_ arguments: [String], as _: Options.Type = Options.self)
        throws -> ParsedArguments<Options>
    {
        let options = Options().specs
        var values: [String: String] = [:]
        var flags: Set<String> = []
        var positional: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                guard positionals != nil else {
                    throw UsageError(
                        "attend \(name): unexpected argument '\(argument)' "
                            + "(see attend \(name) --help)")
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
            if key == "help" { throw HelpRequested(text: help(options: options)) }
            guard let spec = options.first(where: { $0.name == key }) else {
                let close = options.map(\.name).filter { $0.hasPrefix(String(key.prefix(3))) }
                let hint =
                    close.isEmpty
                    ? "" : " (did you mean \(close.map { "--" + $0 }.joined(separator: ", "))?)"
                throw UsageError(
                    "attend \(name): unknown option --\(key)\(hint); see attend \(name) --help")
            }
            if spec.value == nil {
                if inlineValue != nil {
                    throw UsageError("attend \(name): --\(key) takes no value")
                }
                flags.insert(key)
            } else if let inlineValue {
                values[key] = inlineValue
            } else if let bare = spec.bareValue,
                i == arguments.count || arguments[i].hasPrefix("--")
            {
                values[key] = bare
            } else {
                guard i < arguments.count else {
                    throw UsageError("attend \(name): --\(key) needs a value (\(spec.value!))")
                }
                values[key] = arguments[i]
                i += 1
            }
        }
        let given = Set(values.keys).union(flags)
        for spec in options where values[spec.name] == nil {
            if let d = spec.defaultValue { values[spec.name] = d }
        }
        return ParsedArguments(
            command: name, options: Options(), values: values, flags: flags, given: given,
            positional: positional)
    }
}

/// Parsed options, read typed through key paths into the command's options struct.
struct ParsedArguments<Options> {
    /// The command's name, for messages ("train", "bench attention").
    let command: String
    /// The declaration the key paths point into.
    let options: Options
    /// Given values by option name, defaults filled in.
    let values: [String: String]
    let flags: Set<String>
    /// Names of the options given on the command line (not filled in from defaults).
    let given: Set<String>
    let positional: [String]

    /// The value of an option without a default, nil when absent.
    subscript<Value>(key: KeyPath<Options, Option<Value>>) -> Value? {
        get throws {
            let option = options[keyPath: key]
            guard let text = values[option.spec.name] else { return nil }
            return try option.convert(text, OptionContext(name: option.spec.name, command: command))
        }
    }

    /// The value of an option with a default: the given value, else the default.
    subscript<Value>(key: KeyPath<Options, DefaultedOption<Value>>) -> Value {
        get throws {
            let option = options[keyPath: key].option
            let name = option.spec.name
            // A nested option the command excludes is absent: its default was never filled in.
            let text = values[name] ?? option.spec.defaultValue!
            return try option.convert(text, OptionContext(name: name, command: command))
        }
    }

    /// Whether a flag was given.
    subscript(key: KeyPath<Options, Flag>) -> Bool {
        flags.contains(options[keyPath: key].spec.name)
    }

    /// True for `--x`, false for `--no-x`, nil for neither; both are a usage error.
    subscript(key: KeyPath<Options, FlagPair>) -> Bool? {
        get throws {
            let pair = options[keyPath: key]
            let (on, off) = (flags.contains(pair.on.spec.name), flags.contains(pair.off.spec.name))
            if on && off {
                throw UsageError(
                    "attend \(command): --\(pair.on.spec.name) and --\(pair.off.spec.name) "
                        + "contradict each other")
            }
            return on ? true : off ? false : nil
        }
    }

    /// The value of an option that must be given.
    func required<Value>(_ key: KeyPath<Options, Option<Value>>) throws -> Value {
        guard let value = try self[key] else {
            throw UsageError("attend \(command): --\(options[keyPath: key].spec.name) is required")
        }
        return value
    }

    /// Whether `declaration` (one of `options`' own) was given on the command line.
    func isGiven(_ declaration: any OptionDeclaration) -> Bool {
        declaration.specs.contains { given.contains($0.name) }
    }

    /// The same arguments read through a nested group of options (shared by several commands).
    func group<Group>(_ key: KeyPath<Options, Group>) -> ParsedArguments<Group> {
        ParsedArguments<Group>(
            command: command, options: options[keyPath: key], values: values, flags: flags,
            given: given, positional: positional)
    }
}
