// `attend list`: the mechanism registry as a table.
import AttendAttention
import Foundation

/// The options of `attend list`.
struct ListOptions: OptionGroup {
    let names = Flag("names", "print only the names, one per line")
    let options = Flag(
        "options", "print every mechanism option with its default and allowed values")
}

enum ListCommand: Command {
    static let spec = CommandSpec(
        name: "list", summary: "list the registered attention mechanisms",
        usage: "list [--names | --options]",
        positionals: nil)

    static func run(_ arguments: ParsedArguments<ListOptions>) throws {
        if arguments[\.names] {
            for name in Mechanisms.names { print(name) }
            return
        }
        if arguments[\.options] {
            print(try optionTable())
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

    /// Every limited option of `mixer_options` (`--mixer-options` JSON paths), the mechanisms that
    /// read it, its default and what it may hold.
    static func optionTable() throws -> String {
        let defaults = MixerConfiguration(modelDimension: 0, headCount: 0, maximumLength: 0)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults))
        var rows: [[String]] = []
        for section in MixerConfiguration.optionSections {
            let owner =
                section.mechanisms.isEmpty ? "all" : section.mechanisms.joined(separator: ", ")
            for (field, allowed) in section.allowedValues(defaults) {
                var value: Any? = json
                for key in field.split(separator: ".") {
                    value = (value as? [String: Any])?[String(key)]
                }
                rows.append([field, owner, value.map { "\($0)" } ?? "absent", allowed])
            }
        }
        return TextTable(header: ["option", "mechanisms", "default", "allowed"], rows: rows)
            .rendered
    }
}
