// attend: the command-line face of the library. Dispatches to one subcommand per file in Commands/
// (Command.swift lists them).
import Foundation

let commands = TopLevel.all

@MainActor func printTopLevelHelp() {
    print(
        "attend: efficient Transformers on the CPU\n\nusage: attend <command> [options]\n\ncommands:"
    )
    for command in commands {
        print(
            "  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0)
                + command.summary)
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
guard let command = commands.first(where: { $0.name == name }) else {
    writeError(
        "attend: unknown command '\(name)'; choose one of: "
            + commands.map(\.name).joined(separator: ", "))
    exit(2)
}
do {
    try command.main(Array(arguments.dropFirst()))
} catch let help as HelpRequested {
    print(help.text)
} catch let usage as UsageError {
    writeError(usage.description)
    exit(2)
} catch {
    writeError("attend \(name): error: \(error)")
    exit(1)
}
