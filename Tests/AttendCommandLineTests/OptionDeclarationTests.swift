// Options are declared once, in each command's options struct: every declared option appears in
// its command's help and is accepted by its parser, names are unique per command, and reading an
// option that the command does not declare does not compile (checked by compiling such a read).
import Foundation
import Testing

@testable import attend

/// Every runnable command: the single ones and each group's subcommands.
var runnableCommands: [any Command.Type] {
    TopLevel.all.flatMap { command -> [any Command.Type] in
        switch command {
        case .single(let single): [single]
        case .group(let group): group.subcommands
        }
    }
}

@Suite struct OptionDeclarationTests {
    @Test(arguments: runnableCommands.map { $0.spec.name })
    func helpListsEveryDeclaredOptionOnce(_ name: String) throws {
        let command = try #require(runnableCommands.first { $0.spec.name == name })
        let names = command.optionSpecs.map(\.name)
        #expect(Set(names).count == names.count, "an option is declared twice: \(names)")
        let lines = command.help.split(separator: "\n")
        for spec in command.optionSpecs {
            let line = lines.first { $0.hasPrefix("  --\(spec.name) ") || $0 == "  --\(spec.name)" }
            #expect(line?.contains(spec.help) == true, "--\(spec.name) is missing from the help")
            if let value = spec.defaultValue {
                #expect(line?.contains("(default: \(value))") == true)
            }
        }
    }

    @Test(arguments: runnableCommands.map { $0.spec.name })
    func everyDeclaredOptionIsAccepted(_ name: String) throws {
        let command = try #require(runnableCommands.first { $0.spec.name == name })
        for spec in command.optionSpecs {
            let arguments = spec.value == nil ? ["--\(spec.name)"] : ["--\(spec.name)=1"]
            #expect(throws: Never.self) { try parses(command, arguments) }
        }
    }

    @Test func groupsListTheirSubcommandsAndRefuseUnknownOnes() {
        #expect(
            BenchCommand.names
                == ["core", "attention", "train", "distributed", "ffn", "embed", "generate"])
        for name in BenchCommand.names { #expect(BenchCommand.help.contains("  \(name) ")) }
        #expect {
            try BenchCommand.main(["atention"])
        } throws: { error in
            "\(error)".contains("unknown suite 'atention'") && "\(error)".contains("attention")
        }
    }

    @Test func excludedOptionsAreRefusedAndReadAsAbsent() throws {
        #expect {
            try PretrainCommand.spec.parse(["--init-from", "x"], as: PretrainOptions.self)
        } throws: { error in
            "\(error)".contains("unknown option --init-from")
        }
        let parsed = try PretrainCommand.spec.parse(["--mask-span", "3"], as: PretrainOptions.self)
        #expect(try parsed[\.train.fineTuning.initFrom] == nil)
        #expect(try parsed[\.maskSpan] == 3)
        #expect(try parsed[\.train.preset] == "cpu")
    }

    @Test func readingAnUndeclaredOptionDoesNotCompile() throws {
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/attend").standardized
        let declared = "let _ = try arguments[\\.names]"
        let undeclared = "let _ = try arguments[\\.steps]"
        let accepted = try typecheck(sources: sources, reading: declared)
        #expect(accepted.status == 0, "a declared read must compile: \(accepted.output)")
        let refused = try typecheck(sources: sources, reading: undeclared)
        #expect(refused.status != 0)
        #expect(refused.output.contains("steps"))
    }
}

/// Whether `command` parses `arguments` without a usage error.
func parses(_ command: any Command.Type, _ arguments: [String]) throws {
    func parse<C: Command>(_: C.Type) throws { _ = try C.spec.parse(arguments, as: C.Options.self) }
    try parse(command)
}

/// Type-checks the parser's two files with a snippet that reads `read` from `attend list`'s
/// options; the compiler's exit status and messages.
func typecheck(sources: URL, reading read: String) throws -> (status: Int32, output: String) {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("attend-options-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let snippet = directory.appendingPathComponent("Snippet.swift")
    try """
    struct ListOptions: OptionGroup {
        let names = Flag("names", "print only the names")
    }
    func read(_ arguments: ParsedArguments<ListOptions>) throws {
        \(read)
    }
    """.write(to: snippet, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "swiftc", "-typecheck", "-parse-as-library",
        sources.appendingPathComponent("Arguments.swift").path,
        sources.appendingPathComponent("OptionValues.swift").path, snippet.path,
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
}
