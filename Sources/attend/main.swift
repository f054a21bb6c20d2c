// attend: the command-line face of the library. Dispatches to one subcommand per file in Commands/.
import Foundation

/// A subcommand: its declaration and what it does.
protocol Command {
    static var spec: CommandSpec { get }
    static func run(_ arguments: ParsedArguments) throws
}

let commands: [any Command.Type] = [
    TrainCommand.self, PretrainCommand.self, EvalCommand.self, PredictCommand.self,
    GenerateCommand.self, LRACommand.self, ListCommand.self, EmbedCommand.self, InspectCommand.self,
    ExportCommand.self, BenchCommand.self, AdaptCommand.self,
]

@MainActor func printTopLevelHelp() {
    print("attend: efficient Transformers on the CPU\n\nusage: attend <command> [options]\n\ncommands:")
    for command in commands {
        print("  " + command.spec.name.padding(toLength: 10, withPad: " ", startingAt: 0) + command.spec.summary)
    }
    print("\nRun `attend <command> --help` for a command's options.")
}

func writeError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first, name != "--help", name != "-h", name != "help" else {
    printTopLevelHelp()
    exit(arguments.isEmpty ? 2 : 0)
}
guard let command = commands.first(where: { $0.spec.name == name }) else {
    writeError("attend: unknown command '\(name)'; choose one of: \(commands.map { $0.spec.name }.joined(separator: ", "))")
    exit(2)
}
do {
    try command.run(try command.spec.parse(Array(arguments.dropFirst())))
} catch let help as HelpRequested {
    print(help.text)
} catch let usage as UsageError {
    writeError(usage.description)
    exit(2)
} catch {
    writeError("attend \(name): error: \(error)")
    exit(1)
}
