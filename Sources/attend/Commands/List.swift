// `attend list`: the mechanism registry as a table.
import AttendAttention

enum ListCommand: Command {
    static let spec = CommandSpec(
        name: "list", summary: "list the registered attention mechanisms", usage: "list [--names]",
        options: [.flag("names", "print only the names, one per line")], positionals: nil)

    static func run(_ arguments: ParsedArguments) throws {
        if arguments.flag("names") {
            Mechanisms.names.forEach { print($0) }
            return
        }
        let rows = Mechanisms.all.map { m in
            [m.name, m.capabilities.complexity, m.capabilities.supportsCausal ? "yes" : "no", m.summary]
        }
        print(TextTable(header: ["name", "complexity", "causal", "description"], rows: rows).rendered)
    }
}
