// `attend list`: the mechanism registry as a table.
import AttendAttention

/// The options of `attend list`.
struct ListOptions: OptionGroup {
    let names = Flag("names", "print only the names, one per line")
}

enum ListCommand: Command {
    static let spec = CommandSpec(
        name: "list", summary: "list the registered attention mechanisms", usage: "list [--names]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<ListOptions>) throws {
        if arguments[\.names] {
            for name in Mechanisms.names { print(name) }
            return
        }
        let rows = Mechanisms.all.map { m in
            [
                m.name, m.capabilities.complexity, m.capabilities.supportsCausal ? "yes" : "no",
                m.summary,
            ]
        }
        print(
            TextTable(header: ["name", "complexity", "causal", "description"], rows: rows).rendered)
    }
}
