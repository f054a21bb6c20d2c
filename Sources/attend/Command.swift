// What a command is: a `Command` with its options struct, or a `CommandGroup` of subcommands
// (`attend bench attention …` dispatches once more on its second word), and the list of them all.
import Foundation

/// A subcommand: its declaration, its options and what it does.
protocol Command {
    /// The options struct it reads (an empty struct for none).
    associatedtype Options: OptionGroup
    /// Its name, summary, usage line and positional arguments.
    static var spec: CommandSpec { get }
    /// Does the command's work with the parsed arguments.
    static func run(_ arguments: ParsedArguments<Options>) throws
}

extension Command {
    /// Every option the command accepts, in `--help` order.
    static var optionSpecs: [OptionSpec] { Options().specs }
    /// `--help` text.
    static var help: String { spec.help(options: optionSpecs) }

    /// Parses `arguments` (after the command's name) and runs the command.
    static func main(_ arguments: [String]) throws {
        try run(spec.parse(arguments, as: Options.self))
    }
}

/// A command made of subcommands: `attend NAME SUBCOMMAND [options]`.
protocol CommandGroup {
    /// The first word (`bench`).
    static var name: String { get }
    /// One line for the top-level help.
    static var summary: String { get }
    /// The subcommands, named "NAME SUBCOMMAND" in their specs.
    static var subcommands: [any Command.Type] { get }
}

extension CommandGroup {
    /// The subcommands' names.
    static var names: [String] {
        subcommands.map { String($0.spec.name.split(separator: " ").last!) }
    }

    /// `--help` text: the subcommands and their summaries.
    static var help: String {
        var lines = [
            summary, "", "usage: attend \(name) <\(names.joined(separator: "|"))> [options]", "",
        ]
        lines.append("commands:")
        for (name, command) in zip(names, subcommands) {
            let column = name.padding(toLength: 13, withPad: " ", startingAt: 0)
            lines.append("  " + column + command.spec.summary)
        }
        lines.append("\nRun `attend \(name) <command> --help` for a command's options.")
        return lines.joined(separator: "\n")
    }

    /// Runs the subcommand `arguments` names with the arguments after it.
    static func main(_ arguments: [String]) throws {
        guard let first = arguments.first, !first.hasPrefix("-") else {
            if arguments.first == "--help" { throw HelpRequested(text: help) }
            throw UsageError("attend \(name): name a suite: \(names.joined(separator: ", "))")
        }
        guard let index = names.firstIndex(of: first) else {
            throw UsageError(
                "attend \(name): unknown suite '\(first)'; choose one of: "
                    + names.joined(separator: ", "))
        }
        try subcommands[index].main(Array(arguments.dropFirst()))
    }
}

/// A top-level command: a single one or a group.
enum TopLevel {
    case single(any Command.Type), group(any CommandGroup.Type)

    /// The first word on the command line.
    var name: String {
        switch self {
        case .single(let command): command.spec.name
        case .group(let group): group.name
        }
    }
    /// One line for the top-level help.
    var summary: String {
        switch self {
        case .single(let command): command.spec.summary
        case .group(let group): group.summary
        }
    }
    /// Runs it with the arguments after its name.
    func main(_ arguments: [String]) throws {
        switch self {
        case .single(let command): try command.main(arguments)
        case .group(let group): try group.main(arguments)
        }
    }
}

extension TopLevel {
    /// Every command, in the order the top-level help lists them.
    static var all: [TopLevel] {
        [
            .single(TrainCommand.self), .single(PretrainCommand.self), .single(EvalCommand.self),
            .single(PredictCommand.self), .single(GenerateCommand.self), .single(LRACommand.self),
            .single(ListCommand.self), .single(EmbedCommand.self), .single(InspectCommand.self),
            .single(ExportCommand.self), .single(AdaptCommand.self), .group(BenchCommand.self),
        ]
    }
}
